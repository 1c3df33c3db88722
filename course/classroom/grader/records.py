"""What a graded batch leaves behind, written only by the trusted grader: the gradebook
(nbgrader's ``gradebook.db``, so formgrader and ``nbgrader export`` still work), the executed
notebooks (``autograded/``) and the per-student feedback (escaped HTML: nothing a student wrote
is rendered as markup or script)."""

import html
import warnings

import nbformat

from ..layout import CourseFolder
from .safe_text import shown


def points_of(release_nb):
    """{grade id: points} of the test cells of a release notebook."""
    return {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"])
            for c in release_nb.cells if c.metadata.get("nbgrader", {}).get("grade")}


def write_gradebook(course, assignment, graded, releases):
    """Replace each graded student's submission in the gradebook with the judge's points. A
    submission that was not graded gets no automatic score and is marked for manual grading
    (formgrader lists it; export shows no points for it, not a 0)."""
    from nbgrader.api import Gradebook, MissingEntry
    with Gradebook(CourseFolder(course).gradebook_url) as gradebook:
        for student in sorted({g.student for g in graded}):
            gradebook.update_or_create_student(student)
            try:
                gradebook.find_submission(assignment, student)
            except MissingEntry:
                with warnings.catch_warnings():   # nbgrader 0.9's own SQLAlchemy autoflush notes
                    warnings.simplefilter("ignore")
                    gradebook.add_submission(assignment, student)
        for g in sorted(graded, key=lambda g: (g.student, g.notebook)):
            for gid, points in points_of(releases[g.notebook]).items():
                grade = gradebook.find_grade(gid, g.notebook, assignment, g.student)
                grade.auto_score = expected_score(points, g.verdicts.get(gid, {}), g.not_graded)
                grade.needs_manual_grade = bool(g.not_graded)
        gradebook.db.commit()


def expected_score(points, verdict, not_graded):
    """The automatic score of one test cell: its points if the judge passed it, None if the
    submission was not graded, else 0 (export checks the gradebook against this)."""
    if not_graded:
        return None
    return points if verdict.get("passed") else 0.0


def write_executed(course, assignment, g):
    """The executed notebook as ``autograded/<student>/<assignment>/<notebook>.ipynb``."""
    folder = CourseFolder(course).autograded(g.student, assignment)
    folder.mkdir(parents=True, exist_ok=True)
    if g.executed is not None:
        nbformat.write(g.executed, folder / f"{g.notebook}.ipynb")


FEEDBACK_STYLE = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}"
                  "code{background:#f6f6f6;padding:.1em .3em}"
                  ".ok{color:#176117}.no{color:#a11}")


def feedback_html(student, assignment, notebook, verdicts, release_nb, not_graded=False):
    """One student's feedback page: points per exercise; for a failed exercise, which of the
    notebook's own (visible) checks failed with the value they expect (or that it did not
    finish in time), and how many hidden checks failed. Nothing the student's code printed or
    returned is shown (it could carry the hidden cases it was called with), no hidden input or
    expected value, and every text is escaped (the student id, a folder name, also through
    ``shown``: no bidi override reorders it). A submission that was not graded says only that a
    teaching assistant grades it (the reason is for the course staff)."""
    points = points_of(release_nb)
    student = shown(student)
    rows, total = [], 0.0
    for gid, possible in points.items():
        verdict = verdicts.get(gid, {})
        got = possible if verdict.get("passed") else 0.0
        total += got
        rows.append(f"<h3>{html.escape(gid)}: {got:g} / {possible:g}</h3>" + "".join(_verdict_lines(verdict)))
    score = f"<b>{total:g} / {sum(points.values()):g}</b>"
    if not_graded:
        score, rows = "not graded automatically: a teaching assistant grades this notebook", []
    return (f"<!DOCTYPE html><html><head><meta charset=utf-8>"
            f"<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>{html.escape(assignment)}: {html.escape(student)}</title>"
            f"<style>{FEEDBACK_STYLE}</style></head><body>"
            f"<h1>{html.escape(assignment)} / {html.escape(notebook)}</h1>"
            f"<p>Student: {html.escape(student)}. Score: {score}</p>"
            + "".join(rows) + "</body></html>")


def _verdict_lines(verdict):
    """The feedback lines of one exercise's verdict (HTML, escaped)."""
    if verdict.get("passed"):
        return ["<p class=ok>all checks passed</p>"]
    if not verdict.get("cases"):
        return ["<p class=no>not answered (the answer was missing or not recorded)</p>"]
    lines = []
    for case in verdict.get("visible", []):
        if case["passed"]:
            continue
        if case.get("note"):
            lines.append(f"<p class=no>visible check {case['case']} {html.escape(case['note'])}</p>")
        else:
            lines.append(f"<p class=no>visible check {case['case']} failed: expected "
                         f"<code>{html.escape(case['expected'])}</code></p>")
    hidden = verdict.get("hidden_failed", 0)
    if hidden:
        lines.append(f"<p class=no>{hidden} of the grader's other checks failed "
                     "(solve the general case)</p>")
    lines += [f"<p class=no>one of them {html.escape(note)}</p>"
              for note in verdict.get("hidden_notes", [])]
    return lines or ["<p class=no>the answer was not accepted</p>"]
