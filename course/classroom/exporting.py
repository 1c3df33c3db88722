"""What leaves the course after grading: grade files for a gradebook, feedback for students.

Every grade file is written by one of ``WRITERS`` and only after the one integrity check
(``grader/integrity.py``: the gradebook is as the release and the judge left it), so adding a
format cannot skip the check. Every text a student controls is escaped for where it lands
(``grader/safe_text.py``: spreadsheet formulas, control characters; HTML in feedback pages).
"""

import csv
import io
import json
import sys
from pathlib import Path

from .grader import integrity, overrides, records
from .grader.flag_names import shown_finding
from .grader.safe_text import csv_cell, shown
from .layout import CourseFolder


def flags(report, student):
    """Short flags of a student for a grade file (``flag:cell``, each once), notes such as Colab
    left out; names from the flag vocabulary and texts escaped even if grading.json was edited
    since."""
    found = [shown_finding(f) for f in report.get(student, [])]
    return "; ".join(dict.fromkeys(f"{f['flag']}:{f['cell'] or f['notebook']}"
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
    """(exercise names, rows): per student the score of each test cell, total, flags and
    details (parts missed, overrides). A notebook that was not graded (and has no manual score
    yet) has no points and no total: it is not a 0."""
    from nbgrader.api import Gradebook
    course = CourseFolder(course)
    possible = {gid: p for nb in course.release_notebooks(assignment).values()
                for gid, p in records.points_of(nb).items()}
    exercises = list(possible)
    changed = overrides.in_force(overrides.load(course.path, assignment))
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
    rows = []
    for student in sorted(set(scores) | set(report)):
        points = [scores.get(student, {}).get(e) for e in exercises]
        total = None if None in points else sum(points)
        mine = {gid: e for (who, gid), e in changed.items() if who == student}
        rows.append([student, *points, total, flags(report, student),
                     details(results.get(student, {}), mine, possible)])
    return exercises, rows


def write_csv(path, exercises, rows):
    """The generic grade file: student, one column per exercise, total, flags, details."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in [["student", *exercises, "total", "flags", "details"], *rows]:
        writer.writerow([csv_cell(v) for v in row])     # scores stay numbers, texts are escaped
    Path(path).write_text(buffer.getvalue())


WRITERS = {"csv": write_csv}     # format name -> writer(path, exercises, rows)
# a row: student, the score of each exercise, total, flags, details


def export(course, assignment, out, accept_manual=False, fmt="csv"):
    """Write the grades of ``assignment`` to ``out`` in the format ``fmt`` (one of ``WRITERS``);
    refuses (returns 1) when the gradebook is not as the release and the judge left it."""
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
    WRITERS[fmt](out, exercises, rows)
    print(f"{len(rows)} students -> {out}")
    return 0


def feedback(course, assignment):
    """One HTML page per student and notebook, ``feedback/<student>/<assignment>/<notebook>.html``:
    points per exercise (and part), the visible checks that failed, a teaching assistant's
    overrides with their reasons (nothing hidden, all escaped)."""
    course = CourseFolder(course)
    if not course.results(assignment).exists():
        raise SystemExit(f"no grading results in {course.results(assignment)}: "
                         "run the 'grade' command first")
    results = _json_or_empty(course.results(assignment), "students")
    releases = course.release_notebooks(assignment)
    for student, notebooks in sorted(results.items()):
        folder = course.feedback(student, assignment)
        folder.mkdir(parents=True, exist_ok=True)
        changed = overrides.of_student(course.path, assignment, student)
        for name, found in notebooks.items():
            mine = {gid: e for gid, e in changed.items() if e.get("notebook") == name}
            page = records.feedback_html(student, assignment, name, found["verdicts"],
                                         releases[name], bool(found.get("not_graded")), mine)
            (folder / f"{name}.html").write_text(page)
    print(f"feedback for {len(results)} students in {course.feedback()}")
    return 0
