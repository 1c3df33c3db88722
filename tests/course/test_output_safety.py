"""Output safety: nothing a student controls reaches the instructor's terminal, a CSV cell, a
report or a feedback page raw (grader/safe_text.py, grader/flag_names.py).

File names and a grade id in a cell's metadata carry formula starts, ANSI and OSC escape
sequences and a bidi override; a sandbox's result forges flag names and details with the same
texts. They go through collect, grade (a shard merge: no sandbox is needed to test what is
written), export and feedback; the captured output, the CSV, the reports and the pages hold
none of them raw, and every flag name shown is from the fixed vocabulary.
"""

import csv
import io
import json
import zipfile
from contextlib import redirect_stderr, redirect_stdout

import nbformat
import pytest
from hypothesis import given, strategies as st

from classroom import commands
from course_helpers import COURSE, HOSTILE_TEXTS, control_characters, fast_environment, fill, formula_cells, make_course, solution_cells

from classroom.grader import shards
from classroom.grader.batch import Graded
from classroom.grader.flag_names import FLAG_NAMES, UNKNOWN_FLAG, shown_finding
from classroom.grader.safe_text import FORMULA_STARTS, csv_cell, shown

ASSIGNMENT = "01_anchors"
PAYLOADS = HOSTILE_TEXTS


# ---------------------------------------------------------------- the sanitizer

@given(st.text(st.characters(exclude_categories=())))      # surrogates included
def test_shown_never_starts_a_formula_never_holds_a_control_and_is_idempotent(text):
    out = shown(text)
    assert not out.startswith(FORMULA_STARTS)
    assert not control_characters(out, allowed="")
    assert shown(out) == out
    out.encode("utf-8")                                       # printable on any UTF-8 terminal


@given(st.text(st.characters(categories=("L", "M", "N", "P", "S", "Zs")))
       .filter(lambda t: not t.startswith(FORMULA_STARTS)))
def test_shown_keeps_ordinary_text_unchanged(text):
    assert shown(text) == text


@pytest.mark.parametrize("payload, expected", [
    ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'), ("+cmd", "'+cmd"),
    ("@SUM(1)", "'@SUM(1)"), ("-2+3", "'-2+3"), ("\t=1", "\\t=1"), ("\r=1", "\\r=1"),
    ("\x1b[31mred", "\\x1b[31mred"),
    ("\x1b]8;;http://evil\x07link", "\\x1b]8;;http://evil\\x07link"),
    ("\x9b31m", "\\x9b31m"), ("\u202eevil", "\\u202eevil"), ("a\nb", "a\\nb"),
    ("\U000e0041", "\\U000e0041"), ("José Núñez", "José Núñez"), (None, "")])
def test_shown_examples(payload, expected):
    assert shown(payload) == expected


@pytest.mark.parametrize("value, cell", [
    (-1.5, "-1.5"), (2.0, "2"), (0.5, "0.5"), (3, "3"), (None, ""), ("-1.5", "'-1.5"),
    (float("-inf"), "'-inf"), (float("nan"), "nan"), ("alice_smith", "alice_smith")])
def test_csv_cells_keep_numbers_numeric_and_quote_texts(value, cell):
    assert csv_cell(value) == cell


@given(st.one_of(st.text(), st.sampled_from(sorted(FLAG_NAMES)), st.none(), st.integers()),
       st.one_of(st.text(), st.none()), st.one_of(st.text(), st.none()))
def test_shown_findings_use_the_vocabulary_and_are_idempotent(name, cell, detail):
    found = shown_finding({"flag": name, "notebook": "anchors", "cell": cell, "detail": detail})
    assert found["flag"] in FLAG_NAMES or found["flag"] == UNKNOWN_FLAG
    assert (found["flag"] == name) == (name in FLAG_NAMES or name == UNKNOWN_FLAG)
    assert shown_finding(found) == found
    assert not any(control_characters(v, allowed="") for v in found.values() if v is not None)


# ---------------------------------------------------------------- collect, grade, export, feedback

def with_grade_id(release, grade_id):
    """An honest notebook with one more cell, marked with ``grade_id`` (a notebook's metadata is
    the student's text: repairs report it as unknown_id)."""
    nb = fill(release, solution_cells(COURSE / "source" / ASSIGNMENT / "anchors.ipynb"))
    nb.cells.append(nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {
        "grade_id": grade_id, "solution": True, "grade": False, "locked": False}}))
    return nb


