"""Benchmark: how many students a minute the grader takes, per assignment, with 1 and 2 workers.

Each assignment is graded in a fresh copy of the course with ``--submissions`` copies of its
executed solution notebook (one per student) by ``instructor.py grade`` (sandbox per submission,
the judge, the gradebook: the whole command), first with one worker, then with two. The
baseline, in the same process, is stock ``nbgrader autograde`` of the same submissions (one
process, no sandbox, no judge: what the course used before). Figures are students per minute
and seconds per student; the load average is printed with each.

The notebooks run in the grading mode (``BOXLOC_GRADING=1``, which ``instructor.py grade`` sets
in every sandbox, and here for the baseline too; ``boxloc.configs.run_mode``): assignment 3
trains one token step and assignment 4 evaluates the shipped reference detector.

    python3 benchmarks/bench_grading.py                      # all assignments, 4 students each
    python3 benchmarks/bench_grading.py --assignments 01_anchors --submissions 8
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "course"
sys.path.insert(0, str(COURSE))         # the course tools: the package course/classroom

from classroom import building, grading  # noqa: E402
from classroom.layout import CourseFolder  # noqa: E402


REFUSAL = "# Autograding is the course's own"     # where nbgrader_config.py turns autograde off


def fresh_course(folder, assignment, submissions, stock_autograde=False):
    """A course copy with the release and ``submissions`` students who sent the solution.
    ``stock_autograde``: its nbgrader configuration without the course's refusal of ``nbgrader
    autograde`` (the baseline measures stock nbgrader)."""
    course = Path(folder) / "course"
    shutil.copytree(COURSE / "source", course / "source")
    shutil.copytree(COURSE / "hidden", course / "hidden", ignore=shutil.ignore_patterns("__pycache__"))
    config = (COURSE / "nbgrader_config.py").read_text()
    if stock_autograde:
        if REFUSAL not in config:
            raise SystemExit(f"course/nbgrader_config.py has no line {REFUSAL!r}: update the benchmark")
        config = config[:config.index(REFUSAL)]
    (course / "nbgrader_config.py").write_text(config)
    building.nbgrader(course, "generate_assignment", assignment, "--force")
    for notebook in sorted((ROOT / "solutions" / assignment).glob("*.ipynb")):
        for k in range(submissions):
            target = course / "submitted" / f"student{k:03d}" / assignment / notebook.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(notebook, target)
    return course


def timed(action):
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def measure(assignment, submissions, data):
    """{run name: seconds} for one assignment (its dataset built first, untimed)."""
    from classroom.grader import spec
    spec.prepare_data(CourseFolder(COURSE).hidden_file(assignment))
    times = {}
    runs = {"nbgrader autograde (baseline)": lambda c: building.nbgrader(
                c, "autograde", assignment, "--force", env={"BOXLOC_GRADING": "1", "BOXLOC_DATA": data}),
            "sandboxed, 1 worker": lambda c: grading.grade(c, assignment, workers=1),
            "sandboxed, 2 workers": lambda c: grading.grade(c, assignment, workers=2)}
    for name, run in runs.items():
        with tempfile.TemporaryDirectory() as folder:
            course = fresh_course(folder, assignment, submissions, stock_autograde="baseline" in name)
            times[name] = timed(lambda: run(course))
            print(f"  {name:30s} {times[name]:7.1f} s  {submissions / times[name] * 60:6.2f} students/min"
                  f"  {times[name] / submissions:6.1f} s/student  (load {os.getloadavg()[0]:.1f})",
                  flush=True)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignments", nargs="*", default=CourseFolder().assignments())
    parser.add_argument("--submissions", type=int, default=4)
    args = parser.parse_args(argv)
    data = os.environ.setdefault("BOXLOC_DATA", str(Path(tempfile.gettempdir()) / "boxloc-bench-data"))
    print(f"{args.submissions} students per assignment, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}, sandbox {grading.sandbox_level(False)}")
    summary = {}
    for assignment in args.assignments:
        print(assignment, flush=True)
        summary[assignment] = measure(assignment, args.submissions, data)
    print("\n300 students (estimate from the 2-worker rate):")
    for assignment, times in summary.items():
        minutes = 300 * times["sandboxed, 2 workers"] / args.submissions / 60
        ratio = times["nbgrader autograde (baseline)"] / times["sandboxed, 2 workers"]
        print(f"  {assignment:14s} {minutes:5.1f} min with 2 workers ({ratio:.2f}x the baseline's speed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
