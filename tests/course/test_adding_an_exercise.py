"""course/README.md's "Adding an exercise", walked once on a copy of the course: a throwaway
exercise (``double``) added to notebook 1 with its cells and its hidden side, regenerated, and
graded for a student who answers it right and one who does not."""

import re
import shutil
import textwrap

import nbformat
import pytest

from classroom import building, handin
from classroom.layout import COURSE, CourseFolder
from course_helpers import fill, grade, scores, solution_cells

ASSIGNMENT, NOTEBOOK = "01_anchors", "anchors"
README = (COURSE / "README.md").read_text()


def nbgrader_cell(make, source, **metadata):
    cell = make(source)
    cell.metadata["nbgrader"] = {"schema_version": 3, "task": False, "solution": False,
                                 "grade": False, "locked": False, **metadata}
    return cell


def guide_snippet():
    """The hidden file's lines as the guide writes them (step 2)."""
    return textwrap.dedent(re.search(r"```python\n(.*?)```", README, re.DOTALL)[1])


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Steps 1-3 of the guide on a copy of the course with assignment 1 only."""
    root = tmp_path_factory.mktemp("guide")
    course = CourseFolder(root / "course")
    shutil.copytree(COURSE / "source" / ASSIGNMENT, course.source / ASSIGNMENT)
    course.hidden.mkdir()
    shutil.copy(COURSE / "hidden" / f"{ASSIGNMENT}.py", course.hidden_file(ASSIGNMENT))
    for name in ("course.toml", "nbgrader_config.py"):
        shutil.copy(COURSE / name, course.path)
    # 1. the cells, before the hand-in section
    path = course.source / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    nb = nbformat.read(path, as_version=4)
    at = next(i for i, c in enumerate(nb.cells)
              if c.metadata.get("nbgrader", {}).get("grade_id") == "how_to_hand_in")
    nb.cells[at:at] = [
        nbformat.v4.new_markdown_cell("### Your turn: double a number"),
        nbgrader_cell(nbformat.v4.new_code_cell,
                      'def double(x):\n    """Twice x."""\n    ### BEGIN SOLUTION\n'
                      "    return 2 * x\n    ### END SOLUTION", solution=True, grade_id="double"),
        nbgrader_cell(nbformat.v4.new_code_cell, 'check("two doubled", double(2), 4)',
                      grade=True, locked=True, grade_id="test_double", points=1)]
    nbformat.write(nb, path)
    # 2. the hidden side, as the guide writes it
    hidden = course.hidden_file(ASSIGNMENT)
    text = hidden.read_text()
    text = text.replace("\nEXERCISES = [", "\n" + guide_snippet().split("\n\n")[0] + "\n\n\nEXERCISES = [")
    text = text.replace("\nEXERCISES = [", "\nEXERCISES = [\n    " + guide_snippet().split("\n\n")[1].strip() + ",", 1)
    hidden.write_text(text)
    # 3. regenerate: the shared cells and manifest, then the release
    assert handin.mismatches(root) == [f"course/source/{ASSIGNMENT}/{NOTEBOOK}.ipynb"]
    handin.apply(root)
    assert handin.mismatches(root) == []
    building.release(course.path)
    return course


def test_the_exercise_reaches_the_release_without_its_solution(course):
    release = nbformat.read(course.release / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in release.cells}
    assert "return 2 * x" not in cells["double"].source and "def double(x):" in cells["double"].source
    assert cells["test_double"].source == 'check("two doubled", double(2), 4)'
    answers = {a["grade_id"]: a for a in release.metadata["boxloc"]["answers"]}
    assert answers["test_double"]["name"] == "double"     # the self-check knows the new answer


def test_a_right_answer_gets_its_point_and_a_wrong_one_loses_this_exercise_only(course):
    release = course.release / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    right = solution_cells(course.source / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    wrong = {**right, "double": "def double(x):\n    return x + 2"}     # right for 2 only
    for student, answers in (("right", right), ("wrong", wrong)):
        target = course.submitted(student, ASSIGNMENT) / f"{NOTEBOOK}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(fill(release, answers), target)
    assert grade(course.path, ASSIGNMENT) == 0
    right, wrong = (scores(course.path, ASSIGNMENT, student) for student in ("right", "wrong"))
    assert right["test_double"] == 1 and wrong["test_double"] == 0
    others = set(right) - {"test_double"}
    assert others and all(wrong[gid] == right[gid] > 0 for gid in others)
