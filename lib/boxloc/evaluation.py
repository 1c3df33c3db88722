"""Evaluation on whole volumes: the seed tutorial's IoU protocol and detection metrics.

NumPy/pandas only: the model enters as a ``predict`` function (e.g. ``model.predict``) or as
already decoded detections. Per volume the data are lists with one entry per slice:

* detections: ``boxes`` float (N, 4) ``[y1, x1, y2, x2]`` and ``scores`` float (N,);
* ground truth: ``boxes`` float (M, 4) and ``lesions`` int (M,), the 3D lesion each 2D box
  belongs to (``volume_lesions`` derives both from a label mask, with the same boxes the
  training targets are made of, so training and evaluation share one ground truth).

The seed protocol (per volume: median and 25th/75th percentiles of each prediction's best IoU
with the ground truth) never counts a missed lesion. Hence the detection metrics:

* matching at IoU t: greedy by descending score; a prediction is a true positive when its IoU
  with a not yet matched box of its slice is >= t (slice level), or with a box of a not yet
  detected lesion of its volume (lesion level; a further hit on a detected lesion is
  ignored, neither TP nor FP, as in LUNA16's FROC);
* sensitivity = matched / ground-truth count, PPV = TP / predictions, at a score threshold;
* average precision: area under the precision-recall curve with precision made monotone
  (all-point interpolation, as VOC 2010+ and nnDetection);
* FROC (lesion level): the best sensitivity reached with at most f false positives per
  volume, f in 1/8, 1/4, ..., 8, and their mean (the FROC score).
"""

import numpy as np
from scipy import ndimage

from .boxes import iou_matrix
from .masks import mask_lesions

__all__ = ["volume_lesions", "as_detections", "collect_detections", "seed_iou_summary",
           "seed_protocol", "match_detections", "sensitivity_ppv", "precision_recall",
           "average_precision", "froc", "FROC_RATES", "detection_report", "plot_froc", "plot_pr"]

FROC_RATES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


# --- ground truth and predictions ----------------------------------------------------------
def volume_lesions(mask, min_size_blob=0.1, box_padding=0):
    """Ground truth of a label mask (Z, H, W) (or (1, Z, H, W, 1)) -> per-slice lists
    ``{'boxes', 'lesions', 'pixels'}``.

    The boxes are exactly the training targets' boxes: ``BoundingBox`` boxes of the slice
    (4-connected blobs, ``min_size_blob`` and ``box_padding`` as the ``BoundingBox`` uses
    them; ``collect_detections`` passes its ``bb.params``). Each box carries the id (1, 2, ...)
    of the 3D lesion it belongs to, a 3D connected component (face connectivity) of
    ``mask > 0``, and its blob's pixel count. A lesion whose cross-section is split into
    several blobs in one slice has one box per blob there.
    """
    mask = np.asarray(mask)
    mask = mask.reshape(mask.shape[-4:-1]) if mask.ndim == 5 else \
        (mask[..., 0] if mask.ndim == 4 else mask)
    lesion_ids, _ = ndimage.label(mask > 0)                               # (Z, H, W) 3D ids
    blobs = mask_lesions(mask, min_size_blob, box_padding)
    first = blobs["first_pixel"]
    ids = lesion_ids[blobs["slice_index"], first[:, 0], first[:, 1]].astype(np.int64)
    bounds = np.searchsorted(blobs["slice_index"], np.arange(len(mask) + 1))
    parts = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    return {"boxes": [blobs["boxes"][p] for p in parts], "lesions": [ids[p] for p in parts],
            "pixels": [blobs["pixels"][p] for p in parts]}


def collect_detections(predict, volumes, bb, msk="lbl", input_name="dat", cls_threshold=0.05,
                       iou_nms=None):
    """Run ``predict`` over volumes and decode -> ``(detections, ground_truths)`` lists.

    ``volumes`` yields ``(xs, ys)`` with ``xs[input_name]`` (1, Z, H, W, C) and ``ys[msk]`` a
    label mask (1, Z, H, W, 1) (the test generators of the data client). Predictions are decoded
    with ``bb.convert_box_to_anc`` (NMS) at a low ``cls_threshold`` so that precision-recall
    curves can be traced; the score of a box is its highest class probability.
    """
    detections, truths = [], []
    for item in volumes:
        xs, ys = item[0], item[1]
        box = predict(xs)
        box = {key: np.asarray(value) for key, value in box.items()}
        detections.append(as_detections(bb.convert_box_to_anc(
            box, iou_nms=iou_nms, cls_threshold=cls_threshold, return_scores=True)))
        truths.append(volume_lesions(ys[msk], bb.params["min_size_blob"],
                                     bb.params["box_padding"]))
    return detections, truths


def as_detections(decoded):
    """``bb.convert_box_to_anc(..., return_scores=True)`` of one volume -> its detections
    ``{'boxes', 'scores'}``; a box's score is its highest class probability."""
    boxes, _, scores = decoded
    if isinstance(boxes, np.ndarray):                   # one slice: BoundingBox returns arrays
        boxes, scores = [boxes], [scores]
    return {"boxes": [np.asarray(b, np.float64) for b in boxes],
            "scores": [np.asarray(s, np.float64).reshape(len(b), -1).max(axis=1)
                       if len(b) else np.zeros(0) for b, s in zip(boxes, scores)]}


