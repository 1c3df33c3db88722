"""Assignment 1 (anchors) graded by the real nbgrader: full marks for the solutions, zero for
an untouched release, and each typical mistake loses the marks of its exercise only."""

import nbformat
import pytest

from grading import COURSE, ROOT, fill, make_course, nbgrader, scores, solution_cells, submit

ASSIGNMENT = "01_anchors"
SOURCE = COURSE / "source" / ASSIGNMENT / "anchors.ipynb"
POINTS = {"test_count_anchors": 2, "test_anchor_size": 2, "test_target_shapes": 2,
          "test_refinement": 1, "test_small_config": 2}

WRONG = {
    "off_by_one_grid": ("test_count_anchors", {"count_anchors": '''
def count_anchors(image_shape, c, anchor_scales, anchor_ratios):
    import math
    return sum(math.ceil(image_shape[0] / 2 ** l) * math.ceil(image_shape[1] / 2 ** l)
               * len(anchor_scales) * len(anchor_ratios) for l in c)'''}),
    "per_level_counts": ("test_count_anchors", {"count_anchors": '''
def count_anchors(image_shape, c, anchor_scales, anchor_ratios):
    return [int(image_shape[0] / 2 ** l) * int(image_shape[1] / 2 ** l)
            * len(anchor_scales) * len(anchor_ratios) for l in c]'''}),
    "swapped_height_width": ("test_anchor_size", {"anchor_size": '''
def anchor_size(base_size, scale, ratio):
    size = base_size * 2 ** (scale / 3)
    return size * np.sqrt(ratio), size / np.sqrt(ratio)'''}),
    "ratio_inverted": ("test_anchor_size", {"anchor_size": '''
def anchor_size(base_size, scale, ratio):
    size = base_size * 2 ** (scale / 3)
    return size / np.sqrt(1 / ratio), size * np.sqrt(1 / ratio)'''}),
    "swapped_y_x": ("test_target_shapes", {"target_shapes": '''
def target_shapes(image_shape, classes, c, num_anchors):
    height, width = image_shape
    shapes = {}
    for level in c:
        grid = (int(width / 2 ** level), int(height / 2 ** level))
        shapes[f"cls-c{level}"] = (1, *grid, num_anchors * classes)
        shapes[f"reg-c{level}"] = (1, *grid, num_anchors * 4)
    return shapes'''}),
    "nms_averages": ("test_refinement", {"refinement": 'refinement_answer = "a"'}),
    "seed_anchors_for_small_lesions": ("test_small_config", {"small_config":
        'small_lesion_config = dict(c=[3, 4], anchor_shapes=[32, 64])'}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade every submission of this module in one nbgrader run; returns the course path."""
    course = make_course(tmp_path_factory.mktemp("grading"))
    release = course / "release" / ASSIGNMENT / "anchors.ipynb"
    solutions = solution_cells(SOURCE)
    submit(course, "solution", ASSIGNMENT, fill(release, solutions))
    submit(course, "untouched", ASSIGNMENT, release)
    partial = {k: v for k, v in solutions.items() if k in ("count_anchors", "refinement")}
    submit(course, "partial", ASSIGNMENT, fill(release, partial))
    for student, (_, answers) in WRONG.items():
        submit(course, student, ASSIGNMENT, fill(release, {**solutions, **answers}))
    nbgrader(course, "autograde", ASSIGNMENT, "--force")
    return course


def test_solutions_get_full_marks(graded):
    assert scores(graded, ASSIGNMENT, "solution") == POINTS


def test_untouched_release_scores_zero_without_stopping_the_grader(graded):
    assert scores(graded, ASSIGNMENT, "untouched") == {k: 0 for k in POINTS}


def test_partial_submission_gets_partial_marks(graded):
    expected = {k: 0 for k in POINTS}
    expected.update(test_count_anchors=2, test_refinement=1)
    assert scores(graded, ASSIGNMENT, "partial") == expected


@pytest.mark.parametrize("student", sorted(WRONG))
def test_each_typical_mistake_loses_its_exercise_only(graded, student):
    failed_test, _ = WRONG[student]
    expected = dict(POINTS, **{failed_test: 0})
    assert scores(graded, ASSIGNMENT, student) == expected


def test_release_has_no_solutions_or_hidden_tests():
    release = (COURSE / "release" / ASSIGNMENT / "anchors.ipynb").read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "anchor_templates(base"):
        assert marker not in release
    for code in solution_cells(SOURCE).values():
        assert code.strip() not in release
    stubs = [c for c in nbformat.reads(release, as_version=4).cells
             if c.cell_type == "code" and "raise NotImplementedError()" in c.source]
    assert len(stubs) == len(solution_cells(SOURCE))


def test_solutions_are_executed_without_errors_or_hidden_tests():
    nb = nbformat.read(ROOT / "solutions" / ASSIGNMENT / "anchors.ipynb", as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code_cells)
    outputs = [o for c in code_cells for o in c.outputs]
    assert not any(o.output_type == "error" for o in outputs)
    assert any("image/png" in o.get("data", {}) for o in outputs)       # figures are visible
    assert "HIDDEN" not in nbformat.writes(nb)
