"""Bad inputs: every validation error is a ValueError that names the offending argument, and
inputs that are legal but degenerate (empty masks, NaN/inf logits or deltas, zero-area
boxes) never crash and never produce NaN."""

import numpy as np
import pytest

from reference import iou_loop

from boxloc import BoundingBox

SMALL = dict(image_shape=(64, 64), c=[3, 4], anchor_shapes=[16, 32])


@pytest.fixture(scope="module")
def bb():
    return BoundingBox(**SMALL)


@pytest.fixture(scope="module")
def bb3():
    return BoundingBox(**SMALL, classes=3)


def lesion_mask(shape=(64, 64), label=1):
    msk = np.zeros(shape, dtype=np.uint8)
    msk[20:34, 10:30] = label
    return msk


# --- BoundingBox constructor ------------------------------------------------------------------

def make(**overrides):
    return BoundingBox(**{**SMALL, **overrides})


@pytest.mark.parametrize("overrides, pattern", [
    # a level whose grid has no cell
    (dict(image_shape=(240, 240), c=[8], anchor_shapes=[16]), r"c=8"),
    (dict(image_shape=(240, 240), c=[3, 8], anchor_shapes=[16, 32]), r"c=8"),
    (dict(image_shape=(16, 240), c=[5], anchor_shapes=[16]), r"c=5"),
    (dict(c=[-1], anchor_shapes=[16]), r"c\[0\]"),
    (dict(c=[], anchor_shapes=[]), r"\bc\b"),
    (dict(c=[3, 3], anchor_shapes=[16, 32]), r"\bc\b.*repeat"),
    # one anchor shape per level
    (dict(anchor_shapes=[16]), r"anchor_shapes"),
    (dict(anchor_shapes=[16, 32, 64]), r"anchor_shapes"),
    (dict(anchor_shapes=[16, 0]), r"anchor_shapes\[1\]"),
    (dict(anchor_shapes=[-16, 32]), r"anchor_shapes\[0\]"),
    (dict(anchor_shapes=[16, float("nan")]), r"anchor_shapes\[1\]"),
    (dict(anchor_shapes=[16, float("inf")]), r"anchor_shapes\[1\]"),
    (dict(anchor_shapes=16), r"anchor_shapes"),
    # ratios and scales
    (dict(anchor_ratios=[0.5, 0, 2]), r"anchor_ratios\[1\]"),
    (dict(anchor_ratios=[-1]), r"anchor_ratios\[0\]"),
    (dict(anchor_ratios=[float("nan")]), r"anchor_ratios\[0\]"),
    (dict(anchor_ratios=[]), r"anchor_ratios"),
    (dict(anchor_scales=[0, float("nan")]), r"anchor_scales\[1\]"),
    (dict(anchor_scales=[]), r"anchor_scales"),
    # thresholds
    (dict(iou_lower=0.8, iou_upper=0.5), r"iou_lower.*iou_upper"),
    (dict(iou_upper=1.5), r"iou_upper"),
    (dict(iou_upper=-0.1), r"iou_upper"),
    (dict(iou_upper=float("nan")), r"iou_upper"),
    (dict(iou_lower=-0.1), r"iou_lower"),
    (dict(iou_lower=float("nan")), r"iou_lower"),
    (dict(iou_nms=1.01), r"iou_nms"),
    (dict(iou_nms=-1), r"iou_nms"),
    (dict(iou_nms=float("nan")), r"iou_nms"),
    (dict(cls_threshold=2), r"cls_threshold"),
    (dict(cls_threshold=-0.5), r"cls_threshold"),
    (dict(cls_threshold=float("nan")), r"cls_threshold"),
    (dict(min_size_blob=1.5), r"min_size_blob"),
    (dict(min_size_blob=-0.1), r"min_size_blob"),
    (dict(min_size_blob=float("nan")), r"min_size_blob"),
    (dict(iou_upper="0.5"), r"iou_upper"),
    (dict(iou_nms=True), r"iou_nms"),
    # image_shape
    (dict(image_shape=(240,)), r"image_shape"),
    (dict(image_shape=(0, 240)), r"image_shape"),
    (dict(image_shape=(-240, 240)), r"image_shape"),
    (dict(image_shape=(240.5, 240)), r"image_shape"),
    (dict(image_shape="240x240"), r"image_shape"),
    (dict(image_shape=(True, 240)), r"image_shape"),
    (dict(image_shape=(240, 240, 1)), r"image_shape"),
    (dict(image_shape=240), r"image_shape"),
    (dict(image_shape=None), r"image_shape"),
    # the rest
    (dict(classes=0), r"classes"),
    (dict(classes=-1), r"classes"),
    (dict(classes=1.5), r"classes"),
    (dict(classes=True), r"classes"),
    (dict(box_padding=-1), r"box_padding"),
    (dict(box_padding=1.5), r"box_padding"),
    (dict(separate_maps=False), r"separate_maps"),
    (dict(match_rule="hungarian"), r"match_rule"),
    (dict(match_rule=None), r"match_rule"),
])
def test_constructor_rejects(overrides, pattern):
    with pytest.raises(ValueError, match=pattern):
        make(**overrides)


