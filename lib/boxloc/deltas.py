"""Box regression targets: deltas of a box relative to an anchor, and back.

For an anchor ``[cy, cx, h, w]`` and a box with centre ``(cy', cx')`` and size ``(h', w')``::

    dy = (cy' - cy) / h        dh = ln(h' / (h + eps))
    dx = (cx' - cx) / w        dw = ln(w' / (w + eps))

with ``eps = 1e-6`` and no variance scaling, exactly as the seed. Decoding inverts this with
the centre shifted by the OLD size. ``dh``/``dw`` are clipped at ``ln(1000/16)`` before the
exponential, as torchvision does, so a wild prediction cannot overflow to inf.
"""

import math

import numpy as np

from .boxes import centres_to_corners, corners_to_centres

__all__ = ["DELTA_EPS", "MAX_LOG_SIZE_DELTA", "encode_deltas", "decode_deltas"]

DELTA_EPS = 1e-6
MAX_LOG_SIZE_DELTA = math.log(1000.0 / 16)


def encode_deltas(boxes, offsets):
    """Deltas of boxes (N, 4) ``[y1, x1, y2, x2]`` w.r.t. anchors (N, 4) ``[cy, cx, h, w]``.

    Returns float32 (N, 4) ``[dy, dx, dh, dw]``.

    >>> encode_deltas([[100, 80, 140, 150]], [[112, 104, 50.797, 50.797]]).round(4)
    array([[ 0.1575,  0.2165, -0.239 ,  0.3207]], dtype=float32)
    """
    target = corners_to_centres(boxes)
    offsets = np.asarray(offsets, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        deltas = np.stack([
            (target[:, 0] - offsets[:, 0]) / offsets[:, 2],
            (target[:, 1] - offsets[:, 1]) / offsets[:, 3],
            np.log(target[:, 2] / (offsets[:, 2] + DELTA_EPS)),
            np.log(target[:, 3] / (offsets[:, 3] + DELTA_EPS)),
        ], axis=1)
    return deltas.astype(np.float32).reshape(-1, 4)


def decode_deltas(deltas, offsets):
    """Apply deltas (N, 4) to anchors (N, 4) ``[cy, cx, h, w]``.

    Returns ``(corners, centres)``, both float32 (N, 4); no clipping to the image. NaN deltas
    give NaN boxes (callers drop them); they never raise.
    """
    deltas = np.asarray(deltas, dtype=np.float64).reshape(-1, 4)
    offsets = np.asarray(offsets, dtype=np.float64).reshape(-1, 4)
    log_sizes = np.minimum(deltas[:, 2:], MAX_LOG_SIZE_DELTA)
    with np.errstate(over="ignore", invalid="ignore"):
        centres = np.concatenate([
            offsets[:, :2] + deltas[:, :2] * offsets[:, 2:],   # centre moves by the OLD size
            np.exp(log_sizes) * (offsets[:, 2:] + DELTA_EPS),
        ], axis=1)
        corners = centres_to_corners(centres)
    return corners.astype(np.float32), centres.astype(np.float32)
