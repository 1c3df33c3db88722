"""BoundingBox: the seed's worked example, round trips, the seed defects that are fixed,
match rules and the generators."""

import numpy as np
import pytest

from boxloc import BoundingBox
from boxloc.boxes import iou_matrix
from boxloc.examples import lesion_masks
from boxloc.targets import maps_to_vectors

SEED_2021 = dict(image_shape=(240, 240), c=[3, 4], anchor_shapes=[32, 64],
                 iou_upper=0.5, iou_lower=0.2)


@pytest.fixture
def bb():
    return BoundingBox(**SEED_2021)


def worked_example_mask():
    msk = np.zeros((1, 240, 240, 1), dtype=np.uint8)
    msk[0, 100:140, 80:150] = 1
    return msk


def vectors(bb, box, kind):
    """(S, N, D) per-anchor vectors of ``kind`` ('cls', 'reg', 'cls-msk', 'reg-msk')."""
    name = kind.split("-")[0]
    depth = bb.params["classes"] if name == "cls" else 4
    return maps_to_vectors(box, bb.anchor_set, bb.params["c"], name, depth, kind.endswith("msk"))


def test_seed_worked_example(bb):
    box = bb.convert_msk_to_box(worked_example_mask())
    assert list(box) == ["cls-c3", "reg-c3", "cls-c3-msk", "reg-c3-msk",
                         "cls-c4", "reg-c4", "cls-c4-msk", "reg-c4-msk"]
    assert box["cls-c3"].shape == (1, 30, 30, 9) and box["cls-c3"].dtype == np.uint8
    assert box["reg-c4"].shape == (1, 15, 15, 36) and box["reg-c4"].dtype == np.float32
    assert box["cls-c3-msk"].dtype == box["reg-c3-msk"].dtype == np.float32
    assert bb.calculate_ious([100, 80, 140, 150]).max() == pytest.approx(0.8296, abs=1e-4)
    assert (box["cls-c3"].sum(), box["cls-c4"].sum()) == (32, 6)
    assert (box["cls-c3-msk"].sum(), box["cls-c4-msk"].sum()) == (7777, 1877)
    assert 10125 - 7777 - 1877 == 471
    assert (box["reg-c3-msk"].sum(), box["reg-c4-msk"].sum()) == (128, 24)
    anchor = np.flatnonzero(np.all(np.abs(bb.offsets - [112, 104, 50.797, 50.797]) < 1e-3, axis=1))
    assert len(anchor) == 1
    np.testing.assert_allclose(vectors(bb, box, "reg")[0, anchor[0]],
                               [0.1575, 0.2165, -0.2390, 0.3207], atol=1e-4)


def test_channel_layout_is_template_major(bb):
    """Channel a*4 + d of reg-c3 at cell (i, j) is delta d of anchor (i*gw + j)*A + a."""
    box = bb.convert_msk_to_box(worked_example_mask())
    reg = vectors(bb, box, "reg")[0]
    i, j, a = 14, 13, 7
    np.testing.assert_array_equal(box["reg-c3"][0, i, j, a * 4:(a + 1) * 4],
                                  reg[(i * 30 + j) * 9 + a])


def test_decoding_uint8_ground_truth_on_numpy2(bb):
    box = bb.convert_msk_to_box(worked_example_mask())
    anchors, classes = bb.convert_box_to_anc(box, apply_deltas=False)
    assert anchors.shape == (38, 4) and anchors.dtype == np.float32
    assert classes.shape == (38, 1) and classes.dtype == bool and classes.all()
    refined, classes = bb.convert_box_to_anc(box)
    np.testing.assert_allclose(refined, [[100, 80, 140, 150]], atol=1e-4)


def separated_lesions():
    """Three slices with 0, 1 and 3 lesions far apart (no two boxes overlap)."""
    msk = np.zeros((3, 240, 240), dtype=np.uint8)
    msk[1, 50:90, 60:75] = 1
    msk[2, 20:30, 20:36] = 1
    msk[2, 100:160, 140:200] = 1
    msk[2, 200:212, 40:47] = 1
    return msk


