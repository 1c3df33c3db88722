"""Anchor grids of a feature pyramid, built in three steps (as torchvision does):
per-level templates -> shifted over the level's grid -> concatenated over levels.

Conventions (the seed's, kept so its numbers reproduce):

* Level ``c`` has a grid of ``int(H / 2**c) x int(W / 2**c)`` cells; stride = image size /
  grid size as a float (240 px at c5: grid 7, stride 34.2857).
* Templates for base size ``b``: ``h = b * 2**(s/3) / sqrt(r)``, ``w = b * 2**(s/3) * sqrt(r)``,
  so the ratio is ``r = w / h`` (r = 0.5 is a TALL box), enumerated scale-major, ratio-minor.
* Anchor index = level offset + (row * grid_w + col) * A + template.
"""

from typing import NamedTuple

import numpy as np

from .boxes import box_area, centres_to_corners, clip_boxes

__all__ = ["CENTRE_OFFSET", "Anchors", "grid_shapes", "anchor_templates", "level_anchors",
           "make_anchors", "overlap_candidates"]

# Where an anchor sits inside its grid cell, in strides. The seed puts it on the cell's
# top-left corner: at c3 of a 240 px image the centres are 0, 8, 16, ... (0.5 would give
# 4, 12, 20, ... as keras-io does). Kept at 0.0 for parity with the seed and torchvision.
CENTRE_OFFSET = 0.0


class Anchors(NamedTuple):
    """All anchors of a pyramid, in anchor-index order.

    offsets: float64 (N, 4) ``[cy, cx, h, w]``, unclipped (deltas are relative to these).
    corners: float64 (N, 4) ``[y1, x1, y2, x2]`` clipped to the image (used for IoU).
    areas: float64 (N,) areas of the clipped corners.
    grid_shapes: one ``(gh, gw)`` per level.
    strides: one ``(stride_y, stride_x)`` per level, floats.
    level_sizes: number of anchors per level, ``gh * gw * A``.
    num_per_location: ``A = len(scales) * len(ratios)``.
    """
    offsets: np.ndarray
    corners: np.ndarray
    areas: np.ndarray
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
                   grid_shapes=shapes, strides=strides,
                   level_sizes=[gh * gw * num_per_location for gh, gw in shapes],
                   num_per_location=num_per_location)


def overlap_candidates(boxes, anchors):
    """Every (box, anchor) pair that can overlap: a superset of the pairs with IoU > 0.

    Most anchors of a slice are far from every lesion, so instead of an (M, N) IoU matrix
    we list, per box, level and template, the rectangle of grid cells whose anchor of that
    template can reach the box (anchor centres are ``(i + CENTRE_OFFSET) * stride``), all
    vectorised. IoU is then computed on these pairs only.

    Args:
        boxes: float (M, 4) ``[y1, x1, y2, x2]``, finite.
        anchors: ``Anchors``.

    Returns:
        ``(box_index, anchor_index)``, int32 (P,) each.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    num_templates = anchors.num_per_location
    box_pieces, anchor_pieces = [], []
    for (grid_h, grid_w), (stride_y, stride_x), start in zip(
            anchors.grid_shapes, anchors.strides, anchors.level_starts):
        half = anchors.offsets[start:start + num_templates, 2:] / 2        # (A, 2) half h, w
        # one "unit" per (box, template): the range of grid rows/cols that can overlap
        y1, x1, y2, x2 = (boxes[:, None, i] for i in range(4))            # (M, 1) each
        row0 = np.floor((y1 - half[:, 0]) / stride_y - CENTRE_OFFSET)      # (M, A)
        row1 = np.floor((y2 + half[:, 0]) / stride_y - CENTRE_OFFSET) + 1
        col0 = np.floor((x1 - half[:, 1]) / stride_x - CENTRE_OFFSET)
        col1 = np.floor((x2 + half[:, 1]) / stride_x - CENTRE_OFFSET) + 1
        row0, row1 = np.clip(row0, 0, grid_h).astype(np.int64), np.clip(row1, 0, grid_h).astype(np.int64)
        col0, col1 = np.clip(col0, 0, grid_w).astype(np.int64), np.clip(col1, 0, grid_w).astype(np.int64)
        row1, col1 = np.maximum(row1, row0), np.maximum(col1, col0)       # inverted box: no cells
        num_cols = (col1 - col0).ravel()                                   # (M*A,)
        counts = (row1 - row0).ravel() * num_cols
        first_anchor = start + (row0 * grid_w + col0) * num_templates + np.arange(num_templates)
        # pair p belongs to unit u and is cell k of the unit's rectangle, in raster order
        # (int32 indices: half the memory traffic of int64 on this hot path)
        unit = np.repeat(np.arange(counts.size, dtype=np.int32), counts)   # (P_l,)
        k = np.arange(counts.sum(), dtype=np.int32)
        k -= np.repeat((np.cumsum(counts) - counts).astype(np.int32), counts)
        row_offset, col_offset = np.divmod(k, num_cols.astype(np.int32)[unit])
        row_offset *= grid_w * num_templates
        col_offset *= num_templates
        row_offset += col_offset
        row_offset += first_anchor.ravel().astype(np.int32)[unit]
        anchor_pieces.append(row_offset)
        box_pieces.append(unit // num_templates)
    return np.concatenate(box_pieces), np.concatenate(anchor_pieces)
