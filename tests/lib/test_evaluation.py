"""Evaluation on hand-built predictions with known answers (NumPy/pandas only)."""

import numpy as np
import pytest

from boxloc import BoundingBox
from boxloc.evaluation import (average_precision, collect_detections, detection_report, froc,
                               plot_froc, plot_pr, precision_recall, seed_protocol,
                               sensitivity_ppv, volume_lesions)


def b(*rows):
    return np.array(rows, np.float64).reshape(-1, 4)


# Volume A, 2 slices: lesion 1 crosses both slices, lesion 2 only slice 0. Volume B: 1 lesion.
TRUTHS = [{"boxes": [b([0, 0, 10, 10], [20, 20, 30, 30]), b([0, 0, 10, 10])],
           "lesions": [np.array([1, 2]), np.array([1])]},
          {"boxes": [b([10, 10, 20, 20])], "lesions": [np.array([1])]}]
DETECTIONS = [
    {"boxes": [b([0, 0, 10, 10], [0, 0, 10, 5], [50, 50, 60, 60]), b([0, 0, 10, 10])],
     "scores": [np.array([0.9, 0.8, 0.3]), np.array([0.7])]},     # IoU 1, 0.5 (duplicate), 0; 1
    {"boxes": [b([100, 100, 110, 110], [12, 10, 22, 20])],
     "scores": [np.array([0.95, 0.6])]},                          # IoU 0, 80/120
]


def test_slice_level_sensitivity_ppv():
    # score >= 0.5: 0.95 FP, 0.9 TP, 0.8 FP (its box is taken), 0.7 TP, 0.6 TP; 4 boxes
    assert sensitivity_ppv(DETECTIONS, TRUTHS, 0.5) == pytest.approx((3 / 4, 3 / 5))
    assert sensitivity_ppv(DETECTIONS, TRUTHS, 0.7) == pytest.approx((2 / 4, 2 / 5))


def test_lesion_level_sensitivity_ppv():
    # hits on an already detected lesion (0.8, 0.7) are ignored; 3 lesions
    assert sensitivity_ppv(DETECTIONS, TRUTHS, 0.5, level="lesion") == \
        pytest.approx((2 / 3, 2 / 3))


def test_average_precision():
    # slice: precision 0, 1/2, 1/3, 1/2, 3/5, 1/2 at recall 0, .25, .25, .5, .75, .75
    assert average_precision(DETECTIONS, TRUTHS, 0.5) == pytest.approx(3 * 0.25 * 0.6)
    # lesion: counted 0.95 FP, 0.9 TP, 0.6 TP, 0.3 FP -> 1/3 * 2/3 + 1/3 * 2/3
    assert average_precision(DETECTIONS, TRUTHS, 0.5, "lesion") == pytest.approx(4 / 9)
    precision, recall, scores = precision_recall(DETECTIONS, TRUTHS, 0.5)
    assert np.allclose(recall, [0, .25, .25, .5, .75, .75]) and scores[0] == 0.95


def test_perfect_and_empty_average_precision():
    perfect = [{"boxes": t["boxes"], "scores": [np.ones(len(x)) for x in t["boxes"]]}
               for t in TRUTHS]
    assert average_precision(perfect, TRUTHS, 0.5) == 1.0
    none = [{"boxes": [b() for _ in t["boxes"]], "scores": [np.zeros(0) for _ in t["boxes"]]}
            for t in TRUTHS]
    assert average_precision(none, TRUTHS, 0.1) == 0.0
    no_truth = [{"boxes": [b()], "lesions": [np.zeros(0, int)]}]
    assert np.isnan(average_precision([{"boxes": [b([0, 0, 1, 1])], "scores": [np.ones(1)]}],
                                      no_truth, 0.1))


def test_froc():
    # counted: 0.95 FP, 0.9 TP, 0.6 TP, 0.3 FP over 2 volumes -> FP/volume 0.5 before any TP
    result = froc(DETECTIONS, TRUTHS, 0.1)
    assert np.allclose(result["sensitivity"], [0, 0, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3])
    assert result["score"] == pytest.approx(10 / 21)


def test_froc_ties_go_in_together():
    truths = [{"boxes": [b([0, 0, 10, 10])], "lesions": [np.array([1])]}]
    detections = [{"boxes": [b([50, 50, 60, 60], [0, 0, 10, 10])], "scores": [np.array([.5, .5])]}]
    result = froc(detections, truths, 0.1, rates=(0.5, 1))
    assert result["sensitivity"].tolist() == [0.0, 1.0]


