#!/usr/bin/env python3
"""Instructor workflow without JupyterHub: release, collect, grade, export, feedback.

    python3 course/instructor.py release
    python3 course/instructor.py collect ~/Downloads/submissions.zip --assignment 01_anchors
    python3 course/instructor.py grade --assignment 01_anchors --timeout 120
    python3 course/instructor.py export --assignment 01_anchors --csv grades.csv
    python3 course/instructor.py feedback --assignment 01_anchors

Every command takes ``--course DIR`` (default: the folder of this file). ``instructor.ipynb``
runs the same steps on Colab through ``main([...])``.

collect: SOURCE is a folder or a .zip of notebooks downloaded from Colab; the student id comes
from the file name (``boxloc.selfcheck.student_id``, the rule the students' self-check cell
shows; ``--map`` overrides it). Each file lands, under the
release notebook's name, in ``submitted/<student>/<assignment>/``. Files without a student id,
unreadable notebooks, links, oversized files and two files for the same student are reported
and not copied; an existing different submission is kept unless ``--force``; over-long or odd
names are shortened deterministically and reported as renamed (collect.py).

grade: each submission is copied to ``repaired/<student>/<assignment>/`` (``submitted/`` stays
as the students sent it) and put back into the release's shape (``repairs.py``: Colab metadata,
copied cells, changed types, deleted cells, edited locked cells), then run in its own sandbox
(``grader/sandbox.py``), ``--workers`` at a time, in the notebooks' grading mode
(``BOXLOC_GRADING=1``: training cells take one token step, notebook 4 evaluates the shipped
reference detector; the exercises are unchanged); the answers it records are judged by a clean
interpreter (``grader/judge.py``) against ``hidden/<assignment>.py``; only this process writes
the gradebook, ``autograded/`` and ``reports/<assignment>/`` (``grading.json``: repairs and
flags per student; ``results.json``: verdicts, test cells' output, seconds, the isolation level).
``--shard K/N`` and ``--merge`` split a class over machines (``grader/shards.py``).
"""

import argparse
import csv
import importlib.util
import io
import json
import os
import shutil
import sys
from pathlib import Path

try:
    import nbformat
except ModuleNotFoundError as missing:   # python3 outside the project's virtualenv
    if __name__ != "__main__":
        raise
    from venv_rerun import rerun_in_venv
    rerun_in_venv("instructor", missing)

COURSE = Path(__file__).resolve().parent
if str(COURSE) not in sys.path:             # the grading machinery: course/grader/
    sys.path.insert(0, str(COURSE))
REPAIRED = "repaired"   # the repaired copies that are graded (submitted/ stays as sent)
REPORTS = "reports"


# ---------------------------------------------------------------- nbgrader and the course

def _course_module(name):
    """``course/<name>.py`` as a module, wherever this file was loaded from."""
    spec = importlib.util.spec_from_file_location(name, COURSE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _manage():
    """course/manage.py (its release generation and nbgrader runner)."""
    return _course_module("manage")


_repairs = _course_module("repairs")            # what is fixed in a submission before grading
finding, repair = _repairs.finding, _repairs.repair
_collect = _course_module("collect")            # downloads -> submitted/
student_id = _collect.student_id


def release_notebooks(course, assignment):
    """{notebook name: release notebook} of an assignment (``release`` must have run)."""
    folder = Path(course) / "release" / assignment
    paths = sorted(folder.glob("*.ipynb"))
    if not paths:
        raise SystemExit(f"no release notebooks in {folder}: run the 'release' command first")
    return {p.stem: nbformat.read(p, as_version=4) for p in paths}


def release(course):
    """Generate ``release/`` and the gradebook with course/manage.py's generate_release, and
    snapshot what the gradebook holds (export checks against it)."""
    from grader import integrity
    manage = _manage()
    manage.generate_release(Path(course))
    integrity.snapshot(course, manage.assignments(Path(course)))
    print(f"released {', '.join(manage.assignments(Path(course)))} into {Path(course) / 'release'}")
    return 0


# ---------------------------------------------------------------- collect (collect.py)

def collect(source, assignment, course=COURSE, force=False, mapping=None):
    """Copy the notebooks of SOURCE into ``submitted/<student>/<assignment>/`` (collect.py);
    returns the report {status: [(source file, destination or reason)]} and prints it."""
    return _collect.collect(source, assignment, release_notebooks(course, assignment),
                            Path(course), force, mapping)


def prepare(course, assignment):
    """Copy every submission to ``repaired/`` with its notebooks repaired; {student: findings}."""
    course, releases = Path(course), release_notebooks(course, assignment)
    for stale in (course / REPAIRED).glob(f"*/{assignment}"):
        shutil.rmtree(stale)
    report = {}
    for folder in sorted((course / "submitted").glob(f"*/{assignment}")):
        dest = course / REPAIRED / folder.parent.name / assignment
        shutil.copytree(folder, dest)
        report[folder.parent.name] = prepare_folder(dest, releases)
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


# ---------------------------------------------------------------- grade: sandboxes and the judge

DEFAULT_SECRET = "boxloc-default-cases"


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
    from grader import sandbox
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
    from grader import batch, sandbox, shards
    course = Path(course)
    report = prepare(course, assignment)
    releases = release_notebooks(course, assignment)
    if merge:
        graded, levels = shards.load(course, assignment)
        return write_results(course, assignment, report, graded, releases, "+".join(levels))
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
                   for path in [course / REPAIRED / student / assignment / f"{name}.ipynb"]
                   if path.exists()]
    print(f"grading {len(submissions)} notebooks of {assignment} with {workers} worker(s), "
          f"sandbox: {level}" + (f", shard {shard[0]} of {shard[1]}" if shard else ""))
    graded = batch.grade_batch(course, assignment, submissions, releases, workers, limits, level,
                               grading_secret(secret), progress=_progress)
    if shard:
        print(f"shard results: {shards.save(course, assignment, shard, graded, level)}")
        return 0
    return write_results(course, assignment, report, graded, releases, level)


