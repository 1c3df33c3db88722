"""A teaching assistant's overrides and a regrade of one student (issue 22 item 5), with partial
credit end to end (item 2): one graded class of two, in ONE grading run of two notebooks and one
regrade of one notebook.

The course copy's hidden test of test_count_anchors has a bug (one anchor too many), so both
students lose it; ben's IoU returns nan on zero-area boxes (2 of 3 points). A TA overrides
ben's count (recorded: who, when, why); export and feedback carry it without
--accept-manual-scores, and an unrecorded formgrader edit is still refused. The hidden test is
fixed and only amy is regraded: amy gets the points, ben's gradebook entries, reports,
executed notebook and feedback stay exactly as they were."""

import contextlib
import csv
import io
import json

import pytest

from classroom import commands
from course_helpers import COURSE, fill, grade, make_course, scores, solution_cells, submit

ASSIGNMENT = "01_anchors"
SOLUTIONS = solution_cells(COURSE / "source" / ASSIGNMENT / "anchors.ipynb")
NAN_ON_ZERO_AREA = '''def box_iou(boxes1, boxes2):
    a = np.asarray(boxes1, dtype=float).reshape(-1, 4)
    b = np.asarray(boxes2, dtype=float).reshape(-1, 4)
    h = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    w = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    with np.errstate(all="ignore"):
        return h * w / (area_a[:, None] + area_b[None, :] - h * w)
'''
BUG = ("    return len(BoundingBox(shape, c=levels,", "    return 1 + len(BoundingBox(shape, c=levels,")
REASON = "the grader's count was off by one =cmd <b>"


