"""What leaves the course after grading: grade files for a gradebook, feedback for students.

Every grade file is written by one of ``WRITERS`` and only after the one integrity check
(``grader/integrity.py``: the gradebook is as the release and the judge left it), so adding a
format cannot skip the check. The writers: the generic CSV, and for Canvas, Moodle and
Blackboard the instructor's own downloaded gradebook with the assignment's column filled
(``lms.fill_gradebook``: every other byte as downloaded; graded students it lacks refuse the
export). A total is after course.toml's ``[late_policy]`` where one is set. Every text a
student controls is escaped for where it lands (``grader/safe_text.py``: spreadsheet formulas,
control characters; HTML in feedback pages); feedback pages can be zipped as an LMS takes them
back (``feedback --lms``).
"""

import csv
import io
import json
import sys
from pathlib import Path

from . import lms
from .grader import integrity, overrides, records
from .grader.flag_names import shown_finding
from .grader.safe_text import csv_cell, shown
from .layout import CourseFolder


def flags(report, student, penalty=0.0):
    """Short flags of a student for a grade file (``flag:cell``, each once), notes such as Colab
    left out; names from the flag vocabulary and texts escaped even if grading.json was edited
    since. A late flag shows the delay and, where the late policy took points, the percent."""
    found = [shown_finding(f) for f in report.get(student, [])]
    cut = f" -{penalty:g}%" if penalty else ""
    return "; ".join(dict.fromkeys(f"{f['flag']}:{f['cell'] or f['notebook']}"
                                   + (cut if f["flag"] == "late" else "")
                                   for f in found if f["flag"] != "colab"))


def _json_or_empty(path, key=None):
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return data[key] if key else data


def details(notebooks, changed, points):
    """What a score of one student does not say by itself, for a grade file: the parts an
    exercise lost (partial credit) and the overrides in force with who and why."""
    said = []
    for gid, possible in points.items():
        if gid in changed:
            entry = changed[gid]
            said.append(f"{gid}: {float(entry['points']):g}/{possible:g} set by {entry['by']} "
                        f"({entry['at'][:10]}): {entry['reason']}")
            continue
        verdict = next((nb.get("verdicts", {}).get(gid) for nb in notebooks.values()
                        if gid in nb.get("verdicts", {})), None) or {}
        missed = [p["title"] for p in verdict.get("parts") or [] if not p.get("passed")]
        if missed and not verdict.get("passed"):
            score = records.expected_score(possible, verdict, False)
            said.append(f"{gid}: {score:g}/{possible:g}, missed {', '.join(missed)}")
    return "; ".join(said)


def grade_rows(course, assignment):
    """(exercise names, rows): per student the score of each test cell, total and flags. A
    notebook that was not graded (and has no manual score yet) has no points and no total:
    it is not a 0. A late student's total loses the percent course.toml's ``[late_policy]``
    sets (``lms.late_penalties``; none without a policy), rounded to 2 decimals."""
    from nbgrader.api import Gradebook
    course = CourseFolder(course)
    exercises = [gid for nb in course.release_notebooks(assignment).values()
                 for gid in records.points_of(nb)]
    report = _json_or_empty(course.grading_report(assignment))
    results = _json_or_empty(course.results(assignment), "students")
    ungraded = {(student, name) for student, notebooks in results.items()
                for name, details in notebooks.items() if details.get("not_graded")}
    scores = {}
    with Gradebook(course.gradebook_url) as gradebook:
        for submission in gradebook.find_assignment(assignment).submissions:
            student = submission.student.id
            scores[student] = {g.name: None if (student, nb.name) in ungraded and
                               g.manual_score is None else g.score
                               for nb in submission.notebooks for g in nb.grades}
    penalties = lms.late_penalties(course.path, assignment)
    rows = []
    for student in sorted(set(scores) | set(report)):
        points = [scores.get(student, {}).get(e) for e in exercises]
        total = None if None in points else sum(points)
        penalty = penalties.get(student, 0.0)
        if penalty and total is not None:
            total = round(total * (1 - penalty / 100), 2)
        rows.append([student, *points, total, flags(report, student, penalty)])
    return exercises, rows


def row_details(course, assignment):
    """{student: details} for the grade file: the parts an exercise lost, the overrides."""
    course = CourseFolder(course)
    possible = {gid: p for nb in course.release_notebooks(assignment).values()
                for gid, p in records.points_of(nb).items()}
    results = _json_or_empty(course.results(assignment), "students")
    changed = overrides.in_force(overrides.load(course.path, assignment))
    students = set(results) | {who for who, _ in changed}
    return {student: details(results.get(student, {}),
                             {gid: e for (who, gid), e in changed.items() if who == student},
                             possible) for student in students}


def write_csv(path, exercises, rows, details=None, **_options):
    """The generic grade file: student, one column per exercise, total, flags, and details
    (``details``: {student: text}, ``row_details``)."""
    details = details or {}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in [["student", *exercises, "total", "flags", "details"],
                *(row + [details.get(row[0], "")] for row in rows)]:
        writer.writerow([csv_cell(v) for v in row])     # scores stay numbers, texts are escaped
    Path(path).write_text(buffer.getvalue())


