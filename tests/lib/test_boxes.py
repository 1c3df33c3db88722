"""Box formats, areas and IoU (boxloc.boxes): hand-computed cases and properties checked
against the plain-loop oracle ``reference.iou_loop``."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import iou_loop

from boxloc import BoundingBox
from boxloc.boxes import (box_area, centres_to_corners, clip_boxes, corners_to_centres,
                          iou_matrix, iou_one_to_many)

SETTINGS = settings(max_examples=100, deadline=None, derandomize=True, database=None)


def iou(a, b):
    """IoU of two boxes through the public matrix function."""
    return float(iou_matrix([a], [b])[0, 0])


# --- hand-computed IoU ------------------------------------------------------------------------

@pytest.mark.parametrize("a, b, expected", [
    ([0, 0, 10, 10], [5, 5, 15, 15], 25 / 175),          # seed doc example, 0.1429
    ([0, 0, 10, 10], [20, 20, 30, 30], 0.0),             # disjoint
    ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),               # identical
    ([0, 0, 10, 10], [2, 3, 6, 8], 20 / 100),            # contained: inner area / outer area
    ([0, 0, 10, 10], [10, 0, 20, 10], 0.0),              # touching along an edge (half-open)
    ([0, 0, 10, 10], [10, 10, 20, 20], 0.0),             # touching at a corner
    ([0, 0, 10, 10], [0, 5, 10, 15], 50 / 150),          # half shifted
    ([0, 0, 10, 20], [0, 0, 10, 10], 0.5),               # exactly one half
    ([-5, -5, 5, 5], [0, 0, 10, 10], 25 / 175),          # negative coordinates
    ([0.5, 0.5, 1.5, 2.5], [0.5, 1.5, 1.5, 2.5], 0.5),   # sub-pixel
])
def test_iou_hand_computed(a, b, expected):
    assert iou(a, b) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert iou(b, a) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert iou_loop(a, [b])[0] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_iou_seed_example_rounded():
    result = iou_matrix([[0, 0, 10, 10]], [[5, 5, 15, 15], [20, 20, 30, 30], [0, 0, 10, 10]])
    assert np.round(result, 4).tolist() == [[0.1429, 0.0, 1.0]]


@pytest.mark.parametrize("degenerate", [
    [5, 5, 5, 5],        # a point
    [0, 0, 0, 10],       # zero height
    [0, 0, 10, 0],       # zero width
    [10, 10, 0, 0],      # inverted
    [0, 10, 10, 0],      # inverted in x only
    [10, 0, 0, 10],      # inverted in y only
])
def test_degenerate_boxes_have_iou_zero_and_never_nan(degenerate):
    others = np.array([[0, 0, 10, 10], degenerate, [5, 5, 5, 5], [-3, -3, 20, 20]], float)
    with np.errstate(all="raise"):             # no 0/0 warnings either
        row = iou_matrix([degenerate], others)[0]
        col = iou_matrix(others, [degenerate])[:, 0]
    assert np.all(np.isfinite(row)) and np.all(np.isfinite(col))
    assert row.tolist() == [0.0] * 4
    assert col.tolist() == [0.0] * 4
    assert box_area([degenerate])[0] == 0
    assert iou_loop(degenerate, others) == [0.0] * 4


@pytest.mark.parametrize("bad", [
    [np.nan, 0, 10, 10], [0, np.nan, 10, 10], [0, 0, np.nan, 10], [0, 0, 10, np.nan],
    [np.nan] * 4,
])
def test_nan_coordinates_give_iou_zero(bad):
    others = [[0, 0, 10, 10], [0, 0, 100, 100], bad]
    row = iou_matrix([bad], others)[0]
    col = iou_matrix(others, [bad])[:, 0]
    assert row.tolist() == [0.0, 0.0, 0.0]
    assert col.tolist() == [0.0, 0.0, 0.0]
    assert iou_one_to_many(bad, others).tolist() == [0.0, 0.0, 0.0]
    assert iou_loop(bad, others) == [0.0, 0.0, 0.0]


def test_calculate_ious_defaults_to_all_anchors():
    bb = BoundingBox((64, 64), c=[3], anchor_shapes=[16])
    box = [10, 12, 30, 40]
    result = bb.calculate_ious(box)
    assert result.shape == (len(bb.anchors),)
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, iou_loop(box, bb.anchors))
    some = bb.anchors[:5]
    np.testing.assert_array_equal(bb.calculate_ious(box, some), iou_loop(box, some))
    assert bb.calculate_ious(box, np.zeros((0, 4))).shape == (0,)


# --- iou_matrix shapes ------------------------------------------------------------------------

@pytest.mark.parametrize("n, m", [(0, 0), (0, 3), (3, 0), (1, 1), (2, 5), (5, 2)])
def test_iou_matrix_shape(n, m):
    rng = np.random.default_rng(n * 10 + m)
    # sorting the (corner, axis) pairs gives y1 <= y2 and x1 <= x2
    a = np.sort(rng.uniform(0, 50, (n, 2, 2)), axis=1).reshape(n, 4)
    b = np.sort(rng.uniform(0, 50, (m, 2, 2)), axis=1).reshape(m, 4)
    result = iou_matrix(a, b)
    assert result.shape == (n, m)
    assert result.dtype == np.float64
    for i in range(n):
        np.testing.assert_array_equal(result[i], iou_loop(a[i], b))


def test_iou_matrix_accepts_empty_lists_and_precomputed_areas():
    assert iou_matrix([], []).shape == (0, 0)
    assert iou_matrix(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)
    boxes = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [2, 2, 4, 4]], float)
    np.testing.assert_array_equal(iou_matrix(boxes, boxes, box_area(boxes)),
                                  iou_matrix(boxes, boxes))


# --- formats, areas, clipping -----------------------------------------------------------------

def test_corners_to_centres_hand_computed():
    np.testing.assert_array_equal(corners_to_centres([[100, 80, 140, 150]]),
                                  [[120, 115, 40, 70]])
    np.testing.assert_array_equal(centres_to_corners([[120, 115, 40, 70]]),
                                  [[100, 80, 140, 150]])
    # any leading shape
    assert corners_to_centres(np.zeros((2, 3, 4))).shape == (2, 3, 4)
    assert centres_to_corners(np.zeros(4)).shape == (4,)


finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)


@SETTINGS
@given(st.lists(st.tuples(finite, finite, finite, finite), min_size=1, max_size=8))
def test_corners_centres_round_trip(rows):
    corners = np.array(rows, dtype=np.float64)
    back = centres_to_corners(corners_to_centres(corners))
    np.testing.assert_allclose(back, corners, rtol=0, atol=1e-9 * (1 + np.abs(corners).max()))
    centres = corners_to_centres(corners)
    np.testing.assert_allclose(corners_to_centres(centres_to_corners(centres)), centres,
                               rtol=0, atol=1e-9 * (1 + np.abs(corners).max()))


def test_box_area():
    boxes = [[0, 0, 10, 10], [0, 0, 10, 0], [10, 10, 0, 0], [1, 2, 4, 8], [0, 0, 5, -5]]
    np.testing.assert_array_equal(box_area(boxes), [100, 0, 0, 18, 0])
    assert box_area(np.zeros((0, 4))).shape == (0,)
    assert box_area(np.ones((2, 3, 4))).shape == (2, 3)


def test_clip_boxes():
    boxes = np.array([[-5, -5, 10, 10], [100, 100, 300, 260], [10, 20, 30, 40]], float)
    before = boxes.copy()
    clipped = clip_boxes(boxes, (240, 250))
    np.testing.assert_array_equal(clipped, [[0, 0, 10, 10], [100, 100, 240, 250],
                                            [10, 20, 30, 40]])
    np.testing.assert_array_equal(boxes, before)        # a new array, the input untouched


def test_anchor_corners_are_clipped_and_areas_cached():
    bb = BoundingBox((240, 240), c=[3, 4], anchor_shapes=[32, 64])
    assert bb.anchors.min() >= 0 and bb.anchors[:, [0, 2]].max() <= 240
    np.testing.assert_array_equal(bb.anchor_areas, box_area(bb.anchors))
    # anchor 0: tall template 45.25 x 22.63 centred on (0, 0), clipped (seed quirk 2)
    np.testing.assert_allclose(bb.anchors[0], [0, 0, 32 / 2 ** 0.5, 16 / 2 ** 0.5], rtol=1e-12)


# --- properties -------------------------------------------------------------------------------

coord = st.one_of(st.integers(-20, 60).map(float), st.floats(-20, 60, allow_nan=False))
box_strategy = st.tuples(coord, coord, coord, coord).map(list)


def positive_box(y, x, h, w):
    return [y, x, y + h, x + w]


size = st.floats(0.01, 50, allow_nan=False)
positive_box_strategy = st.builds(positive_box, coord, coord, size, size)


@SETTINGS
@given(box_strategy, st.lists(box_strategy, max_size=6))
def test_iou_in_unit_interval_and_equals_loop(box, others):
    result = iou_one_to_many(box, np.array(others, float).reshape(-1, 4))
    assert result.shape == (len(others),)
    assert np.all(np.isfinite(result))
    assert np.all((result >= 0) & (result <= 1))
    expected = iou_loop(box, others)
    np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-15)


@SETTINGS
@given(st.lists(box_strategy, min_size=1, max_size=6), st.lists(box_strategy, max_size=6))
def test_iou_symmetric(a, b):
    a = np.array(a, float).reshape(-1, 4)
    b = np.array(b, float).reshape(-1, 4)
    np.testing.assert_allclose(iou_matrix(a, b), iou_matrix(b, a).T, rtol=1e-12, atol=1e-15)


@SETTINGS
@given(positive_box_strategy)
def test_iou_with_itself_is_one(box):
    assert box_area([box])[0] > 0
    assert iou(box, box) == pytest.approx(1.0, abs=1e-12)


@SETTINGS
@given(positive_box_strategy, positive_box_strategy,
       st.integers(-1000, 1000), st.integers(-1000, 1000))
def test_iou_translation_invariant(a, b, dy, dx):
    # equal up to the rounding of the shifted coordinates
    shift = np.array([dy, dx, dy, dx], float)
    before = iou(a, b)
    after = iou(np.array(a) + shift, np.array(b) + shift)
    assert after == pytest.approx(before, rel=1e-9, abs=1e-9)


fraction = st.floats(0, 1, allow_nan=False)


@SETTINGS
@given(positive_box_strategy, fraction, fraction, fraction, fraction)
def test_iou_of_contained_box_is_area_ratio(outer, fy1, fy2, fx1, fx2):
    # a box inside another: IoU = inner area / outer area
    y1, x1, y2, x2 = outer
    fy1, fy2 = sorted([fy1, fy2])
    fx1, fx2 = sorted([fx1, fx2])
    inner = [y1 + fy1 * (y2 - y1), x1 + fx1 * (x2 - x1),
             y1 + fy2 * (y2 - y1), x1 + fx2 * (x2 - x1)]
    inner = np.clip(inner, [y1, x1, y1, x1], [y2, x2, y2, x2])   # rounding stays inside
    expected = box_area([inner])[0] / box_area([outer])[0]
    assert iou(outer, inner) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert math.isclose(iou_loop(outer, [inner])[0], expected, rel_tol=1e-9, abs_tol=1e-12)
