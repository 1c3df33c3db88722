#!/usr/bin/env python3
"""Course maintenance: regenerate what is built from ``course/source``.

    python3 course/manage.py generate        # course.toml into the notebooks and README, then
                                             # release/ (nbgrader) + solutions/ (executed)
    python3 course/manage.py check           # exit 1 if any of them is stale
    python3 course/manage.py demo --out DIR  # the course end to end in DIR (the main job)
    python3 course/manage.py publish --out DIR   # the student edition (no answer key) in DIR

``release/<assignment>/`` comes from ``nbgrader generate_assignment`` (no solutions, no hidden
tests). ``solutions/<assignment>/`` holds the source notebooks with the solutions kept, the
hidden tests removed, executed in the fast configuration (BOXLOC_FAST=1) so their outputs and
figures are visible.
"""

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import nbformat
except ModuleNotFoundError as missing:   # python3 outside the project's virtualenv
    if __name__ != "__main__":
        raise
    from venv_rerun import rerun_in_venv
    rerun_in_venv("manage", missing)
from nbclient import NotebookClient

COURSE = Path(__file__).resolve().parent
ROOT = COURSE.parent
SOLUTIONS = ROOT / "solutions"
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def assignments(course=COURSE):
    """Names of the assignments in ``course/source``, in order."""
    return sorted(p.name for p in (course / "source").iterdir() if p.is_dir())


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
    for name in assignments(course):
        nbgrader(course, "generate_assignment", name, "--force")


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


SAMPLE_STUDENT = "sample_student"       # the student id in the executed solutions' file names


def execute(nb, cwd, log, file_name=None):
    """Execute a notebook in the fast configuration (outputs kept in ``nb``).

    ``file_name``: the notebook is also saved as ``cwd/file_name`` and the kernel told so
    (``JPY_SESSION_NAME``, as Jupyter does), for the self-check cell to read. The kernel
    process's own output (TensorFlow's start-up lines, Jupyter's warnings; cell
    outputs are not affected) goes to the file ``log`` instead of the terminal; its last lines
    are printed when the notebook fails."""
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
    with tempfile.TemporaryDirectory() as scratch:
        logs = Path(logs or scratch)
        logs.mkdir(parents=True, exist_ok=True)
        for name in assignments(course):
            for source_path in sorted((course / "source" / name).glob("*.ipynb")):
                target = out / name / source_path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                start = time.perf_counter()
                with tempfile.TemporaryDirectory() as work:
                    nb = execute(solution_notebook(source_path), work,
                                 logs / f"{name}-{source_path.stem}.log",
                                 file_name=f"{source_path.stem} - {SAMPLE_STUDENT}.ipynb")
                nbformat.write(nb, target)
                print(f"executed {target.relative_to(out.parent)} in {time.perf_counter() - start:.0f} s "
                      f"(fast mode)", flush=True)


def _cells(nb):
    """Comparable content of a notebook (object or path): (type, source, grade id) per cell
    and the self-check's manifest."""
    if not isinstance(nb, nbformat.NotebookNode):
        nb = nbformat.read(nb, as_version=4)
    return [(c.cell_type, c.source, c.metadata.get("nbgrader", {}).get("grade_id"))
            for c in nb.cells] + [nb.metadata.get("boxloc")]


def misplaced_hidden_tests(course=COURSE):
    """Source notebooks that still hold nbgrader hidden tests: they would never run (grading
    judges answers outside the student's kernel), so they belong in course/hidden/."""
    return [str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p)
            for p in sorted((course / "source").rglob("*.ipynb")) if HIDDEN_BEGIN in p.read_text()]


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