def lms_writer(system):
    """The writer of ``system``'s gradebook upload: the instructor's downloaded ``gradebook``
    (an option) with the assignment's column filled (``lms.fill_gradebook``)."""
    def write(path, exercises, rows, *, course, assignment, gradebook, column=None, scale=False,
              leave_out_unlisted=False):
        course = CourseFolder(course)
        releases = course.release_notebooks(assignment)
        possible = sum(p for nb in releases.values() for p in records.points_of(nb).values())
        return lms.fill_gradebook(system, path, rows, gradebook=gradebook,
                                  record=lms.read_record(course.path, assignment),
                                  assignment=assignment, notebooks=list(releases),
                                  possible=possible, column=column, scale=scale,
                                  leave_out_unlisted=leave_out_unlisted)
    return write


# format name -> writer(path, exercises, rows, **options); returns lines to print (or None)
WRITERS = {"csv": write_csv, **{name: lms_writer(lms.SYSTEMS[name]) for name in lms.EXPORTS}}


def export(course, assignment, out, accept_manual=False, fmt="csv", **options):
    """Write the grades of ``assignment`` to ``out`` in the format ``fmt`` (one of ``WRITERS``,
    or ``auto``: the LMS whose gradebook ``options["gradebook"]`` is); refuses (returns 1,
    nothing written) when the gradebook is not as the release and the judge left it, or when
    the writer refuses (an LMS gradebook lacking a graded student)."""
    if fmt == lms.AUTO:
        fmt = lms.gradebook_system(lms.AUTO, lms.Table.read(options["gradebook"])).NAME
    if fmt in lms.SYSTEMS and not lms.SYSTEMS[fmt].EXPORTS:   # it says where its grades go
        print(f"export refused: {lms.SYSTEMS[fmt].NO_GRADE_FILE}", file=sys.stderr)
        return 1
    if fmt not in WRITERS:
        raise ValueError(f"fmt must be one of {sorted(WRITERS)}, got {fmt!r}")
    course = CourseFolder(course)
    points = {name: records.points_of(nb)
              for name, nb in course.release_notebooks(assignment).items()}
    found = integrity.problems(course.path, assignment, points, accept_manual)
    if found:
        print(f"export refused: the gradebook of {assignment} is not as the grader left it:",
              *map(shown, found[:50]), sep="\n  ", file=sys.stderr)
        return 1
    exercises, rows = grade_rows(course.path, assignment)
    if fmt != "csv":
        options.update(course=course.path, assignment=assignment)
    else:                                  # the generic file also says what a score hides
        options.setdefault("details", row_details(course.path, assignment))
    try:
        lines = WRITERS[fmt](out, exercises, rows, **options)
    except lms.Refused as refused:
        print(f"export refused: {refused.headline}", *map(shown, refused.lines[:300]),
              sep="\n  ", file=sys.stderr)
        return 1
    print(*(lines or [f"{len(rows)} students -> {out}"]), sep="\n")
    return 0


def feedback(course, assignment, lms_name=None, out=None):
    """One HTML page per student and notebook, ``feedback/<student>/<assignment>/<notebook>.html``:
    points per exercise (and part), the visible checks that failed, a teaching assistant's
    overrides with their reasons (nothing hidden, all escaped). With
    ``lms_name`` the pages are also zipped into ``out`` as that LMS takes them back
    (``lms.feedback_zip``: Moodle's feedback-files zip in its submission folders' naming,
    Canvas's re-upload naming, one folder per username or SID for Blackboard and Gradescope);
    students the LMS cannot take feedback for are listed."""
    course = CourseFolder(course)
    if not course.results(assignment).exists():
        raise SystemExit(f"no grading results in {course.results(assignment)}: "
                         "run the 'grade' command first")
    results = _json_or_empty(course.results(assignment), "students")
    releases = course.release_notebooks(assignment)
    pages = {}
    for student, notebooks in sorted(results.items()):
        folder = course.feedback(student, assignment)
        folder.mkdir(parents=True, exist_ok=True)
        changed = overrides.of_student(course.path, assignment, student)
        for name, found in notebooks.items():
            mine = {gid: e for gid, e in changed.items() if e.get("notebook") == name}
            page = records.feedback_html(student, assignment, name, found["verdicts"],
                                         releases[name], bool(found.get("not_graded")), mine)
            pages[(student, name)] = folder / f"{name}.html"
            pages[(student, name)].write_text(page)
    print(f"feedback for {len(results)} students in {course.feedback()}")
    if lms_name:
        system = lms.SYSTEMS[lms_name]
        written, left_out = lms.feedback_zip(system, out, pages,
                                             lms.read_record(course.path, assignment))
        print(f"{written} pages zipped for {system.TITLE} -> {out}")
        for line in left_out:
            print(f"left out: {line}")
        return 1 if left_out else 0
    return 0