def write_results(course, assignment, report, graded, releases, level):
    """Everything a grading run leaves: executed notebooks, gradebook, report and results."""
    from grader import records
    from grader.flag_names import shown_finding
    for stale in (course / "autograded").glob(f"*/{assignment}"):
        shutil.rmtree(stale)
    for g in graded:
        records.write_executed(course, assignment, g)
        report[g.student] += g.flags
    records.write_gradebook(course, assignment, graded, releases)
    report = {student: [shown_finding(f) for f in found] for student, found in report.items()}
    out = course / REPORTS / assignment
    out.mkdir(parents=True, exist_ok=True)
    details = {}
    for g in graded:
        details.setdefault(g.student, {})[g.notebook] = {
            "seconds": round(g.seconds, 1), "memory_cap": g.memory_cap, "verdicts": g.verdicts,
            "test_cell_output": g.texts,
            **({"not_graded": g.not_graded} if g.not_graded else {})}
    # json.dumps escapes every non-ASCII and control character (ensure_ascii): what a test
    # cell printed is kept as evidence in results.json, but never as raw escape sequences
    (out / "grading.json").write_text(json.dumps(report, indent=1))
    (out / "results.json").write_text(json.dumps({"sandbox": level, "students": details}, indent=1))
    print_grade_report(report, out, [g for g in graded if g.not_graded])
    return 0


def _progress(done, total, line):
    """A progress bar with an ETA: redrawn in place on a terminal, every tenth line in a log."""
    if sys.stdout.isatty():
        print("\r" + line, end="\n" if done == total else "", flush=True)
    elif done == total or done % 10 == 0:
        print(line, flush=True)


def print_grade_report(report, out, ungraded=()):
    """One line per student: ok, or each flag with its cell and detail (``report`` holds the
    findings as ``shown_finding`` made them); then the notebooks that were not graded."""
    from grader.safe_text import shown
    for student, found in report.items():
        print(f"{shown(student)}: " + ("ok" if not found else "; ".join(
            f"{f['flag']} {f['cell'] or f['notebook']} ({f['detail']})" for f in found)))
    print(f"{len(report)} submissions; report: {out / 'grading.json'}")
    for g in ungraded:
        print(f"NOT GRADED: {shown(g.student)} / {shown(g.notebook)}: {shown(g.not_graded)} "
              "(grade it by hand in formgrader; export leaves its points empty)")


# ---------------------------------------------------------------- export and feedback

def flags(report, student):
    """Short flags of a student for the CSV (``flag:cell``, each once), notes such as Colab left
    out; names from the flag vocabulary and texts escaped even if grading.json was edited since."""
    from grader.flag_names import shown_finding
    found = [shown_finding(f) for f in report.get(student, [])]
    return "; ".join(dict.fromkeys(f"{f['flag']}:{f['cell'] or f['notebook']}"
                                   for f in found if f["flag"] != "colab"))


def grade_rows(course, assignment):
    """(exercise names, rows): per student the score of each test cell, total and flags. A
    notebook that was not graded (and has no manual score yet) has no points and no total:
    it is not a 0."""
    from nbgrader.api import Gradebook
    from grader.records import points_of
    course = Path(course)
    exercises = [gid for nb in release_notebooks(course, assignment).values() for gid in points_of(nb)]
    report_path = course / REPORTS / assignment / "grading.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    results_path = course / REPORTS / assignment / "results.json"
    results = json.loads(results_path.read_text())["students"] if results_path.exists() else {}
    ungraded = {(student, name) for student, notebooks in results.items()
                for name, details in notebooks.items() if details.get("not_graded")}
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for submission in gradebook.find_assignment(assignment).submissions:
            student = submission.student.id
            scores[student] = {g.name: None if (student, nb.name) in ungraded and
                               g.manual_score is None else g.score
                               for nb in submission.notebooks for g in nb.grades}
    rows = []
    for student in sorted(set(scores) | set(report)):
        points = [scores.get(student, {}).get(e) for e in exercises]
        total = None if None in points else sum(points)
        rows.append([student, *points, total, flags(report, student)])
    return exercises, rows


