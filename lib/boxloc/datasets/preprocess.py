"""Preprocessing shared by the phantom and the real BraTS data: slice reduction, brain mask,
per-volume z-score, and the per-slice header the client samples from.

Arrays are NumPy axis order. A volume is ``(Z, H, W, C)`` float (axial slices, C contrasts in
the order FLAIR, T1, T1 post-contrast, T2) with its labels ``(Z, H, W)`` uint8 in the seed's
convention: 0 background, 1 necrosis (NCR), 2 oedema (ED), 3 enhancing tumour (ET).

Slice reduction follows the seed's "mean intensity projection" ('mr/brats-2020-mip': 155 slices
-> about 40-50): groups of ``factor`` consecutive slices are averaged. Labels are reduced the same
way per BraTS region: each nested region (whole tumour WT = {1, 2, 3}, tumour core TC = {1, 3},
enhancing ET = {3}) is averaged like an image and kept where at least half the group holds it,
so a label pixel is tumour exactly where the averaged image shows mostly tumour.
"""

import numpy as np

__all__ = ["CHANNELS", "LABELS", "mip_reduce", "reduce_labels", "brain_mask", "zscore",
           "crop_to_brain", "slice_header"]

CHANNELS = ("flair", "t1", "t1ce", "t2")
LABELS = {0: "background", 1: "necrosis", 2: "oedema", 3: "enhancing"}


def _groups(num_slices, factor):
    """Start indices of the full groups of ``factor`` slices, centred in ``num_slices``."""
    if factor < 1 or int(factor) != factor:
        raise ValueError(f"factor must be an integer >= 1, got {factor!r}")
    count = num_slices // factor
    start = (num_slices - count * factor) // 2
    return start, count


def mip_reduce(volume, factor=3):
    """Average groups of ``factor`` consecutive slices (axis 0).

    Args:
        volume: float (Z, ...) e.g. (155, 240, 240, 4).
        factor: slices per group; a remainder is dropped evenly from both ends.

    Returns:
        float32 (Z // factor, ...).

    >>> mip_reduce(np.arange(7.0).reshape(7, 1), factor=3)[:, 0]
    array([1., 4.], dtype=float32)
    """
    volume = np.asarray(volume, dtype=np.float32)
    start, count = _groups(len(volume), factor)
    grouped = volume[start:start + count * factor]
    return grouped.reshape(count, factor, *volume.shape[1:]).mean(axis=1)   # (Z', ...)


def reduce_labels(labels, factor=3):
    """Reduce seed-convention labels (Z, H, W) per BraTS region (see the module docstring).

    >>> reduce_labels(np.array([[0], [3], [1], [2], [2], [0]]), factor=3)[:, 0].tolist()
    [1, 2]
    """
    labels = np.asarray(labels)
    whole = mip_reduce(labels > 0, factor) >= 0.5                       # (Z', H, W)
    core = mip_reduce((labels == 1) | (labels == 3), factor) >= 0.5
    enhancing = mip_reduce(labels == 3, factor) >= 0.5
    out = np.zeros(whole.shape, np.uint8)
    out[whole] = 2
    out[core & whole] = 1
    out[enhancing & core & whole] = 3
    return out


def brain_mask(volume, threshold=0.0):
    """Brain voxels of a skull-stripped volume (Z, H, W, C): any contrast above ``threshold``."""
    return np.any(np.asarray(volume) > threshold, axis=-1)


def zscore(volume, mask):
    """Per-volume, per-contrast z-score inside ``mask``; 0 outside.

    Args:
        volume: float (Z, H, W, C).
        mask: bool (Z, H, W), the brain.

    Returns:
        float32 (Z, H, W, C): mean 0 and std 1 over ``mask`` per contrast.
    """
    volume = np.asarray(volume, dtype=np.float32)
    if not mask.any():
        raise ValueError("the brain mask is empty: every voxel is background")
    inside = volume[mask]                                                # (N, C)
    mean, std = inside.mean(axis=0), inside.std(axis=0)
    out = (volume - mean) / np.where(std > 0, std, 1)
    out[~mask] = 0
    return out.astype(np.float32)


def crop_to_brain(volume, labels, mask, margin=0):
    """Keep the slices (axis 0) that hold brain, plus ``margin`` slices each side."""
    holds = np.flatnonzero(mask.any(axis=(1, 2)))
    if len(holds) == 0:
        raise ValueError("the brain mask is empty: no slice holds brain")
    lo, hi = max(holds[0] - margin, 0), min(holds[-1] + 1 + margin, len(mask))
    return volume[lo:hi], labels[lo:hi], mask[lo:hi]


def slice_header(labels):
    """Cohort columns per slice, as the seed's header: ``lbl-mip-00`` no tumour in the slice,
    ``lbl-mip-0k`` slice holds label k (k = 1, 2, 3), ``tumor`` any label > 0.

    Args:
        labels: uint8 (Z, H, W).

    Returns:
        dict of bool (Z,) arrays.
    """
    present = [(labels == k).any(axis=(1, 2)) for k in (1, 2, 3)]
    tumour = (labels > 0).any(axis=(1, 2))
    header = {"lbl-mip-00": ~tumour}
    header.update({f"lbl-mip-0{k}": p for k, p in zip((1, 2, 3), present)})
    header["tumor"] = tumour
    return header