@pytest.mark.parametrize("rule", ["seed", "torchvision"])
def test_round_trip_reproduces_every_box_and_nms_collapses_to_one(rule):
    bb = BoundingBox(**SEED_2021, match_rule=rule)
    msk = separated_lesions()
    gt_boxes, _, gt_slice = bb.find_boxes(msk)
    decoded, _ = bb.convert_box_to_anc(bb.convert_msk_to_box(msk))
    before_nms, _ = bb.convert_box_to_anc(bb.convert_msk_to_box(msk), iou_nms=1.0)
    for s in range(3):
        expected = gt_boxes[gt_slice == s]
        # every refined positive coincides with its ground-truth box ...
        assert len(before_nms[s]) > len(expected) or len(expected) == 0
        distance = np.abs(before_nms[s][:, None] - expected[None]).max(axis=2) if len(expected) else None
        if len(expected):
            assert np.all(distance.min(axis=1) < 1e-4)
        # ... so NMS leaves exactly one box per object
        assert len(decoded[s]) == len(expected)
        if len(expected):
            order = np.lexsort(decoded[s].T[::-1])
            np.testing.assert_allclose(decoded[s][order], expected[np.lexsort(expected.T[::-1])],
                                       atol=1e-4)


def test_round_trip_on_random_lesions():
    bb = BoundingBox(**SEED_2021)
    msk = lesion_masks(12, lesions=(1, 4), seed=7)
    gt_boxes, _, gt_slice = bb.find_boxes(msk)
    decoded, _ = bb.convert_box_to_anc(bb.convert_msk_to_box(msk), iou_nms=1.0)
    for s in range(12):
        expected = gt_boxes[gt_slice == s]
        distance = np.abs(decoded[s][:, None] - expected[None]).max(axis=2)    # (n, m)
        assert np.all(distance.min(axis=1) < 1e-4)      # every refined box is a GT box


def test_labels_above_one_are_foreground_when_classes_is_1(bb):
    msk = worked_example_mask() * 3      # BraTS label 3 without binarising
    box = bb.convert_msk_to_box(msk)
    reference = bb.convert_msk_to_box(worked_example_mask())
    for key in box:
        np.testing.assert_array_equal(box[key], reference[key])
    assert set(np.unique(box["cls-c3-msk"])) <= {0.0, 1.0}


def test_multi_class_encode_and_decode():
    bb = BoundingBox(**SEED_2021, classes=3)
    msk = np.zeros((240, 240), dtype=np.uint8)
    msk[20:60, 20:60] = 1
    msk[100:140, 150:200] = 3
    box = bb.convert_msk_to_box(msk)
    assert box["cls-c3"].shape == (1, 30, 30, 27)
    cls = vectors(bb, box, "cls")[0]                   # (N, 3)
    assert cls[:, 1].sum() == 0 and cls[:, 0].sum() > 0 and cls[:, 2].sum() > 0
    anchors, classes = bb.convert_box_to_anc(box)
    assert classes.shape == (2, 3)
    by_class = {int(np.argmax(c)) + 1: a for a, c in zip(anchors, classes)}
    np.testing.assert_allclose(by_class[1], [20, 20, 60, 60], atol=1e-4)
    np.testing.assert_allclose(by_class[3], [100, 150, 140, 200], atol=1e-4)
    drawn = bb.convert_box_to_msk(box, random_values=False)
    assert drawn.shape == (1, 240, 240, 1) and set(np.unique(drawn)) == {0, 1, 3}


