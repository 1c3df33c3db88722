"""Grade an assignment: repair every submission, run each in its own sandbox, judge, record.

Each submission is copied to ``repaired/<student>/<assignment>/`` (``submitted/`` stays as the
students sent it) and put back into the release's shape (``repairs.py``: Colab metadata, copied
cells, changed types, deleted cells, edited locked cells), then run in its own sandbox
(``grader/sandbox.py``), ``workers`` at a time, in the notebooks' grading mode
(``BOXLOC_GRADING=1``: training cells take one token step, notebook 4 evaluates the shipped
reference detector; the exercises are unchanged); the answers it records are judged by a clean
interpreter (``grader/judge.py``) against ``hidden/<assignment>.py``; only this process writes
the gradebook, ``autograded/`` and ``reports/<assignment>/`` (``grading.json``: repairs and
flags per student; ``results.json``: verdicts, test cells' output, seconds, the isolation level).
A class can be split over machines (``shard``) and merged (``grader/shards.py``).
"""

import json
import os
import shutil
import sys

import nbformat

from . import lms
from .grader import batch, records, sandbox, shards
from .grader.flag_names import shown_finding
from .grader.safe_text import shown
from .layout import CourseFolder
from .repairs import finding, repair

DEFAULT_SECRET = "boxloc-default-cases"


def prepare(course, assignment):
    """Copy every submission to ``repaired/`` with its notebooks repaired; {student: findings}
    (with the ``late`` flag of those an LMS download showed late, lms/)."""
    course = CourseFolder(course)
    releases = course.release_notebooks(assignment)
    for stale in course.repaired().glob(f"*/{assignment}"):
        shutil.rmtree(stale)
    report, late = {}, lms.late_findings(course.path, assignment)
    for folder in sorted(course.submitted().glob(f"*/{assignment}")):
        dest = course.repaired(folder.parent.name, assignment)
        shutil.copytree(folder, dest)
        student = folder.parent.name
        report[student] = late.get(student, []) + prepare_folder(dest, releases)
    return report


def prepare_folder(dest, releases):
    """Repair the notebooks of one student's copy in place; returns the findings."""
    found = []
    for path in sorted(dest.glob("*.ipynb")):
        if path.stem not in releases:
            found.append(finding("unknown_notebook", path.stem, None, "not in the release: not graded"))
            path.unlink()
    for name, release_nb in releases.items():
        path = dest / f"{name}.ipynb"
        if not path.exists():
            found.append(finding("missing_notebook", name, None, "not submitted: scores 0"))
            continue
        try:
            nb = nbformat.read(path, as_version=4)
            found += repair(nb, release_nb, name)
            nbformat.write(nb, path)
        except Exception as error:  # an unreadable notebook scores 0, the batch goes on
            detail = f"{type(error).__name__}: {error}: scores 0"
            found.append(finding("unreadable", name, None, detail))
            path.unlink()
    return found


def grading_secret(secret=None):
    """The secret the hidden cases are drawn from: ``--secret``, else $BOXLOC_GRADING_SECRET,
    else the course's fixed default, with a notice (anyone who reads course/hidden/ can draw
    the default cases)."""
    secret = secret or os.environ.get("BOXLOC_GRADING_SECRET")
    if not secret:
        print("notice: hidden cases drawn from the course's default secret; if course/hidden/ is "
              "public, set BOXLOC_GRADING_SECRET (or --secret) to a secret of your own",
              file=sys.stderr)
    return secret or DEFAULT_SECRET


def sandbox_level(allow_unsandboxed):
    """The isolation level of this machine; refuses to grade without isolation unless allowed."""
    problems = {}
    level = sandbox.detect_level(problems=problems)
    for better, problem in problems.items():
        print(f"sandbox level {better} does not start here: {problem}", file=sys.stderr)
    if level.endswith(sandbox.NO_PROC):
        print(f"isolation level {level}: this runtime refuses to mount /proc, so sandboxes have an "
              "empty /proc; isolation is unchanged", file=sys.stderr)
    if level == "none":
        message = ("no sandbox is available here (unshare/namespaces refused): student code would "
                   "run with YOUR permissions and could read the answer key and change grades")
        if not allow_unsandboxed:
            raise SystemExit(message + ". No submission was run. Grade where a sandbox works: a "
                             "Linux machine with util-linux (your own, a department server, a cloud "
                             "VM) with `python3 course/instructor.py grade ...` (README, 'Grading'); "
                             "or pass --allow-unsandboxed to accept the risk.")
        print("WARNING: " + message, file=sys.stderr)
    return level


