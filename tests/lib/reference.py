"""Plain-loop oracles for the boxloc tests, written for clarity, not speed.

Each function restates one rule of the seed library (see
``shared/reference/seed-library-behaviour.md`` sections 3-5) with scalar Python arithmetic and
explicit loops, so the vectorised library can be checked against it. The arithmetic is done in
the same order as the library (intersection, then ``area_a + area_b - intersection``), so
on identical inputs both give bit-identical IoUs and the threshold comparisons agree exactly.

Not a test module (no ``test_`` prefix): the test modules import it.
"""

import math

import numpy as np
from scipy import ndimage

__all__ = ["iou_loop", "nms_loop", "seed_boxes_loop", "seed_targets_loop",
           "BACKGROUND", "IGNORE"]

BACKGROUND = -1   # same sentinels as boxloc.matching
IGNORE = -2
DELTA_EPS = 1e-6


def _area(y1, x1, y2, x2):
    """Area of one corner-form box; inverted extents count as 0 (NaN stays NaN)."""
    height = y2 - y1
    width = x2 - x1
    height = height if not height < 0 else 0.0
    width = width if not width < 0 else 0.0
    return height * width


def iou_loop(box, boxes):
    """IoU of one box ``[y1, x1, y2, x2]`` with each of ``boxes`` (M, 4) -> list of M floats.

    0 where the union is empty (zero-area or inverted boxes) or not a number (NaN
    coordinates); never NaN.
    """
    y1, x1, y2, x2 = (float(v) for v in box)
    area = _area(y1, x1, y2, x2)
    result = []
    for other in boxes:
        by1, bx1, by2, bx2 = (float(v) for v in other)
        inter_h = min(y2, by2) - max(y1, by1)
        inter_w = min(x2, bx2) - max(x1, bx1)
        inter_h = inter_h if inter_h > 0 else 0.0
        inter_w = inter_w if inter_w > 0 else 0.0
        inter = inter_h * inter_w
        union = area + _area(by1, bx1, by2, bx2) - inter
        if union > 0:                       # False for 0 and for NaN
            result.append(inter / union)
        else:
            result.append(0.0)
    return result


def nms_loop(boxes, scores, thr):
    """The seed's greedy NMS (``apply_nms``): indices of the kept boxes, ascending.

    While any score is > 0: take the highest score (first on ties), keep it, set its score to
    0, and set to 0 the score of every box whose IoU with it is strictly greater than ``thr``.
    For finite boxes and non-NaN scores only.
    """
    scores = [float(s) for s in scores]
    keep = []
    while any(s > 0 for s in scores):
        k = max(range(len(scores)), key=lambda i: (scores[i], -i))   # argmax, first on ties
        keep.append(k)
        scores[k] = 0.0
        ious = iou_loop(boxes[k], boxes)
        for j in range(len(scores)):
            if ious[j] > thr:
                scores[j] = 0.0
    return sorted(keep)


def seed_boxes_loop(mask, min_size_blob=0.1, box_padding=0):
    """Ground-truth boxes of ONE 2-D label mask, as the seed's ``calculate_boxes``.

    Lesions are 4-connected components of ``mask > 0``, numbered in raster order of their
    first pixel; a lesion is kept when its size is >= ``min_size_blob`` x the largest; its
    class is the label of its first pixel; its box is the half-open extent plus padding,
    clipped to the image.

    Returns ``(boxes, classes)``: lists of ``[y1, x1, y2, x2]`` and ints.
    """
    mask = np.asarray(mask)
    height, width = mask.shape
    labels, count = ndimage.label(mask > 0)          # default structure: the 4-neighbour cross
    pixels = {}                                      # lesion -> list of (row, col), raster order
    for row in range(height):
        for col in range(width):
            lesion = int(labels[row, col])
            if lesion:
                pixels.setdefault(lesion, []).append((row, col))
    if not pixels:
        return [], []
    largest = max(len(p) for p in pixels.values())
    boxes, classes = [], []
    for lesion in sorted(pixels, key=lambda k: pixels[k][0]):   # raster order of first pixel
        points = pixels[lesion]
        if len(points) < min_size_blob * largest:
            continue
        rows = [r for r, _ in points]
        cols = [c for _, c in points]
        box = [min(rows) - box_padding, min(cols) - box_padding,
               max(rows) + 1 + box_padding, max(cols) + 1 + box_padding]
        box = [min(max(v, 0), limit) for v, limit in zip(box, (height, width, height, width))]
        boxes.append([float(v) for v in box])
        classes.append(int(mask[points[0]]))
    return boxes, classes


