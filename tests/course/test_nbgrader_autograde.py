"""nbgrader's own autograde (``nbgrader autograde``, formgrader's Autograde button) would grade a
notebook's visible checks alone, in the student's kernel (issue 21, item 6): with the course's
nbgrader_config.py it refuses, names ``instructor.py grade`` and leaves no score, for an honest
and for a wrong submission alike."""

import pytest

from classroom import building
from course_helpers import ROOT, fill, make_course, submit

ASSIGNMENT = "01_anchors"
SOLUTION = ROOT / "solutions" / ASSIGNMENT / "anchors.ipynb"


@pytest.fixture(scope="module")
def autograded(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("autograde"), [ASSIGNMENT])
    submit(course, "honest", ASSIGNMENT, SOLUTION)
    submit(course, "wrong", ASSIGNMENT, fill(SOLUTION, {"refinement": 'refinement_answer = "a"'}))
    done = building.nbgrader(course, "autograde", ASSIGNMENT, "--force", check=False)
    return course, done


def test_nbgrader_autograde_refuses_and_names_the_course_command(autograded):
    course, done = autograded
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "nbgrader autograde is switched off" in output
    assert "python3 course/instructor.py grade --assignment" in output


@pytest.mark.parametrize("student", ["honest", "wrong"])
def test_no_grade_comes_from_visible_checks(autograded, student):
    from nbgrader.api import Gradebook, MissingEntry
    course, _ = autograded
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        try:
            submission = gradebook.find_submission(ASSIGNMENT, student)
        except MissingEntry:
            return
        scores = [g.auto_score for nb in submission.notebooks for g in nb.grades]
    assert scores and all(score is None for score in scores)
    assert not list((course / "autograded").glob(f"{student}/{ASSIGNMENT}/*.ipynb"))