def test_positive_anchor_never_masked_by_another_boxes_ignore_band(bb):
    # two adjacent lesions: some positives of one lie in the other's ignore band
    msk = np.zeros((240, 240), dtype=np.uint8)
    msk[100:140, 80:112] = 1
    msk[100:140, 114:150] = 1
    boxes, _, _ = bb.find_boxes(msk)
    assert len(boxes) == 2
    box = bb.convert_msk_to_box(msk)
    cls, cls_msk = vectors(bb, box, "cls")[0, :, 0], vectors(bb, box, "cls-msk")[0, :, 0]
    assert cls.sum() > 0 and np.all(cls_msk[cls == 1] == 1)
    # the seed would have hidden these: positives inside the other box's band
    iou = iou_matrix(boxes, bb.anchors)
    hidden_by_seed = (cls == 1) & np.any((iou > 0.2) & (iou < 0.5), axis=0)
    assert hidden_by_seed.sum() > 0


def test_match_rules_differ_where_documented():
    small = np.zeros((240, 240), dtype=np.uint8)
    small[100:104, 100:104] = 1                         # 4x4: best IoU far below 0.5
    counts = {}
    for rule in ("seed", "torchvision", "threshold"):
        bb = BoundingBox(**SEED_2021, match_rule=rule)
        counts[rule] = int(bb.convert_msk_to_box(small)["cls-c3"].sum()
                           + bb.convert_msk_to_box(small)["cls-c4"].sum())
    assert counts["seed"] >= 1 and counts["torchvision"] >= 1 and counts["threshold"] == 0


def test_torchvision_rule_gives_contested_anchor_to_the_higher_iou_box():
    overlapping = [[100, 80, 140, 150], [104, 84, 144, 154]]
    seed = BoundingBox(**SEED_2021, match_rule="seed")
    torchvision = BoundingBox(**SEED_2021, match_rule="torchvision")
    iou = iou_matrix(overlapping, seed.anchors)                     # (2, N)
    for bb, pick in ((seed, "later"), (torchvision, "best")):
        box = bb.convert_anc_to_box(overlapping, [1, 1])
        reg = vectors(bb, box, "reg")[0]
        positives = np.flatnonzero(vectors(bb, box, "cls")[0, :, 0])
        decoded, _ = bb.apply_deltas(reg[positives], bb.offsets[positives])
        target = np.array(overlapping)[np.argmin(
            np.abs(decoded[:, None] - np.array(overlapping)[None]).max(axis=2), axis=1)]
        contested = positives[(iou[:, positives] >= 0.5).all(axis=0)]
        assert len(contested) > 0
        for n in contested:
            row = target[np.flatnonzero(positives == n)[0]]
            expected = overlapping[1] if pick == "later" else overlapping[int(np.argmax(iou[:, n]))]
            np.testing.assert_allclose(row, expected, atol=1e-3)


def test_zero_thresholds_mean_zero(bb):
    box = bb.convert_msk_to_box(worked_example_mask())
    all_anchors, _ = bb.convert_box_to_anc(box, apply_deltas=False, cls_threshold=0)
    assert len(all_anchors) == 10125                   # sigmoid(0) = 0.5 > 0
    logits = {k: np.where(v > 0, 4.0, -4.0).astype(np.float32) if k.startswith("cls") else v
              for k, v in box.items()}
    logits = {k: (v + np.random.default_rng(0).normal(0, 0.05, v.shape)).astype(np.float32)
              if k.startswith("reg") and not k.endswith("msk") else v for k, v in logits.items()}
    kept_default, _ = bb.convert_box_to_anc(logits)
    kept_zero, _ = bb.convert_box_to_anc(logits, iou_nms=0)
    assert len(kept_zero) == 1 and len(kept_default) >= 1


def test_non_square_images_draw_on_the_right_axes():
    bb = BoundingBox((100, 300), c=[3], anchor_shapes=[32], iou_upper=0.5, iou_lower=0.2)
    msk = np.zeros((100, 300), dtype=np.uint8)
    msk[40:70, 200:280] = 1
    drawn = bb.convert_box_to_msk(bb.convert_msk_to_box(msk), random_values=False)[0, ..., 0]
    assert drawn.shape == (100, 300)
    rows, cols = np.nonzero(drawn)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (40, 70, 200, 280)


