"""Anchor grids: seed parity numbers and the candidate-pair superset."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from boxloc import BoundingBox
from boxloc.anchors import anchor_overlaps, anchor_templates, make_anchors
from boxloc.boxes import iou_matrix
from boxloc.examples import lesion_masks
from boxloc.matching import MATCH_RULES, MatchRule, match_anchors
from boxloc.targets import encode_targets, match_batch, matching_pairs

SEED_2021 = dict(image_shape=(240, 240), c=[3, 4], anchor_shapes=[32, 64])


@pytest.mark.parametrize("config, total, levels", [
    (dict(image_shape=(240, 240), c=[3, 4], anchor_shapes=[32, 64]), 10125, [8100, 10125]),
    (dict(image_shape=(96, 96), c=[3, 4], anchor_shapes=[16, 32]), 1620, [1296, 1620]),
    (dict(image_shape=(256, 256), c=[3, 4, 5], anchor_shapes=[16, 32, 64]), 12096,
     [9216, 11520, 12096]),
])
def test_seed_configurations_anchor_counts(config, total, levels):
    bb = BoundingBox(**config)
    assert len(bb.anchors) == len(bb.offsets) == len(bb.anchor_areas) == total
    assert bb.params["anchor_levels"] == levels


def test_seed_templates_scale_major_ratio_minor():
    expected = [(45.25, 22.63), (32, 32), (22.63, 45.25), (57.02, 28.51), (40.32, 40.32),
                (28.51, 57.02), (71.84, 35.92), (50.80, 50.80), (35.92, 71.84)]
    np.testing.assert_allclose(anchor_templates(32, [0, 1, 2], [0.5, 1, 2]), expected, atol=0.005)


def test_offsets_unclipped_corners_clipped_and_centres_on_cell_corners():
    bb = BoundingBox(**SEED_2021)
    np.testing.assert_allclose(bb.offsets[0], [0, 0, 45.2548, 22.6274], atol=1e-4)
    np.testing.assert_allclose(bb.anchors[0], [0, 0, 22.6274, 11.3137], atol=1e-4)
    # anchor (row 1, col 2, template 4) of c3: centre (8, 16), square 40.32
    np.testing.assert_allclose(bb.offsets[(1 * 30 + 2) * 9 + 4], [8, 16, 40.3175, 40.3175],
                               atol=1e-4)
    # first anchor of c4 sits at the origin again
    np.testing.assert_allclose(bb.offsets[8100, :2], [0, 0])
    np.testing.assert_allclose(bb.anchor_areas, (bb.anchors[:, 2] - bb.anchors[:, 0])
                               * (bb.anchors[:, 3] - bb.anchors[:, 1]))


def test_zero_deltas_return_unclipped_anchors():
    bb = BoundingBox(**SEED_2021)
    corners, centres = bb.apply_deltas(np.zeros((len(bb.offsets), 4)))
    np.testing.assert_allclose(corners[0], [-22.6274, -11.3137, 22.6274, 11.3137], atol=1e-3)
    assert corners.dtype == centres.dtype == np.float32


def test_non_integer_stride_at_c5():
    anchors = make_anchors((240, 240), [5], [128], [0], [1])
    assert anchors.grid_shapes == [(7, 7)]
    assert anchors.strides[0] == pytest.approx((240 / 7, 240 / 7))
    np.testing.assert_allclose(anchors.offsets[1, :2], [0, 34.2857], atol=1e-4)


def test_params_hold_plain_python_types():
    bb = BoundingBox(**SEED_2021)

    def walk(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and walk(v) for k, v in value.items())
        if isinstance(value, list):
            return all(walk(v) for v in value)
        return type(value) in (int, float, bool, str)

    assert walk(bb.params)
    assert bb.params["anchor_gsizes"] == [[30, 30], [15, 15]]
    assert bb.params["inputs_shapes"]["cls-c3"] == [1, 30, 30, 9]
    assert bb.params["inputs_shapes"]["reg-c4-msk"] == [1, 15, 15, 36]
    assert bb.params["anchor_scales"] == [0, 1, 2]


boxes_strategy = st.lists(
    st.tuples(st.floats(-40, 280), st.floats(-40, 280), st.floats(0.5, 120), st.floats(0.5, 120)),
    min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(raw=boxes_strategy, shape=st.sampled_from([(240, 240), (96, 160), (200, 130)]))
def test_anchor_overlaps_equal_the_dense_iou_matrix(raw, shape):
    bb = BoundingBox(shape, c=[2, 4], anchor_shapes=[12, 40], anchor_ratios=[0.4, 1, 2.5])
    boxes = np.array([[y, x, y + h, x + w] for y, x, h, w in raw])
    pair_box, pair_anchor, pair_iou = anchor_overlaps(boxes, bb.anchor_set)
    dense = iou_matrix(boxes, bb.anchors)
    # bit-identical to the dense IoU at every listed pair ...
    np.testing.assert_array_equal(pair_iou, dense[pair_box, pair_anchor])
    # ... every overlapping pair is listed, once
    listed = set(zip(pair_box.tolist(), pair_anchor.tolist()))
    assert set(zip(*(a.tolist() for a in np.nonzero(dense > 0)))) <= listed
    assert len(listed) == len(pair_box)


def test_anchor_overlaps_of_inverted_and_outside_boxes_are_empty():
    bb = BoundingBox((64, 64), c=[3, 4], anchor_shapes=[16, 32])
    boxes = [[30, 10, 10, 40], [10, 30, 40, 10], [60, 60, 2, 2], [100, 100, 120, 130]]
    _, _, pair_iou = anchor_overlaps(boxes, bb.anchor_set)
    assert np.all(pair_iou == 0)


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(raw=st.lists(st.tuples(st.integers(0, 2), st.floats(-20, 250), st.floats(-20, 250),
                              st.floats(1, 110), st.floats(1, 110)), min_size=1, max_size=8),
       rule=st.sampled_from(list(MATCH_RULES)),
       lower=st.sampled_from([0.0, 0.2, 0.4]))
def test_skipping_low_iou_pairs_never_changes_the_matches(raw, rule, lower):
    """match_batch skips pairs below iou_lower (anchor_overlaps(min_iou=...)); every rule
    must match exactly as with the full pair list, small boxes and shared anchors included.
    Every rule of the table is drawn: a rule whose ``forced_pairs`` is too narrow fails here."""
    from boxloc.matching import dense_matches, pair_cells
    bb = BoundingBox((240, 240), c=[3, 4], anchor_shapes=[32, 64], iou_lower=lower)
    raw = sorted(raw)
    slice_index = np.array([s for s, *_ in raw])
    boxes = np.array([[y, x, y + h, x + w] for _, y, x, h, w in raw])
    anchors, n = bb.anchor_set, len(bb.anchors)

    def dense(pair_box, pair_anchor, matches):
        band = pair_cells(pair_box, pair_anchor, slice_index, n)[matches.band]
        return dense_matches(matches, band, 3, n)

    pruned_box, pruned_anchor, _ = anchor_overlaps(boxes, anchors, min_iou=lower)
    full = anchor_overlaps(boxes, anchors)
    assert len(pruned_box) <= len(full[0])
    expected = dense(full[0], full[1], match_anchors(*full, slice_index, 3, n, 0.5, lower, rule))
    got = dense(*match_batch(boxes, slice_index, 3, anchors, 0.5, lower, rule))
    np.testing.assert_array_equal(got, expected)


def test_a_rule_added_to_the_table_alone_works_everywhere(monkeypatch):
    """MATCH_RULES is the one table of rules: an entry added there and nowhere else is accepted
    by BoundingBox and used by the matching and by the targets' pair pruning."""
    masks = lesion_masks(4, seed=3)
    for copy in ("seed", "torchvision"):
        monkeypatch.setitem(MATCH_RULES, f"{copy}_again", MATCH_RULES[copy])
        got = BoundingBox(**SEED_2021, match_rule=f"{copy}_again").convert_msk_to_box(masks)
        expected = BoundingBox(**SEED_2021, match_rule=copy).convert_msk_to_box(masks)
        assert list(got) == list(expected)
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key], err_msg=f"{copy} {key}")


