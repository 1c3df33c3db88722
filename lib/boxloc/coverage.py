"""Anchor coverage: can the anchors of a ``BoundingBox`` represent the lesions of a data set?

Run this before training. A ground-truth (GT) box whose best anchor IoU is below
``iou_upper`` is only learnt if the match rule forces its best anchor to be positive (the
``"seed"`` and ``"torchvision"`` rules do, ``"threshold"`` does not); a box with no positive
anchor at all is never learnt. Small lesions are the usual victims, hence the per-size table.

>>> from boxloc import BoundingBox
>>> bb = BoundingBox((240, 240), c=[3, 4], anchor_shapes=[32, 64], iou_upper=0.5,
...                  iou_lower=0.2)
>>> msk = np.zeros((240, 240), np.uint8)
>>> msk[100:140, 80:150] = 1                   # one 40 x 70 lesion
>>> report = anchor_coverage(bb, msk)
>>> report.num_boxes, round(report.mean_best_iou, 4), report.positives_per_level
(1, 0.8296, {3: 32, 4: 6})
"""

import warnings
from dataclasses import dataclass, field

import numpy as np

from .boxes import iou_matrix

__all__ = ["SIZE_BINS", "CoverageReport", "anchor_coverage"]

# (label, low, high) in pixels of sqrt(box area); low <= sqrt(area) < high
SIZE_BINS = (("<16 px", 0, 16), ("16-32 px", 16, 32), ("32-64 px", 32, 64),
             (">=64 px", 64, np.inf))
_SHOW_SLICES = 5   # slice indices listed in the warning and the report


@dataclass
class CoverageReport:
    """How well the anchors cover the GT boxes of a set of masks (M boxes).

    Fractions and means are ``None`` (never NaN) when there is no box to average over.

    Attributes:
        num_boxes: M.
        num_slices: S, slices in the masks (empty ones included).
        iou_upper: the positive threshold of the ``BoundingBox``.
        match_rule: its match rule.
        boxes: float64 (M, 4) GT boxes ``[y1, x1, y2, x2]``.
        slice_index: int64 (M,) flat slice index of each box.
        best_iou: float64 (M,) best IoU of each box with any anchor.
        fraction_covered: fraction of boxes with ``best_iou >= iou_upper``, or None.
        mean_best_iou: mean of ``best_iou``, or None.
        positives_per_box: int64 (M,) positive anchors of each box under the match rule.
        positives_per_level: ``{c: total positive anchors of level c}``, every level listed.
        forced: boxes with ``best_iou < iou_upper`` that still have positives (only
            because the match rule forces their best anchor).
        boxes_without_positive: ``[(slice_index, [y1, x1, y2, x2]), ...]``.
        by_size: one dict per ``SIZE_BINS`` entry with ``size``, ``count``,
            ``fraction_covered`` and ``mean_best_iou`` (None for an empty bin).
    """
    num_boxes: int
    num_slices: int
    iou_upper: float
    match_rule: str
    boxes: np.ndarray
    slice_index: np.ndarray
    best_iou: np.ndarray
    fraction_covered: float | None
    mean_best_iou: float | None
    positives_per_box: np.ndarray
    positives_per_level: dict
    forced: int
    boxes_without_positive: list = field(default_factory=list)
    by_size: list = field(default_factory=list)

    def __str__(self):
        head = (f"Anchor coverage report: {_count(self.num_boxes, 'GT box', 'es')} in "
                f"{_count(self.num_slices, 'slice')} (match_rule={self.match_rule!r}, "
                f"iou_upper={self.iou_upper:g})")
        if self.num_boxes == 0:
            return head + "\n  no boxes: the masks hold no lesion, nothing to cover"
        covered = int(round(self.fraction_covered * self.num_boxes))
        per_box = self.positives_per_box
        levels = ", ".join(f"c{c} {n}" for c, n in self.positives_per_level.items())
        missing = self.boxes_without_positive
        lines = [
            head,
            f"  covered (best IoU >= {self.iou_upper:g}): {covered}/{self.num_boxes} "
            f"({self.fraction_covered:.1%}), mean best IoU {self.mean_best_iou:.3f}",
            f"  positive anchors per box: min {per_box.min()}, median "
            f"{np.median(per_box):g}, max {per_box.max()}; per level: {levels}",
            f"  forced matches (positive only through the match rule): {self.forced}",
            f"  boxes with NO positive anchor (never learnt): {len(missing)}"
            + (f", slices {_first_slices([s for s, _ in missing])}" if missing else ""),
            f"  {'size (sqrt area)':<17}{'boxes':>6}{'covered':>10}{'mean best IoU':>15}",
        ]
        for row in self.by_size:
            fraction = "-" if row["count"] == 0 else f"{row['fraction_covered']:.1%}"
            mean = "-" if row["count"] == 0 else f"{row['mean_best_iou']:.3f}"
            lines.append(f"  {row['size']:<17}{row['count']:>6}{fraction:>10}{mean:>15}")
        if self.fraction_covered < 1:
            lines.append("  tip: uncovered boxes are usually small; a finer level (smaller c) or "
                         "smaller anchor_shapes / anchor_scales raise their best IoU")
        return "\n".join(lines)


