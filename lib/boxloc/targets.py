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
from .matching import find_rule, match_anchors

__all__ = ["match_batch", "matching_pairs", "encode_targets", "vectors_to_maps",
           "maps_to_vectors", "map_key"]


def map_key(kind, level, mask=False):
    """``map_key('cls', 3) -> 'cls-c3'``; ``mask=True`` appends ``-msk``."""
    return f"{kind}-c{level}" + ("-msk" if mask else "")


def match_batch(boxes, slice_index, num_slices, anchors, iou_upper, iou_lower, rule="seed"):
    """IoU pairs and matches of a batch's boxes -> ``(pair_box, pair_anchor, Matches)``."""
    pair_box, pair_anchor, pair_iou = matching_pairs(boxes, slice_index, anchors, iou_lower,
                                                      rule)
    matches = match_anchors(pair_box, pair_anchor, pair_iou, slice_index, num_slices,
                            len(anchors.corners), iou_upper, iou_lower, rule)
    return pair_box, pair_anchor, matches


def matching_pairs(boxes, slice_index, anchors, iou_lower, rule="seed"):
    """The (box, anchor) IoU pairs matching needs -> ``(pair_box, pair_anchor, pair_iou)``.

    A pair below ``iou_lower`` never makes a positive or an ignored anchor unless it is its
    box's best pair (a forced match). So pairs below it are skipped
    (``anchor_overlaps(min_iou=...)``), except for a box whose best IoU is below it (a small
    box, typically), which gets all its pairs, or the whole slice of such a box all pairs
    when the rule's forced anchor goes to its highest-IoU box (``MatchRule.forced_pairs``,
    the ``"torchvision"`` rule).
    """
    forced_pairs = find_rule(rule).forced_pairs
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    slice_index = np.asarray(slice_index).reshape(-1)
    pair_box, pair_anchor, pair_iou = anchor_overlaps(boxes, anchors, min_iou=iou_lower)
    if iou_lower <= 0:
        return pair_box, pair_anchor, pair_iou                              # nothing skipped
    best = np.zeros(len(boxes))
    np.maximum.at(best, pair_box, pair_iou)
    redo = best < iou_lower                                                 # (M,) bool
    if forced_pairs == "slice":
        redo = np.isin(slice_index, slice_index[redo])
    if redo.any():
        kept = ~redo[pair_box]
        redo = np.flatnonzero(redo)
        redo_box, redo_anchor, redo_iou = anchor_overlaps(boxes[redo], anchors)
        pair_box = np.concatenate([pair_box[kept], redo[redo_box].astype(np.int32)])
        pair_anchor = np.concatenate([pair_anchor[kept], redo_anchor])
        pair_iou = np.concatenate([pair_iou[kept], redo_iou])
    return pair_box, pair_anchor, pair_iou