def test_an_unknown_rule_is_refused_everywhere_naming_the_known_ones():
    bb = BoundingBox(**SEED_2021)
    boxes, slice_index = np.array([[40.0, 50, 90, 120]]), np.array([0])
    pairs = anchor_overlaps(boxes, bb.anchor_set)
    known = r"must be one of \['seed', 'torchvision', 'threshold'\], got 'hungarian'"
    calls = [lambda: match_anchors(*pairs, slice_index, 1, len(bb.anchors), 0.5, 0.2, "hungarian"),
             lambda: matching_pairs(boxes, slice_index, bb.anchor_set, 0.2, "hungarian"),
             lambda: match_batch(boxes, slice_index, 1, bb.anchor_set, 0.5, 0.2, "hungarian"),
             lambda: encode_targets(boxes, [1], slice_index, 1, bb.anchor_set, 1, 0.5, 0.2,
                                    "hungarian")]
    for call in calls:
        with pytest.raises(ValueError, match="^rule " + known):
            call()
    with pytest.raises(ValueError, match="^match_rule " + known):
        BoundingBox(**SEED_2021, match_rule="hungarian")
    with pytest.raises(ValueError, match="forced_pairs"):
        MatchRule(MATCH_RULES["seed"].match, forced_pairs="anchor")