def forged(student, release_nb):
    """What a sandbox could report for ``student``: flags whose names and details are the
    payloads, one answer right (so the CSV holds numbers)."""
    flags = [{"flag": p, "notebook": "anchors", "cell": p, "detail": p} for p in PAYLOADS]
    flags.append({"flag": "rebinding", "notebook": "anchors", "cell": PAYLOADS[0],
                  "detail": "rebinds " + "".join(PAYLOADS)})
    tests = [c.metadata["nbgrader"]["grade_id"] for c in release_nb.cells
             if c.metadata.get("nbgrader", {}).get("grade")]
    verdicts = {gid: {"passed": gid == tests[0], "cases": [{}]} for gid in tests}
    return Graded(student, "anchors", flags=flags, verdicts=verdicts, seconds=1.0)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("output-safety")
    course = make_course(folder, [ASSIGNMENT])
    release_path = course / "release" / ASSIGNMENT / "anchors.ipynb"
    release = nbformat.read(release_path, as_version=4)
    archive = folder / "downloads.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for k, payload in enumerate(PAYLOADS):
            nb = with_grade_id(release_path, payload + f"cell{k}")
            zf.writestr(f"{payload} pupil{k}_anchors.ipynb", nbformat.writes(nb))
    odd_folder = course / "submitted" / ("=1+2\x1b[31m\u202e") / ASSIGNMENT     # placed by hand
    odd_folder.mkdir(parents=True)
    nbformat.write(with_grade_id(release_path, PAYLOADS[1]), odd_folder / "anchors.ipynb")
    opts = ["--assignment", ASSIGNMENT, "--course", str(course)]
    output, status = io.StringIO(), {}
    with fast_environment(course), redirect_stdout(output), redirect_stderr(output):
        status["collect"] = commands.instructor(["collect", str(archive), *opts])
        students = sorted(p.name for p in (course / "submitted").iterdir())
        shards.save(course, ASSIGNMENT, (1, 1), [forged(s, release) for s in students],
                    "namespaces-root")
        status["grade"] = commands.instructor(["grade", "--merge", *opts])
        status["export"] = commands.instructor(["export", "--csv", str(folder / "grades.csv"), *opts])
        status["feedback"] = commands.instructor(["feedback", *opts])
    grades = folder / "grades.csv"
    return {"course": course, "status": status, "output": output.getvalue(),
            "csv": grades.read_text() if grades.exists() else "", "students": students}


def test_every_step_succeeds_and_every_download_is_collected(run):
    assert run["status"] == {"collect": 0, "grade": 0, "export": 0, "feedback": 0}, run["output"]
    assert len(run["students"]) == len(PAYLOADS) + 1


def test_the_terminal_gets_no_control_character(run):
    output = run["output"]
    assert not control_characters(output), control_characters(output)[:5]
    assert "\\x1b[31m" in output and "\\u202e" in output          # shown, escaped
    assert "unknown_flag" in output


def test_no_csv_cell_starts_a_formula_or_holds_a_control(run):
    assert len(run["csv"].splitlines()) == 1 + len(run["students"])
    assert formula_cells(run["csv"]) == []
    assert not control_characters(run["csv"], allowed="\r\n")     # the CSV's own line ends


def test_csv_scores_stay_numbers_and_flag_names_come_from_the_vocabulary(run):
    rows = list(csv.DictReader(run["csv"].splitlines()))
    for row in rows:
        assert float(row["total"]) > 0                            # a number, not a quoted text
        names = {entry.split(":", 1)[0] for entry in row["flags"].split("; ")}
        assert names <= set(FLAG_NAMES) | {UNKNOWN_FLAG}, names
        assert {UNKNOWN_FLAG, "rebinding", "unknown_id"} <= names


def test_reports_hold_no_control_character_and_only_known_flag_names(run):
    folder = run["course"] / "reports" / ASSIGNMENT
    for name in ("grading.json", "results.json"):
        text = (folder / name).read_text()
        assert text.isascii() and not control_characters(text)
    report = json.loads((folder / "grading.json").read_text())
    names = {f["flag"] for found in report.values() for f in found}
    assert names <= set(FLAG_NAMES) | {UNKNOWN_FLAG}


def test_feedback_pages_stay_escaped(run):
    pages = list((run["course"] / "feedback").rglob("*.html"))
    assert len(pages) == len(run["students"])
    for page in pages:
        text = page.read_text()
        assert not control_characters(text) and "<script" not in text