def seed_targets_loop(bb, boxes, classes):
    """Targets of one slice with the seed matching rule, box by box, anchor by anchor.

    For each box in order: ``ious`` vs ``bb.anchors``; ``up = min(iou_upper, max(ious))``,
    ``lo = min(iou_lower, up)``; anchors with ``iou >= up`` and ``iou > 0`` are positive for
    that box (a later box overwrites an earlier one); ``lo < iou < up`` is the box's ignore
    band. ``cls-msk`` is 0 only where an anchor is in the band of a box of that class and not
    positive for that class (the seed also hid positives of other boxes; fixed).

    Returns a dict:
        ``cls``: int (N,), the class of the matched box, 0 for non-positives;
        ``cls_msk``: float (N,) when ``bb.params['classes'] == 1``, else (N, K) per class;
        ``reg_msk``: float (N,), 1 on positives;
        ``reg``: float (N, 4) ``[dy, dx, dh, dw]`` to the matched box vs ``bb.offsets``;
        ``matched``: int (N,), index of the matched box, ``IGNORE`` (in some band, not
        positive) or ``BACKGROUND``.
    """
    upper, lower = bb.params["iou_upper"], bb.params["iou_lower"]
    num_classes = bb.params["classes"]
    anchors = np.asarray(bb.anchors).tolist()
    offsets = np.asarray(bb.offsets).tolist()
    num_anchors = len(anchors)
    if num_classes == 1:
        classes = [1 for _ in classes]           # any label is foreground
    matched = [BACKGROUND] * num_anchors
    in_band = [[False] * num_classes for _ in range(num_anchors)]
    for b, box in enumerate(boxes):
        ious = iou_loop(box, anchors)
        up = min(upper, max(ious))
        lo = min(lower, up)
        for n, iou in enumerate(ious):
            if iou >= up and iou > 0:
                matched[n] = b                   # later box overwrites
            if lo < iou < up:
                in_band[n][classes[b] - 1] = True

    cls = [0] * num_anchors
    reg = [[0.0, 0.0, 0.0, 0.0] for _ in range(num_anchors)]
    reg_msk = [0.0] * num_anchors
    cls_msk = [[1.0] * num_classes for _ in range(num_anchors)]
    for n in range(num_anchors):
        b = matched[n]
        if b >= 0:
            cls[n] = int(classes[b])
            reg_msk[n] = 1.0
            y1, x1, y2, x2 = (float(v) for v in boxes[b])
            cy, cx, h, w = offsets[n]
            reg[n] = [((y1 + y2) / 2 - cy) / h,
                      ((x1 + x2) / 2 - cx) / w,
                      math.log((y2 - y1) / (h + DELTA_EPS)),
                      math.log((x2 - x1) / (w + DELTA_EPS))]
        for k in range(num_classes):
            if in_band[n][k] and cls[n] != k + 1:
                cls_msk[n][k] = 0.0
        if b < 0 and any(in_band[n]):
            matched[n] = IGNORE
    cls_msk = np.array(cls_msk)
    return {"cls": np.array(cls, dtype=np.int64),
            "cls_msk": cls_msk[:, 0] if num_classes == 1 else cls_msk,
            "reg_msk": np.array(reg_msk),
            "reg": np.array(reg, dtype=np.float64).reshape(num_anchors, 4),
            "matched": np.array(matched, dtype=np.int64)}
