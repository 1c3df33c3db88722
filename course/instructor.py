#!/usr/bin/env python3
"""Instructor workflow without JupyterHub: release, collect, grade, export, feedback.

    python3 course/instructor.py release
    python3 course/instructor.py collect ~/Downloads/submissions.zip --assignment 01_anchors
    python3 course/instructor.py grade --assignment 01_anchors --timeout 120
    python3 course/instructor.py export --assignment 01_anchors --csv grades.csv
    python3 course/instructor.py feedback --assignment 01_anchors

Every command takes ``--course DIR`` (default: the folder of this file). ``instructor.ipynb``
runs the same steps on Colab through ``main([...])``.

collect: SOURCE is a folder or a .zip of notebooks downloaded from Colab. The student id comes
from the file name: lower-cased, without ``.ipynb``, a leading ``Copy of``, a trailing Drive
``(1)`` and the notebook or assignment name at its start or end; every run of characters other
than a-z and 0-9 becomes ``_`` (``Copy of anchors - Alice Smith.ipynb`` -> ``alice_smith``). When
nothing is left (``anchors.ipynb``, ``Copy of anchors.ipynb``) the nearest enclosing folder's name
is used the same way (``alice/anchors.ipynb`` -> ``alice``). Each file lands, under the release
notebook's name, in ``submitted/<student>/<assignment>/``. Files without a student id, unreadable
notebooks and two files for the same student are reported and not copied; an existing different
submission is kept unless ``--force``.

grade: each submission is copied to ``repaired/<student>/<assignment>/`` (``submitted/`` stays
as the students sent it) and put back into the release's shape (``repairs.py``: Colab metadata,
copied cells, changed types, deleted cells, edited locked cells), then run in its own sandbox
(``grader/sandbox.py``), ``--workers`` at a time; the answers it records are judged by a clean
interpreter (``grader/judge.py``) against ``hidden/<assignment>.py``; only this process writes
the gradebook, ``autograded/`` and ``reports/<assignment>/`` (``grading.json``: repairs and
flags per student; ``results.json``: verdicts, visible output, seconds, the isolation level).
``--shard K/N`` and ``--merge`` split a class over machines (``grader/shards.py``).
"""

import argparse
import csv
import importlib.util
import io
import json
import os
import re
import shutil
import stat
import sys
import unicodedata
import zipfile
from pathlib import Path, PurePosixPath

import nbformat

COURSE = Path(__file__).resolve().parent
if str(COURSE) not in sys.path:             # the grading machinery: course/grader/
    sys.path.insert(0, str(COURSE))
REPAIRED = "repaired"   # nbgrader's input while grading (its CourseDirectory.submitted_directory)
REPORTS = "reports"
TIMEOUT_ERROR = "CellTimeoutError"  # ename of nbgrader's default Execute.error_on_timeout
SKIPPED_PARTS = ("__MACOSX", ".ipynb_checkpoints")


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
grade_id, finding, repair = _repairs.grade_id, _repairs.finding, _repairs.repair


def run_nbgrader(course, *args):
    """Run ``python -m nbgrader ARGS`` on ``course``; returns the CompletedProcess (no raise)."""
    return _manage().nbgrader(course, *args, check=False)


def release_notebooks(course, assignment):
    """{notebook name: release notebook} of an assignment (``release`` must have run)."""
    folder = Path(course) / "release" / assignment
    paths = sorted(folder.glob("*.ipynb"))
    if not paths:
        raise SystemExit(f"no release notebooks in {folder}: run the 'release' command first")
    return {p.stem: nbformat.read(p, as_version=4) for p in paths}


def release(course):
    """Generate ``release/`` and the gradebook with course/manage.py's generate_release."""
    manage = _manage()
    manage.generate_release(Path(course))
    print(f"released {', '.join(manage.assignments(Path(course)))} into {Path(course) / 'release'}")
    return 0


# ---------------------------------------------------------------- collect

