"""Anchor grids of a feature pyramid, built in three steps (as torchvision does):
per-level templates -> shifted over the level's grid -> concatenated over levels.

Conventions (the seed's, kept so its numbers reproduce):

* Level ``c`` has a grid of ``int(H / 2**c) x int(W / 2**c)`` cells; stride = image size /
  grid size as a float (240 px at c5: grid 7, stride 34.2857).
* Templates for base size ``b``: ``h = b * 2**(s/3) / sqrt(r)``, ``w = b * 2**(s/3) * sqrt(r)``,
  so the ratio is ``r = w / h`` (r = 0.5 is a TALL box), enumerated scale-major, ratio-minor.
* Anchor index = level offset + (row * grid_w + col) * A + template.
"""

import math
from typing import NamedTuple

import numpy as np

from ._arrays import ranks
from .boxes import _ratio, box_area, centres_to_corners, clip_boxes

__all__ = ["CENTRE_OFFSET", "Anchors", "grid_shapes", "pyramid_grid", "anchor_templates",
           "level_anchors", "make_anchors", "anchor_overlaps"]

# Where an anchor sits inside its grid cell, in strides. The seed puts it on the cell's
# top-left corner: at c3 of a 240 px image the centres are 0, 8, 16, ... (0.5 would give
# 4, 12, 20, ... as keras-io does). Kept at 0.0 for parity with the seed and torchvision.
CENTRE_OFFSET = 0.0


class Anchors(NamedTuple):
    """All anchors of a pyramid, in anchor-index order.

    offsets: float64 (N, 4) ``[cy, cx, h, w]``, unclipped (deltas are relative to these).
    corners: float64 (N, 4) ``[y1, x1, y2, x2]`` clipped to the image (used for IoU).
    areas: float64 (N,) areas of the clipped corners.
    image_shape: ``(H, W)``.
    grid_shapes: one ``(gh, gw)`` per level.
    strides: one ``(stride_y, stride_x)`` per level, floats.
    level_sizes: number of anchors per level, ``gh * gw * A``.
    num_per_location: ``A = len(scales) * len(ratios)``.
    """
    offsets: np.ndarray
    corners: np.ndarray
    areas: np.ndarray
    image_shape: tuple
    grid_shapes: list
    strides: list
    level_sizes: list
    num_per_location: int

    @property
    def level_starts(self):
        """First anchor index of each level (N_0 = 0, N_0 + N_1, ...)."""
        return np.concatenate([[0], np.cumsum(self.level_sizes)[:-1]]).astype(int).tolist()


def grid_shapes(image_shape, levels):
    """``[(int(H / 2**c), int(W / 2**c)) for c in levels]`` as plain ints."""
    height, width = image_shape
    return [(int(height / 2 ** c), int(width / 2 ** c)) for c in levels]


def pyramid_grid(image_shape, level):
    """Feature-map size ``(h, w)`` after ``level`` stride-2 ``'same'`` convolutions: each
    halving rounds up, where ``grid_shapes`` rounds down (the network's side of the match).

    >>> pyramid_grid((240, 240), 4), pyramid_grid((240, 240), 5), grid_shapes((240, 240), [5])
    ((15, 15), (8, 8), [(7, 7)])
    """
    height, width = image_shape
    for _ in range(level):
        height, width = math.ceil(height / 2), math.ceil(width / 2)
    return height, width


def anchor_templates(base_size, scales, ratios):
    """Template heights and widths for one level -> float64 (A, 2) ``[h, w]``.

    >>> anchor_templates(32, [0], [0.5, 1, 2]).round(2)  # tall, square, wide
    array([[45.25, 22.63],
           [32.  , 32.  ],
           [22.63, 45.25]])
    """
    size = base_size * 2.0 ** (np.asarray(scales, dtype=float) / 3)   # (S,)
    root = np.sqrt(np.asarray(ratios, dtype=float))                    # (R,)
    heights = (size[:, None] / root[None, :]).ravel()                  # (S*R,) scale-major
    widths = (size[:, None] * root[None, :]).ravel()
    return np.stack([heights, widths], axis=1)