def test_constructor_accepts_edge_values():
    # the boundary values themselves are legal
    bb = make(iou_upper=1, iou_lower=0, iou_nms=0, cls_threshold=0, min_size_blob=0,
              box_padding=0, image_shape=(np.int64(64), 64), classes=np.int32(2))
    assert bb.params["iou_nms"] == 0 and bb.params["cls_threshold"] == 0
    assert bb.params["image_shape"] == [64, 64]
    bb = make(iou_upper=0.5, iou_lower=0.5)
    assert bb.params["iou_lower"] == bb.params["iou_upper"] == 0.5
    # the largest level that still has one cell
    bb = BoundingBox((240, 240), c=[7], anchor_shapes=[64])
    assert bb.params["anchor_gsizes"] == [[1, 1]]


# --- masks given to convert_msk_to_box / find_boxes / match_anchors -------------------------

@pytest.mark.parametrize("shape", [
    (63, 64), (64, 63), (64, 64, 2), (2, 64, 64, 2), (1, 1, 1, 64, 64, 1), (64,), (64 * 64,),
    (), (1, 2, 64, 64, 1, 1), (2, 64, 64, 3), (1, 1, 64, 64, 2),
])
def test_mask_of_wrong_shape(bb, shape):
    msk = np.zeros(shape, dtype=np.uint8)
    for method in (bb.convert_msk_to_box, bb.find_boxes, bb.match_anchors):
        with pytest.raises(ValueError, match=r"msk"):
            method(msk)


@pytest.mark.parametrize("value, pattern", [
    (np.nan, r"msk.*NaN"),
    (np.inf, r"msk.*inf"),
    (-np.inf, r"msk.*inf"),
    (-1, r"msk.*negative"),
    (0.5, r"msk.*integer"),
    (1.25, r"msk.*integer"),
])
def test_mask_with_bad_values(bb, value, pattern):
    msk = lesion_mask().astype(np.float64)
    msk[40, 40] = value
    for method in (bb.convert_msk_to_box, bb.find_boxes, bb.match_anchors):
        with pytest.raises(ValueError, match=pattern):
            method(msk)
    with pytest.raises(ValueError, match=pattern):          # and in a 5-D batch
        bb.convert_msk_to_box(np.stack([lesion_mask(), msk])[:, None, ..., None])


def test_mask_with_negative_int_labels(bb):
    msk = lesion_mask().astype(np.int16)
    msk[0, 0] = -3
    with pytest.raises(ValueError, match=r"msk.*negative"):
        bb.convert_msk_to_box(msk)


@pytest.mark.parametrize("dtype", ["U1", "S1", object, complex])
def test_mask_with_non_numeric_dtype(bb, dtype):
    msk = np.zeros((64, 64), dtype=dtype)
    with pytest.raises(ValueError, match=r"msk"):
        bb.convert_msk_to_box(msk)


