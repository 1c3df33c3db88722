"""Training targets of a batch: ground-truth boxes -> per-anchor ``cls``, ``reg`` and their
loss masks, and the ``cls-c3`` ... dictionary layout the network's outputs use.

Only composition lives here: (box, anchor) IoU pairs from ``anchors``, matching from
``matching``, deltas from ``deltas``.

Per slice and anchor (N anchors, K classes):

* ``cls`` uint8 (N, K): 1 in the channel of the matched box's class, else 0.
* ``reg`` float32 (N, 4): deltas to the matched box on positives, else 0.
* ``cls-msk`` float32 (N, K): 0 where the anchor is in the ignore band of a box of that
  class and not positive for it, else 1.
* ``reg-msk`` float32 (N, 4): 1 on positives, else 0.
"""

import numpy as np

from .anchors import anchor_overlaps
from .deltas import encode_deltas
from .matching import match_anchors

__all__ = ["match_batch", "encode_targets", "vectors_to_maps", "maps_to_vectors", "map_key"]


def map_key(kind, level, mask=False):
    """``map_key('cls', 3) -> 'cls-c3'``; ``mask=True`` appends ``-msk``."""
    return f"{kind}-c{level}" + ("-msk" if mask else "")


def match_batch(boxes, slice_index, num_slices, anchors, iou_upper, iou_lower, rule="seed"):
    """IoU pairs and matches of a batch's boxes -> ``(pair_box, pair_anchor, Matches)``."""
    pair_box, pair_anchor, pair_iou = anchor_overlaps(boxes, anchors)      # (P,) each
    matches = match_anchors(pair_box, pair_anchor, pair_iou, slice_index, num_slices,
                            len(anchors.corners), iou_upper, iou_lower, rule)
    return pair_box, pair_anchor, matches


def encode_targets(boxes, classes, slice_index, num_slices, anchors, num_classes,
                   iou_upper, iou_lower, rule="seed"):
    """Targets for a batch of slices.

    Args:
        boxes: float (M, 4) ground-truth boxes of the whole batch, ``[y1, x1, y2, x2]``.
        classes: int (M,) class of each box in ``1..num_classes``.
        slice_index: int (M,) slice of each box, non-decreasing.
        num_slices: S.
        anchors: ``anchors.Anchors``.
        num_classes: K.
        iou_upper, iou_lower, rule: see ``matching.match_anchors``.

    Returns:
        dict with ``cls`` uint8 (S, N, K), ``reg`` float32 (S, N, 4), ``cls-msk`` float32
        (S, N, K), ``reg-msk`` float32 (S, N, 4).
    """
    num_anchors = len(anchors.corners)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    classes = np.asarray(classes, dtype=np.int64).reshape(-1)
    slice_index = np.asarray(slice_index, dtype=np.int64).reshape(-1)
    pair_box, pair_anchor, matches = match_batch(boxes, slice_index, num_slices, anchors,
                                                 iou_upper, iou_lower, rule)
    s_pos, n_pos = np.divmod(matches.cells, num_anchors)                   # (Q,) positives
    box_pos = matches.boxes

    cls = np.zeros((num_slices, num_anchors, num_classes), dtype=np.uint8)
    cls[s_pos, n_pos, classes[box_pos] - 1] = 1
    reg = np.zeros((num_slices, num_anchors, 4), dtype=np.float32)
    reg[s_pos, n_pos] = encode_deltas(boxes[box_pos], anchors.offsets[n_pos])
    reg_msk = np.zeros((num_slices, num_anchors, 4), dtype=np.float32)
    reg_msk[s_pos, n_pos] = 1          # positives are few: write only their rows

    # Per-class ignore: the band of a class-k box hides channel k, unless positive for k.
    cls_msk = np.ones((num_slices, num_anchors, num_classes), dtype=np.float32)
    band_box = pair_box[matches.band]
    ignored = (slice_index[band_box], pair_anchor[matches.band], classes[band_box] - 1)
    hidden = cls[ignored] == 0
    cls_msk[tuple(index[hidden] for index in ignored)] = 0
    return {"cls": cls, "reg": reg, "cls-msk": cls_msk, "reg-msk": reg_msk}


def vectors_to_maps(vectors, anchors, levels, kind, mask=False):
    """Split (S, N, D) per-anchor vectors into per-level maps ``{key: (S, gh, gw, A*D)}``.

    Channel ``a*D + d`` holds template ``a``, component ``d`` (a plain reshape, as the seed).
    """
    vectors = np.asarray(vectors)
    num_slices, _, depth = vectors.shape
    maps = {}
    for level, (grid_h, grid_w), start, size in zip(levels, anchors.grid_shapes,
                                                    anchors.level_starts, anchors.level_sizes):
        maps[map_key(kind, level, mask)] = vectors[:, start:start + size].reshape(
            num_slices, grid_h, grid_w, anchors.num_per_location * depth)
    return maps


def maps_to_vectors(maps, anchors, levels, kind, depth, mask=False):
    """Inverse of ``vectors_to_maps``: concatenate ``{kind}-c{level}[-msk]`` maps
    (..., gh, gw, A*D) in the order of ``levels`` -> (S, N, D), S = product of the leading
    axes. Raises ValueError naming a missing or misshapen key."""
    pieces = []
    for level, (grid_h, grid_w) in zip(levels, anchors.grid_shapes):
        key = map_key(kind, level, mask)
        if key not in maps:
            raise ValueError(f"box dict has no key {key!r}; expected keys "
                             f"{[map_key(kind, c, mask) for c in levels]}, got {sorted(maps)}")
        value = np.asarray(maps[key])
        expected = (grid_h, grid_w, anchors.num_per_location * depth)
        if value.shape[-3:] != expected:
            raise ValueError(f"box[{key!r}] must end in shape {expected}, got {value.shape}")
        pieces.append(value.reshape(-1, grid_h * grid_w * anchors.num_per_location, depth))
    return np.concatenate(pieces, axis=1)
