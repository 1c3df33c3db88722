"""Box formats, areas and IoU.

Conventions used everywhere in boxloc:

* Corner form ``[y1, x1, y2, x2]``: NumPy axis order (rows first), continuous pixel
  coordinates, half-open (a box covering rows 100..139 has ``y1 = 100, y2 = 140``), so
  the area of a box drawn from a mask equals its pixel count. No "+1" convention.
* Centre form ``[cy, cx, h, w]`` with ``cy = (y1 + y2) / 2`` and ``h = y2 - y1``.
* A box with ``y2 <= y1`` or ``x2 <= x1`` (zero-area or inverted) has area 0 and IoU 0
  with everything, itself included: it can never suppress or match anything.
"""

import numpy as np

__all__ = ["corners_to_centres", "centres_to_corners", "box_area", "clip_boxes",
           "iou", "iou_matrix", "iou_one_to_many"]


def corners_to_centres(boxes):
    """``[y1, x1, y2, x2]`` (..., 4) -> ``[cy, cx, h, w]`` (..., 4), float64."""
    boxes = np.asarray(boxes, dtype=np.float64)
    y1, x1, y2, x2 = np.moveaxis(boxes, -1, 0)
    return np.stack([(y1 + y2) / 2, (x1 + x2) / 2, y2 - y1, x2 - x1], axis=-1)


def centres_to_corners(centres):
    """``[cy, cx, h, w]`` (..., 4) -> ``[y1, x1, y2, x2]`` (..., 4), float64."""
    centres = np.asarray(centres, dtype=np.float64)
    cy, cx, h, w = np.moveaxis(centres, -1, 0)
    return np.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], axis=-1)


def box_area(boxes):
    """Area of corner-form boxes (..., 4) -> (...); inverted extents count as 0."""
    boxes = np.asarray(boxes, dtype=float)
    return (np.clip(boxes[..., 2] - boxes[..., 0], 0, None)
            * np.clip(boxes[..., 3] - boxes[..., 1], 0, None))


def clip_boxes(boxes, image_shape):
    """Clip corner-form boxes (N, 4) to ``[0, H] x [0, W]``; returns a new array."""
    height, width = image_shape
    low = np.zeros(4)
    high = np.array([height, width, height, width], dtype=float)
    return np.clip(np.asarray(boxes, dtype=float), low, high)


def _overlap(low1, high1, low2, high2):
    """Length of the overlap of intervals [low1, high1) and [low2, high2), >= 0."""
    extent = np.minimum(high1, high2)
    extent -= np.maximum(low1, low2)
    return np.maximum(extent, 0, out=extent)


def _ratio(inter, area1, area2):
    """inter / union, 0 where the union is empty or NaN ("out" keeps those entries at 0)."""
    union = area1 + area2
    union -= inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def iou(boxes1, boxes2, areas2=None):
    """Intersection over union of broadcastable box arrays (..., 4) -> float64 (...).

    ``iou(a[:, None], b[None])`` is the pairwise matrix; ``iou(a, b)`` with equal shapes
    pairs row i with row i. ``areas2`` optionally gives precomputed areas of ``boxes2``
    (e.g. cached anchor areas). 0 where the union is empty (zero-area boxes) or NaN.
    """
    boxes1 = np.asarray(boxes1, dtype=np.float64)
    boxes2 = np.asarray(boxes2, dtype=np.float64)
    inter = _overlap(boxes1[..., 0], boxes1[..., 2], boxes2[..., 0], boxes2[..., 2])
    inter *= _overlap(boxes1[..., 1], boxes1[..., 3], boxes2[..., 1], boxes2[..., 3])
    areas2 = box_area(boxes2) if areas2 is None else np.asarray(areas2, dtype=np.float64)
    return _ratio(inter, box_area(boxes1), areas2)


def iou_matrix(boxes1, boxes2, areas2=None):
    """Pairwise intersection over union.

    Args:
        boxes1: float (N, 4) ``[y1, x1, y2, x2]``, half-open pixel coordinates.
        boxes2: float (M, 4), same format.
        areas2: optional (M,) precomputed areas of ``boxes2``.

    Returns:
        float64 (N, M) in [0, 1]; 0 where the union is empty (zero-area boxes) or a
        coordinate is NaN.

    Example:
        >>> iou_matrix([[0, 0, 10, 10]], [[5, 5, 15, 15]]).round(4)  # 25 / 175
        array([[0.1429]])
    """
    boxes1 = np.asarray(boxes1, dtype=np.float64).reshape(-1, 4)
    boxes2 = np.asarray(boxes2, dtype=np.float64).reshape(-1, 4)
    areas2 = None if areas2 is None else np.reshape(areas2, (1, -1))
    return iou(boxes1[:, None, :], boxes2[None, :, :], areas2)             # (N, M)


def iou_one_to_many(box, boxes, areas=None):
    """IoU of one box (4,) against boxes (M, 4) -> float64 (M,). See ``iou_matrix``."""
    return iou_matrix(np.reshape(box, (1, 4)), boxes, areas)[0]