def test_mask_label_above_classes(bb3):
    with pytest.raises(ValueError, match=r"msk holds label 4, which exceeds classes=3"):
        bb3.convert_msk_to_box(lesion_mask(label=4))
    with pytest.raises(ValueError, match=r"classes"):
        bb3.convert_anc_to_box([[0, 0, 10, 10]], [4])


def test_mask_labels_above_one_are_foreground_when_single_class(bb):
    # the seed wrote the raw label into cls (and 1 - label into cls-msk); any label > 0 is 1
    box = bb.convert_msk_to_box(lesion_mask(label=7))
    reference = bb.convert_msk_to_box(lesion_mask(label=1))
    for key in box:
        np.testing.assert_array_equal(box[key], reference[key])
    assert box["cls-c3"].max() == 1
    assert set(np.unique(box["cls-c3-msk"])) <= {0.0, 1.0}


def test_float_and_bool_masks_with_integer_values_are_accepted(bb):
    reference = bb.convert_msk_to_box(lesion_mask())
    for msk in (lesion_mask().astype(np.float32), lesion_mask().astype(bool),
                lesion_mask().astype(np.int64)):
        box = bb.convert_msk_to_box(msk)
        for key in reference:
            np.testing.assert_array_equal(box[key], reference[key])


# --- empty masks ------------------------------------------------------------------------------

def assert_all_negative(bb, box, lead):
    for level, (gh, gw) in zip(bb.params["c"], bb.params["anchor_gsizes"]):
        a = bb.anchor_set.num_per_location
        k = bb.params["classes"]
        cls, reg = box[f"cls-c{level}"], box[f"reg-c{level}"]
        cls_msk, reg_msk = box[f"cls-c{level}-msk"], box[f"reg-c{level}-msk"]
        assert cls.shape == cls_msk.shape == (*lead, gh, gw, a * k)
        assert reg.shape == reg_msk.shape == (*lead, gh, gw, a * 4)
        assert np.all(cls == 0)
        assert np.all(cls_msk == 1)
        assert np.all(reg == 0)
        assert np.all(reg_msk == 0)


@pytest.mark.parametrize("shape, lead", [
    ((64, 64), (1,)), ((64, 64, 1), (1,)), ((1, 64, 64), (1,)), ((1, 64, 64, 1), (1,)),
    ((3, 64, 64), (3,)), ((3, 64, 64, 1), (3,)),
    ((2, 1, 64, 64, 1), (2, 1)), ((1, 3, 64, 64, 1), (1, 3)), ((2, 3, 64, 64, 1), (2, 3)),
    ((1, 1, 64, 64, 1), (1, 1)),
])
@pytest.mark.parametrize("classes", [1, 3])
def test_empty_masks_give_all_negative_targets(shape, lead, classes):
    bb = BoundingBox(**SMALL, classes=classes)
    box = bb.convert_msk_to_box(np.zeros(shape, dtype=np.uint8))
    assert_all_negative(bb, box, lead)
    boxes, labels, slices, matched = bb.match_anchors(np.zeros(shape, dtype=np.uint8))
    assert boxes.shape == (0, 4) and labels.shape == slices.shape == (0,)
    assert matched.shape == (int(np.prod(lead)), len(bb.anchors))
    assert np.all(matched == -1)


def test_no_boxes_give_all_negative_targets(bb):
    assert_all_negative(bb, bb.convert_anc_to_box([], []), (1,))
    assert_all_negative(bb, bb.convert_anc_to_box(np.zeros((0, 4)), np.zeros(0, int)), (1,))


@pytest.mark.parametrize("boxes", [
    [[5, 5, 5, 5]], [[0, 0, 0, 20]], [[0, 0, 20, 0]], [[5, 5, 5, 5], [0, 0, 0, 20]],
    [[30, 30, 29, 29]], [[60, 60, 2, 2]],
])
def test_degenerate_boxes_give_all_negative_targets(bb, boxes):
    # zero-area and inverted boxes overlap no anchor: no positive, no ignore band, no NaN
    with np.errstate(all="raise"):
        box = bb.convert_anc_to_box(boxes, [1] * len(boxes))
    assert_all_negative(bb, box, (1,))


