"""Greedy non-maximum suppression.

Take the highest-scoring box, drop every remaining box whose IoU with it is strictly greater
than the threshold (``>``, as the seed), repeat. Each round is one vectorised IoU of the
kept box against the survivors, and the survivors shrink every round, so the cost follows the
number of KEPT boxes: a few per lesion on a decoded slice.
"""

import numpy as np

__all__ = ["nms", "batched_nms"]


def nms(boxes, scores, iou_threshold):
    """Greedy NMS.

    Args:
        boxes: float (N, 4) ``[y1, x1, y2, x2]``.
        scores: float (N,). Boxes with a NaN score or a non-finite coordinate are skipped.
        iou_threshold: a box is suppressed when its IoU with a kept box is ``> iou_threshold``.

    Returns:
        int64 (K,) indices of the kept boxes in descending score order (ties: lower index
        first). Zero-area and inverted boxes have IoU 0 with everything: they are
        always kept and suppress nothing.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(boxes) != len(scores):
        raise ValueError(f"boxes and scores must have the same length, got {len(boxes)} and {len(scores)}")
    valid = np.flatnonzero(np.isfinite(boxes).all(axis=1) & ~np.isnan(scores))
    order = valid[np.argsort(-scores[valid], kind="stable")]
    # Survivors in score order, one contiguous array per column (fast elementwise maths).
    y1, x1, y2, x2 = (np.ascontiguousarray(column) for column in boxes[order].T)
    area = np.maximum(y2 - y1, 0) * np.maximum(x2 - x1, 0)
    keep = []
    while len(order):
        keep.append(order[0])
        height = np.minimum(y2[0], y2[1:]) - np.maximum(y1[0], y1[1:])
        width = np.minimum(x2[0], x2[1:]) - np.maximum(x1[0], x1[1:])
        inter = np.maximum(height, 0, out=height) * np.maximum(width, 0, out=width)
        # IoU > thr  <=>  inter > thr * union (union >= 0; an empty union never suppresses)
        suppressed = inter > iou_threshold * (area[0] + area[1:] - inter)
        if suppressed.any():          # copy the survivors only when something was removed
            rest = np.flatnonzero(~suppressed) + 1
            order, y1, x1, y2, x2, area = (a[rest] for a in (order, y1, x1, y2, x2, area))
        else:                         # otherwise drop the kept box: views, no copy
            order, y1, x1, y2, x2, area = (a[1:] for a in (order, y1, x1, y2, x2, area))
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes, scores, classes, iou_threshold):
    """Per-class NMS: boxes of different classes never suppress each other.

    Shifts each class into its own far-away region of the plane (torchvision's coordinate
    trick) and runs one ``nms``. Returns kept indices (K,) in descending score order.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    classes = np.asarray(classes).reshape(-1)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    finite = np.isfinite(boxes).all(axis=1)
    span = np.abs(boxes[finite]).max() + 1 if finite.any() else 1.0
    shifted = boxes + (classes.astype(np.float64) * 2 * span)[:, None]
    return nms(shifted, scores, iou_threshold)