def _course_module(name):
    """``course/<name>.py`` loaded as a module (course/ is a folder of scripts, not a package):
    ``publication`` (the course.toml setting and the places that repeat it), ``handin`` (the
    shared Colab and hand-in cells, the self-check's manifest), ``instructor``."""
    spec = importlib.util.spec_from_file_location(name, COURSE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def demo(out):
    """The course end to end in ``out`` (the committed tree is not touched): regenerate the
    release, execute the solutions in the fast configuration, submit them as the student
    ``reference``, autograde them with the instructor workflow and print the grade table."""
    out = Path(out).resolve()
    course = out / "course"
    if course.exists():
        shutil.rmtree(course)
    shutil.copytree(COURSE / "source", course / "source")
    shutil.copytree(COURSE / "hidden", course / "hidden", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(COURSE / "nbgrader_config.py", course)
    instructor = _course_module("instructor")
    from grader.records import points_of              # importable once instructor is loaded
    from grader.safe_text import shown
    instructor.release(course)
    print(f"release: {course / 'release'}")
    generate_solutions(course, out / "solutions", logs=out / "kernel-logs")
    print(f"executed solutions (figures inside): {out / 'solutions'} "
          f"(kernel logs: {out / 'kernel-logs'})")
    lines = []
    for name in assignments(course):
        for notebook in sorted((out / "solutions" / name).glob("*.ipynb")):
            target = course / "submitted" / "reference" / name / notebook.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(notebook, target)
        instructor.grade(course, name)
        exercises, rows = instructor.grade_rows(course, name)
        instructor.export(course, name, out / f"grades-{name}.csv")
        possible = {gid: points for nb in instructor.release_notebooks(course, name).values()
                    for gid, points in points_of(nb).items()}
        for student, *points, total, flags in rows:
            lines.append(f"{name:12s} {shown(student):10s} " + "  ".join(
                f"{e.removeprefix('test_')} {p:g}/{possible[e]:g}" for e, p in zip(exercises, points))
                + f"  total {total:g}/{sum(possible.values()):g}" + (f"  [{flags}]" if flags else ""))
    print("\ngrades (each submission run in a sandbox, judged by course/grader, nbgrader gradebook):")
    print("\n".join(lines))
    print("\ndetection summary of the executed solutions (notebook 4: the shipped reference "
          "detector on held-out phantom subjects):")
    print(cell_text(out / "solutions", "evaluation") or "  (no evaluation cell found)")
    return 0


def cell_text(folder, grade_id):
    """The printed output of the cell ``grade_id`` in the executed notebooks of ``folder``."""
    texts = []
    for path in sorted(Path(folder).rglob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
                texts += [o.text for o in cell.get("outputs", []) if o.get("name") == "stdout"]
    return "".join(texts).rstrip()


STUDENT_README = """# boxloc: anchor-based box localisation on brain MRI (student edition)

Four notebooks that teach how a RetinaNet-style detector finds brain tumours: anchors, the
network, training, inference and evaluation. Open each in Google Colab (the links below), run
the first cell (it installs the course library from `lib/`), and
work top to bottom. Cells marked *Your turn* are graded; the check cell under each says whether
your answer has the expected form and passes the visible checks.

| assignment | notebook |
|---|---|
{rows}

Before you start, *File > Save a copy in Drive*: Colab does not keep edits to a notebook opened
from GitHub; then rename your copy `<notebook> - <your student id>.ipynb` (`anchors -
jsmith42.ipynb`). To hand in, run the self-check cell at the end of the notebook (it says whether
the grader can read your notebook), then *File > Download > Download .ipynb* and upload the file
as the notebook's last section says. Each notebook says this again at its top and end.

This edition holds no solutions and no hidden tests: it is generated from the course repository
by `course/manage.py publish`.
"""
STUDENT_EDITION = ("lib", "course/release")      # everything a student needs, nothing else


def publish(out, course=COURSE):
    """Write the student edition into ``out``: the library and the release notebooks, with a
    README for students. No sources, hidden tests, solutions, gradebook or instructor tools:
    publish this for a graded class, the full repository for self-study."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty: publish into a new folder (or a clean checkout "
                         "of the student repository)")
    litter = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints", "*.pyc")
    for part in STUDENT_EDITION:
        shutil.copytree(ROOT / part if part == "lib" else course / "release", out / part, ignore=litter)
    publication = _course_module("publication")
    where = publication.settings(ROOT)
    rows = "\n".join(f"| {name} | [`course/release/{name}/{p.name}`](course/release/{name}/{p.name}) "
                     f"([Open in Colab]({publication.colab_link(where, f'course/release/{name}/{p.name}')})) |"
                     for name in assignments(course)
                     for p in sorted((course / "release" / name).glob("*.ipynb")))
    (out / "README.md").write_text(STUDENT_README.format(rows=rows))
    print(f"student edition in {out}: {', '.join(STUDENT_EDITION)}, README.md")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["generate", "check", "demo", "publish"])
    parser.add_argument("--out", default="outputs",
                        help="folder of the demo's results, or of the student edition")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.out)
    if args.command == "publish":
        return publish(args.out)
    if args.command == "generate":
        for path in _course_module("publication").apply(ROOT):
            print(f"publication setting written into {path.relative_to(ROOT)}")
        for path in _course_module("handin").apply(ROOT):
            print(f"hand-in cells and manifest written into {path.relative_to(ROOT)}")
        generate_release()
        generate_solutions()
        print(f"regenerated {COURSE / 'release'} and {SOLUTIONS}")
        return 0
    stale = _course_module("publication").mismatches(ROOT) + _course_module("handin").mismatches(ROOT) + stale_files()
    misplaced = misplaced_hidden_tests()
    for path in stale:
        print(f"stale: {path} (run: python3 course/manage.py generate)")
    for path in misplaced:
        print(f"{path}: hidden tests go in course/hidden/<assignment>.py (see course/grader/spec.py)")
    return 1 if stale or misplaced else 0


if __name__ == "__main__":
    sys.exit(main())