def clean_name(text, names):
    """Student id from one file or folder name (see the module docstring); '' if none."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"\s*\(\d+\)\s*$", "", text)
    tokens = re.findall(r"[a-z0-9]+", text)
    while tokens[:2] == ["copy", "of"]:
        tokens = tokens[2:]
    name_tokens = sorted((re.findall(r"[a-z0-9]+", n.lower()) for n in names), key=len, reverse=True)
    changed = True
    while changed and tokens:
        changed = False
        for nt in name_tokens:
            if nt and tokens[:len(nt)] == nt:
                tokens, changed = tokens[len(nt):], True
            elif nt and len(tokens) > len(nt) and tokens[-len(nt):] == nt:
                tokens, changed = tokens[:-len(nt)], True
    return "_".join(tokens)


def student_id(relpath, names):
    """Student id of a file at ``relpath`` inside SOURCE: its name, else its nearest folder's."""
    relpath = PurePosixPath(relpath)
    for candidate in [relpath.stem, *reversed(relpath.parts[:-1])]:
        sid = clean_name(candidate, names)
        if sid:
            return sid
    return None


MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024    # a notebook larger than this is reported, not read


def source_files(source, refused=None):
    """(relative path, bytes) of every file in a folder or .zip, skipping OS and Jupyter litter.

    Nothing is extracted: a zip entry is only read (streamed, at most MAX_NOTEBOOK_BYTES, so a
    zip bomb costs nothing), and its path only names the student. Symbolic links (in a folder
    or stored in a zip) and oversized files are listed in ``refused`` as (path, status,
    reason) with status "link" or "too_large"."""
    source, refused = Path(source), refused if refused is not None else []
    entries = []
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            for info in archive.infolist():
                rel = PurePosixPath(info.filename)
                if info.is_dir() or _litter(rel):
                    continue
                if stat.S_ISLNK(info.external_attr >> 16):
                    refused.append((str(rel), "link", "a symbolic link: not followed"))
                elif info.file_size > MAX_NOTEBOOK_BYTES:
                    refused.append((str(rel), "too_large", f"{info.file_size:,} bytes unpacked"))
                else:
                    with archive.open(info) as stream:
                        data = stream.read(MAX_NOTEBOOK_BYTES + 1)
                    if len(data) > MAX_NOTEBOOK_BYTES:
                        refused.append((str(rel), "too_large", "over the size limit"))
                    else:
                        entries.append((rel, data))
        return entries
    for path in sorted(source.rglob("*")):
        rel = PurePosixPath(path.relative_to(source).as_posix())
        if _litter(rel):
            continue
        if path.is_symlink():
            refused.append((str(rel), "link", "a symbolic link: not followed"))
        elif path.is_file() and path.stat().st_size > MAX_NOTEBOOK_BYTES:
            refused.append((str(rel), "too_large", f"{path.stat().st_size:,} bytes"))
        elif path.is_file():
            entries.append((rel, path.read_bytes()))
    return entries


def _litter(rel):
    """OS and Jupyter litter (``__MACOSX``, checkpoints, hidden files); ``..`` is not litter."""
    return any(part in SKIPPED_PARTS or (part.startswith(".") and part not in (".", ".."))
               for part in rel.parts)


def match_notebook(nb, relpath, releases):
    """Name of the release notebook a submitted notebook answers (by grade ids, then name)."""
    if len(releases) == 1:
        return next(iter(releases))
    ids = {grade_id(c) for c in nb.cells} - {None}
    overlap = {name: len(ids & {grade_id(c) for c in r.cells}) for name, r in releases.items()}
    best = max(overlap, key=overlap.get)
    if overlap[best]:
        return best
    stem = clean_name(relpath.stem, [])
    return next((name for name in releases if clean_name(name, []) in stem), None)


