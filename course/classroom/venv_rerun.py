"""Start a course command, inside the project's virtualenv if this Python lacks its packages.

``python3 course/manage.py ...`` on a fresh clone starts with a ``python3`` that lacks nbformat
and nbgrader; instead of failing, the script hands itself to ``python3 run.py manage ...``
(``run.py`` creates the virtualenv).
"""

import os
import sys
from pathlib import Path


def run_command(name):
    """Run ``classroom.commands.<name>`` on this process's arguments; returns its exit status."""
    try:
        from . import commands
    except ModuleNotFoundError as missing:   # python3 outside the project's virtualenv
        rerun_in_venv(name, missing)
    return getattr(commands, name)(sys.argv[1:])


def rerun_in_venv(command, error):
    """Replace this process with ``run.py COMMAND ARGS``; re-raise ``error`` if that already
    happened (the virtualenv lacks the package too) or no script was run."""
    if os.environ.get("BOXLOC_IN_VENV") or not sys.argv or not sys.argv[0].endswith(".py"):
        raise error
    run_py = Path(__file__).resolve().parents[2] / "run.py"
    os.execv(sys.executable, [sys.executable, str(run_py), command, *sys.argv[1:]])
