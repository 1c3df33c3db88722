"""Training targets (convert_msk_to_box, convert_anc_to_box, BoundingBox.match_anchors) against
the plain-loop seed oracles of ``reference``: the seed matching rule box by box and anchor by
anchor, with the seed's bugs fixed (positives of one box are no longer hidden by another box's
ignore band; 5-D batches with B > 1 and Z > 1 work slice by slice)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import BACKGROUND, IGNORE, iou_loop, seed_boxes_loop, seed_targets_loop

import boxloc
from boxloc import BoundingBox
from boxloc.examples import lesion_masks

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None)

# The seed tutorial (2021) configuration, and smaller ones for speed.
TUTORIAL = dict(image_shape=(240, 240), c=[3, 4], anchor_shapes=[32, 64], iou_upper=0.5,
                iou_lower=0.2)
SMALL = dict(image_shape=(96, 96), c=[3, 4], anchor_shapes=[16, 32])          # 1620 anchors
CONFIGS = {
    "tutorial": TUTORIAL,
    "small": SMALL,
    "small-3-classes-padded": dict(SMALL, classes=3, box_padding=2, iou_upper=0.6,
                                   iou_lower=0.25),
    "small-keep-all-blobs": dict(SMALL, min_size_blob=0, iou_upper=0.4, iou_lower=0.1),
    "non-square": dict(image_shape=(64, 96), c=[2, 4], anchor_shapes=[8, 32],
                       anchor_scales=[0, 1], anchor_ratios=[0.5, 2], iou_lower=0.0),
}
_CACHE = {}


def config(name):
    if name not in _CACHE:
        _CACHE[name] = BoundingBox(**CONFIGS[name])
    return _CACHE[name]


def to_vectors(bb, box):
    """Box dict -> per-slice vectors (S, N, K) cls / cls-msk and (S, N, 4) reg / reg-msk, by
    the documented layout (channel a*D + d, levels in the order of ``c``)."""
    a, k = bb.anchor_set.num_per_location, bb.params["classes"]
    out = {}
    for kind, depth in (("cls", k), ("reg", 4)):
        for suffix in ("", "-msk"):
            pieces = []
            for level, (gh, gw) in zip(bb.params["c"], bb.params["anchor_gsizes"]):
                value = np.asarray(box[f"{kind}-c{level}{suffix}"])
                assert value.shape[-3:] == (gh, gw, a * depth)
                pieces.append(value.reshape(-1, gh * gw * a, depth))
            out[kind + suffix] = np.concatenate(pieces, axis=1)
    return out


def assert_slice_matches_oracle(bb, vectors, s, oracle):
    """Slice ``s`` of the library's vectors equals the oracle's targets."""
    num_classes = bb.params["classes"]
    cls = vectors["cls"][s]
    expected_cls = np.zeros((len(oracle["cls"]), num_classes), dtype=np.uint8)
    positive = oracle["cls"] > 0
    expected_cls[np.flatnonzero(positive), oracle["cls"][positive] - 1] = 1
    np.testing.assert_array_equal(cls, expected_cls)
    cls_msk = oracle["cls_msk"].reshape(len(cls), num_classes)
    np.testing.assert_array_equal(vectors["cls-msk"][s], cls_msk)
    np.testing.assert_array_equal(vectors["reg-msk"][s],
                                  np.repeat(oracle["reg_msk"][:, None], 4, axis=1))
    np.testing.assert_allclose(vectors["reg"][s], oracle["reg"], rtol=1e-5, atol=1e-5)
    assert np.all(vectors["reg"][s][~positive] == 0)


def oracle_for_mask(bb, mask2d):
    boxes, classes = seed_boxes_loop(mask2d, bb.params["min_size_blob"],
                                     bb.params["box_padding"])
    return boxes, classes, seed_targets_loop(bb, boxes, classes)


def random_masks(name, num_slices, seed, **kwargs):
    bb = config(name)
    height, width = bb.params["image_shape"]
    options = dict(lesions=(1, 4), radius=(2.0, min(height, width) / 6))
    options.update(kwargs)
    if bb.params["classes"] > 1:
        options.setdefault("tumour_labels", True)
    return lesion_masks(num_slices, (height, width), seed=seed, **options)


# --- the seed's own test vector ---------------------------------------------------------------

def test_seed_test_vector():
    bb = config("tutorial")
    msk = np.zeros((1, 240, 240, 1), np.uint8)
    msk[0, 100:140, 80:150, 0] = 1
    box = bb.convert_msk_to_box(msk)
    assert bb.find_boxes(msk)[0].tolist() == [[100, 80, 140, 150]]
    assert box["cls-c3"].sum() + box["cls-c4"].sum() == 38
    assert (box["cls-c3"].sum(), box["cls-c4"].sum()) == (32, 6)
    assert (box["cls-c3-msk"].sum(), box["cls-c4-msk"].sum()) == (7777, 1877)
    assert (box["reg-c3-msk"].sum(), box["reg-c4-msk"].sum()) == (128, 24)
    vectors = to_vectors(bb, box)
    assert vectors["cls"].sum() == 38 and (vectors["cls-msk"] == 0).sum() == 471
    # the anchor centred at (112, 104) with size 50.797
    index = np.flatnonzero(np.all(np.abs(bb.offsets - [112, 104, 50.797, 50.797]) < 1e-3, axis=1))
    assert len(index) == 1
    np.testing.assert_allclose(vectors["reg"][0, index[0]], [0.1575, 0.2165, -0.2390, 0.3207],
                               atol=1e-4)
    _, _, oracle = oracle_for_mask(bb, msk[0, ..., 0])
    assert_slice_matches_oracle(bb, vectors, 0, oracle)


# --- masks: boxes and targets per slice -------------------------------------------------------

@pytest.mark.parametrize("name, seeds, num_slices, extra", [
    ("tutorial", [0, 1], 3, dict(lesions=(1, 5))),
    ("small", [0, 1, 2, 3], 4, dict(lesions=(0, 5))),
    ("small", [10, 11], 4, dict(lesions=(4, 8), radius=(2.0, 8.0))),     # crowded, touching
    ("small-3-classes-padded", [0, 1, 2], 4, dict(lesions=(1, 5))),
    ("small-keep-all-blobs", [5, 6], 4, dict(lesions=(2, 6), radius=(1.0, 10.0))),
    ("non-square", [0, 1], 4, dict(lesions=(1, 4))),
])
def test_random_lesion_masks_match_oracle(name, seeds, num_slices, extra):
    bb = config(name)
    for seed in seeds:
        masks = random_masks(name, num_slices, seed, **extra)
        found_boxes, found_classes, found_slices = bb.find_boxes(masks)
        vectors = to_vectors(bb, bb.convert_msk_to_box(masks))
        _, _, _, matched = bb.match_anchors(masks)
        assert vectors["cls"].shape[0] == num_slices
        first_box = 0
        for s, mask in enumerate(masks):
            boxes, classes, oracle = oracle_for_mask(bb, mask)
            mine = found_slices == s
            np.testing.assert_array_equal(found_boxes[mine].reshape(-1, 4),
                                          np.reshape(boxes, (-1, 4)))
            assert found_classes[mine].tolist() == classes
            assert_slice_matches_oracle(bb, vectors, s, oracle)
            # matched box indices are global over the batch
            expected = np.where(oracle["matched"] >= 0, oracle["matched"] + first_box,
                                oracle["matched"])
            np.testing.assert_array_equal(matched[s], expected)
            first_box += len(boxes)


def test_crowded_masks_have_several_lesions_per_slice():
    # guard: the crowded case above really has slices with several (close) lesions
    masks = random_masks("small", 4, 10, lesions=(4, 8), radius=(2.0, 8.0))
    counts = [len(seed_boxes_loop(m, 0)[0]) for m in masks]
    assert max(counts) >= 4


def hand_mask():
    """Lesions that touch or nearly touch, in a 96 x 96 slice."""
    msk = np.zeros((96, 96), np.uint8)
    msk[10:20, 10:20] = 1
    msk[20:30, 20:30] = 1          # diagonal neighbour of the first: a separate lesion
    msk[10:19, 21:31] = 1          # one empty row / column from each of the first two
    msk[40:60, 40:50] = 2
    msk[40:60, 50:60] = 3          # adjacent, other label: merges with the previous (class 2)
    msk[50:52, 62:64] = 1          # small, close to the merged lesion (gap of 2 columns)
    msk[70:90, 70:90] = 1
    msk[80:85, 80:85] = 3          # a different label inside a lesion: one lesion, class 1
    msk[75, 88] = 0                # a hole does not split it
    return msk


@pytest.mark.parametrize("name", ["small", "small-3-classes-padded", "small-keep-all-blobs"])
def test_touching_and_close_lesions_match_oracle(name):
    bb = config(name)
    msk = hand_mask()
    boxes, classes, oracle = oracle_for_mask(bb, msk)
    found_boxes, found_classes, _ = bb.find_boxes(msk)
    np.testing.assert_array_equal(found_boxes, np.reshape(boxes, (-1, 4)))
    assert found_classes.tolist() == classes
    assert_slice_matches_oracle(bb, to_vectors(bb, bb.convert_msk_to_box(msk)), 0, oracle)
    _, _, _, matched = bb.match_anchors(msk)
    np.testing.assert_array_equal(matched[0], oracle["matched"])


def test_hand_mask_lesions():
    bb = config("small-keep-all-blobs")                   # no padding, min_size_blob 0
    boxes, classes, _ = bb.find_boxes(hand_mask())
    assert boxes.tolist() == [[10, 10, 20, 20], [10, 21, 19, 31], [20, 20, 30, 30],
                              [40, 40, 60, 60], [50, 62, 52, 64], [70, 70, 90, 90]]
    assert classes.tolist() == [1, 1, 1, 2, 1, 1]          # label of each first pixel
    bb3 = config("small-3-classes-padded")                # padding 2, min_size_blob 0.1
    boxes, classes, _ = bb3.find_boxes(hand_mask())
    # the 4-pixel lesion is below 0.1 x 400 pixels and dropped; boxes grow by 2 px
    assert boxes.tolist() == [[8, 8, 22, 22], [8, 19, 21, 33], [18, 18, 32, 32],
                              [38, 38, 62, 62], [68, 68, 92, 92]]
    assert classes.tolist() == [1, 1, 1, 2, 1]


def test_positive_of_one_box_is_not_hidden_by_band_of_another():
    # seed bug 3: a later box's ignore band zeroed cls-msk on an earlier box's positives
    bb = config("small")
    boxes = [[20, 20, 44, 44], [24, 24, 52, 52]]
    oracle = seed_targets_loop(bb, boxes, [1, 1])
    vectors = to_vectors(bb, bb.convert_anc_to_box(boxes, [1, 1]))
    positives_of_first = np.flatnonzero(oracle["matched"] == 0)
    assert len(positives_of_first)
    # some of these anchors are in the second box's band (the case the seed got wrong) ...
    ious2 = np.array(iou_loop(boxes[1], bb.anchors))
    up = min(bb.params["iou_upper"], ious2.max())
    lo = min(bb.params["iou_lower"], up)
    in_band_of_second = (ious2[positives_of_first] > lo) & (ious2[positives_of_first] < up)
    assert in_band_of_second.any()
    # ... and still train as positives
    assert np.all(vectors["cls"][0, positives_of_first, 0] == 1)
    assert np.all(vectors["cls-msk"][0, positives_of_first, 0] == 1)
    assert_slice_matches_oracle(bb, vectors, 0, oracle)


def test_later_box_wins_shared_positives():
    bb = config("small-3-classes-padded")
    boxes = [[30, 30, 50, 50], [30, 30, 50, 50]]       # identical boxes, classes 1 then 3
    vectors = to_vectors(bb, bb.convert_anc_to_box(boxes, [1, 3]))
    oracle = seed_targets_loop(bb, boxes, [1, 3])
    assert set(oracle["matched"][oracle["matched"] >= 0]) == {1}
    assert vectors["cls"][0, :, 0].sum() == 0 and vectors["cls"][0, :, 2].sum() > 0
    assert_slice_matches_oracle(bb, vectors, 0, oracle)


# --- random box sets through convert_anc_to_box -----------------------------------------------

@st.composite
def box_sets(draw, image_shape, num_classes):
    height, width = image_shape
    n = draw(st.integers(1, 6))
    coord = st.one_of(st.integers(-10, max(height, width)).map(float),
                      st.floats(-10, max(height, width), allow_nan=False))
    size = st.one_of(st.integers(1, 60).map(float), st.floats(0.5, 60, allow_nan=False),
                     st.just(0.0))
    boxes = []
    for _ in range(n):
        y, x, h, w = draw(coord), draw(coord), draw(size), draw(size)
        boxes.append([y, x, y + h, x + w])
    classes = draw(st.lists(st.integers(1, num_classes), min_size=n, max_size=n))
    return boxes, classes


@pytest.mark.parametrize("name", ["small", "small-3-classes-padded", "non-square"])
def test_random_box_sets_match_oracle(name):
    bb = config(name)

    @SETTINGS
    @given(box_sets(bb.params["image_shape"], bb.params["classes"]))
    def check(data):
        boxes, classes = data
        vectors = to_vectors(bb, bb.convert_anc_to_box(boxes, classes))
        assert vectors["cls"].shape[0] == 1
        assert_slice_matches_oracle(bb, vectors, 0, seed_targets_loop(bb, boxes, classes))

    check()


def test_random_box_sets_tutorial_config():
    bb = config("tutorial")
    rng = np.random.default_rng(7)
    for _ in range(4):
        n = int(rng.integers(1, 5))
        corners = rng.uniform(0, 240, (n, 2))
        sizes = rng.uniform(3, 90, (n, 2))
        boxes = np.concatenate([corners, corners + sizes], axis=1).round(1).tolist()
        vectors = to_vectors(bb, bb.convert_anc_to_box(boxes, [1] * n))
        assert_slice_matches_oracle(bb, vectors, 0, seed_targets_loop(bb, boxes, [1] * n))


# --- 5-D batches: every slice as if alone (seed bug 8 fixed) ----------------------------------

@pytest.mark.parametrize("name", ["small", "small-3-classes-padded", "tutorial"])
@pytest.mark.parametrize("batch, depth", [(3, 1), (1, 3), (2, 3), (1, 1)])
def test_batches_equal_single_slices(name, batch, depth):
    bb = config(name)
    height, width = bb.params["image_shape"]
    masks = random_masks(name, batch * depth, seed=100 + batch * 10 + depth, lesions=(0, 4))
    batch_mask = masks.reshape(batch, depth, height, width, 1)
    box = bb.convert_msk_to_box(batch_mask)
    for key, value in box.items():
        assert value.shape[:2] == (batch, depth), key
    _, _, slice_index, matched = bb.match_anchors(batch_mask)
    assert matched.shape == (batch * depth, len(bb.anchors))
    check_oracle = name != "tutorial" or batch * depth <= 3
    for b in range(batch):
        for z in range(depth):
            single = bb.convert_msk_to_box(batch_mask[b, z])        # (H, W, 1): one slice
            for key, value in single.items():
                assert value.shape[0] == 1
                np.testing.assert_array_equal(box[key][b, z], value[0], err_msg=key)
            s = b * depth + z
            offset = int(np.sum(slice_index < s))
            _, _, _, single_matched = bb.match_anchors(batch_mask[b, z])
            np.testing.assert_array_equal(
                matched[s], np.where(single_matched[0] >= 0, single_matched[0] + offset,
                                     single_matched[0]))
            if check_oracle:
                _, _, oracle = oracle_for_mask(bb, masks[s])
                assert_slice_matches_oracle(bb, to_vectors(bb, single), 0, oracle)


@pytest.mark.parametrize("shape", ["ZHW", "ZHW1"])
def test_stacks_equal_single_slices(shape):
    bb = config("small")
    masks = random_masks("small", 3, seed=42)
    stack = masks if shape == "ZHW" else masks[..., None]
    box = bb.convert_msk_to_box(stack)
    for z in range(3):
        single = bb.convert_msk_to_box(masks[z])
        for key, value in single.items():
            assert box[key].shape[0] == 3
            np.testing.assert_array_equal(box[key][z], value[0], err_msg=key)


def test_single_slice_layouts_agree():
    bb = config("small")
    msk = random_masks("small", 1, seed=3)[0]
    reference = bb.convert_msk_to_box(msk)
    for layout in (msk[..., None], msk[None], msk[None, ..., None]):
        box = bb.convert_msk_to_box(layout)
        assert list(box) == list(reference)
        for key in reference:
            assert box[key].shape == reference[key].shape == (1, *reference[key].shape[1:])
            np.testing.assert_array_equal(box[key], reference[key])


def test_sentinels_of_reference_and_library_agree():
    assert (boxloc.BACKGROUND, boxloc.IGNORE) == (BACKGROUND, IGNORE)
