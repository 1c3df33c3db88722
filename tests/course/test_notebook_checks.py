"""What the notebooks' visible checks and text promise a student: letter answers in any case,
a top-down block's shape mismatch said in words before any parameter count, comparisons the text
makes done as checks, sizes written (height, width) as everywhere else. The cells run here
in-process, from the source notebooks, with the library's answers or typical mistakes."""

import re

import nbformat
import numpy as np
import pytest

from boxloc.exercises import check
from classroom.layout import CourseFolder
from course_helpers import COURSE


def cells(assignment):
    (path,) = sorted((COURSE / "source" / assignment).glob("*.ipynb"))
    return nbformat.read(path, as_version=4).cells


def graded_cell(assignment, grade_id):
    return next(c.source for c in cells(assignment)
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def typed_by_a_student(answer):
    """A right letter answer as students type it: capitals, spaces around."""
    if isinstance(answer, dict):
        return {key: typed_by_a_student(value) for key, value in answer.items()}
    return f" {answer.upper()} "


def choice_exercises():
    from classroom.grader import spec
    return [(assignment, exercise) for assignment in ("01_anchors", "02_network", "03_training",
                                                      "04_inference")
            for exercise in spec.load(CourseFolder(COURSE).hidden_file(assignment))
            if exercise.kind == "choice"]


@pytest.mark.parametrize("assignment, exercise", choice_exercises(),
                         ids=lambda value: getattr(value, "grade_id", value))
def test_letter_checks_accept_any_case(assignment, exercise):
    namespace = {"np": np, "check": check,
                 exercise.record.name: typed_by_a_student(exercise.expected)}
    exec(graded_cell(assignment, exercise.grade_id), namespace)      # no AssertionError
    namespace[exercise.record.name] = typed_by_a_student("z" if isinstance(exercise.expected, str)
                                                          else dict.fromkeys(exercise.expected, "z"))
    with pytest.raises(AssertionError):
        exec(graded_cell(assignment, exercise.grade_id), namespace)


# --- notebook 2: the top-down block -------------------------------------------------------------
keras = pytest.importorskip("keras")
layers = keras.layers


def upsamples_z_too(coarser, finer, width):
    return layers.UpSampling3D((2, 2, 2))(coarser) + layers.Conv3D(width, 1)(finer)


def upsamples_by_four(coarser, finer, width):
    return layers.Add()([layers.UpSampling3D((1, 4, 4))(coarser), layers.Conv3D(width, 1)(finer)])


def projects_the_wrong_map(coarser, finer, width):
    return layers.Conv3D(width, 1)(layers.UpSampling3D((1, 2, 2))(coarser)) + finer[..., :1]


def run_top_down_check(block):
    from boxloc.models import top_down_merge
    namespace = {"np": np, "keras": keras, "layers": layers, "check": check,
                 "top_down_merge": top_down_merge, "my_top_down": block}
    exec(graded_cell("02_network", "test_top_down"), namespace)


@pytest.mark.parametrize("block, words", [
    (upsamples_z_too, r"two maps differ in shape: upsample height and width only, not Z"),
    (upsamples_by_four, r"could not add its two maps: .* must both be \(B, Z, 4, 6, 64\)"),
    (projects_the_wrong_map, r"✗ parameters .*: expected 2112, got 4160")])
def test_the_top_down_check_says_what_is_wrong_in_words(block, words):
    with pytest.raises(AssertionError, match=words) as failed:
        run_top_down_check(block)
    if block is not projects_the_wrong_map:
        assert "parameters" not in str(failed.value)


def test_the_top_down_check_passes_the_library_block():
    from boxloc.models import top_down_merge
    run_top_down_check(top_down_merge)


# --- notebook 3: the focal loss against the library --------------------------------------------
def test_the_focal_loss_comparison_is_a_check():
    """The text compares the student's masked focal loss with the library's: a disagreement
    must fail the cell, not only print two numbers."""
    source = graded_cell("03_training", "test_masked_mean")
    from course_helpers import solution_cells
    (path,) = sorted((COURSE / "source" / "03_training").glob("*.ipynb"))
    answers = solution_cells(path)
    from boxloc.losses import FocalLoss
    rng = np.random.default_rng(1)
    cls = (rng.random((2, 1, 30, 30, 9)) < 0.01).astype("float32")
    namespace = {"np": np, "check": check, "FocalLoss": FocalLoss,
                 "ys": {"cls-c3": cls}, "sample_weights": {"cls-c3": np.ones_like(cls)}}
    for name in ("focal_elements", "masked_mean"):
        exec(answers[name], namespace)
    exec(source, namespace)                                            # the solutions agree
    namespace["FocalLoss"] = lambda: (lambda *args, **kwargs: 1.0)     # a library that disagrees
    with pytest.raises(AssertionError, match="library's FocalLoss"):
        exec(source, namespace)


# --- notebook 1: sizes are (height, width) ----------------------------------------------------
def test_sizes_in_the_text_are_height_by_width():
    text = "\n".join(c.source for c in cells("01_anchors") if c.cell_type == "markdown")
    height, width = (float(n) for n in re.search(
        r"about (\d+) × (\d+) px, height × width, when tall", text).groups())
    ratio = 0.5                                       # tall: width / height = 0.5
    assert (height, width) == (round(32 / ratio ** 0.5), round(32 * ratio ** 0.5))
