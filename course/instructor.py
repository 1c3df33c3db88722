#!/usr/bin/env python3
"""Instructor workflow without JupyterHub: release, collect, grade, export, feedback.

    python3 course/instructor.py release
    python3 course/instructor.py collect ~/Downloads/submissions.zip --assignment 01_anchors
    python3 course/instructor.py grade --assignment 01_anchors --timeout 120
    python3 course/instructor.py export --assignment 01_anchors --csv grades.csv
    python3 course/instructor.py feedback --assignment 01_anchors

This file only starts the command; the course tools are the package ``classroom/`` next to it
(``classroom/__init__.py`` maps it; ``--help`` lists every option).
"""

import sys

from classroom.venv_rerun import run_command

if __name__ == "__main__":
    sys.exit(run_command("instructor"))
