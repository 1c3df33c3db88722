"""Greedy NMS (boxloc.nms.nms, batched_nms and BoundingBox.apply_nms): properties and the
seed's loop ``reference.nms_loop`` as oracle.

Boxes have integer coordinates and thresholds are dyadic fractions, so IoU > thr is decided
exactly whichever way it is computed (the library compares ``inter > thr * union``, the
oracle divides) and the comparisons cannot disagree by rounding.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import iou_loop, nms_loop

from boxloc import BoundingBox
from boxloc.nms import batched_nms, nms

SETTINGS = settings(max_examples=100, deadline=None, derandomize=True, database=None)
THRESHOLDS = [0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0]


@pytest.fixture(scope="module")
def bb():
    return BoundingBox((64, 64), c=[3], anchor_shapes=[16])


@st.composite
def box_sets(draw, min_size=0, max_size=25, degenerate=True):
    """Integer boxes crowded into a small field so that they overlap often."""
    n = draw(st.integers(min_size, max_size))
    low = 0 if degenerate else 1
    rows = []
    for _ in range(n):
        y, x = draw(st.integers(0, 30)), draw(st.integers(0, 30))
        h, w = draw(st.integers(low, 20)), draw(st.integers(low, 20))
        rows.append([y, x, y + h, x + w])
    return np.array(rows, dtype=np.float64).reshape(n, 4)


@st.composite
def boxes_and_distinct_scores(draw, **kwargs):
    boxes = draw(box_sets(**kwargs))
    order = draw(st.permutations(range(len(boxes))))
    scores = (np.array(order, dtype=np.float64) + 1) / (len(boxes) + 1)   # distinct, in (0, 1)
    return boxes, scores


@st.composite
def boxes_and_scores(draw, **kwargs):
    """Scores with ties, zeros and negatives."""
    boxes = draw(box_sets(**kwargs))
    scores = draw(st.lists(st.sampled_from([-0.5, 0.0, 0.25, 0.5, 0.75, 1.0]),
                           min_size=len(boxes), max_size=len(boxes)))
    return boxes, np.array(scores, dtype=np.float64)


def score_order(scores, candidates):
    """Candidates sorted by descending score, lower index first on ties."""
    return sorted(candidates, key=lambda i: (-scores[i], i))


def check_greedy_properties(boxes, scores, keep, thr, candidates):
    """The properties every greedy NMS result must have."""
    keep = [int(k) for k in keep]
    assert len(set(keep)) == len(keep)
    assert set(keep) <= set(candidates)
    # kept boxes do not overlap each other by more than the threshold
    for a in keep:
        ious = iou_loop(boxes[a], boxes[keep])
        for b, value in zip(keep, ious):
            if a != b:
                assert value <= thr, (a, b, value)
    # every removed box is suppressed by a kept box that comes earlier in score order
    rank = {i: r for r, i in enumerate(score_order(scores, candidates))}
    for removed in set(candidates) - set(keep):
        ious = iou_loop(boxes[removed], boxes[keep])
        assert any(value > thr and rank[k] < rank[removed]
                   and scores[k] >= scores[removed]
                   for k, value in zip(keep, ious)), removed


# --- boxloc.nms.nms ---------------------------------------------------------------------------

@SETTINGS
@given(boxes_and_scores(), st.sampled_from(THRESHOLDS))
def test_nms_greedy_properties(data, thr):
    boxes, scores = data
    keep = nms(boxes, scores, thr)
    assert keep.dtype == np.int64 and keep.ndim == 1
    check_greedy_properties(boxes, scores, keep, thr, list(range(len(boxes))))
    # descending score order, lower index first on ties
    assert keep.tolist() == score_order(scores, keep.tolist())


@SETTINGS
@given(boxes_and_distinct_scores(), st.sampled_from(THRESHOLDS))
def test_nms_equals_seed_loop(data, thr):
    boxes, scores = data
    keep = nms(boxes, scores, thr)
    assert sorted(keep.tolist()) == nms_loop(boxes, scores, thr)


@SETTINGS
@given(boxes_and_scores(), st.sampled_from(THRESHOLDS))
def test_nms_with_ties_equals_seed_loop_on_positive_scores(data, thr):
    # the seed takes the first index on ties, as nms does; it ignores scores <= 0
    boxes, scores = data
    positive = np.flatnonzero(scores > 0)
    keep = positive[nms(boxes[positive], scores[positive], thr)]
    assert sorted(keep.tolist()) == nms_loop(boxes, scores, thr)


def test_nms_hand_example():
    boxes = [[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [20, 20, 30, 30], [21, 20, 31, 30]]
    scores = [0.9, 0.95, 0.1, 0.3, 0.8]
    # IoU(0, 1) = 81 / 119 = 0.68; IoU(3, 4) = 90 / 110 = 0.82; IoU(0, 2) = 1
    assert nms(boxes, scores, 0.5).tolist() == [1, 4]
    assert nms(boxes, scores, 0.7).tolist() == [1, 0, 4]
    assert nms(boxes, scores, 0.9).tolist() == [1, 0, 4, 3]
    assert nms(boxes, scores, 1.0).tolist() == [1, 0, 4, 3, 2]


def test_nms_ties_keep_lower_index_first():
    boxes = [[0, 0, 10, 10]] * 3 + [[50, 50, 60, 60]]
    assert nms(boxes, [0.5, 0.5, 0.5, 0.5], 0.5).tolist() == [0, 3]


def test_nms_threshold_is_strict():
    # IoU([0,0,10,10], [0,0,10,20]) = 100 / 200 = 0.5 exactly
    boxes = [[0, 0, 10, 10], [0, 0, 10, 20]]
    assert iou_loop(boxes[0], boxes[1:]) == [0.5]
    assert nms(boxes, [0.9, 0.8], 0.5).tolist() == [0, 1]       # 0.5 > 0.5 is False
    assert nms(boxes, [0.9, 0.8], 0.499).tolist() == [0]
    assert nms(boxes, [0.8, 0.9], 0.5).tolist() == [1, 0]
    # IoU = 1 never exceeds 1, IoU = 0 never exceeds 0
    assert nms([[0, 0, 5, 5], [0, 0, 5, 5]], [1, 1], 1.0).tolist() == [0, 1]
    assert nms([[0, 0, 5, 5], [5, 0, 10, 5]], [1, 1], 0.0).tolist() == [0, 1]   # touching
    assert nms([[0, 0, 5, 5], [4, 4, 10, 10]], [1, 1], 0.0).tolist() == [0]      # overlapping


def test_nms_empty_input():
    for boxes, scores in [(np.zeros((0, 4)), np.zeros(0)), ([], [])]:
        keep = nms(boxes, scores, 0.5)
        assert keep.shape == (0,) and keep.dtype == np.int64
        keep = batched_nms(boxes, scores, np.zeros(0, int), 0.5)
        assert keep.shape == (0,) and keep.dtype == np.int64


def test_nms_length_mismatch_raises():
    with pytest.raises(ValueError, match="same length"):
        nms([[0, 0, 1, 1]], [0.5, 0.6], 0.5)


def test_nms_single_box():
    assert nms([[0, 0, 1, 1]], [0.1], 0.5).tolist() == [0]
    assert nms([[0, 0, 1, 1]], [-3.0], 0.5).tolist() == [0]      # nms itself keeps any score


@SETTINGS
@given(boxes_and_distinct_scores(min_size=1), st.sampled_from(THRESHOLDS), st.data())
def test_nms_skips_nan_scores(data, thr, draw):
    boxes, scores = data
    nan = np.array(draw.draw(st.lists(st.booleans(), min_size=len(boxes), max_size=len(boxes))))
    scores = scores.copy()
    scores[nan] = np.nan
    keep = nms(boxes, scores, thr)
    valid = np.flatnonzero(~nan)
    assert not set(keep.tolist()) & set(np.flatnonzero(nan).tolist())
    # the same as if the NaN-score boxes were not there
    assert keep.tolist() == valid[nms(boxes[valid], scores[valid], thr)].tolist()
    assert sorted(keep.tolist()) == sorted(valid[nms_loop(boxes[valid], scores[valid], thr)])


@SETTINGS
@given(boxes_and_distinct_scores(min_size=1), st.sampled_from(THRESHOLDS), st.data())
def test_nms_skips_boxes_with_non_finite_coordinates(data, thr, draw):
    boxes, scores = data
    n = len(boxes)
    bad = np.array(draw.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    column = draw.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    value = draw.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    boxes = boxes.copy()
    boxes[np.flatnonzero(bad), np.array(column)[bad]] = value
    keep = nms(boxes, scores, thr)
    valid = np.flatnonzero(~bad)
    assert keep.tolist() == valid[nms(boxes[valid], scores[valid], thr)].tolist()
    assert sorted(keep.tolist()) == sorted(valid[nms_loop(boxes[valid], scores[valid], thr)])


def test_nms_degenerate_boxes_are_kept_and_suppress_nothing():
    boxes = [[5, 5, 5, 5], [0, 0, 10, 10], [10, 10, 0, 0], [0, 0, 10, 10]]
    with np.errstate(all="raise"):
        keep = nms(boxes, [0.9, 0.8, 0.7, 0.6], 0.0)
    assert keep.tolist() == [0, 1, 2]


# --- batched_nms ------------------------------------------------------------------------------

@SETTINGS
@given(boxes_and_distinct_scores(), st.sampled_from(THRESHOLDS), st.data())
def test_batched_nms_never_suppresses_across_classes(data, thr, draw):
    boxes, scores = data
    n = len(boxes)
    classes = np.array(draw.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)),
                       dtype=np.int64)
    keep = batched_nms(boxes, scores, classes, thr)
    assert keep.tolist() == score_order(scores, keep.tolist())
    expected = []
    for label in np.unique(classes):
        members = np.flatnonzero(classes == label)
        expected += members[nms(boxes[members], scores[members], thr)].tolist()
        check_greedy_properties(boxes, scores, [k for k in keep if classes[k] == label], thr,
                                members.tolist())
    assert sorted(keep.tolist()) == sorted(expected)


def test_batched_nms_identical_boxes_of_different_classes_are_all_kept():
    boxes = [[0, 0, 10, 10]] * 4
    assert batched_nms(boxes, [0.9, 0.8, 0.7, 0.6], [1, 2, 1, 3], 0.5).tolist() == [0, 1, 3]


# --- BoundingBox.apply_nms --------------------------------------------------------------------

@SETTINGS
@given(boxes_and_scores(), st.sampled_from(THRESHOLDS))
def test_apply_nms_equals_seed_loop(bb, data, thr):
    boxes, scores = data
    keep = bb.apply_nms(boxes, scores, thr)
    assert keep.tolist() == nms_loop(boxes, scores, thr)
    assert keep.tolist() == sorted(keep.tolist())                 # ascending
    candidates = np.flatnonzero(scores > 0).tolist()
    check_greedy_properties(boxes, scores, keep, thr, candidates)


@SETTINGS
@given(boxes_and_distinct_scores(), st.sampled_from(THRESHOLDS))
def test_apply_nms_equals_seed_loop_distinct_scores(bb, data, thr):
    boxes, scores = data
    assert bb.apply_nms(boxes, scores, thr).tolist() == nms_loop(boxes, scores, thr)


def test_apply_nms_threshold_zero_is_honoured():
    boxes = [[0, 0, 10, 10], [9, 9, 20, 20], [10, 0, 20, 10]]   # tiny overlap; touching
    scores = [0.9, 0.8, 0.7]
    default = BoundingBox((64, 64), c=[3], anchor_shapes=[16])       # iou_nms=0.7
    assert default.apply_nms(boxes, scores).tolist() == [0, 1, 2]
    assert default.apply_nms(boxes, scores, 0).tolist() == [0, 2]    # not the default 0.7
    assert default.apply_nms(boxes, scores, 0.0).tolist() == [0, 2]
    zero = BoundingBox((64, 64), c=[3], anchor_shapes=[16], iou_nms=0)
    assert zero.params["iou_nms"] == 0
    assert zero.apply_nms(boxes, scores).tolist() == [0, 2]
    assert nms_loop(boxes, scores, 0) == [0, 2]


def test_apply_nms_threshold_is_strict(bb):
    boxes = [[0, 0, 10, 10], [0, 0, 10, 20]]                        # IoU exactly 0.5
    assert bb.apply_nms(boxes, [0.9, 0.8], 0.5).tolist() == [0, 1]
    assert bb.apply_nms(boxes, [0.9, 0.8], 0.375).tolist() == [0]


def test_apply_nms_skips_non_positive_and_nan_scores(bb):
    boxes = [[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]]
    assert bb.apply_nms(boxes, [np.nan, 0.5, 0.0, -1.0], 0.5).tolist() == [1]
    assert bb.apply_nms(boxes, [np.nan] * 4, 0.5).tolist() == []
    assert bb.apply_nms(np.zeros((0, 4)), [], 0.5).tolist() == []


def test_apply_nms_skips_nan_boxes(bb):
    boxes = [[np.nan, 0, 10, 10], [0, 0, 10, 10], [0, 0, np.inf, 10]]
    with np.errstate(all="raise"):
        assert bb.apply_nms(boxes, [0.9, 0.5, 0.4], 0.5).tolist() == [1]


def test_apply_nms_zero_area_and_inverted_boxes(bb):
    boxes = [[5, 5, 5, 5], [0, 0, 10, 10], [10, 10, 0, 0], [0, 0, 10, 10]]
    with np.errstate(all="raise"):
        keep = bb.apply_nms(boxes, [0.9, 0.8, 0.7, 0.6], 0.0)
    assert keep.tolist() == [0, 1, 2]
