"""The visible checks of a test cell are the first cases of its hidden exercise (``visible=k``),
in the same order, and the values they expect are the library's: a student who passes the
visible checks has passed the first k graded cases, and feedback that names "case 2" means the
notebook's second check."""

import contextlib
import io

import nbformat
import numpy as np
import pytest

from boxloc.exercises import check, difference
from classroom.layout import CourseFolder
from course_helpers import COURSE

# assignments whose test cells were written against their hidden file's first cases
CHECKED = ("01_anchors", "03_training", "04_inference")


def record_visible_checks(assignment, exercises):
    """Run the test cells of an assignment in order, each answer replaced by the library's
    ``expected``; -> {grade id: argument lists of its calls}. A cell stops where it needs
    notebook state that is not here (after its visible checks)."""
    (path,) = sorted((COURSE / "source" / assignment).glob("*.ipynb"))
    nb = nbformat.read(path, as_version=4)
    calls = {e.grade_id: [] for e in exercises}
    namespace = {"np": np, "check": check}
    for exercise in exercises:
        def answer(*args, _exercise=exercise, **kwargs):
            calls[_exercise.grade_id].append([*args, *kwargs.values()])
            return _exercise.expected(*args, **kwargs)
        namespace[exercise.record.name] = answer
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    exec(cell.source, namespace)     # an AssertionError: a visible check
                except (NameError, KeyError):        # expects another value than the library
                    pass
    return calls


@pytest.mark.parametrize("assignment", CHECKED)
def test_visible_checks_are_the_first_hidden_cases(assignment):
    from classroom.grader import spec
    exercises = [e for e in spec.load(CourseFolder(COURSE).hidden_file(assignment))
                 if e.record.calls and e.visible]
    assert exercises
    calls = record_visible_checks(assignment, exercises)
    cases = spec.draw_cases(exercises, "any secret")
    for exercise in exercises:
        made = calls[exercise.grade_id]
        assert len(made) >= exercise.visible, (exercise.grade_id, made)
        for number, (call, case) in enumerate(zip(made, cases[exercise.grade_id][:exercise.visible]), 1):
            assert difference(call, case, 0) is None, (exercise.grade_id, number, call, case)