def test_batches_with_several_items_and_slices(bb):
    msk = lesion_masks(6, seed=3).reshape(2, 3, 240, 240, 1)
    box = bb.convert_msk_to_box(msk)
    assert box["cls-c3"].shape == (2, 3, 30, 30, 9)
    for b in range(2):
        for z in range(3):
            single = bb.convert_msk_to_box(msk[b, z])
            for key in box:
                np.testing.assert_array_equal(box[key][b, z], single[key][0])
    anchors, classes = bb.convert_box_to_anc(box)
    assert len(anchors) == len(classes) == 6
    drawn = bb.convert_box_to_msk(box)
    assert drawn.shape == (2, 3, 240, 240, 1)


def test_volume_decodes_per_slice(bb):
    volume = lesion_masks(4, seed=5)[None, ..., None]          # (1, Z, H, W, 1)
    box = bb.convert_msk_to_box(volume)
    assert box["reg-c4"].shape == (1, 4, 15, 15, 36)
    anchors, classes = bb.convert_box_to_anc(box, return_scores=False)
    assert isinstance(anchors, list) and len(anchors) == 4
    anchors, classes, scores = bb.convert_box_to_anc(box, return_scores=True)
    assert all(s.shape == c.shape for s, c in zip(scores, classes))


def fake_generator(batch=2):
    rng = np.random.default_rng(0)
    for step in range(3):
        msk = lesion_masks(batch, seed=step)[:, None, ..., None]
        yield {"dat": rng.normal(size=(batch, 1, 240, 240, 4)).astype(np.float32)}, {"tumor": msk}


def test_generator_yields_keras3_triples_without_touching_the_input(bb):
    source = list(fake_generator())
    originals = [(dict(xs), dict(ys)) for xs, ys in source]
    batches = list(bb.generator(iter(source), msk="tumor"))
    assert len(batches) == 3
    xs, ys, sw = batches[0]
    assert list(xs) == ["dat"]
    assert sorted(ys) == ["cls-c3", "cls-c4", "reg-c3", "reg-c4"]
    assert sorted(sw) == sorted(ys)
    assert ys["cls-c3"].shape == sw["cls-c3"].shape == (2, 1, 30, 30, 9)
    assert ys["reg-c4"].shape == sw["reg-c4"].shape == (2, 1, 15, 15, 36)
    assert all(v.dtype == np.float32 for v in (*ys.values(), *sw.values()))
    for (xs, ys), (xs0, ys0) in zip(source, originals):
        assert xs.keys() == xs0.keys() and ys.keys() == ys0.keys() == {"tumor"}


def test_generator_seed_layout(bb):
    train, valid = bb.create_generators(fake_generator(), fake_generator(), msk="tumor",
                                        sample_weights=False)
    xs, ys = next(train)
    assert sorted(xs) == ["cls-c3-msk", "cls-c4-msk", "dat", "reg-c3-msk", "reg-c4-msk"]
    assert sorted(ys) == ["cls-c3", "cls-c4", "reg-c3", "reg-c4"]
    assert len(next(valid)) == 2


def test_empty_masks_give_all_negative_targets(bb):
    for msk in (np.zeros((240, 240), np.uint8), np.zeros((3, 1, 240, 240, 1), np.uint8)):
        box = bb.convert_msk_to_box(msk)
        for level in (3, 4):
            assert box[f"cls-c{level}"].sum() == 0 and box[f"reg-c{level}"].sum() == 0
            assert box[f"cls-c{level}-msk"].min() == 1 and box[f"reg-c{level}-msk"].max() == 0


def test_repr_summarises_levels(bb):
    text = repr(bb)
    assert "c3: grid 30x30" in text and "c4: grid 15x15" in text and "10125 anchors" in text


def test_importing_boxloc_does_not_import_tensorflow():
    import subprocess
    import sys
    code = "import sys, boxloc; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
