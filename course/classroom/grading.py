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
A class can be split over machines (``shard``) and merged (``grader/shards.py``). ``students``
regrades only those students (after a hidden test is fixed, or a late submission): everyone
else's gradebook entries, reports, executed notebooks and feedback stay as they were.
``override`` records a teaching assistant's score with who, when and why
(``grader/overrides.py``).
"""

import getpass
import hashlib
import json
import os
import shutil
import sys

import nbformat

from . import lms
from .grader import batch, overrides, records, sandbox, shards
from .grader.flag_names import shown_finding
from .grader.safe_text import shown
from .layout import CourseFolder
from .repairs import finding, repair

DEFAULT_SECRET = "boxloc-default-cases"


def prepare(course, assignment, students=None):
    """Copy every submission (or those of ``students``) to ``repaired/`` with its notebooks
    repaired; {student: findings} (with the ``late`` flag of those an LMS download showed
    late, lms/)."""
    course = CourseFolder(course)
    releases = course.release_notebooks(assignment)
    for stale in course.repaired().glob(f"*/{assignment}"):
        if students is None or stale.parent.name in students:
            shutil.rmtree(stale)
    report, late = {}, lms.late_findings(course.path, assignment)
    for folder in sorted(course.submitted().glob(f"*/{assignment}")):
        if students is not None and folder.parent.name not in students:
            continue
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
          allow_unsandboxed=False, secret=None, shard=None, merge=False, students=None):
    """Repair every submission, run each in its own sandbox (``workers`` at a time), judge the
    recorded answers, write the gradebook, the executed notebooks and the report; returns 0.

    ``shard`` (K, N) grades only the K-th of N slices of the class and saves its results for a
    later ``merge`` (grader/shards.py), which writes everything as a single run would.
    ``students`` grades only those and leaves everyone else's results as they are (the cases
    must come from the same grading secret as the class's: it is checked)."""
    course = CourseFolder(course)
    if students is not None:
        students = sorted(set(students))
        if shard or merge:
            raise SystemExit("--student regrades on this machine: not with --shard or --merge")
        missing = [s for s in students if not course.submitted(s, assignment).is_dir()]
        if missing:
            raise SystemExit(f"no submission of {assignment} for {', '.join(map(shown, missing))} "
                             f"in {course.submitted()}")
    if not merge:
        secret = grading_secret(secret)
        if students is not None:
            check_same_secret(course, assignment, secret)
    report = prepare(course.path, assignment, students)
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
    chosen = shards.select(report, shard) if shard else sorted(report)
    submissions = [batch.Submission(student, name, path)
                   for student in chosen
                   for name in releases
                   for path in [course.repaired(student, assignment) / f"{name}.ipynb"]
                   if path.exists()]
    print(f"grading {len(submissions)} notebooks of {assignment} with {workers} worker(s), "
          f"sandbox: {level}" + (f", shard {shard[0]} of {shard[1]}" if shard else ""))
    graded = batch.grade_batch(course.path, assignment, submissions, releases, workers, limits,
                               level, secret, progress=_progress)
    if shard:
        print(f"shard results: {shards.save(course.path, assignment, shard, graded, level)}")
        return 0
    return write_results(course.path, assignment, report, graded, releases, level,
                         secret_digest(secret), only=students)


def secret_digest(secret):
    """What results.json keeps of the grading secret: enough to tell two secrets apart."""
    return hashlib.sha256(f"boxloc-grading-secret/{secret}".encode()).hexdigest()[:16]


def check_same_secret(course, assignment, secret):
    """A regrade of some students draws the class's cases, or refuses."""
    path = course.results(assignment)
    if not path.exists():
        return
    kept = json.loads(path.read_text()).get("secret")
    if kept and kept != secret_digest(secret):
        raise SystemExit(f"{assignment} was graded with another grading secret: regrade with the "
                         "class's (--secret or BOXLOC_GRADING_SECRET), so every student gets the "
                         "same hidden cases")