def level_anchors(grid_shape, strides, templates):
    """Shift templates (A, 2) over a grid -> float64 (gh*gw*A, 4) ``[cy, cx, h, w]``."""
    grid_h, grid_w = grid_shape
    stride_y, stride_x = strides
    cy = (np.arange(grid_h) + CENTRE_OFFSET) * stride_y
    cx = (np.arange(grid_w) + CENTRE_OFFSET) * stride_x
    num_templates = len(templates)
    centres = np.stack(np.meshgrid(cy, cx, indexing="ij"), axis=-1).reshape(-1, 1, 2)  # (G, 1, 2)
    centres = np.broadcast_to(centres, (grid_h * grid_w, num_templates, 2))
    sizes = np.broadcast_to(templates[None], (grid_h * grid_w, num_templates, 2))
    return np.concatenate([centres, sizes], axis=-1).reshape(-1, 4)


def make_anchors(image_shape, levels, anchor_shapes, anchor_scales, anchor_ratios):
    """Anchors for every level of a pyramid (arguments as in ``BoundingBox``)."""
    image_shape = tuple(int(s) for s in image_shape)
    shapes = grid_shapes(image_shape, levels)
    strides = [(image_shape[0] / gh, image_shape[1] / gw) for gh, gw in shapes]
    offsets = []
    for grid_shape, level_strides, base_size in zip(shapes, strides, anchor_shapes):
        templates = anchor_templates(base_size, anchor_scales, anchor_ratios)
        offsets.append(level_anchors(grid_shape, level_strides, templates))
    num_per_location = len(anchor_scales) * len(anchor_ratios)
    offsets = np.concatenate(offsets, axis=0)
    # column-major: each coordinate is contiguous, which makes per-pair gathers fast
    corners = np.asfortranarray(clip_boxes(centres_to_corners(offsets), image_shape))
    return Anchors(offsets=offsets, corners=corners, areas=box_area(corners),
                   image_shape=image_shape, grid_shapes=shapes, strides=strides,
                   level_sizes=[gh * gw * num_per_location for gh, gw in shapes],
                   num_per_location=num_per_location)


def _line_overlaps(low, high, half, first, count, stride, limit, min_iou):
    """Along one axis, for each unit u (a box with one level's template) and each of its
    ``count[u]`` grid lines from ``first[u]`` (spaced ``stride[u]``): the anchor's clipped
    extent and its overlap with the box.

    A pair's IoU is at most ``overlap / max(box extent, anchor extent)`` along either axis
    (IoU <= inter / area of either box <= the overlap fraction of either side), so lines
    where this bound is below ``min_iou`` cannot hold a pair with IoU >= ``min_iou``: they
    are dropped.

    Returns ``(overlap, extent, line, count)``: float64 (L,), float64 (L,), int64 (L,) grid
    line, unit by unit, and the int (U,) number of lines kept per unit.
    """
    unit = np.repeat(np.arange(len(count)), count)                         # (L,)
    line = first[unit] + ranks(count)
    centre = (line + CENTRE_OFFSET) * stride[unit]     # same arithmetic as level_anchors
    anchor_low = np.clip(centre - half[unit], 0, limit)  # ... and as clipped corners
    anchor_high = np.clip(centre + half[unit], 0, limit)
    overlap = np.minimum(anchor_high, high[unit])
    overlap -= np.maximum(anchor_low, low[unit])
    np.maximum(overlap, 0, out=overlap)
    extent = anchor_high - anchor_low
    if min_iou > 0:
        keep = overlap >= min_iou * np.maximum(extent, (high - low)[unit])
        overlap, extent, line, unit = overlap[keep], extent[keep], line[keep], unit[keep]
        count = np.bincount(unit, minlength=len(count))
    return overlap, extent, line, count


