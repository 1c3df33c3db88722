"""anchor_coverage: hand-built masks with known answers."""

import warnings

import numpy as np
import pytest

from boxloc import BoundingBox
from boxloc.coverage import SIZE_BINS, CoverageReport, anchor_coverage
from boxloc.examples import lesion_masks

SEED = dict(c=[3, 4], anchor_shapes=[32, 64], anchor_scales=[0, 1, 2],
            anchor_ratios=[0.5, 1, 2], iou_upper=0.5, iou_lower=0.2)


def seed_bb(**changes):
    return BoundingBox((240, 240), **{**SEED, **changes})


def mask_with(*boxes, num_slices=1, shape=(240, 240)):
    """uint8 (S, H, W) with filled rectangles; each box is (slice, y1, x1, y2, x2)."""
    masks = np.zeros((num_slices, *shape), np.uint8)
    for s, y1, x1, y2, x2 in boxes:
        masks[s, y1:y2, x1:x2] = 1
    return masks


def no_warning(function, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return function(*args)


def test_40x70_lesion_is_covered_with_known_numbers():
    report = no_warning(anchor_coverage, seed_bb(), mask_with((0, 100, 80, 140, 150))[0])
    assert isinstance(report, CoverageReport)
    assert report.num_boxes == 1 and report.num_slices == 1
    assert report.best_iou.dtype == np.float64 and report.best_iou.shape == (1,)
    assert round(float(report.best_iou[0]), 4) == 0.8296
    assert report.fraction_covered == 1.0
    assert round(report.mean_best_iou, 4) == 0.8296
    assert report.positives_per_level == {3: 32, 4: 6}
    assert report.positives_per_box.tolist() == [38]
    assert report.forced == 0
    assert report.boxes_without_positive == []
    assert report.boxes.tolist() == [[100.0, 80.0, 140.0, 150.0]]


def test_4x4_lesion_is_not_covered_but_forced_under_seed_rule():
    report = no_warning(anchor_coverage, seed_bb(), mask_with((0, 100, 100, 104, 104)))
    assert report.best_iou[0] < 0.5
    assert report.best_iou[0] == pytest.approx(16 / 1024)   # inside a 32 x 32 anchor
    assert report.fraction_covered == 0.0
    assert report.positives_per_box[0] > 0
    assert report.forced == 1
    assert report.boxes_without_positive == []


def test_4x4_lesion_gets_no_positive_under_threshold_rule_and_warns():
    masks = mask_with((2, 100, 100, 104, 104), num_slices=3)
    with pytest.warns(UserWarning, match=r"1 of 1 ground-truth boxes got no positive anchor"
                                         r".*slices 2\b"):
        report = anchor_coverage(seed_bb(match_rule="threshold"), masks)
    assert report.positives_per_box.tolist() == [0]
    assert report.forced == 0
    assert report.positives_per_level == {3: 0, 4: 0}
    assert report.boxes_without_positive == [(2, [100.0, 100.0, 104.0, 104.0])]
    assert "NO positive anchor (never learnt): 1, slices 2" in str(report)


def test_warning_lists_only_the_first_few_slices():
    masks = mask_with(*[(s, 100, 100, 104, 104) for s in range(8)], num_slices=8)
    with pytest.warns(UserWarning, match=r"8 of 8 .*slices 0, 1, 2, 3, 4, \.\.\.\)"):
        anchor_coverage(seed_bb(match_rule="threshold"), masks)


@pytest.mark.parametrize("shape", [(240, 240), (4, 240, 240), (4, 240, 240, 1),
                                   (2, 2, 240, 240, 1)])
def test_empty_masks_give_a_nan_free_report(shape):
    report = no_warning(anchor_coverage, seed_bb(), np.zeros(shape, np.uint8))
    assert report.num_boxes == 0
    assert report.num_slices == int(np.prod(shape[:-2] if len(shape) < 4 else shape[:-3]))
    assert report.best_iou.shape == (0,) and report.positives_per_box.shape == (0,)
    assert report.fraction_covered is None and report.mean_best_iou is None
    assert report.positives_per_level == {3: 0, 4: 0}
    assert report.forced == 0 and report.boxes_without_positive == []
    assert [row["count"] for row in report.by_size] == [0, 0, 0, 0]
    assert all(row["fraction_covered"] is None and row["mean_best_iou"] is None
               for row in report.by_size)
    text = str(report)
    assert "no boxes" in text and "nan" not in text.lower()


def test_size_bins_group_boxes_by_sqrt_area():
    sides = [(8, 8), (15, 17), (16, 16), (20, 30), (40, 40), (63, 64), (64, 64), (100, 60)]
    boxes = [(s, 60, 60, 60 + h, 60 + w) for s, (h, w) in enumerate(sides)]
    report = anchor_coverage(seed_bb(), mask_with(*boxes, num_slices=len(sides)))
    assert [row["size"] for row in report.by_size] == [label for label, _, _ in SIZE_BINS]
    # sqrt areas: 8, 15.97, 16, 24.5, 40, 63.5, 64, 77.5
    assert [row["count"] for row in report.by_size] == [2, 2, 2, 2]
    for row, (label, low, high) in zip(report.by_size, SIZE_BINS):
        size = np.sqrt(np.prod(np.diff(report.boxes.reshape(-1, 2, 2), axis=1)[:, 0], axis=1))
        in_bin = (size >= low) & (size < high)
        assert row["fraction_covered"] == pytest.approx(np.mean(report.best_iou[in_bin] >= 0.5))
        assert row["mean_best_iou"] == pytest.approx(np.mean(report.best_iou[in_bin]))
    assert report.by_size[0]["fraction_covered"] == 0.0          # small boxes: uncovered


def test_report_agrees_with_match_anchors_and_per_box_ious():
    bb = seed_bb()
    masks = lesion_masks(12, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = anchor_coverage(bb, masks)
    boxes, _, slice_index, matched = bb.match_anchors(masks)
    assert report.num_boxes == len(boxes) > 0
    assert np.array_equal(report.slice_index, slice_index)
    best = np.array([bb.calculate_ious(box).max() for box in boxes])   # independent path
    assert np.allclose(report.best_iou, best)
    assert report.fraction_covered == pytest.approx(np.mean(best >= 0.5))
    assert report.positives_per_box.sum() == np.sum(matched >= 0)
    assert sum(report.positives_per_level.values()) == np.sum(matched >= 0)
    assert report.positives_per_level[4] == np.sum(matched[:, 8100:] >= 0)
    assert report.forced == np.sum((best < 0.5) & (report.positives_per_box > 0))
    assert sum(row["count"] for row in report.by_size) == len(boxes)


def test_all_mask_layouts_give_the_same_report():
    masks = lesion_masks(4, seed=1)
    reference = anchor_coverage(seed_bb(), masks)
    for layout in (masks[..., None], masks[None, ..., None]):
        report = anchor_coverage(seed_bb(), layout)
        assert np.array_equal(report.best_iou, reference.best_iou)
        assert np.array_equal(report.positives_per_box, reference.positives_per_box)
        assert report.positives_per_level == reference.positives_per_level


def test_str_is_a_readable_summary():
    masks = mask_with((0, 100, 80, 140, 150), (0, 30, 30, 34, 34))
    text = str(anchor_coverage(seed_bb(min_size_blob=0), masks))
    assert text.startswith("Anchor coverage report: 2 GT boxes in 1 slice (")
    assert "covered (best IoU >= 0.5): 1/2 (50.0%)" in text
    assert "forced matches (positive only through the match rule): 1" in text
    assert "per level: c3" in text and "<16 px" in text and "tip:" in text
    assert "nan" not in text.lower()