def export(course, assignment, csv_path, accept_manual=False):
    """Write the grades CSV: student, one column per exercise, total, flags; refuses when the
    gradebook is not as the release and the judge left it (grader/integrity.py). Every text
    cell is escaped against formula injection and control characters (grader/safe_text.py)."""
    from grader import integrity, records
    from grader.safe_text import csv_cell, shown
    points = {name: records.points_of(nb) for name, nb in release_notebooks(course, assignment).items()}
    found = integrity.problems(course, assignment, points, accept_manual)
    if found:
        print(f"export refused: the gradebook of {assignment} is not as the grader left it:",
              *map(shown, found[:50]), sep="\n  ", file=sys.stderr)
        return 1
    exercises, rows = grade_rows(course, assignment)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in [["student", *exercises, "total", "flags"], *rows]:
        writer.writerow([csv_cell(v) for v in row])     # scores stay numbers, texts are escaped
    Path(csv_path).write_text(buffer.getvalue())
    print(f"{len(rows)} students -> {csv_path}")
    return 0


def feedback(course, assignment):
    """One HTML page per student and notebook, ``feedback/<student>/<assignment>/<notebook>.html``:
    points per exercise and the visible checks that failed (nothing hidden, all escaped)."""
    from grader import records
    course = Path(course)
    results_path = course / REPORTS / assignment / "results.json"
    if not results_path.exists():
        raise SystemExit(f"no grading results in {results_path}: run the 'grade' command first")
    results = json.loads(results_path.read_text())["students"]
    releases = release_notebooks(course, assignment)
    for student, notebooks in sorted(results.items()):
        folder = course / "feedback" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        for name, details in notebooks.items():
            page = records.feedback_html(student, assignment, name, details["verdicts"],
                                         releases[name], bool(details.get("not_graded")))
            (folder / f"{name}.html").write_text(page)
    print(f"feedback for {len(results)} students in {course / 'feedback'}")
    return 0


# ---------------------------------------------------------------- command line

def parse(argv):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--course", type=Path, default=COURSE,
                        help="course folder (default: %(default)s)")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:8]))
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("release", parents=[common], help="generate release/ and the gradebook")
    for name, text in (("collect", "submissions (folder or .zip) -> submitted/"),
                       ("grade", "autograde every submission"),
                       ("export", "grades as CSV"), ("feedback", "HTML feedback per student")):
        sub = commands.add_parser(name, parents=[common], help=text)
        sub.add_argument("--assignment", required=True)
    commands.choices["collect"].add_argument("source", type=Path)
    commands.choices["collect"].add_argument("--force", action="store_true",
                                             help="replace existing different submissions")
    commands.choices["collect"].add_argument("--map", type=Path, metavar="CSV",
                                             help="file,student rows that name a file's student")
    grade_args = commands.choices["grade"]
    grade_args.add_argument("--timeout", type=int,
                            help="seconds per cell and per recorded case (default 300)")
    grade_args.add_argument("--notebook-timeout", type=int,
                            help="seconds per notebook (default 1200)")
    grade_args.add_argument("--workers", type=int,
                            help="submissions graded at once (default: the number of cores)")
    grade_args.add_argument("--secret", help="the grading secret the hidden cases are drawn "
                            "from (default: $BOXLOC_GRADING_SECRET, else the published cases)")
    grade_args.add_argument("--allow-unsandboxed", action="store_true",
                            help="grade even where no sandbox is available (unsafe)")
    grade_args.add_argument("--shard", metavar="K/N",
                            help="grade only the K-th of N slices of the class (a job array)")
    grade_args.add_argument("--merge", action="store_true",
                            help="write the gradebook from the saved shard results")
    commands.choices["export"].add_argument("--csv", type=Path, required=True)
    commands.choices["export"].add_argument("--accept-manual-scores", action="store_true",
                                            help="export manual scores set in formgrader")
    return parser.parse_args(argv)


def main(argv=None):
    """Run one command (argv as on the command line); returns the exit status."""
    args = parse(argv)
    course = args.course.resolve()
    if args.command == "release":
        return release(course)
    if args.command == "collect":
        mapping = _collect.read_map(args.map) if args.map else None
        report = collect(args.source, args.assignment, course, args.force, mapping)
        return 1 if any(report[k] for k in _collect.PROBLEMS) else 0
    if args.command == "grade":
        from grader.shards import parse_shard
        if args.shard and args.merge:
            raise SystemExit("--shard and --merge are two steps: run them separately")
        return grade(course, args.assignment, args.timeout, args.workers, args.notebook_timeout,
                     args.allow_unsandboxed, args.secret,
                     parse_shard(args.shard) if args.shard else None, args.merge)
    if args.command == "export":
        return export(course, args.assignment, args.csv, args.accept_manual_scores)
    return feedback(course, args.assignment)


if __name__ == "__main__":
    sys.exit(main())
