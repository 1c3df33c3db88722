"""Run a course script again inside the project's virtualenv (``run.py`` creates it).

``python3 course/manage.py ...`` on a fresh clone starts with a ``python3`` that lacks nbformat
and nbgrader; instead of failing, the script hands itself to ``python3 run.py manage ...``.
"""

import os
import sys
from pathlib import Path


def rerun_in_venv(command, error):
    """Replace this process with ``run.py COMMAND ARGS``; re-raise ``error`` if that already
    happened (the virtualenv lacks the package too) or the script is imported, not run."""
    if os.environ.get("BOXLOC_IN_VENV") or not sys.argv or not sys.argv[0].endswith(".py"):
        raise error
    run_py = Path(__file__).resolve().parents[1] / "run.py"
    os.execv(sys.executable, [sys.executable, str(run_py), command, *sys.argv[1:]])