def run(*argv):
    """An instructor command on the course copy; (status, what it printed)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = commands.instructor(list(argv))
    return status, out.getvalue()


def snapshot(course, student):
    """Everything grading keeps of one student."""
    results = json.loads((course / "reports" / ASSIGNMENT / "results.json").read_text())
    report = json.loads((course / "reports" / ASSIGNMENT / "grading.json").read_text())
    executed = (course / "autograded" / student / ASSIGNMENT / "anchors.ipynb").read_bytes()
    feedback = (course / "feedback" / student / ASSIGNMENT / "anchors.html").read_text()
    return {"scores": scores(course, ASSIGNMENT, student), "manual": manual(course, student),
            "results": results["students"][student], "report": report[student],
            "executed": executed, "feedback": feedback}


def manual(course, student):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, student)
        return {g.name: (g.auto_score, g.manual_score) for nb in submission.notebooks for g in nb.grades}


def export_rows(course, folder, *options):
    status, said = run("export", "--assignment", ASSIGNMENT, "--csv", str(folder / "g.csv"),
                       "--course", str(course), *options)
    rows = list(csv.DictReader(io.StringIO((folder / "g.csv").read_text()))) if status == 0 else []
    (folder / "g.csv").unlink(missing_ok=True)
    return status, said, {r["student"]: r for r in rows}


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    folder = tmp_path_factory.mktemp("regrade")
    course = make_course(folder, [ASSIGNMENT])
    hidden = course / "hidden" / f"{ASSIGNMENT}.py"
    fixed = hidden.read_text()
    assert BUG[0] in fixed
    hidden.write_text(fixed.replace(*BUG))
    release = course / "release" / ASSIGNMENT / "anchors.ipynb"
    submit(course, "amy", ASSIGNMENT, fill(release, SOLUTIONS))
    submit(course, "ben", ASSIGNMENT, fill(release, {**SOLUTIONS, "box_iou": NAN_ON_ZERO_AREA}))
    opts = ("--assignment", ASSIGNMENT, "--course", str(course))
    found = {"course": course, "folder": folder}
    found["graded"] = grade(course, ASSIGNMENT, "--workers", "2")
    found["first"] = {s: scores(course, ASSIGNMENT, s) for s in ("amy", "ben")}
    found["override"] = run("override", *opts, "--student", "ben", "--exercise", "test_count_anchors",
                            "--points", "2", "--reason", REASON, "--by", "ta_kim")
    found["feedback"] = run("feedback", *opts)
    found["export"] = export_rows(course, folder)
    found["ben_before"] = snapshot(course, "ben")
    from nbgrader.api import Gradebook                  # a TA edits amy's score in formgrader
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        gradebook.find_grade("test_refinement", "anchors", ASSIGNMENT, "amy").manual_score = 0.5
        gradebook.db.commit()
    found["unrecorded"] = export_rows(course, folder)
    found["accepted"] = export_rows(course, folder, "--accept-manual-scores")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        gradebook.find_grade("test_refinement", "anchors", ASSIGNMENT, "amy").manual_score = None
        gradebook.db.commit()
    hidden.write_text(fixed)                             # the hidden test is fixed: amy asks
    found["regraded"] = grade(course, ASSIGNMENT, "--student", "amy")
    run("feedback", *opts)
    found["ben_after"] = snapshot(course, "ben")
    found["amy_after"] = scores(course, ASSIGNMENT, "amy")
    found["final"] = export_rows(course, folder)
    return found


def test_the_class_is_graded_with_the_buggy_hidden_test_and_partial_credit(term):
    assert term["graded"] == 0
    amy, ben = term["first"]["amy"], term["first"]["ben"]
    assert amy["test_count_anchors"] == ben["test_count_anchors"] == 0
    assert amy["test_box_iou"] == 3 and ben["test_box_iou"] == 2      # zero-area part missed
    assert {k: v for k, v in ben.items() if k not in ("test_count_anchors", "test_box_iou")} == \
        {k: v for k, v in amy.items() if k not in ("test_count_anchors", "test_box_iou")}


def test_an_override_records_who_when_and_why(term):
    status, said = term["override"]
    assert status == 0 and "ben / test_count_anchors: 2 / 2 (by ta_kim" in said
    (entry,) = json.loads((term["course"] / "overrides" / f"{ASSIGNMENT}.json").read_text())
    assert entry["by"] == "ta_kim" and entry["reason"] == REASON and entry["points"] == 2
    assert entry["automatic"] == 0 and entry["at"].endswith("+00:00") and entry["notebook"] == "anchors"
    assert manual(term["course"], "ben")["test_count_anchors"] == (0, 2)   # the judge's 0 is kept


def test_an_override_outside_the_cells_points_or_of_no_cell_is_refused(term):
    with pytest.raises(SystemExit, match="between 0 and 2"):
        commands.instructor(["override", "--assignment", ASSIGNMENT, "--course", str(term["course"]),
                             "--student", "ben", "--exercise", "test_count_anchors", "--points", "3",
                             "--reason", "x"])
    with pytest.raises(SystemExit, match="not a test cell"):
        commands.instructor(["override", "--assignment", ASSIGNMENT, "--course", str(term["course"]),
                             "--student", "ben", "--exercise", "test_nope", "--points", "1",
                             "--reason", "x"])


def test_export_and_feedback_carry_the_override_and_the_parts(term):
    status, said, rows = term["export"]
    assert status == 0, said                           # no --accept-manual-scores needed
    assert float(rows["ben"]["test_count_anchors"]) == 2 and float(rows["ben"]["test_box_iou"]) == 2
    assert "test_count_anchors: 2/2 set by ta_kim" in rows["ben"]["details"]
    assert "test_box_iou: 2/3, missed zero-area boxes: IoU 0, not nan" in rows["ben"]["details"]
    assert "=cmd" in rows["ben"]["details"] and not rows["ben"]["details"].startswith("=")
    assert float(rows["amy"]["test_count_anchors"]) == 0 and rows["amy"]["details"] == ""
    page = term["ben_before"]["feedback"]
    assert "test_count_anchors: 2 / 2" in page
    assert "set to 2 by a teaching assistant (the grader gave 0): the grader&#x27;s count was off " \
           "by one =cmd &lt;b&gt;" in page
    assert "test_box_iou: 2 / 3" in page and "✗ missed: zero-area boxes: IoU 0, not nan: 0 / 1" in page
    assert "“a zero-area box: IoU 0, not nan”: expected [[0], [0]], got [[nan], [0]]" in page


def test_an_unrecorded_manual_score_is_still_refused(term):
    status, said, _ = term["unrecorded"]
    assert status == 1 and "amy/test_refinement: manual score 0.5 not recorded" in said
    assert "ben" not in said                            # ben's override is recorded
    assert term["accepted"][0] == 0


def test_regrading_one_student_leaves_everyone_else_unchanged(term):
    assert term["regraded"] == 0
    assert term["amy_after"]["test_count_anchors"] == 2              # the fixed hidden test
    assert term["ben_after"] == term["ben_before"]                   # grades, reports, notebook, feedback
    status, said, rows = term["final"]
    assert status == 0, said
    assert float(rows["amy"]["total"]) == sum(term["amy_after"].values())
    assert float(rows["ben"]["test_count_anchors"]) == 2             # the override holds


def test_a_regrade_with_another_secret_is_refused(term):
    with pytest.raises(SystemExit, match="another grading secret"):
        grade(term["course"], ASSIGNMENT, "--student", "amy", "--secret", "not-the-class-secret")
    with pytest.raises(SystemExit, match="no submission"):
        grade(term["course"], ASSIGNMENT, "--student", "zoe")
