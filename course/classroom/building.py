"""What is built from ``source/``: the students' release (nbgrader) and the executed solutions.

``release/<assignment>/`` comes from ``nbgrader generate_assignment`` (no solutions, no hidden
tests). ``solutions/<assignment>/`` holds the source notebooks with the solutions kept, the
hidden tests removed, executed in the fast configuration (BOXLOC_FAST=1) so their outputs and
figures are visible. ``stale_files`` says which committed copies differ from what would be
built now (``manage.py check``).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from .grader import integrity
from .layout import COURSE, ROOT, SOLUTIONS, CourseFolder

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
SAMPLE_STUDENT = "sample_student"       # the student id in the executed solutions' file names


def nbgrader(course, *args, check=True, env=None):
    """Run ``python -m nbgrader ARGS`` on the course folder ``course`` (the one place the
    course tools and tests start nbgrader). ``env`` adds environment variables; ``check``
    raises on failure. Returns the CompletedProcess."""
    env = {"MPLBACKEND": "Agg", **os.environ, **(env or {})}
    # nbgrader starts the ``alembic`` command of its own environment to create a gradebook
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run([sys.executable, "-m", "nbgrader", *args,
                           f"--CourseDirectory.root={course}"],
                          cwd=course, env=env, check=check, capture_output=True, text=True)


def generate_release(course=COURSE):
    """``release/`` and the gradebook of every assignment: one ``nbgrader generate_assignment``
    for all of them (its assignment id is a glob over ``source/``; nbgrader's start-up costs
    more than converting a notebook)."""
    if CourseFolder(course).assignments():
        nbgrader(course, "generate_assignment", "*", "--force")


def release(course=COURSE):
    """Generate ``release/`` and the gradebook, and snapshot what the gradebook holds (export
    checks against it: grader/integrity.py)."""
    folder = CourseFolder(course)
    generate_release(folder.path)
    integrity.snapshot(folder.path, folder.assignments())
    print(f"released {', '.join(folder.assignments())} into {folder.release}")
    return 0


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


def execute(nb, cwd, log, file_name=None):
    """Execute a notebook in the fast configuration (outputs kept in ``nb``).

    ``file_name``: the notebook is also saved as ``cwd/file_name`` and the kernel told so
    (``JPY_SESSION_NAME``, as Jupyter does), for the self-check cell to read. The kernel
    process's own output (TensorFlow's start-up lines, Jupyter's warnings; cell
    outputs are not affected) goes to the file ``log`` instead of the terminal; its last lines
    are printed when the notebook fails."""
    from nbclient import NotebookClient
    os.environ["BOXLOC_FAST"] = "1"
    os.environ.pop("JPY_SESSION_NAME", None)
    if file_name:
        nbformat.write(nb, Path(cwd) / file_name)
        os.environ["JPY_SESSION_NAME"] = str(Path(cwd) / file_name)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}})
    try:
        with open(log, "w") as sink:
            client.execute(stdout=sink, stderr=sink)
    except Exception:
        tail = Path(log).read_text(errors="replace").splitlines()[-20:]
        print(f"kernel output ({log}, last lines):", *tail, sep="\n", file=sys.stderr)
        raise
    finally:
        os.environ.pop("JPY_SESSION_NAME", None)
    return nb


def generate_solutions(course=COURSE, out=SOLUTIONS, logs=None):
    """Execute every solution notebook into ``out``; kernel logs go to ``logs`` (a folder,
    default: a temporary one)."""
    course = CourseFolder(course)
    with tempfile.TemporaryDirectory() as scratch:
        logs = Path(logs or scratch)
        logs.mkdir(parents=True, exist_ok=True)
        for name in course.assignments():
            for source_path in course.source_notebooks(name):
                target = Path(out) / name / source_path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                start = time.perf_counter()
                with tempfile.TemporaryDirectory() as work:
                    nb = execute(solution_notebook(source_path), work,
                                 logs / f"{name}-{source_path.stem}.log",
                                 file_name=f"{source_path.stem} - {SAMPLE_STUDENT}.ipynb")
                nbformat.write(nb, target)
                print(f"executed {target.relative_to(Path(out).parent)} in "
                      f"{time.perf_counter() - start:.0f} s (fast mode)", flush=True)


def _cells(nb):
    """Comparable content of a notebook (object or path): (type, source, grade id) per cell
    and the self-check's manifest."""
    if not isinstance(nb, nbformat.NotebookNode):
        nb = nbformat.read(nb, as_version=4)
    return [(c.cell_type, c.source, c.metadata.get("nbgrader", {}).get("grade_id"))
            for c in nb.cells] + [nb.metadata.get("boxloc")]


def _shown_path(path):
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def misplaced_hidden_tests(course=COURSE):
    """Source notebooks that still hold nbgrader hidden tests: they would never run (grading
    judges answers outside the student's kernel), so they belong in course/hidden/."""
    return [_shown_path(p) for p in sorted(CourseFolder(course).source.rglob("*.ipynb"))
            if HIDDEN_BEGIN in p.read_text()]


def stale_files(course=COURSE, solutions=SOLUTIONS):
    """Generated notebooks that differ from what ``generate`` would write now (or are
    missing). Solutions are compared by cell sources (outputs vary with the machine)."""
    course, stale = CourseFolder(course), []
    with tempfile.TemporaryDirectory() as work:
        copy = CourseFolder(Path(work) / "course")
        shutil.copytree(course.source, copy.source)
        shutil.copy(course.nbgrader_config, copy.path)
        generate_release(copy.path)
        for fresh in sorted(copy.release.rglob("*.ipynb")):
            committed = course.path / fresh.relative_to(copy.path)
            if not committed.exists() or _cells(committed) != _cells(fresh):
                stale.append(_shown_path(committed))
    for name in course.assignments():
        for source_path in course.source_notebooks(name):
            committed = Path(solutions) / name / source_path.name
            if not committed.exists() or _cells(committed) != _cells(solution_notebook(source_path)):
                stale.append(_shown_path(committed))
    return stale
