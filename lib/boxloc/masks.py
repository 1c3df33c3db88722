"""Label masks <-> boxes: connected lesions become ground-truth boxes, boxes are drawn
back onto a canvas for display.

Masks are integer label images (0 = background). A lesion is a 4-connected component of
``mask > 0`` (diagonal neighbours are separate lesions, as in the seed); touching regions
of different labels form one lesion whose class is the label of its first pixel in raster
order.
"""

import numpy as np
from scipy import ndimage

__all__ = ["check_label_masks", "masks_to_boxes", "mask_lesions", "draw_boxes"]

_CROSS = ndimage.generate_binary_structure(2, 1)   # 4-connectivity


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

    # Lesions cover a few percent of a slice, so label only the rows that hold foreground,
    # packed into one 2-D image (one ndimage.label call for the whole batch). A zero row
    # separates runs of rows that are not neighbours in the same slice, so packing never
    # joins two lesions.
    row_slice, row_index = np.nonzero(masks.any(axis=2))                    # (R,) each
    if len(row_slice) == 0:
        return empty
    new_run = np.r_[True, (row_slice[1:] != row_slice[:-1])
                    | (row_index[1:] != row_index[:-1] + 1)]
    packed_row = np.arange(len(row_slice)) + np.cumsum(new_run)             # (R,) separators skipped
    packed = np.zeros((packed_row[-1] + 1, width), dtype=bool)              # (P, W)
    packed[packed_row] = masks[row_slice, row_index] > 0
    used_cols = np.flatnonzero(packed.any(axis=0))
    col_offset = used_cols[0]                                               # crop empty columns too
    packed = packed[:, col_offset:used_cols[-1] + 1]
    labels, count = ndimage.label(packed, structure=_CROSS)                 # (P, W')
    if count == 0:
        return empty
    slice_of_row = np.zeros(len(packed), np.int64)
    image_row_of_row = np.zeros(len(packed), np.int64)
    slice_of_row[packed_row], image_row_of_row[packed_row] = row_slice, row_index

    extents = ndimage.find_objects(labels)                                  # (rows, cols) per lesion
    first_row = np.array([rows.start for rows, _ in extents])               # (M,) packed rows
    last_row = np.array([rows.stop - 1 for rows, _ in extents])
    cols = np.array([[c.start, c.stop] for _, c in extents]) + col_offset   # (M, 2)
    slice_index = slice_of_row[first_row]
    sizes = np.bincount(labels[packed], minlength=count + 1)[1:]            # (M,) pixels

    # Size filter relative to the largest lesion of each slice; lesions are numbered in
    # raster order, so slice_index is sorted and reduceat groups by slice.
    starts = np.flatnonzero(np.r_[True, slice_index[1:] != slice_index[:-1]])
    largest = np.repeat(np.maximum.reduceat(sizes, starts), np.diff(np.r_[starts, count]))
    keep = sizes >= min_size_blob * largest

    # Class = label of the lesion's first pixel in raster order.
    first_col = np.argmax(labels[first_row] == np.arange(1, count + 1)[:, None], axis=1) + col_offset
    first_pixel = np.stack([image_row_of_row[first_row], first_col], axis=1)   # (M, 2)
    classes = masks[slice_index, first_pixel[:, 0], first_pixel[:, 1]].astype(np.int64)

    boxes = np.stack([image_row_of_row[first_row] - box_padding, cols[:, 0] - box_padding,
                      image_row_of_row[last_row] + 1 + box_padding, cols[:, 1] + box_padding],
                     axis=1)
    boxes = np.clip(boxes, 0, [height, width, height, width]).astype(np.float64)
    return {"boxes": boxes[keep], "classes": classes[keep], "slice_index": slice_index[keep],
            "pixels": sizes[keep].astype(np.int64), "first_pixel": first_pixel[keep]}


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