def test_seed_protocol_table():
    df = seed_protocol(DETECTIONS + [{"boxes": [b()], "scores": [np.zeros(0)]}],
                       TRUTHS + [{"boxes": [b([0, 0, 5, 5])], "lesions": [np.array([1])]}])
    assert list(df.columns) == ["iou_median", "iou_p-25th", "iou_p-75th"]
    assert np.allclose(df.iloc[0], [1.0, 0.75, 1.0])            # best IoUs 1, 0.5, 1
    assert np.allclose(df.iloc[1], [1 / 3, 1 / 6, 0.5])         # best IoUs 0, 2/3
    assert np.allclose(df.iloc[2], [0, 0, 0])                   # nothing predicted -> [0]


def test_volume_lesions():
    mask = np.zeros((3, 20, 20), np.uint8)
    mask[0:2, 2:6, 3:8] = 1          # lesion across slices 0-1
    mask[1, 10:12, 10:15] = 2        # second lesion, slice 1 only
    lesions = volume_lesions(mask[None, ..., None])
    assert [ids.tolist() for ids in lesions["lesions"]] == [[1], [1, 2], []]
    assert lesions["boxes"][1].tolist() == [[2, 3, 6, 8], [10, 10, 12, 15]]
    assert [p.tolist() for p in lesions["pixels"]] == [[20], [20, 10], []]
    assert lesions["boxes"][2].shape == (0, 4)


def test_volume_lesions_are_the_training_boxes_tagged_with_their_3d_lesion():
    """A U-shaped lesion: one 3D lesion, but two blobs in slice 1 (joined through slice 0),
    so two boxes there, both of lesion 1, exactly as BoundingBox makes targets; a speck under
    min_size_blob of its slice's largest blob is dropped by both."""
    mask = np.zeros((2, 30, 30), np.uint8)
    mask[0, 2:6, 2:20] = 1                       # the bridge
    mask[1, 2:12, 2:6] = 1                       # left arm
    mask[1, 2:12, 16:20] = 1                     # right arm
    mask[1, 25, 25] = 1                          # speck: 1 px < 0.1 * 40 px
    truth = volume_lesions(mask)
    assert truth["lesions"][1].tolist() == [1, 1]
    assert truth["boxes"][1].tolist() == [[2, 2, 12, 6], [2, 16, 12, 20]]
    bb = BoundingBox((30, 30), c=[1], anchor_shapes=[8], iou_upper=0.5, iou_lower=0.2)
    assert np.array_equal(bb.find_boxes(mask)[0], np.concatenate(truth["boxes"]))
    kept_all = volume_lesions(mask, min_size_blob=0)
    assert kept_all["lesions"][1].tolist() == [1, 1, 2]
    padded = volume_lesions(mask, box_padding=1)
    assert padded["boxes"][0].tolist() == [[1, 1, 7, 21]]


def test_collect_detections_with_perfect_predictions():
    bb = BoundingBox((64, 64), c=[2, 3], anchor_shapes=[8, 16], iou_upper=0.5, iou_lower=0.2)
    mask = np.zeros((1, 2, 64, 64, 1), np.uint8)
    mask[0, 0, 20:36, 20:34] = 1
    mask[0, 1, 22:38, 20:34] = 1

    def predict(xs):             # ground-truth targets turned into confident logits
        box = bb.convert_msk_to_box(xs["lbl"])
        return {k: (v.astype(np.float32) * 20 - 10 if k.startswith("cls") else v)
                for k, v in box.items() if not k.endswith("-msk")}

    detections, truths = collect_detections(predict, [({"lbl": mask}, {"lbl": mask})], bb)
    assert len(detections[0]["boxes"]) == 2
    report = detection_report(detections, truths)
    assert report["sens@0.5"] == report["ppv@0.5"] == report["AP_slice@0.5"] == 1.0
    assert report["lesion_sens@0.1"] == report["AP_lesion@0.1"] == report["FROC@0.1"] == 1.0


def test_plots():
    import matplotlib
    matplotlib.use("Agg")
    ax = plot_froc(froc(DETECTIONS, TRUTHS))
    assert ax.get_xscale() == "log" and len(ax.lines) == 2
    import matplotlib.pyplot as plt
    ax = plot_pr(*precision_recall(DETECTIONS, TRUTHS, 0.5)[:2], ax=plt.figure().gca())
    assert ax.get_xlabel() == "recall"