def _count(number, noun, plural="s"):
    """'1 slice', '2 slices'."""
    return f"{number} {noun}{'' if number == 1 else plural}"


def _first_slices(slices):
    """'3, 7, 9' or '3, 7, 9, 11, 12, ...' (sorted, unique, first few)."""
    unique = sorted(set(int(s) for s in slices))
    text = ", ".join(str(s) for s in unique[:_SHOW_SLICES])
    return text + (", ..." if len(unique) > _SHOW_SLICES else "")


def _mean(values):
    """Mean as a Python float, or None for an empty array (never NaN)."""
    return float(np.mean(values)) if len(values) else None


def anchor_coverage(bb, masks):
    """Coverage of the GT boxes of ``masks`` by the anchors of ``bb``.

    Boxes come from ``bb.find_boxes`` (so ``min_size_blob`` and ``box_padding`` apply) and
    positives from ``bb.match_anchors`` (so ``bb.params['match_rule']`` applies).

    Args:
        bb: a ``BoundingBox``.
        masks: integer label masks in any shape ``bb`` accepts, e.g. uint8 (H, W),
            (Z, H, W), (Z, H, W, 1) or (B, Z, H, W, 1).

    Returns:
        A ``CoverageReport``; ``print(report)`` shows a summary.

    Warns:
        UserWarning: when any GT box gets no positive anchor (it would never be learnt).
    """
    boxes, _, slice_index, matched = bb.match_anchors(masks)    # (M, 4), (M,), (S, N)
    num_boxes, (num_slices, num_anchors) = len(boxes), matched.shape
    iou_upper = bb.params["iou_upper"]

    best_iou = (iou_matrix(boxes, bb.anchors).max(axis=1) if num_boxes
                else np.zeros(0))                               # (M,)
    covered = best_iou >= iou_upper                             # (M,)
    positive = matched >= 0                                     # (S, N)
    positives_per_box = np.bincount(matched[positive], minlength=num_boxes).astype(np.int64)

    # level of every anchor: the last level start at or below its index
    starts = np.asarray(bb.anchor_set.level_starts)
    level_of_anchor = np.searchsorted(starts, np.arange(num_anchors), side="right") - 1
    per_level = np.bincount(level_of_anchor, weights=positive.sum(axis=0), minlength=len(starts))
    positives_per_level = {int(c): int(n) for c, n in zip(bb.params["c"], per_level)}

    lonely = np.flatnonzero(positives_per_box == 0)
    without = [(int(slice_index[m]), boxes[m].tolist()) for m in lonely]
    if len(lonely):
        warnings.warn(f"{len(lonely)} of {num_boxes} ground-truth boxes got no positive "
                      f"anchor and will never be learnt (slices "
                      f"{_first_slices(slice_index[lonely])}); see anchor_coverage(...)"
                      f".boxes_without_positive", UserWarning, stacklevel=2)

    size = np.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))  # (M,)
    by_size = []
    for label, low, high in SIZE_BINS:
        in_bin = (size >= low) & (size < high)
        by_size.append({"size": label, "count": int(in_bin.sum()),
                        "fraction_covered": _mean(covered[in_bin]),
                        "mean_best_iou": _mean(best_iou[in_bin])})

    return CoverageReport(
        num_boxes=num_boxes, num_slices=num_slices, iou_upper=iou_upper,
        match_rule=bb.params["match_rule"], boxes=boxes, slice_index=slice_index,
        best_iou=best_iou, fraction_covered=_mean(covered), mean_best_iou=_mean(best_iou),
        positives_per_box=positives_per_box, positives_per_level=positives_per_level,
        forced=int(np.sum(~covered & (positives_per_box > 0))),
        boxes_without_positive=without, by_size=by_size)
