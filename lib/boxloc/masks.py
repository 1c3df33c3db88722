"""Label masks <-> boxes: connected lesions become ground-truth boxes, boxes are drawn
back onto a canvas for display.

Masks are integer label images (0 = background). A lesion is a 4-connected component of
``mask > 0`` (diagonal neighbours are separate lesions, as in the seed); touching regions
of different labels form one lesion whose class is the label of its first pixel in raster
order.
"""

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from ._arrays import ranks

__all__ = ["check_label_masks", "masks_to_boxes", "mask_lesions", "draw_boxes"]


def check_label_masks(masks, name="msk"):
    """Raise ValueError unless ``masks`` holds finite, non-negative, integer labels."""
    masks = np.asarray(masks)
    if masks.dtype == bool or masks.size == 0:
        return masks
    if masks.dtype.kind not in "uif":
        raise ValueError(f"{name} must hold integer labels, got dtype {masks.dtype}")
    if masks.dtype.kind == "f":
        if not np.all(np.isfinite(masks)):
            raise ValueError(f"{name} contains NaN or inf; expected integer labels >= 0")
        if np.any(masks != np.floor(masks)):
            raise ValueError(f"{name} contains non-integer values; expected integer labels >= 0")
    if masks.dtype.kind != "u" and masks.min() < 0:
        raise ValueError(f"{name} contains negative labels (min {masks.min()}); expected labels >= 0")
    return masks


def masks_to_boxes(masks, min_size_blob=0.1, box_padding=0):
    """Ground-truth boxes of every lesion in a stack of 2-D label masks.

    Args:
        masks: integer labels (S, H, W), already validated by ``check_label_masks``.
        min_size_blob: keep a lesion when its pixel count is at least this fraction of the
            largest lesion of the same slice (0 keeps all).
        box_padding: pixels added on every side before clipping to the image.

    Returns:
        boxes: float64 (M, 4) ``[y1, x1, y2, x2]``, half-open, clipped to the image.
        classes: int64 (M,) label of each lesion's first pixel (raster order).
        slice_index: int64 (M,) slice of each lesion, non-decreasing; within a slice the
            lesions are in raster order of their first pixel.
    """
    lesions = mask_lesions(masks, min_size_blob, box_padding)
    return lesions["boxes"], lesions["classes"], lesions["slice_index"]


