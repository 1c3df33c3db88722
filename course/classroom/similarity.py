"""Similar answers, per exercise, for a person to read: it never changes a score.

    python3 course/instructor.py similarity --assignment 01_anchors [--top 10] [--threshold 0.5]

Every student's answer to each solution cell (by its nbgrader grade id, from ``repaired/``
when the class was graded, else ``submitted/``) is fingerprinted with copydetect
(https://github.com/blingenf/copydetect, MIT; on PyPI): the code is tokenised by Pygments,
every identifier becomes one letter (renamed variables change nothing), strings and comments
drop out, and the k-grams of what is left are hashed (with ``win_size`` 1 every k-gram is kept,
so the figures do not depend on a winnowing draw); statements moved around still share their
k-grams. The release's starter code of the cell (signature, docstring, ``# YOUR CODE HERE``)
is the boilerplate: its k-grams are removed from every answer first. Each pair of students'
answers to one exercise then gets the share of each answer found in the other.

The result is ``reports/<assignment>/similarity.csv`` (exercise, the two students, the mean
share and each one's, the tokens in common; per exercise the ``top`` pairs whose mean share is
at least ``threshold``, most similar first) and ``similarity.html`` (the same pairs, each with
both answers side by side and the shared code marked). Every text a student controls is
escaped: CSV cells through ``csv_cell``, the page through ``html.escape`` (and ``shown``), and
the page allows no script. Short answers (a one-line formula) are alike for honest reasons:
the token counts let a reader weigh them; nothing here is a finding of copying.
"""

import csv
import html
import io
import itertools
from dataclasses import dataclass

import nbformat

from .grader.safe_text import csv_cell, shown
from .layout import CourseFolder

NOISE = 25          # copydetect's default noise threshold: k-grams of 25 filtered characters


@dataclass
class Pair:
    exercise: str
    first: str
    second: str
    first_share: float       # share of the first answer's fingerprinted code found in the other
    second_share: float
    tokens: int              # filtered characters in common
    first_code: str
    second_code: str
    first_marked: str        # escaped HTML with the shared code in <mark>
    second_marked: str

    @property
    def share(self):
        return (self.first_share + self.second_share) / 2


def answers(course, assignment):
    """({solution cell grade id: starter code}, {student: {grade id: code}}) of one assignment:
    the students' notebooks from ``repaired/`` if the class was graded, else ``submitted/``."""
    course = CourseFolder(course)
    releases = course.release_notebooks(assignment)
    starters = {}
    for nb in releases.values():
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution") and cell.cell_type == "code":
                starters[meta["grade_id"]] = cell.source
    top = course.repaired() if any(course.repaired().glob(f"*/{assignment}")) else course.submitted()
    found = {}
    for folder in sorted(top.glob(f"*/{assignment}")):
        student = folder.parent.name
        for name in releases:
            path = folder / f"{name}.ipynb"
            try:
                nb = nbformat.read(path, as_version=4)
            except Exception:            # missing or unreadable: nothing to compare
                continue
            for cell in nb.cells:
                gid = cell.metadata.get("nbgrader", {}).get("grade_id") \
                    if isinstance(cell.get("metadata"), dict) else None
                if gid in starters and cell.get("cell_type") == "code" and isinstance(cell.get("source"), str):
                    found.setdefault(student, {}).setdefault(gid, cell.source)
    return starters, found


def compare_exercise(exercise, starter, codes, noise=NOISE):
    """[Pair] of every two students who answered ``exercise`` (answers equal to the starter
    code or without any fingerprint left are skipped)."""
    import numpy as np
    from copydetect import CodeFingerprint, compare_files
    from copydetect.utils import highlight_overlap

    def fingerprint(code, boilerplate=None):
        return CodeFingerprint("answer.py", noise, 1, boilerplate=boilerplate, language="python",
                               fp=io.StringIO(code))

    boilerplate = np.array(sorted(fingerprint(starter).hashes))
    prints = {student: fingerprint(code, boilerplate) for student, code in codes.items()
              if code.strip() != starter.strip()}
    prints = {student: p for student, p in prints.items() if p.hashes}
    pairs = []
    for first, second in itertools.combinations(sorted(prints), 2):
        tokens, (share1, share2), (slices1, slices2) = compare_files(prints[first], prints[second])
        if not tokens:
            continue
        pairs.append(Pair(exercise, first, second, float(share1), float(share2), int(tokens),
                          codes[first], codes[second],
                          _marked(codes[first], slices1, highlight_overlap),
                          _marked(codes[second], slices2, highlight_overlap)))
    return pairs