def collect(source, assignment, course=COURSE, force=False):
    """Copy the notebooks of SOURCE into ``submitted/<student>/<assignment>/``; returns a
    report {status: [(source file, destination or reason)]} and prints it."""
    course, releases = Path(course), release_notebooks(course, assignment)
    names = [*releases, assignment]
    report = {k: [] for k in ("copied", "replaced", "unchanged", "kept", "conflict",
                              "unmatched", "unreadable", "link", "too_large", "ignored")}
    planned, refused = {}, []
    files = source_files(source, refused)
    for rel, status, reason in refused:
        report[status].append((rel, reason))
    for rel, data in files:
        if rel.suffix != ".ipynb":
            report["ignored"].append((str(rel), "not a notebook"))
            continue
        try:
            nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        except Exception as error:  # any unreadable file is reported, never fatal
            report["unreadable"].append((str(rel), f"{type(error).__name__}: {error}"))
            continue
        sid, notebook = student_id(rel, names), match_notebook(nb, rel, releases)
        if not sid or not notebook:
            reason = "no student id in the name" if not sid else "which notebook?"
            report["unmatched"].append((str(rel), reason))
            continue
        target = course / "submitted" / sid / assignment / f"{notebook}.ipynb"
        planned.setdefault(target, []).append((rel, data))
    for target, files in planned.items():
        report_key, note = place(target, files, force)
        for rel, _ in files:
            report[report_key].append((str(rel), note))
    print_collect_report(report)
    return report


def place(target, files, force):
    """Write one submission file; returns (report status, note)."""
    shown = str(target.relative_to(target.parents[3]))
    if len(files) > 1:
        return "conflict", f"{len(files)} files for {shown}: none copied, rename and collect again"
    data = files[0][1]
    if target.exists() and target.read_bytes() == data:
        return "unchanged", shown
    if target.exists() and not force:
        return "kept", f"{shown} exists and differs: kept (--force replaces it)"
    status = "replaced" if target.exists() else "copied"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return status, shown


def print_collect_report(report):
    for status, entries in report.items():
        for source, note in entries:
            print(f"{status:10s} {source} -> {note}" if status in ("copied", "replaced", "unchanged")
                  else f"{status:10s} {source}: {note}")
    print(", ".join(f"{len(v)} {k}" for k, v in report.items() if v) or "no files found")


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

def grading_secret(course, secret=None):
    """The secret the hidden cases are drawn from: ``--secret``, else $BOXLOC_GRADING_SECRET,
    else the course's fixed default (the published cases; see the README)."""
    return secret or os.environ.get("BOXLOC_GRADING_SECRET") or "boxloc-default-cases"


def sandbox_level(allow_unsandboxed):
    """The isolation level of this machine; refuses to grade without isolation unless allowed."""
    from grader import sandbox
    level = sandbox.detect_level()
    if level == "none":
        message = ("no sandbox is available here (unshare/namespaces refused): student code would "
                   "run with YOUR permissions and could read the answer key and change grades")
        if not allow_unsandboxed:
            raise SystemExit(message + ". Grade on a Linux machine with util-linux, or pass "
                             "--allow-unsandboxed to accept the risk.")
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
    workers = workers or os.cpu_count() or 1
    students = shards.select(report, shard) if shard else sorted(report)
    submissions = [batch.Submission(student, name, path)
                   for student in students
                   for name in releases
                   for path in [course / REPAIRED / student / assignment / f"{name}.ipynb"]
                   if path.exists()]
    print(f"grading {len(submissions)} notebooks of {assignment} with {workers} worker(s), "
          f"sandbox: {level}" + (f", shard {shard[0]} of {shard[1]}" if shard else ""))
    graded = batch.grade_batch(course, assignment, submissions, releases, workers, limits, level,
                               grading_secret(course, secret), progress=_progress)
    if shard:
        print(f"shard results: {shards.save(course, assignment, shard, graded, level)}")
        return 0
    return write_results(course, assignment, report, graded, releases, level)


