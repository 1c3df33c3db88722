"""Anchor matching: which ground-truth box, if any, each anchor learns from.

``match_anchors`` works on a whole batch at once: the IoU of every ground-truth box of the
batch against every anchor it overlaps, plus the slice each box belongs to. It returns the
positive anchors with their boxes and the ignore-band pairs (sparse: a batch has ~10^5 anchors
and ~10^2 positives); ``dense_matches`` gives, per slice and anchor, the index of the matched box
(>= 0) or one of the sentinels below, as torchvision's ``Matcher`` and MONAI do.

Rules (``rule=``): one entry each in ``MATCH_RULES``, the one place a rule is defined. The
targets (``targets.matching_pairs``), ``BoundingBox`` and the property tests look rules up
there, and ``find_rule`` refuses, naming the known rules, any name that is not in it:

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

>>> list(MATCH_RULES)
['seed', 'torchvision', 'threshold']
>>> find_rule("hungarian", "match_rule")
Traceback (most recent call last):
...
ValueError: match_rule must be one of ['seed', 'torchvision', 'threshold'], got 'hungarian'
"""

from dataclasses import dataclass
from functools import partial
from typing import Callable, NamedTuple

import numpy as np

__all__ = ["BACKGROUND", "IGNORE", "MATCH_RULES", "MatchRule", "Matches", "find_rule",
           "match_anchors", "pair_cells", "dense_matches"]

BACKGROUND = -1   # negative anchor: trained towards "no object"
IGNORE = -2       # in a box's ignore band: excluded from the classification loss


class Matches(NamedTuple):
    """The matches of a batch, sparse: positive anchors and ignore-band pairs only.

    cells: int64 (Q,) flat index ``slice * N + anchor`` of every positive anchor, ascending.
    boxes: int (Q,) the box each positive anchor is matched to.
    band: bool (P,) whether each (box, anchor) pair lies in that box's ignore band.
    """
    cells: np.ndarray
    boxes: np.ndarray
    band: np.ndarray


@dataclass(frozen=True)
class MatchRule:
    """One matching rule: how it matches, and which IoU pairs it needs to see.

    match: ``(pair_box, pair_iou, cell, box_best, num_cells, iou_upper, iou_lower)`` ->
        ``Matches``, where ``cell`` is each pair's ``pair_cells`` index and ``box_best`` the best
        IoU of each box.
    forced_pairs: the pairs a box whose best IoU is below ``iou_lower`` must bring along, since
        the pairs below ``iou_lower`` are otherwise skipped (``targets.matching_pairs``):
        ``"box"``, all of that box's own pairs (its forced best anchor is decided by them), or
        ``"slice"``, all pairs of every box of its slice (its forced anchor goes to that
        anchor's highest-IoU box, which may be another box).
    """
    match: Callable
    forced_pairs: str

    def __post_init__(self):
        if self.forced_pairs not in ("box", "slice"):
            raise ValueError(f"forced_pairs must be 'box' or 'slice', got {self.forced_pairs!r}")


def _match_seed(pair_box, pair_iou, cell, box_best, num_cells, iou_upper, iou_lower):
    upper = np.minimum(iou_upper, box_best[pair_box])                          # (P,) per-box thresholds
    lower = np.minimum(iou_lower, upper)
    positive = (pair_iou >= upper) & (pair_iou > 0)
    band = (pair_iou > lower) & (pair_iou < upper)
    # later box wins: sort the positive pairs by cell, then box, keep each cell's last
    cells, boxes = cell[positive], pair_box[positive]
    order = np.lexsort((boxes, cells))
    cells, boxes = cells[order], boxes[order]
    last = np.ones(len(cells), dtype=bool)
    last[:-1] = cells[1:] != cells[:-1]
    return Matches(cells[last], boxes[last], band)


def _match_best_box(pair_box, pair_iou, cell, box_best, num_cells, iou_upper, iou_lower,
                    low_quality):
    """Every anchor takes its highest-IoU box (first on ties); ``low_quality``: each box's
    best anchor(s) are positive too."""
    best = np.zeros(num_cells)                                                 # best IoU per cell
    np.maximum.at(best, cell, pair_iou)
    is_best = (pair_iou == best[cell]) & (pair_iou > 0)
    best_box = np.full(num_cells, len(box_best), dtype=np.int32)
    np.minimum.at(best_box, cell[is_best], pair_box[is_best])                  # ties: first box
    positive_cell = best >= max(iou_upper, np.finfo(float).tiny)
    if low_quality:
        positive_cell[cell[(pair_iou == box_best[pair_box]) & (pair_iou > 0)]] = True
    band = (pair_iou >= iou_lower) & (pair_iou < iou_upper) & (pair_iou > 0)
    cells = np.flatnonzero(positive_cell)
    return Matches(cells, best_box[cells], band)


MATCH_RULES = {
    "seed": MatchRule(_match_seed, forced_pairs="box"),
    "torchvision": MatchRule(partial(_match_best_box, low_quality=True), forced_pairs="slice"),
    "threshold": MatchRule(partial(_match_best_box, low_quality=False), forced_pairs="box"),
}


def find_rule(name, argument="rule"):
    """The ``MatchRule`` called ``name``; ValueError naming ``argument`` and the known rules
    for any other name."""
    if not isinstance(name, str) or name not in MATCH_RULES:
        raise ValueError(f"{argument} must be one of {list(MATCH_RULES)}, got {name!r}")
    return MATCH_RULES[name]


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
        rule: a name in ``MATCH_RULES``.

    Returns:
        ``Matches``; ``dense_matches`` turns it into one label per slice and anchor.
    """
    implementation = find_rule(rule).match
    cell = pair_cells(pair_box, pair_anchor, slice_index, num_anchors)         # (P,)
    box_best = np.zeros(len(slice_index))                                      # (M,) best IoU per box
    np.maximum.at(box_best, pair_box, pair_iou)
    return implementation(pair_box, pair_iou, cell, box_best, num_slices * num_anchors,
                          iou_upper, iou_lower)


def pair_cells(pair_box, pair_anchor, slice_index, num_anchors):
    """Flat ``slice * N + anchor`` index of each (box, anchor) pair -> int64 (P,)."""
    return np.asarray(slice_index, dtype=np.int64)[pair_box] * num_anchors + pair_anchor


def dense_matches(matches, band_cells, num_slices, num_anchors):
    """int32 (S, N): the matched box per slice and anchor, or BACKGROUND / IGNORE.

    ``band_cells`` are the ``pair_cells`` of the pairs where ``matches.band`` holds."""
    matched = np.full(num_slices * num_anchors, BACKGROUND, dtype=np.int32)
    matched[band_cells] = IGNORE
    matched[matches.cells] = matches.boxes                   # a positive is never ignored
    return matched.reshape(num_slices, num_anchors)