def _marked(code, slices, highlight_overlap):
    if not slices.size:
        return html.escape(code)
    marked, _ = highlight_overlap(code, slices, "<mark>", "</mark>", escape_html=True)
    return marked


def similarity(course, assignment, top=10, threshold=0.5):
    """Write the CSV and the HTML report of the most similar answers; returns 0 (1 when there
    is nothing to compare)."""
    course = CourseFolder(course)
    starters, found = answers(course.path, assignment)
    if not found:
        print(f"no submissions of {assignment} in {course.submitted()} or {course.repaired()}")
        return 1
    chosen = []
    for exercise, starter in starters.items():
        codes = {student: cells[exercise] for student, cells in found.items() if exercise in cells}
        pairs = [p for p in compare_exercise(exercise, starter, codes) if p.share >= threshold]
        chosen += sorted(pairs, key=lambda p: (-p.share, p.first, p.second))[:top]
    course.reports(assignment).mkdir(parents=True, exist_ok=True)
    write_csv(course.similarity_csv(assignment), chosen)
    course.similarity_report(assignment).write_text(
        report_html(assignment, chosen, len(found), list(starters), top, threshold))
    print(f"{len(found)} students, {len(starters)} answer cells: {len(chosen)} pairs at or above "
          f"{threshold:g} -> {course.similarity_csv(assignment)}, "
          f"{course.similarity_report(assignment)} (read them: similar is not copied)")
    for pair in chosen[:10]:
        print(f"  {shown(pair.exercise)}: {shown(pair.first)} / {shown(pair.second)} "
              f"{pair.share:.0%}")
    return 0


def write_csv(path, pairs):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["exercise", "student_a", "student_b", "similarity", "share_of_a",
                     "share_of_b", "tokens_in_common"])
    for p in pairs:
        writer.writerow([csv_cell(v) for v in (p.exercise, p.first, p.second, round(p.share, 3),
                                               round(p.first_share, 3), round(p.second_share, 3),
                                               p.tokens)])
    path.write_text(buffer.getvalue())


STYLE = ("body{font-family:sans-serif;max-width:80em;margin:2em auto}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}"
         ".side{display:flex;gap:1em}.side pre{flex:1;background:#f6f6f6;padding:.5em;"
         "overflow:auto;font-size:85%}mark{background:#ffe08a}")


def report_html(assignment, pairs, students, exercises, top, threshold):
    e = lambda text: html.escape(shown(text))
    rows = []
    for exercise in exercises:
        mine = [p for p in pairs if p.exercise == exercise]
        rows.append(f"<h2>{e(exercise)}</h2>")
        if not mine:
            rows.append(f"<p>no pair at or above {threshold:.0%}</p>")
            continue
        rows.append("<table><tr><th>students</th><th>similarity</th><th>share of each</th>"
                    "<th>characters in common</th></tr>" + "".join(
                        f"<tr><td>{e(p.first)} / {e(p.second)}</td><td>{p.share:.0%}</td>"
                        f"<td>{p.first_share:.0%} / {p.second_share:.0%}</td><td>{p.tokens}</td></tr>"
                        for p in mine) + "</table>")
        for p in mine:
            rows.append(f"<details><summary>{e(p.first)} / {e(p.second)}: {p.share:.0%}</summary>"
                        f"<div class=side><pre>{p.first_marked}</pre><pre>{p.second_marked}</pre>"
                        f"</div></details>")
    return (f"<!DOCTYPE html><html><head><meta charset=utf-8>"
            f"<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>{e(assignment)}: similar answers</title><style>{STYLE}</style></head><body>"
            f"<h1>{e(assignment)}: similar answers</h1>"
            f"<p>{students} students; per answer cell the {top} most similar pairs at or above "
            f"{threshold:.0%} (copydetect: identifiers renamed, the release's starter code "
            "removed). Similar is not copied: short answers and the notebook's own hints make "
            "honest answers alike. Read both answers; no score was changed.</p>"
            + "".join(rows) + "</body></html>")