@pytest.mark.parametrize("boxes", [[[30, 10, 10, 40]], [[10, 30, 40, 10]], [[30, 30, 10, 10]],
                                   [[5, 5, 5, 5], [30, 30, 10, 10]]])
def test_inverted_boxes_give_all_negative_targets(bb, boxes):
    with np.errstate(all="raise"):
        box = bb.convert_anc_to_box(boxes, [1] * len(boxes))
    assert_all_negative(bb, box, (1,))


def test_single_pixel_lesion_gets_a_positive(bb):
    msk = np.zeros((64, 64), np.uint8)
    msk[33, 17] = 1
    box = bb.convert_msk_to_box(msk)
    assert sum(box[f"cls-c{c}"].sum() for c in bb.params["c"]) >= 1
    assert all(np.all(np.isfinite(v)) for v in box.values())


# --- convert_anc_to_box -----------------------------------------------------------------------

@pytest.mark.parametrize("boxes, classes, pattern", [
    (np.zeros((3, 5)), [1, 1, 1], r"anchors.*\(M, 4\)"),
    (np.zeros((3, 3)), [1, 1, 1], r"anchors.*\(M, 4\)"),
    (np.zeros((2, 2, 4)), [1, 1], r"anchors.*\(M, 4\)"),
    (np.zeros(4), [1], r"anchors.*\(M, 4\)"),
    ([[0, 0, 10, np.nan]], [1], r"anchors.*finite"),
    ([[0, 0, 10, np.inf]], [1], r"anchors.*finite"),
    ([[0, 0, 10, 10]], [1, 1], r"classes"),
    ([[0, 0, 10, 10], [5, 5, 9, 9]], [1], r"classes"),
    ([[0, 0, 10, 10]], [], r"classes"),
    ([[0, 0, 10, 10]], [0], r"classes"),
    ([[0, 0, 10, 10]], [-1], r"classes"),
])
def test_convert_anc_to_box_rejects(bb, boxes, classes, pattern):
    with pytest.raises(ValueError, match=pattern):
        bb.convert_anc_to_box(boxes, classes)


# --- decoding ---------------------------------------------------------------------------------

def test_convert_box_to_anc_missing_key(bb):
    box = bb.convert_msk_to_box(lesion_mask())
    for key in ("cls-c3", "cls-c4", "reg-c3", "reg-c4"):
        broken = {k: v for k, v in box.items() if k != key}
        with pytest.raises(ValueError, match=key):
            bb.convert_box_to_anc(broken)
        with pytest.raises(ValueError, match=key):
            bb.convert_box_to_msk(broken)


def test_convert_box_to_anc_ignores_missing_mask_keys(bb):
    box = bb.convert_msk_to_box(lesion_mask())
    logits_only = {k: v for k, v in box.items() if not k.endswith("-msk")}
    full = bb.convert_box_to_anc(box)
    part = bb.convert_box_to_anc(logits_only)
    np.testing.assert_array_equal(full[0], part[0])


@pytest.mark.parametrize("key, shape", [
    ("cls-c3", (1, 8, 8, 8)),        # wrong channel count
    ("cls-c3", (1, 7, 8, 9)),        # wrong grid
    ("reg-c4", (1, 4, 4, 35)),
    ("reg-c4", (1, 4, 4)),           # too few axes
    ("cls-c4", (36,)),
])
def test_convert_box_to_anc_wrong_map_shape(bb, key, shape):
    box = bb.convert_msk_to_box(lesion_mask())
    box[key] = np.zeros(shape, np.float32)
    with pytest.raises(ValueError, match=key):
        bb.convert_box_to_anc(box)


def test_convert_box_to_anc_inconsistent_leading_axes_between_levels(bb):
    box = bb.convert_msk_to_box(lesion_mask())
    box["cls-c4"] = np.concatenate([box["cls-c4"]] * 2)
    with pytest.raises(ValueError, match="cls-c4"):
        bb.convert_box_to_anc(box)