def _slices(detection, truth):
    if len(detection["boxes"]) != len(truth["boxes"]):
        raise ValueError(f"detections cover {len(detection['boxes'])} slices but the ground "
                         f"truth {len(truth['boxes'])}")
    return zip(detection["boxes"], detection["scores"], truth["boxes"], truth["lesions"])


# --- the seed protocol ---------------------------------------------------------------------
def seed_iou_summary(pred_boxes, true_boxes):
    """Seed: best IoU of every predicted box with its slice's ground truth (0 without any);
    a volume without predictions scores [0]. Returns ``(median, p25, p75)``."""
    best = []
    for pred, true in zip(pred_boxes, true_boxes):
        pred, true = np.reshape(pred, (-1, 4)), np.reshape(true, (-1, 4))
        if len(pred):
            best.extend(iou_matrix(pred, true).max(axis=1) if len(true) else np.zeros(len(pred)))
    best = best or [0.0]
    return float(np.median(best)), float(np.percentile(best, 25)), float(np.percentile(best, 75))


def seed_protocol(detections, truths, score_threshold=0.5):
    """The seed's table: one row per volume with ``iou_median``, ``iou_p-25th``,
    ``iou_p-75th`` (predictions with score >= ``score_threshold``). The seed reported the
    median of each column (``df.median()``)."""
    import pandas as pd
    rows = []
    for detection, truth in zip(detections, truths):
        kept = [b[s >= score_threshold] for b, s in zip(detection["boxes"], detection["scores"])]
        rows.append(seed_iou_summary(kept, truth["boxes"]))
    return pd.DataFrame(rows, columns=["iou_median", "iou_p-25th", "iou_p-75th"])


# --- matching ------------------------------------------------------------------------------
def match_detections(detections, truths, iou_threshold, level="slice"):
    """Greedy matching of every volume -> ``(scores, is_tp, counted, volume, num_truths)``.

    Over all predictions: ``scores`` (P,), ``is_tp`` (P,) bool, ``counted`` (P,) bool (False
    for lesion-level hits on an already detected lesion), ``volume`` (P,) volume index;
    ``num_truths`` is the number of ground-truth boxes (slice) or lesions (lesion).
    """
    if level not in ("slice", "lesion"):
        raise ValueError(f"level must be 'slice' or 'lesion', got {level!r}")
    scores, is_tp, counted, volume, num_truths = [], [], [], [], 0
    for v, (detection, truth) in enumerate(zip(detections, truths)):
        found = set()                                     # detected lesion ids of the volume
        items = []                                        # (score, slice, box index)
        ious = []
        for z, (pred, score, true, lesion) in enumerate(_slices(detection, truth)):
            pred = np.reshape(pred, (-1, 4))
            ious.append(iou_matrix(pred, true) if len(true) else np.zeros((len(pred), 0)))
            items.extend((float(s), z, i) for i, s in enumerate(np.reshape(score, -1)))
        num_truths += (len(np.unique(np.concatenate(truth["lesions"]))) if level == "lesion"
                       else sum(len(b) for b in truth["boxes"]))
        used = [np.zeros(len(b), bool) for b in truth["boxes"]]
        for score, z, i in sorted(items, key=lambda item: -item[0]):
            iou, lesion = ious[z][i], np.asarray(truth["lesions"][z])
            if level == "slice":
                candidates = np.flatnonzero((iou >= iou_threshold) & ~used[z])
            else:
                candidates = np.flatnonzero((iou >= iou_threshold)
                                            & ~np.isin(lesion, list(found)))
            hit_any = bool(np.any(iou >= iou_threshold))
            tp = len(candidates) > 0
            if tp:
                best = candidates[np.argmax(iou[candidates])]
                used[z][best] = True
                found.add(int(lesion[best]))
            scores.append(score)
            is_tp.append(tp)
            counted.append(tp or level == "slice" or not hit_any)
            volume.append(v)
    return (np.asarray(scores, np.float64), np.asarray(is_tp, bool),
            np.asarray(counted, bool), np.asarray(volume, np.int64), num_truths)


def sensitivity_ppv(detections, truths, iou_threshold, score_threshold=0.5, level="slice"):
    """``(sensitivity, ppv)`` of the predictions with score >= ``score_threshold``; NaN when
    there is nothing to divide by (no ground truth / no prediction)."""
    kept = [{"boxes": [b[np.asarray(s) >= score_threshold] for b, s in
                       zip(d["boxes"], d["scores"])],
             "scores": [np.asarray(s)[np.asarray(s) >= score_threshold] for s in d["scores"]]}
            for d in detections]
    _, is_tp, counted, _, num_truths = match_detections(kept, truths, iou_threshold, level)
    tp, predictions = is_tp.sum(), counted.sum()
    return (tp / num_truths if num_truths else float("nan"),
            tp / predictions if predictions else float("nan"))