def encode_targets(boxes, classes, slice_index, num_slices, anchors, num_classes,
                   iou_upper, iou_lower, rule="seed", levels=None):
    """Targets for a batch of slices.

    Args:
        boxes: float (M, 4) ground-truth boxes of the whole batch, ``[y1, x1, y2, x2]``.
        classes: int (M,) class of each box in ``1..num_classes``.
        slice_index: int (M,) slice of each box, non-decreasing.
        num_slices: S.
        anchors: ``anchors.Anchors``.
        num_classes: K.
        iou_upper, iou_lower, rule: see ``matching.match_anchors``.
        levels: None, or the level numbers ``c`` of the anchors' levels to get maps.

    Returns:
        without ``levels``, dict with ``cls`` uint8 (S, N, K), ``reg`` float32 (S, N, 4),
        ``cls-msk`` float32 (S, N, K), ``reg-msk`` float32 (S, N, 4); with ``levels``, the
        same as per-level maps ``{'cls-c3': (S, gh, gw, A*K), ...}`` (``vectors_to_maps``
        layout), each written in place (no copy per level).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    classes = np.asarray(classes, dtype=np.int64).reshape(-1)
    slice_index = np.asarray(slice_index, dtype=np.int64).reshape(-1)
    pair_box, pair_anchor, matches = match_batch(boxes, slice_index, num_slices, anchors,
                                                 iou_upper, iou_lower, rule)
    s_pos, n_pos = np.divmod(matches.cells, len(anchors.corners))          # (Q,) positives
    box_pos = matches.boxes
    cls = _LevelBlocks(anchors, num_slices, num_classes, np.uint8)
    cls.put(s_pos, n_pos, classes[box_pos] - 1, 1)
    reg = _LevelBlocks(anchors, num_slices, 4, np.float32)
    reg.put(s_pos, n_pos, slice(None), encode_deltas(boxes[box_pos], anchors.offsets[n_pos]))
    reg_msk = _LevelBlocks(anchors, num_slices, 4, np.float32)
    reg_msk.put(s_pos, n_pos, slice(None), 1)          # positives are few: write only their rows

    # Per-class ignore: the band of a class-k box hides channel k, unless positive for k.
    band_box = pair_box[matches.band]
    ignored = slice_index[band_box], pair_anchor[matches.band], classes[band_box] - 1
    hidden = cls.get(*ignored) == 0
    cls_msk = _LevelBlocks(anchors, num_slices, num_classes, np.float32, fill=1)
    cls_msk.put(*(index[hidden] for index in ignored), 0)
    blocks = {"cls": cls, "reg": reg, "cls-msk": cls_msk, "reg-msk": reg_msk}
    if levels is None:
        return {kind: block.vectors() for kind, block in blocks.items()}
    maps = {}
    for kind, block in blocks.items():
        maps.update(block.maps(levels, kind.split("-")[0], kind.endswith("-msk")))
    return maps


def _rows(index_or_value, here):
    """The ``here`` rows of a per-anchor array; scalars and slices apply to every row."""
    return index_or_value[here] if isinstance(index_or_value, np.ndarray) and \
        index_or_value.ndim else index_or_value


class _LevelBlocks:
    """A per-anchor target of S slices stored level by level: one (S, n_l, D) array per level,
    so each level's map is a free reshape (a level of an (S, N, D) array is not contiguous).
    Anchors are addressed by their global index."""

    def __init__(self, anchors, num_slices, depth, dtype, fill=0):
        self.anchors, self.num_slices, self.depth = anchors, num_slices, depth
        self.arrays = [np.full((num_slices, size, depth), fill, dtype) if fill else
                       np.zeros((num_slices, size, depth), dtype)
                       for size in anchors.level_sizes]

    def _by_level(self, anchor):
        """Per level: its array, its first global anchor index, and which ``anchor`` are in it."""
        level = np.searchsorted(self.anchors.level_starts, anchor, side="right") - 1
        for number, (array, start) in enumerate(zip(self.arrays, self.anchors.level_starts)):
            yield array, start, level == number

    def put(self, slices, anchor, channel, value):
        """``target[slices, anchor, channel] = value``, value a scalar or one row per anchor."""
        value = np.asarray(value)
        for array, start, here in self._by_level(anchor):
            array[slices[here], anchor[here] - start, _rows(channel, here)] = _rows(value, here)

    def get(self, slices, anchor, channel):
        """``target[slices, anchor, channel]`` -> (P,)."""
        out = np.zeros(len(anchor), self.arrays[0].dtype)
        for array, start, here in self._by_level(anchor):
            out[here] = array[slices[here], anchor[here] - start, _rows(channel, here)]
        return out

    def vectors(self):
        """(S, N, D), all levels concatenated."""
        return np.concatenate(self.arrays, axis=1)

    def maps(self, levels, kind, mask):
        """``{map_key(kind, c, mask): (S, gh, gw, A*D)}``, views of the level arrays."""
        return {map_key(kind, level, mask): array.reshape(
                    self.num_slices, grid_h, grid_w, self.anchors.num_per_location * self.depth)
                for level, (grid_h, grid_w), array in zip(levels, self.anchors.grid_shapes,
                                                          self.arrays)}


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