def write_results(course, assignment, report, graded, releases, level):
    """Everything a grading run leaves: executed notebooks, gradebook, report and results."""
    from grader import records
    for stale in (course / "autograded").glob(f"*/{assignment}"):
        shutil.rmtree(stale)
    for g in graded:
        records.write_executed(course, assignment, g)
        report[g.student] += g.flags
    records.write_gradebook(course, assignment, graded, releases)
    out = course / REPORTS / assignment
    out.mkdir(parents=True, exist_ok=True)
    details = {}
    for g in graded:
        details.setdefault(g.student, {})[g.notebook] = {
            "seconds": round(g.seconds, 1), "verdicts": g.verdicts, "visible": g.texts}
    (out / "grading.json").write_text(json.dumps(report, indent=1))
    (out / "results.json").write_text(json.dumps({"sandbox": level, "students": details}, indent=1))
    print_grade_report(report, out)
    return 0


def _progress(done, total, line):
    """A progress bar with an ETA: redrawn in place on a terminal, every tenth line in a log."""
    if sys.stdout.isatty():
        print("\r" + line, end="\n" if done == total else "", flush=True)
    elif done == total or done % 10 == 0:
        print(line, flush=True)


def print_grade_report(report, out):
    for student, found in report.items():
        print(f"{student}: " + ("ok" if not found else "; ".join(
            f"{f['flag']} {f['cell'] or f['notebook']} ({f['detail']})" for f in found)))
    print(f"{len(report)} submissions; report: {out / 'grading.json'}")


# ---------------------------------------------------------------- export and feedback

def flags(report, student):
    """Short flags of a student for the CSV (``flag:cell``), notes such as Colab left out."""
    return "; ".join(f"{f['flag']}:{f['cell'] or f['notebook']}"
                     for f in report.get(student, []) if f["flag"] != "colab")


def grade_rows(course, assignment):
    """(exercise names, rows): per student the score of each test cell, total and flags."""
    from nbgrader.api import Gradebook
    course = Path(course)
    exercises = [grade_id(c) for nb in release_notebooks(course, assignment).values()
                 for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    report_path = course / REPORTS / assignment / "grading.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for submission in gradebook.find_assignment(assignment).submissions:
            scores[submission.student.id] = {g.name: g.score for nb in submission.notebooks
                                             for g in nb.grades}
    rows = []
    for student in sorted(set(scores) | set(report)):
        graded = "not_graded" not in flags(report, student) and student in scores
        points = [scores[student].get(e) if graded else None for e in exercises]
        total = sum(p or 0 for p in points) if graded else None
        rows.append([student, *points, total, flags(report, student)])
    return exercises, rows


def export(course, assignment, csv_path):
    """Write the grades CSV: student, one column per exercise, total, flags."""
    exercises, rows = grade_rows(course, assignment)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", *exercises, "total", "flags"])
    for row in rows:
        writer.writerow(["" if v is None else f"{v:g}" if isinstance(v, float) else v for v in row])
    Path(csv_path).write_text(buffer.getvalue())
    print(f"{len(rows)} students -> {csv_path}")
    return 0


def feedback(course, assignment):
    """One HTML page per student and notebook, ``feedback/<student>/<assignment>/<notebook>.html``:
    points per exercise and what the visible checks printed (nothing hidden, all escaped)."""
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
                                         details["visible"], releases[name])
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
    grade_args = commands.choices["grade"]
    grade_args.add_argument("--timeout", type=int, help="seconds per cell (default 300)")
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
    return parser.parse_args(argv)


def main(argv=None):
    """Run one command (argv as on the command line); returns the exit status."""
    args = parse(argv)
    course = args.course.resolve()
    if args.command == "release":
        return release(course)
    if args.command == "collect":
        report = collect(args.source, args.assignment, course, args.force)
        return 1 if any(report[k] for k in ("kept", "conflict", "unmatched", "unreadable", "link",
                                            "too_large")) else 0
    if args.command == "grade":
        from grader.shards import parse_shard
        if args.shard and args.merge:
            raise SystemExit("--shard and --merge are two steps: run them separately")
        return grade(course, args.assignment, args.timeout, args.workers, args.notebook_timeout,
                     args.allow_unsandboxed, args.secret,
                     parse_shard(args.shard) if args.shard else None, args.merge)
    if args.command == "export":
        return export(course, args.assignment, args.csv)
    return feedback(course, args.assignment)


if __name__ == "__main__":
    sys.exit(main())