def test_convert_box_to_anc_reg_and_cls_with_different_slice_counts(bb):
    box = bb.convert_msk_to_box(lesion_mask())
    box["reg-c3"] = np.concatenate([box["reg-c3"]] * 2)
    box["reg-c4"] = np.concatenate([box["reg-c4"]] * 2)
    with pytest.raises(ValueError, match="reg-c3"):
        bb.convert_box_to_anc(box)


def test_convert_box_to_anc_not_a_dict(bb):
    with pytest.raises(ValueError, match="box"):
        bb.convert_box_to_anc([np.zeros((1, 8, 8, 9))])


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(iou_nms=1.5), "iou_nms"), (dict(iou_nms=-0.1), "iou_nms"),
    (dict(iou_nms=np.nan), "iou_nms"), (dict(cls_threshold=1.5), "cls_threshold"),
    (dict(cls_threshold=-0.1), "cls_threshold"), (dict(cls_threshold=np.nan), "cls_threshold"),
    (dict(iou_nms="0.5"), "iou_nms"),
])
def test_decoding_thresholds_outside_unit_interval(bb, kwargs, pattern):
    box = bb.convert_msk_to_box(lesion_mask())
    with pytest.raises(ValueError, match=pattern):
        bb.convert_box_to_anc(box, **kwargs)
    with pytest.raises(ValueError, match=pattern):
        bb.convert_box_to_msk(box, **kwargs)
    if "iou_nms" in kwargs:
        with pytest.raises(ValueError, match=pattern):
            bb.apply_nms([[0, 0, 1, 1]], [1.0], kwargs["iou_nms"])


def logits_dict(bb, fill_cls=-10.0, fill_reg=0.0, lead=(1,)):
    box = {}
    a, k = bb.anchor_set.num_per_location, bb.params["classes"]
    for level, (gh, gw) in zip(bb.params["c"], bb.params["anchor_gsizes"]):
        box[f"cls-c{level}"] = np.full((*lead, gh, gw, a * k), fill_cls, np.float32)
        box[f"reg-c{level}"] = np.full((*lead, gh, gw, a * 4), fill_reg, np.float32)
    return box


def test_nan_and_inf_logits(bb):
    box = logits_dict(bb)
    cls = box["cls-c3"]
    cls[0, 2, 2, 4] = np.nan        # anchor (2, 2, template 4): never selected
    cls[0, 5, 5, 4] = np.inf        # anchor (5, 5, template 4): score 1, selected
    cls[0, 6, 1, 4] = -np.inf       # score 0, not selected
    a = bb.anchor_set.num_per_location
    with np.errstate(all="raise"):
        anchors, classes, scores = bb.convert_box_to_anc(box, return_scores=True)
        plain, plain_classes = bb.convert_box_to_anc(box, apply_deltas=False)
    index_inf = (5 * 8 + 5) * a + 4
    np.testing.assert_allclose(anchors, bb.apply_deltas(np.zeros((1, 4)),
                                                        bb.offsets[[index_inf]])[0])
    assert classes.tolist() == [[True]]
    assert scores.tolist() == [[1.0]]
    np.testing.assert_array_equal(plain, bb.anchors[[index_inf]].astype(np.float32))
    assert plain_classes.tolist() == [[True]]
    # even at threshold 0, a NaN score is never selected
    anchors, _ = bb.convert_box_to_anc(box, cls_threshold=0, apply_deltas=False)
    assert len(anchors) == len(bb.anchors) - 2      # all but the NaN and the -inf logits


def test_all_nan_logits_select_nothing(bb):
    box = logits_dict(bb, fill_cls=np.nan, fill_reg=np.nan)
    anchors, classes = bb.convert_box_to_anc(box)
    assert anchors.shape == (0, 4) and classes.shape == (0, 1)
    msk = bb.convert_box_to_msk(box)
    assert msk.shape == (1, 64, 64, 1) and msk.max() == 0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("component", [0, 1, 2, 3])
