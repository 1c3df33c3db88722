"""Anchor matching: which ground-truth box, if any, each anchor learns from.

``match_anchors`` works on a whole batch at once: the IoU of every ground-truth box of the
batch against every anchor it overlaps, plus the slice each box belongs to. It returns, per slice
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
    """matched: int32 (S, N) box index (>= 0), BACKGROUND or IGNORE per slice and anchor.
    band: bool (P,) whether each (box, anchor) pair lies in that box's ignore band."""
    matched: np.ndarray
    band: np.ndarray


def match_anchors(pair_box, pair_anchor, pair_iou, slice_index, num_slices, num_anchors,
                  iou_upper, iou_lower, rule="seed"):
    """Match anchors to ground-truth boxes for a batch of slices.

    The IoUs arrive as a sparse list of (box, anchor) pairs: every pair missing from the
    list has IoU 0, and an IoU of 0 never makes a positive or an ignored anchor.

    Args:
        pair_box, pair_anchor: int (P,) box index (into the M boxes) and anchor index.
        pair_iou: float (P,) their IoU.
        slice_index: int (M,) the slice of each box.
        num_slices: S, the number of slices in the batch (slices may have no box).
        num_anchors: N.
        iou_upper, iou_lower: thresholds in [0, 1], ``iou_lower <= iou_upper``.
        rule: one of ``MATCH_RULES``.

    Returns:
        ``Matches`` with ``matched`` (S, N) and ``band`` (P,).
    """
    if rule not in MATCH_RULES:
        raise ValueError(f"match_rule must be one of {MATCH_RULES}, got {rule!r}")
    slice_index = np.asarray(slice_index, dtype=np.int64)
    # One flat cell per (slice, anchor); ufunc.at reduces the pairs that fall in a cell.
    cell = slice_index[pair_box] * num_anchors + pair_anchor                   # (P,)
    num_cells = num_slices * num_anchors
    box_best = np.zeros(len(slice_index))                                      # (M,) best IoU per box
    np.maximum.at(box_best, pair_box, pair_iou)
    winner = np.full(num_cells, BACKGROUND, dtype=np.int32)                    # matched box per cell

    if rule == "seed":
        upper = np.minimum(iou_upper, box_best[pair_box])                      # (P,) per-box thresholds
        lower = np.minimum(iou_lower, upper)
        positive = (pair_iou >= upper) & (pair_iou > 0)
        band = (pair_iou > lower) & (pair_iou < upper)
        np.maximum.at(winner, cell[positive], pair_box[positive])              # later box wins
        # (BACKGROUND = -1 is below every box index, so unclaimed cells keep it)
    else:
        best = np.zeros(num_cells)                                             # best IoU per cell
        np.maximum.at(best, cell, pair_iou)
        is_best = (pair_iou == best[cell]) & (pair_iou > 0)
        best_box = np.full(num_cells, len(slice_index), dtype=np.int32)
        np.minimum.at(best_box, cell[is_best], pair_box[is_best])              # ties: first box
        positive_cell = best >= max(iou_upper, np.finfo(float).tiny)
        if rule == "torchvision":                                              # low-quality matches
            positive_cell[cell[(pair_iou == box_best[pair_box]) & (pair_iou > 0)]] = True
        winner = np.where(positive_cell, best_box, np.int32(BACKGROUND))
        band = (pair_iou >= iou_lower) & (pair_iou < iou_upper) & (pair_iou > 0)

    in_band = np.zeros(num_cells, dtype=bool)
    in_band[cell[band]] = True
    matched = winner                                   # reuse the buffer: -1 is BACKGROUND
    matched[(winner < 0) & in_band] = IGNORE
    return Matches(matched.reshape(num_slices, num_anchors), band)