def _curve(detections, truths, iou_threshold, level):
    scores, is_tp, counted, _, num_truths = match_detections(detections, truths, iou_threshold,
                                                             level)
    order = np.argsort(-scores[counted], kind="stable")
    tp = np.cumsum(is_tp[counted][order])
    precision = tp / np.arange(1, len(tp) + 1)
    recall = tp / num_truths if num_truths else np.zeros(len(tp))
    return precision, recall, scores[counted][order], num_truths


def precision_recall(detections, truths, iou_threshold, level="slice"):
    """PR curve -> ``(precision, recall, thresholds)``, one point per counted prediction in
    descending score order."""
    return _curve(detections, truths, iou_threshold, level)[:3]


def average_precision(detections, truths, iou_threshold, level="slice"):
    """All-point interpolated AP: sum over recall steps of the best precision at that recall
    or beyond. 0 without predictions, NaN without ground truth."""
    precision, recall, _, num_truths = _curve(detections, truths, iou_threshold, level)
    if not num_truths:
        return float("nan")
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * envelope))


def froc(detections, truths, iou_threshold=0.1, rates=FROC_RATES):
    """Lesion-level FROC -> ``{'rates', 'sensitivity', 'score', 'fp_per_volume', 'curve'}``.

    ``sensitivity[i]`` is the highest sensitivity reached at a score threshold where the false
    positives per volume do not exceed ``rates[i]``; ``score`` is their mean; ``curve`` is the
    full (fp_per_volume, sensitivity) staircase for plotting.
    """
    scores, is_tp, counted, _, num_lesions = match_detections(detections, truths,
                                                              iou_threshold, "lesion")
    num_volumes = max(len(detections), 1)
    order = np.argsort(-scores[counted], kind="stable")
    tp = np.concatenate([[0], np.cumsum(is_tp[counted][order])])
    fp = np.concatenate([[0], np.cumsum(~is_tp[counted][order])]) / num_volumes
    sens = tp / num_lesions if num_lesions else np.zeros(len(tp))
    # reachable operating points: thresholds between distinct scores (a tie goes in whole)
    ranked = scores[counted][order]
    reachable = np.concatenate([[True], ranked[:-1] != ranked[1:], [True]]) if len(ranked) \
        else np.array([True])
    reach_fp, reach_sens = fp[reachable], sens[reachable]
    at_rate = np.array([reach_sens[reach_fp <= rate].max() for rate in rates])
    return {"rates": np.asarray(rates, float), "sensitivity": at_rate,
            "score": float(at_rate.mean()), "fp_per_volume": reach_fp, "curve": reach_sens}


def detection_report(detections, truths, iou_thresholds=(0.1, 0.3, 0.5),
                     ap_thresholds=(0.1, 0.5), score_threshold=0.5, froc_iou=0.1):
    """All metrics in one dict (keys like nnDetection's): ``sens@0.1``, ``ppv@0.1``,
    ``lesion_sens@0.1``, ``lesion_ppv@0.1`` ... at ``score_threshold``; ``AP_slice@0.1``,
    ``AP_lesion@0.1``, ...; ``FROC@0.1`` and ``FROC@0.1_fp0.125`` ...."""
    report = {}
    for t in iou_thresholds:
        for level, prefix in (("slice", ""), ("lesion", "lesion_")):
            sens, ppv = sensitivity_ppv(detections, truths, t, score_threshold, level)
            report[f"{prefix}sens@{t}"], report[f"{prefix}ppv@{t}"] = sens, ppv
    for t in ap_thresholds:
        for level in ("slice", "lesion"):
            report[f"AP_{level}@{t}"] = average_precision(detections, truths, t, level)
    result = froc(detections, truths, froc_iou)
    report[f"FROC@{froc_iou}"] = result["score"]
    for rate, sens in zip(result["rates"], result["sensitivity"]):
        report[f"FROC@{froc_iou}_fp{rate:g}"] = float(sens)
    return report


# --- plots ---------------------------------------------------------------------------------
def plot_froc(result, ax=None, label=None):
    """Draw a ``froc`` result (staircase + the operating points at the rates, log x axis)."""
    import matplotlib.pyplot as plt
    ax = plt.gca() if ax is None else ax
    fp = np.maximum(result["fp_per_volume"], result["rates"][0] / 2)
    ax.step(fp, result["curve"], where="post", label=label)
    ax.plot(result["rates"], result["sensitivity"], "o")
    ax.set(xscale="log", xlabel="false positives per volume", ylabel="sensitivity (lesions)",
           ylim=(0, 1.02), title=f"FROC (score {result['score']:.3f})")
    ax.set_xticks(result["rates"], [f"{r:g}" for r in result["rates"]])
    return ax


def plot_pr(precision, recall, ax=None, label=None):
    """Draw a precision-recall curve from ``precision_recall``."""
    import matplotlib.pyplot as plt
    ax = plt.gca() if ax is None else ax
    ax.step(np.concatenate([[0], recall]), np.concatenate([[1], precision]), where="post",
            label=label)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02),
           title="precision-recall")
    return ax