def write_results(course, assignment, report, graded, releases, level, secret=None, only=None):
    """Everything a grading run leaves: executed notebooks, gradebook, report and results.
    ``only`` (students): the run regraded these; everyone else's entries are kept as they are."""
    course = CourseFolder(course)
    for stale in course.autograded().glob(f"*/{assignment}"):
        if only is None or stale.parent.name in only:
            shutil.rmtree(stale)
    for g in graded:
        records.write_executed(course.path, assignment, g)
        report[g.student] += g.flags
    records.write_gradebook(course.path, assignment, graded, releases)
    from nbgrader.api import Gradebook
    with Gradebook(course.gradebook_url) as gradebook:      # the overrides in force, again
        overrides.apply(gradebook, assignment, overrides.load(course.path, assignment),
                        {g.student for g in graded})
    lms.name_students(course.path, assignment)        # the roster's names, where collect had one
    report = {student: [shown_finding(f) for f in found] for student, found in report.items()}
    course.reports(assignment).mkdir(parents=True, exist_ok=True)
    details = {}
    for g in graded:
        details.setdefault(g.student, {})[g.notebook] = {
            "seconds": round(g.seconds, 1), "memory_cap": g.memory_cap, "verdicts": g.verdicts,
            "test_cell_output": g.texts,
            **({"not_graded": g.not_graded} if g.not_graded else {})}
    results = {"sandbox": level, **({"secret": secret} if secret else {}), "students": details}
    if only is not None:
        report, results = _kept_with(course, assignment, report, results)
    # json.dumps escapes every non-ASCII and control character (ensure_ascii): what a test
    # cell printed is kept as evidence in results.json, but never as raw escape sequences
    course.grading_report(assignment).write_text(json.dumps(report, indent=1))
    course.results(assignment).write_text(json.dumps(results, indent=1))
    print_grade_report({s: report[s] for s in (only or report)}, course.grading_report(assignment),
                       [g for g in graded if g.not_graded])
    return 0


def _kept_with(course, assignment, report, results):
    """The earlier report and results with the regraded students' entries replaced."""
    old_report = json.loads(course.grading_report(assignment).read_text()) \
        if course.grading_report(assignment).exists() else {}
    old = json.loads(course.results(assignment).read_text()) \
        if course.results(assignment).exists() else {"students": {}}
    levels = sorted(set(old.get("sandbox", "").split("+") + [results["sandbox"]]) - {""})
    merged = {**old, "sandbox": "+".join(levels),
              "students": dict(sorted({**old["students"], **results["students"]}.items()))}
    if "secret" in results:
        merged["secret"] = results["secret"]
    return dict(sorted({**old_report, **report}.items())), merged


def override(course, assignment, student, exercise, points=None, reason="", by=None):
    """Record a teaching assistant's score of one test cell (``points`` None: end the
    override) in the log and the gradebook; returns 0."""
    from nbgrader.api import Gradebook, MissingEntry
    course = CourseFolder(course)
    releases = course.release_notebooks(assignment)
    cells = {gid: (name, possible) for name, nb in releases.items()
             for gid, possible in records.points_of(nb).items()}
    if exercise not in cells:
        raise SystemExit(f"{shown(exercise)} is not a test cell of {assignment}: "
                         f"{', '.join(cells)}")
    notebook, possible = cells[exercise]
    if points is not None and not 0 <= points <= possible:
        raise SystemExit(f"{exercise} is worth {possible:g} points: an override is between 0 and "
                         f"{possible:g} (extra credit is not an override)")
    if not reason.strip():
        raise SystemExit("say why (--reason): the student reads it in the feedback")
    with Gradebook(course.gradebook_url) as gradebook:
        try:
            grade = gradebook.find_grade(exercise, notebook, assignment, student)
        except MissingEntry:
            raise SystemExit(f"{shown(student)} has no graded submission of {assignment}: grade it "
                             "first") from None
        entry = overrides.record(course.path, assignment, {
            "student": student, "notebook": notebook, "exercise": exercise, "points": points,
            "reason": reason.strip(), "by": by or getpass.getuser(), "automatic": grade.auto_score})
        grade.manual_score = None if points is None else float(points)
        gradebook.db.commit()
    what = "removed: the grader's score holds" if points is None else f"{points:g} / {possible:g}"
    print(f"{shown(student)} / {exercise}: {what} (by {shown(entry['by'])}, {entry['at']}; "
          f"logged in {course.overrides(assignment)})")
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
