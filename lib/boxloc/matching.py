"""Anchor matching: which ground-truth box, if any, each anchor learns from.

``match_anchors`` works on a whole batch at once: the IoU of every ground-truth box of the
batch against every anchor (M, N), plus the slice each box belongs to. It returns, per slice
and anchor, the index of the matched box (>= 0) or one of the sentinels below, as torchvision's
``Matcher`` and MONAI do.

Rules (``rule=``):

* ``"seed"`` (default, the seed library's): per box, ``up = min(iou_upper, best IoU of that
  box)`` and ``lo = min(iou_lower, up)``; anchors with IoU >= up are positive (so the best
  anchor of every box is positive even below ``iou_upper``), ``lo < IoU < up`` is the ignore
  band. When two boxes claim an anchor the later box (raster order) wins.
* ``"torchvision"``: every anchor takes its highest-IoU box; positive when that IoU >=
  ``iou_upper``, ignored when in ``[iou_lower, iou_upper)``; then each box's best anchor(s)
  are made positive too ("allow_low_quality_matches"), still matched to their highest-IoU box.
* ``"threshold"``: as ``"torchvision"`` without the low-quality step (keras-io,
  keras-retinanet): a box whose best IoU is below ``iou_upper`` gets no positive anchor.

In every rule a positive anchor is never ignored because of another box's ignore band (the
seed did that; it hid positives of neighbouring lesions).
"""

from typing import NamedTuple

import numpy as np

__all__ = ["BACKGROUND", "IGNORE", "MATCH_RULES", "Matches", "match_anchors"]

BACKGROUND = -1   # negative anchor: trained towards "no object"
IGNORE = -2       # in a box's ignore band: excluded from the classification loss
MATCH_RULES = ("seed", "torchvision", "threshold")


class Matches(NamedTuple):
    """matched: int64 (S, N) box index (>= 0), BACKGROUND or IGNORE per slice and anchor.
    band: bool (M, N), anchors inside each box's ignore band (for per-class ignore masks)."""
    matched: np.ndarray
    band: np.ndarray


def _group_reduce(ufunc, values, starts):
    """Reduce rows of ``values`` (M, N) over consecutive groups beginning at ``starts``."""
    return ufunc.reduceat(values, starts, axis=0)


def match_anchors(iou, slice_index, num_slices, iou_upper, iou_lower, rule="seed"):
    """Match anchors to ground-truth boxes for a batch of slices.

    Args:
        iou: float (M, N), IoU of each box with each anchor.
        slice_index: int (M,), the slice of each box, non-decreasing.
        num_slices: S, the number of slices in the batch (slices may have no box).
        iou_upper, iou_lower: thresholds in [0, 1], ``iou_lower <= iou_upper``.
        rule: one of ``MATCH_RULES``.

    Returns:
        ``Matches`` with ``matched`` (S, N) and ``band`` (M, N).
    """
    if rule not in MATCH_RULES:
        raise ValueError(f"match_rule must be one of {MATCH_RULES}, got {rule!r}")
    iou = np.asarray(iou, dtype=float)
    num_boxes, num_anchors = iou.shape
    matched = np.full((num_slices, num_anchors), BACKGROUND, dtype=np.int64)
    if num_boxes == 0:
        return Matches(matched, np.zeros((0, num_anchors), dtype=bool))

    slice_index = np.asarray(slice_index)
    starts = np.flatnonzero(np.r_[True, slice_index[1:] != slice_index[:-1]])  # (G,)
    used_slices = slice_index[starts]                                           # (G,)
    box_ids = np.arange(num_boxes)[:, None]                                     # (M, 1)

    if rule == "seed":
        upper = np.minimum(iou_upper, iou.max(axis=1, keepdims=True))           # (M, 1)
        lower = np.minimum(iou_lower, upper)
        positive = (iou >= upper) & (iou > 0)   # IoU > 0: a box touching no anchor claims none
        band = (iou > lower) & (iou < upper)
        # later box wins: the largest positive box index of the slice
        winner = _group_reduce(np.maximum, np.where(positive, box_ids, -1), starts)  # (G, N)
    else:
        best_iou = _group_reduce(np.maximum, iou, starts)                       # (G, N)
        group_of_box = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, num_boxes]))
        is_best = (iou == best_iou[group_of_box]) & (iou > 0)
        best_box = _group_reduce(np.minimum, np.where(is_best, box_ids, num_boxes), starts)
        positive_anchor = best_iou >= max(iou_upper, np.finfo(float).tiny)
        if rule == "torchvision":
            box_best = iou.max(axis=1, keepdims=True)                          # (M, 1)
            low_quality = (iou == box_best) & (box_best > 0)
            positive_anchor |= _group_reduce(np.logical_or, low_quality, starts)
        winner = np.where(positive_anchor, best_box, -1)
        band = (iou >= iou_lower) & (iou < iou_upper) & (iou > 0)

    in_band = _group_reduce(np.logical_or, band, starts)                       # (G, N)
    matched[used_slices] = np.where(winner >= 0, winner, np.where(in_band, IGNORE, BACKGROUND))
    return Matches(matched, band)