def test_non_finite_deltas_never_crash(bb, bad, component):
    box = logits_dict(bb)
    a = bb.anchor_set.num_per_location
    box["cls-c3"][0, 3, 3, 4] = 10.0                       # one selected anchor ...
    box["reg-c3"][0, 3, 3, 4 * 4 + component] = bad        # ... with a bad delta
    box["cls-c3"][0, 0, 7, 0] = 5.0                        # and a healthy one far away
    with np.errstate(invalid="raise", divide="raise"):
        anchors, classes, scores = bb.convert_box_to_anc(box, return_scores=True)
    assert np.all(np.isfinite(anchors)) and np.all(np.isfinite(scores))
    healthy = bb.apply_deltas(np.zeros((1, 4)), bb.offsets[[(0 * 8 + 7) * a + 0]])[0]
    if component >= 2 and not np.isnan(bad):
        # a size delta of +inf is capped, of -inf gives a zero-size box: both stay finite
        assert len(anchors) == 2
        assert np.all(anchors[:, 2] >= anchors[:, 0])
    else:
        # NaN in any delta, or an infinite centre shift: the box is dropped
        np.testing.assert_array_equal(anchors, healthy)
    msk = bb.convert_box_to_msk(box)
    assert msk.shape == (1, 64, 64, 1)


def test_huge_size_deltas_are_capped(bb):
    box = logits_dict(bb, fill_reg=1e30)
    box["cls-c4"][0, 1, 1, 4] = 10.0
    with np.errstate(over="raise", invalid="raise"):
        anchors, _ = bb.convert_box_to_anc(box)
    # the box lands far away (centre shift 1e30 x h) with its size capped at ln(1000/16)
    assert anchors.shape == (1, 4) and np.all(np.isfinite(anchors))
    height = anchors[0, 2] - anchors[0, 0]
    assert height <= 1000 / 16 * bb.offsets[:, 2].max() * (1 + 1e-6)


@pytest.mark.parametrize("boxes", [
    [[5, 5, 5, 5], [5, 5, 5, 5]],
    [[10, 10, 0, 0], [10, 10, 0, 0]],
    [[0, 0, 0, 0], [0, 0, 10, 10], [10, 10, 10, 10]],
])
def test_degenerate_boxes_in_nms_and_ious(bb, boxes):
    with np.errstate(all="raise"):
        keep = bb.apply_nms(boxes, np.ones(len(boxes)), 0.0)
        ious = bb.calculate_ious(boxes[0], np.array(boxes, float))
        all_ious = bb.calculate_ious(boxes[0])
    assert np.all(np.isfinite(ious)) and np.all(np.isfinite(all_ious))
    assert ious.tolist() == [0.0] * len(boxes)
    assert np.all(all_ious == 0)
    # no degenerate box suppresses anything, or is suppressed
    degenerate = [i for i, b in enumerate(boxes) if b[2] <= b[0] or b[3] <= b[1]]
    assert set(degenerate) <= set(keep.tolist())


def test_nan_boxes_in_calculate_ious(bb):
    ious = bb.calculate_ious([np.nan, 0, 10, 10])
    assert ious.shape == (len(bb.anchors),) and np.all(ious == 0)
    boxes = np.array([[0, 0, 10, 10], [np.nan, 0, 5, 5]])
    assert bb.calculate_ious([0, 0, 10, 10], boxes).tolist() == [1.0, 0.0]
    assert iou_loop([0, 0, 10, 10], boxes) == [1.0, 0.0]


# --- generator --------------------------------------------------------------------------------

def test_generator_missing_mask_key(bb):
    batches = iter([({"dat": np.zeros((1, 1, 64, 64, 1))}, {"seg": np.zeros((1, 1, 64, 64, 1))})])
    with pytest.raises(ValueError, match=r"lbl"):
        next(bb.generator(batches))
    batches = iter([({"dat": np.zeros((1, 1, 64, 64, 1))}, {"lbl": np.zeros((1, 1, 64, 64, 1))})])
    with pytest.raises(ValueError, match=r"seg"):
        next(bb.generator(batches, msk="seg"))


def test_generator_passes_bad_masks_errors_through(bb):
    msk = np.full((1, 1, 64, 64, 1), 0.5)
    with pytest.raises(ValueError, match=r"msk.*integer"):
        next(bb.generator(iter([({"dat": msk}, {"lbl": msk})])))
