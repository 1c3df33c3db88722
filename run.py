#!/usr/bin/env python3
"""The project's commands, for a fresh Linux machine with Python 3.10+ (no conda needed).

    python3 run.py demo     # the main job (see README): anchors demo + the course end to end
    python3 run.py test     # the whole test suite
    python3 run.py test --fast   # library and course logic: no grading, notebook, Keras or compat test
    python3 run.py bench    # the speed benchmarks of benchmarks/
    python3 run.py site [--edition student]   # the course website in site/ (docs/site/build.py)
    python3 run.py compat [NAME ...]   # the compatibility matrix (slow; see compat/matrix.py)
    python3 run.py manage ARGS ...     # course/manage.py ARGS in the virtualenv
    python3 run.py instructor ARGS ... # course/instructor.py ARGS in the virtualenv

(course/manage.py and course/instructor.py started by a python3 without their packages re-run
themselves through the last two, so the README's commands work on a fresh clone.)

Each but compat creates (or reuses) the virtualenv ``.venv`` next to this file, installs
``lib/`` in editable mode (with its TensorFlow extra) and the test tools whenever their
requirement files change, and the website's tools (``requirements-site.txt``; the test command
builds the site too) whenever that file changes, then runs inside it. Set BOXLOC_VENV to use
another virtualenv folder. compat builds its own virtualenvs under ``.compat-venvs/``.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("BOXLOC_VENV", ROOT / ".venv"))
REQUIREMENT_FILES = [ROOT / "lib" / "pyproject.toml", ROOT / "requirements-dev.txt"]
SITE_REQUIREMENTS = ROOT / "requirements-site.txt"
PYTEST_NO_TESTS_COLLECTED = 5
# the test tiers (markers: pytest.ini, applied in tests/conftest.py; README "Tests")
FAST_TIER = ["-m", "not grading and not notebook and not keras and not compat"]


def venv_python():
    return VENV / "bin" / "python"


def ensure_venv():
    """Create the virtualenv and (re)install when the requirement files changed: boxloc and the
    test tools, then the website's tools, each with a stamp of its own (a change of the site's
    requirements does not reinstall boxloc)."""
    if not venv_python().exists():
        print(f"creating virtualenv {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
        for stamp in VENV.glob(".boxloc-*installed"):      # left from a broken virtualenv
            stamp.unlink()
    _install(REQUIREMENT_FILES, ".boxloc-installed",
             "boxloc and the test tools (first run takes a minute)",
             ["-e", f"{ROOT / 'lib'}[tensorflow]", "-r", str(ROOT / "requirements-dev.txt")])
    _install([SITE_REQUIREMENTS], ".boxloc-site-installed", "the website's tools (Sphinx, myst-nb)",
             ["-r", str(SITE_REQUIREMENTS)])


def _install(files, stamp_name, what, pip_args):
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()
    stamp = VENV / stamp_name
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"installing {what}", flush=True)
    subprocess.run([str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check",
                    "-q", *pip_args], check=True)
    stamp.write_text(digest)


def venv_environment():
    """os.environ with the virtualenv's bin/ first on PATH, as ``activate`` would set it: tools
    that start console scripts by name (nbgrader runs ``alembic``) find the venv's own."""
    path = os.pathsep.join([str(VENV / "bin"), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, "VIRTUAL_ENV": str(VENV), "BOXLOC_IN_VENV": "1"}


def run(args):
    return subprocess.run([str(venv_python()), *args], cwd=ROOT, env=venv_environment()).returncode


def pytest_args(extra):
    """``run.py test``'s arguments for pytest: ``--fast`` is FAST_TIER, the rest pass through."""
    return [arg for given in extra for arg in (FAST_TIER if given == "--fast" else [given])]


def main(argv):
    commands = {
        "demo": lambda extra: run(["-m", "boxloc.demo", "--out", "outputs", *extra])
        or run([str(ROOT / "course" / "manage.py"), "demo", "--out", "outputs"]),
        "test": lambda extra: run(["-m", "pytest", *pytest_args(extra)]),
        "bench": lambda extra: run([str(ROOT / "benchmarks" / "bench_bounding_box.py"), *extra]),
        "site": lambda extra: run([str(ROOT / "docs" / "site" / "build.py"), *extra]),
        "manage": lambda extra: run([str(ROOT / "course" / "manage.py"), *extra]),
        "instructor": lambda extra: run([str(ROOT / "course" / "instructor.py"), *extra]),
        "compat": lambda extra: subprocess.run(
            [sys.executable, str(ROOT / "compat" / "matrix.py"), "run", *extra]).returncode,
    }
    if len(argv) < 1 or argv[0] not in commands:
        print(__doc__)
        return 2
    if argv[0] != "compat":
        ensure_venv()
    code = commands[argv[0]](argv[1:])
    if argv[0] == "test" and code == PYTEST_NO_TESTS_COLLECTED:
        print("pytest collected no tests: treating an empty run as a failure", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