def grade(course, assignment, timeout=None, workers=None, notebook_timeout=None,
          allow_unsandboxed=False, secret=None, shard=None, merge=False):
    """Repair every submission, run each in its own sandbox (``workers`` at a time), judge the
    recorded answers, write the gradebook, the executed notebooks and the report; returns 0.

    ``shard`` (K, N) grades only the K-th of N slices of the class and saves its results for a
    later ``merge`` (grader/shards.py), which writes everything as a single run would."""
    course = CourseFolder(course)
    report = prepare(course.path, assignment)
    releases = course.release_notebooks(assignment)
    if merge:
        graded, levels = shards.load(course.path, assignment)
        return write_results(course.path, assignment, report, graded, releases, "+".join(levels))
    level = sandbox_level(allow_unsandboxed)
    limits = sandbox.Limits()
    if timeout:
        limits.cell_timeout = int(timeout)
    if notebook_timeout:
        limits.notebook_timeout = int(notebook_timeout)
    workers, note = sandbox.workers_that_fit(limits, workers)
    if note:
        print(note, file=sys.stderr)
    students = shards.select(report, shard) if shard else sorted(report)
    submissions = [batch.Submission(student, name, path)
                   for student in students
                   for name in releases
                   for path in [course.repaired(student, assignment) / f"{name}.ipynb"]
                   if path.exists()]
    print(f"grading {len(submissions)} notebooks of {assignment} with {workers} worker(s), "
          f"sandbox: {level}" + (f", shard {shard[0]} of {shard[1]}" if shard else ""))
    graded = batch.grade_batch(course.path, assignment, submissions, releases, workers, limits,
                               level, grading_secret(secret), progress=_progress)
    if shard:
        print(f"shard results: {shards.save(course.path, assignment, shard, graded, level)}")
        return 0
    return write_results(course.path, assignment, report, graded, releases, level)


def write_results(course, assignment, report, graded, releases, level):
    """Everything a grading run leaves: executed notebooks, gradebook, report and results."""
    course = CourseFolder(course)
    for stale in course.autograded().glob(f"*/{assignment}"):
        shutil.rmtree(stale)
    for g in graded:
        records.write_executed(course.path, assignment, g)
        report[g.student] += g.flags
    records.write_gradebook(course.path, assignment, graded, releases)
    lms.name_students(course.path, assignment)        # the roster's names, where collect had one
    report = {student: [shown_finding(f) for f in found] for student, found in report.items()}
    course.reports(assignment).mkdir(parents=True, exist_ok=True)
    details = {}
    for g in graded:
        details.setdefault(g.student, {})[g.notebook] = {
            "seconds": round(g.seconds, 1), "memory_cap": g.memory_cap, "verdicts": g.verdicts,
            "test_cell_output": g.texts,
            **({"not_graded": g.not_graded} if g.not_graded else {})}
    # json.dumps escapes every non-ASCII and control character (ensure_ascii): what a test
    # cell printed is kept as evidence in results.json, but never as raw escape sequences
    course.grading_report(assignment).write_text(json.dumps(report, indent=1))
    course.results(assignment).write_text(json.dumps({"sandbox": level, "students": details},
                                                     indent=1))
    print_grade_report(report, course.grading_report(assignment),
                       [g for g in graded if g.not_graded])
    return 0


def _progress(done, total, line):
    """A progress bar with an ETA: redrawn in place on a terminal, every tenth line in a log."""
    if sys.stdout.isatty():
        print("\r" + line, end="\n" if done == total else "", flush=True)
    elif done == total or done % 10 == 0:
        print(line, flush=True)


def print_grade_report(report, report_path, ungraded=()):
    """One line per student: ok, or each flag with its cell and detail (``report`` holds the
    findings as ``shown_finding`` made them); then the notebooks that were not graded."""
    for student, found in report.items():
        print(f"{shown(student)}: " + ("ok" if not found else "; ".join(
            f"{f['flag']} {f['cell'] or f['notebook']} ({f['detail']})" for f in found)))
    print(f"{len(report)} submissions; report: {report_path}")
    for g in ungraded:
        print(f"NOT GRADED: {shown(g.student)} / {shown(g.notebook)}: {shown(g.not_graded)} "
              "(grade it by hand in formgrader; export leaves its points empty)")