def test_min_iou_lists_every_pair_at_or_above_it():
    bb = BoundingBox((240, 240), c=[3, 4], anchor_shapes=[32, 64])
    boxes = np.array([[40, 50, 90, 120], [100, 100, 108, 140], [0, 0, 239, 239]], float)
    full_box, full_anchor, full_iou = anchor_overlaps(boxes, bb.anchor_set)
    box, anchor, iou = anchor_overlaps(boxes, bb.anchor_set, min_iou=0.3)
    listed = set(zip(box.tolist(), anchor.tolist()))
    needed = {(b, a) for b, a, v in zip(full_box.tolist(), full_anchor.tolist(), full_iou)
              if v >= 0.3}
    assert needed <= listed and len(listed) < len(full_box) / 2
    np.testing.assert_array_equal(iou, iou_matrix(boxes, bb.anchors)[box, anchor])


def test_forced_match_sees_pairs_below_iou_lower_of_other_boxes():
    """torchvision rule, iou_lower 0.4: the only best anchor of a 20 x 6 box (IoU 0.137)
    also overlaps a second box with IoU 0.186, a pair below iou_lower (found by a search).
    The anchor is forced positive and goes to its highest-IoU box, the second one, so that
    pair must be seen although pairs below iou_lower are skipped."""
    from boxloc.matching import dense_matches, pair_cells
    from boxloc.targets import match_batch
    bb = BoundingBox((240, 240), c=[3, 4], anchor_shapes=[32, 64], iou_upper=0.5,
                     iou_lower=0.4)
    boxes = np.array([[117, 32, 137, 38], [95, 11, 160, 22]], float)
    ious = iou_matrix(boxes, bb.anchors)
    anchor = int(ious[0].argmax())
    assert np.sum(ious[0] == ious[0, anchor]) == 1
    assert 0.13 < ious[0, anchor] < 0.14 and 0.18 < ious[1, anchor] < 0.19
    assert anchor not in anchor_overlaps(boxes[1:], bb.anchor_set, min_iou=0.4)[1]
    slice_index = np.zeros(2, np.int64)
    pair_box, pair_anchor, matches = match_batch(boxes, slice_index, 1, bb.anchor_set, 0.5,
                                                 0.4, "torchvision")
    band = pair_cells(pair_box, pair_anchor, slice_index, len(bb.anchors))[matches.band]
    assert dense_matches(matches, band, 1, len(bb.anchors))[0, anchor] == 1
