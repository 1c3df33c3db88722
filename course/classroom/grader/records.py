"""What a graded batch leaves behind, written only by the trusted grader: the gradebook
(nbgrader's ``gradebook.db``, so formgrader and ``nbgrader export`` still work), the executed
notebooks (``autograded/``) and the per-student feedback (escaped HTML: nothing a student wrote
is rendered as markup or script)."""

import ast
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
    submission was not graded, else the points of the parts that passed (an exercise declared
    with parts, ``spec.Part``), else 0 (export checks the gradebook against this)."""
    if not_graded:
        return None
    if verdict.get("passed"):
        return points
    parts = verdict.get("parts") or []
    return float(min(points, sum(p["points"] for p in parts if p.get("passed"))))


def check_titles(release_nb):
    """{test cell grade id: [title of each ``check(title, ...)`` call, in order]}: the titles
    the student saw, case 1 being the first check (``test_visible_checks.py``)."""
    titles = {}
    for cell in release_nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        calls = sorted((node.lineno, node.col_offset, node.args[0].value) for node in ast.walk(tree)
                       if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                       and node.func.id == "check" and node.args
                       and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str))
        titles[meta["grade_id"]] = [title for _, _, title in calls]
    return titles


def write_executed(course, assignment, g):
    """The executed notebook as ``autograded/<student>/<assignment>/<notebook>.ipynb``."""
    folder = CourseFolder(course).autograded(g.student, assignment)
    folder.mkdir(parents=True, exist_ok=True)
    if g.executed is not None:
        nbformat.write(g.executed, folder / f"{g.notebook}.ipynb")


FEEDBACK_STYLE = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}"
                  "code{background:#f6f6f6;padding:.1em .3em}"
                  ".ok{color:#176117}.no{color:#a11}.ta{color:#14508c}")


def feedback_html(student, assignment, notebook, verdicts, release_nb, not_graded=False,
                  overrides=None):
    """One student's feedback page, as a teaching assistant writes it: points per exercise (per
    part where the exercise has parts, naming the part missed); for each of the notebook's own
    (visible) checks that failed, its title, what it expected and what the answer gave, in the
    exercise's words (or that it did not finish in time); for a single answer what is wrong
    with it (not the key); "other inputs were tried too" with how many failed, only where the
    exercise has cases the notebook does not show; a teaching assistant's override with its
    reason (``overrides``: {grade id: entry of ``overrides.py``}). Nothing of a hidden case (its
    inputs, its expected value, what the answer gave there: the student's code could carry the
    hidden inputs it was called with), and every text is escaped (the student id, a folder name,
    also through ``shown``: no bidi override reorders it). A submission that was not graded
    says only that a teaching assistant grades it (the reason is for the course staff), with
    the overrides already set."""
    points = points_of(release_nb)
    titles = check_titles(release_nb)
    overrides = overrides or {}
    student = shown(student)
    rows, total = [], 0.0
    for gid, possible in points.items():
        verdict = verdicts.get(gid, {})
        got = expected_score(possible, verdict, False)
        override = overrides.get(gid)
        lines = []
        if override is not None:
            lines.append(_override_line(override, got))
            got = float(override["points"])
        if not_graded and override is None:
            continue
        total += got
        if not not_graded:
            lines += _verdict_lines(verdict, titles.get(gid, []))
        rows.append(f"<h3>{html.escape(gid)}: {got:g} / {possible:g}</h3>" + "".join(lines))
    score = f"<b>{total:g} / {sum(points.values()):g}</b>"
    if not_graded:
        score = "not graded automatically: a teaching assistant grades this notebook"
    return (f"<!DOCTYPE html><html><head><meta charset=utf-8>"
            f"<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>{html.escape(assignment)}: {html.escape(student)}</title>"
            f"<style>{FEEDBACK_STYLE}</style></head><body>"
            f"<h1>{html.escape(assignment)} / {html.escape(notebook)}</h1>"
            f"<p>Student: {html.escape(student)}. Score: {score}</p>"
            + "".join(rows) + "</body></html>")


def _override_line(override, automatic):
    """A teaching assistant's override of one exercise, with its reason (HTML, escaped)."""
    was = "" if automatic is None else f" (the grader gave {automatic:g})"
    return (f"<p class=ta>set to {float(override['points']):g} by a teaching assistant{was}: "
            f"{html.escape(shown(override.get('reason', '')))}</p>")


def _verdict_lines(verdict, titles=()):
    """The feedback lines of one exercise's verdict (HTML, escaped); ``titles``: the titles of
    the test cell's checks, in order (case n is the n-th check)."""
    if verdict.get("passed"):
        return ["<p class=ok>all checks passed</p>"]
    if not verdict.get("cases"):
        return ["<p class=no>not answered (the answer was missing or not recorded)</p>"]
    lines = []
    parts = verdict.get("parts") or []
    if parts:
        lines.append("<ul>" + "".join(
            f"<li class={'ok' if p['passed'] else 'no'}>{'✓' if p['passed'] else '✗ missed:'} "
            f"{html.escape(shown(p['title']))}: {p['points'] if p['passed'] else 0:g} / "
            f"{p['points']:g}</li>" for p in parts) + "</ul>")
    for case in verdict.get("visible", []):
        if case["passed"]:
            continue
        n = case["case"]
        title = f"check {n}, “{html.escape(shown(titles[n - 1]))}”" if n <= len(titles) \
            else f"check {n}"
        said = case.get("explained") or case.get("note") or \
            f"expected {case.get('expected', '')}"
        joint = " " if case.get("note") else ": "
        lines.append(f"<p class=no>✗ {title}{joint}{html.escape(shown(said))}</p>")
    if verdict.get("answer"):
        lines.append(f"<p class=no>✗ your answer: {html.escape(shown(verdict['answer']))}</p>")
    failed = verdict.get("hidden_failed", 0)
    hidden = verdict.get("hidden", failed)          # results.json of an older grader: no count
    others = html.escape(shown(verdict.get("others") or "other inputs"))
    if hidden and verdict.get("answer") is not None:
        lines.append(f"<p class=no>{others} were tried too</p>")
    elif hidden and failed:
        lines.append(f"<p class=no>{others} were tried too: {failed} of {hidden} failed</p>")
    lines += [f"<p class=no>one of them {html.escape(note)}</p>"
              for note in verdict.get("hidden_notes", [])]
    return lines or ["<p class=no>the answer was not accepted</p>"]