def mask_lesions(masks, min_size_blob=0.1, box_padding=0):
    """``masks_to_boxes`` with more about each kept lesion, as a dict of (M,...) arrays:
    ``boxes``, ``classes``, ``slice_index`` as there, ``pixels`` int64 (M,) its pixel count
    and ``first_pixel`` int64 (M, 2) ``(row, col)`` of its first pixel in raster order."""
    masks = np.asarray(masks)
    num_slices, height, width = masks.shape
    none = np.zeros(0, np.int64)
    empty = {"boxes": np.zeros((0, 4)), "classes": none, "slice_index": none, "pixels": none,
             "first_pixel": np.zeros((0, 2), np.int64)}
    if masks.size == 0:
        return empty

    # Lesions cover a few percent of a slice, so only rows holding foreground are looked at.
    row_slice, row_index = np.nonzero(_foreground_rows(masks))              # (R,) each
    # Runs: maximal horizontal segments [start, stop) of foreground in a row. With a background
    # column padded on each side, every change along the flattened rows is a run's start or
    # stop, alternating.
    rows = np.zeros((len(row_slice), width + 2), dtype=bool)
    rows[:, 1:-1] = masks[row_slice, row_index] > 0
    flat = rows.ravel()
    edge_row, edge_col = np.divmod(np.flatnonzero(flat[1:] != flat[:-1]) + 1, width + 2)
    run_row, start, stop = edge_row[::2], edge_col[::2] - 1, edge_col[1::2] - 1   # (U,) each
    if len(start) == 0:
        return empty

    # Lesions = connected components of the graph "run u touches run v of the next image row
    # of the same slice" (4-connectivity: they share a column). The runs of the next line that
    # touch u form a contiguous range, found with two binary searches on (line, column) keys,
    # which increase in raster order. One connected_components call for the whole batch.
    line = (row_slice * (height + 1) + row_index)[run_row]                  # next row: line + 1
    stride = width + 1
    below = (line + 1) * stride
    first = np.searchsorted(line * stride + stop, below + start, side="right")
    count = np.maximum(np.searchsorted(line * stride + start, below + stop, side="left") - first,
                       0)
    touching = np.repeat(first, count) + ranks(count)                      # (E,) sorted by run
    graph = csr_matrix((np.ones(len(touching), np.int8), touching, np.r_[0, np.cumsum(count)]),
                       shape=(len(start), len(start)))
    _, lesion_of_run = connected_components(graph, directed=False)         # (U,)

    # Per lesion: group its runs (a stable sort keeps raster order inside a lesion), number the
    # lesions in raster order of their first pixel = of their first run.
    order = np.argsort(lesion_of_run, kind="stable")
    group = np.flatnonzero(np.r_[True, np.diff(lesion_of_run[order]) != 0])
    raster = np.argsort(order[group])
    first_run = order[group][raster]                                       # (M,)

    def per_lesion(reduce, values):
        return reduce.reduceat(values[order], group)[raster]

    image_row = row_index[run_row]                                         # (U,)
    sizes = per_lesion(np.add, stop - start)                               # (M,) pixels
    slice_index = row_slice[run_row[first_run]]                            # (M,) non-decreasing
    first_pixel = np.stack([image_row[first_run], start[first_run]], axis=1)
    boxes = np.stack([per_lesion(np.minimum, image_row) - box_padding,
                      per_lesion(np.minimum, start) - box_padding,
                      per_lesion(np.maximum, image_row) + 1 + box_padding,
                      per_lesion(np.maximum, stop) + box_padding], axis=1)
    boxes = np.clip(boxes, 0, [height, width, height, width]).astype(np.float64)
    # Class = label of the lesion's first pixel in raster order.
    classes = masks[slice_index, first_pixel[:, 0], first_pixel[:, 1]].astype(np.int64)

    # Size filter relative to the largest lesion of each slice (slice_index is sorted, so
    # reduceat groups by slice).
    starts = np.flatnonzero(np.r_[True, slice_index[1:] != slice_index[:-1]])
    largest = np.repeat(np.maximum.reduceat(sizes, starts), np.diff(np.r_[starts, len(sizes)]))
    keep = sizes >= min_size_blob * largest
    return {"boxes": boxes[keep], "classes": classes[keep], "slice_index": slice_index[keep],
            "pixels": sizes[keep].astype(np.int64), "first_pixel": first_pixel[keep]}


def _foreground_rows(masks):
    """bool (S, H): which rows hold a non-zero label. OR-reduces each row's bytes, 8 at a time
    where the row length allows (twice as fast as ``masks.any(axis=2)``); a row of -0.0 counts
    as foreground here, which only costs a row with no runs."""
    num_slices, height, _ = masks.shape
    row_bytes = np.ascontiguousarray(masks).reshape(num_slices * height, -1).view(np.uint8)
    if row_bytes.shape[1] % 8 == 0:
        row_bytes = row_bytes.view(np.uint64)
    return (np.bitwise_or.reduce(row_bytes, axis=1) != 0).reshape(num_slices, height)


def draw_boxes(boxes, image_shape, values=None, fill=False):
    """Draw corner-form boxes on a zero uint8 canvas of ``image_shape`` (H, W).

    The outline runs along rows ``y1`` and ``y2`` and columns ``x1`` and ``x2`` (the
    seed's convention: just outside the half-open box), clipped to the canvas, with all four
    corners closed. ``fill=True`` paints ``[y1:y2, x1:x2]``. ``values`` (M,) are the pixel
    values (default 1). Boxes with NaN/inf coordinates are skipped.
    """
    height, width = image_shape
    canvas = np.zeros((height, width), dtype=np.uint8)
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    values = np.ones(len(boxes), np.uint8) if values is None else np.asarray(values)
    finite = np.all(np.isfinite(boxes), axis=1)
    corners = np.clip(boxes[finite], 0, [height - 1, width - 1, height - 1, width - 1]).astype(int)
    for (y1, x1, y2, x2), value in zip(corners, values[finite]):
        if fill:
            canvas[y1:y2, x1:x2] = value
            continue
        canvas[[y1, y2], x1:x2 + 1] = value
        canvas[y1:y2 + 1, [x1, x2]] = value
    return canvas
