#!/usr/bin/env python3
"""Course maintenance: regenerate what is built from ``course/source``.

    python3 course/manage.py generate        # course.toml into the notebooks and README, then
                                             # release/ (nbgrader) + solutions/ (executed)
    python3 course/manage.py check           # exit 1 if any of them is stale
    python3 course/manage.py demo --out DIR  # the course end to end in DIR (the main job)
    python3 course/manage.py publish --out DIR   # the student edition (no answer key) in DIR

This file only starts the command; the course tools are the package ``classroom/`` next to it.
"""

import sys

from classroom.venv_rerun import run_command

if __name__ == "__main__":
    sys.exit(run_command("manage"))