def anchor_overlaps(boxes, anchors, min_iou=0.0):
    """IoU of every box with every anchor it overlaps, as a sparse list of pairs.

    Most anchors of a slice are far from every lesion, so instead of an (M, N) IoU matrix
    we visit, per box, level and template, only the rectangle of grid cells whose anchor
    can reach the box. On a grid the IoU is separable: the overlap height of a box with an
    anchor depends only on the anchor's row and the overlap width only on its column, so
    heights and widths are computed once per row and per column and multiplied per pair.
    The result equals ``iou_matrix(boxes, anchors.corners)`` at every returned pair, and
    every pair with IoU > 0 and IoU >= ``min_iou`` is returned (with ``min_iou > 0``, rows
    and columns that cannot reach it are skipped, so most pairs below it are not listed).

    Args:
        boxes: float (M, 4) ``[y1, x1, y2, x2]``, finite.
        anchors: ``Anchors``.
        min_iou: pairs below this IoU may be left out (matching needs none below its
            ``iou_lower`` once a box has a pair above it).

    Returns:
        ``(box_index, anchor_index, iou)``: int32 (P,), int32 (P,), float64 (P,).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    num_boxes, num_templates = len(boxes), anchors.num_per_location
    num_levels = len(anchors.grid_shapes)
    # one "unit" per (level, box, template), level-major then box-major: U = L * M * A
    level = np.repeat(np.arange(num_levels), num_boxes * num_templates)    # (U,)
    box_of_unit = np.tile(np.repeat(np.arange(num_boxes), num_templates), num_levels)
    template = np.tile(np.arange(num_templates), num_levels * num_boxes)
    start = np.asarray(anchors.level_starts)[level]                        # first anchor of level
    half = anchors.offsets[start + template, 2:] / 2                       # (U, 2) h/2, w/2
    stride = np.asarray(anchors.strides, dtype=np.float64)[level]          # (U, 2)
    grid = np.asarray(anchors.grid_shapes)[level]                          # (U, 2)
    low, high = boxes[box_of_unit, :2], boxes[box_of_unit, 2:]             # (U, 2) y1 x1 / y2 x2
    # grid lines whose anchor can reach the box (a superset by at most one line)
    first = np.floor((low - half) / stride - CENTRE_OFFSET)
    last = np.floor((high + half) / stride - CENTRE_OFFSET) + 1
    first = np.clip(first, 0, grid).astype(np.int64)
    count = np.maximum(np.clip(last, 0, grid).astype(np.int64) - first, 0)
    row_overlap, row_extent, row, row_count = _line_overlaps(
        low[:, 0], high[:, 0], half[:, 0], first[:, 0], count[:, 0], stride[:, 0],
        anchors.image_shape[0], min_iou)
    col_overlap, col_extent, col, col_count = _line_overlaps(
        low[:, 1], high[:, 1], half[:, 1], first[:, 1], count[:, 1], stride[:, 1],
        anchors.image_shape[1], min_iou)
    # Pairs in raster order of each unit's rows x columns: one "run" of pairs per kept row
    # (the row lines are already unit by unit). Per-row values are spread to their pairs with
    # np.repeat (rows are few, pairs many).
    run_unit = np.repeat(np.arange(len(half), dtype=np.int32), row_count)   # (R,)
    run_length = col_count[run_unit]
    col_entry = ranks(run_length)                                          # (P,) into columns
    col_entry += np.repeat((np.cumsum(col_count) - col_count)[run_unit], run_length)
    run_anchor = (start[run_unit] + row * (grid[run_unit, 1] * num_templates)
                  + template[run_unit]).astype(np.int32)
    anchor = np.repeat(run_anchor, run_length)
    anchor += np.take(col, col_entry).astype(np.int32) * num_templates
    inter = np.repeat(row_overlap, run_length) * np.take(col_overlap, col_entry)
    anchor_area = np.repeat(row_extent, run_length) * np.take(col_extent, col_entry)
    box = np.repeat(box_of_unit[run_unit].astype(np.int32), run_length)
    return box, anchor, _ratio(inter, np.take(box_area(boxes), box), anchor_area)
