#!/usr/bin/env python3
"""Course maintenance: regenerate what is built from ``course/source``.

    python3 course/manage.py generate        # release/ (nbgrader) + solutions/ (executed)
    python3 course/manage.py check           # exit 1 if release/ or solutions/ are stale

``release/<assignment>/`` comes from ``nbgrader generate_assignment`` (no solutions, no hidden
tests). ``solutions/<assignment>/`` holds the source notebooks with the solutions kept, the
hidden tests removed, executed in the fast configuration (BOXLOC_FAST=1) so their outputs and
figures are visible.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

COURSE = Path(__file__).resolve().parent
ROOT = COURSE.parent
SOLUTIONS = ROOT / "solutions"
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def assignments(course=COURSE):
    """Names of the assignments in ``course/source``, in order."""
    return sorted(p.name for p in (course / "source").iterdir() if p.is_dir())


def nbgrader(*args, course=COURSE):
    """Run an nbgrader command on the course folder ``course``; raise on failure."""
    subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}"],
                   cwd=course, check=True, capture_output=True, text=True)


def generate_release(course=COURSE):
    for name in assignments(course):
        nbgrader("generate_assignment", name, "--force", course=course)


def solution_notebook(source_path):
    """The source notebook with its hidden tests removed and solution markers stripped."""
    nb = nbformat.read(source_path, as_version=4)
    for cell in nb.cells:
        lines, hidden = [], False
        for line in cell.source.split("\n"):
            stripped = line.strip()
            if stripped == HIDDEN_BEGIN:
                hidden = True
            elif stripped == HIDDEN_END:
                hidden = False
            elif not hidden and stripped not in SOLUTION_MARKERS:
                lines.append(line)
        cell.source = "\n".join(lines).rstrip("\n")
    return nb


def execute(nb, cwd):
    """Execute a notebook in the fast configuration (outputs kept in ``nb``)."""
    os.environ["BOXLOC_FAST"] = "1"
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def generate_solutions(course=COURSE, out=SOLUTIONS):
    for name in assignments(course):
        for source_path in sorted((course / "source" / name).glob("*.ipynb")):
            target = out / name / source_path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory() as work:
                nb = execute(solution_notebook(source_path), work)
            nbformat.write(nb, target)


def _cells(nb):
    """Comparable content of a notebook (object or path): (type, source, grade id) per cell."""
    if not isinstance(nb, nbformat.NotebookNode):
        nb = nbformat.read(nb, as_version=4)
    return [(c.cell_type, c.source, c.metadata.get("nbgrader", {}).get("grade_id"))
            for c in nb.cells]


def stale_files(course=COURSE, solutions=SOLUTIONS):
    """Generated notebooks that differ from what ``generate`` would write now (or are
    missing). Solutions are compared by cell sources (outputs vary with the machine)."""
    stale = []
    with tempfile.TemporaryDirectory() as work:
        copy = Path(work) / "course"
        shutil.copytree(course / "source", copy / "source")
        shutil.copy(course / "nbgrader_config.py", copy)
        generate_release(copy)
        for fresh in sorted((copy / "release").rglob("*.ipynb")):
            committed = course / fresh.relative_to(copy)
            if not committed.exists() or _cells(committed) != _cells(fresh):
                stale.append(str(committed.relative_to(ROOT)))
    for name in assignments(course):
        for source_path in sorted((course / "source" / name).glob("*.ipynb")):
            committed = solutions / name / source_path.name
            fresh = solution_notebook(source_path)
            if not committed.exists() or _cells(committed) != _cells(fresh):
                stale.append(str(committed.relative_to(ROOT)))
    return stale


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["generate", "check"])
    args = parser.parse_args(argv)
    if args.command == "generate":
        generate_release()
        generate_solutions()
        print(f"regenerated {COURSE / 'release'} and {SOLUTIONS}")
        return 0
    stale = stale_files()
    for path in stale:
        print(f"stale: {path} (run: python3 course/manage.py generate)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
