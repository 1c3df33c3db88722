"""The built-in BraTS-like dataset: one synthetic subject per seed, from real anatomy.

``synthesise_volume(seed)`` starts from the MNI ICBM152 template anatomy (``anatomy``) and
makes one subject:

1. subject variation: a small affine (in-plane rotation up to 7 degrees, tilt up to 3 degrees,
   scaling 0.92-1.08, shift up to 4 mm) and a smooth elastic deformation (about 2 mm), applied to
   the tissue maps (grey matter, white matter, CSF, brain, template T1);
2. one to three glioma-like lesions (``lesions``): necrosis 1, oedema 2, enhancing 3;
3. four contrasts (FLAIR, T1, T1 post-contrast, T2) from the tissue and lesion fractions with
   their typical relative intensities (``CONTRASTS``), lesion texture, per-subject contrast
   jitter, a smooth multiplicative bias field per contrast and Rician noise;
4. skull stripping (0 outside the brain mask) and a per-volume, per-contrast z-score inside it.

The grid is the seed's 'mip' grid: 240 x 240 axial slices (1 mm), about 45 slices of 3 mm
(3 slices averaged). Everything is a function of the seed.
"""

import functools
import multiprocessing
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy import ndimage

from .anatomy import base_anatomy
from .lesions import SPACING, render_lesions, sample_lesions
from .preprocess import CHANNELS
from .store import cache_root, finish_store, progress, read_meta, split_volumes, write_volume

__all__ = ["CONTRASTS", "VERSION", "synthesise_volume", "build_phantom"]

VERSION = 3           # bump when the synthesis changes: cached stores are then rebuilt

# Relative intensities per contrast (white matter of T1 ~ 1), from typical appearances:
# T1: WM > GM > CSF, tumour hypointense; T1ce: enhancing rim bright; T2: CSF and oedema bright;
# FLAIR: CSF suppressed, oedema brightest.
CONTRASTS = {            # gm,   wm,   csf,  necrosis, core, enhancing, oedema
    "flair": dict(gm=0.72, wm=0.56, csf=0.10, necrosis=0.50, core=0.95, enhancing=0.85,
                  oedema=1.10),
    "t1":    dict(gm=0.66, wm=0.95, csf=0.22, necrosis=0.34, core=0.48, enhancing=0.58,
                  oedema=0.60),
    "t1ce":  dict(gm=0.68, wm=0.95, csf=0.22, necrosis=0.36, core=0.50, enhancing=1.45,
                  oedema=0.62),
    "t2":    dict(gm=0.60, wm=0.40, csf=1.00, necrosis=1.00, core=0.90, enhancing=0.72,
                  oedema=0.88),
}
MARGIN = 16          # pixels kept around the template brain's bounding box while warping


def _crop_box(brain):
    """In-plane box (rows, cols) around the template brain, with ``MARGIN`` pixels."""
    rows = np.flatnonzero(brain.any(axis=(0, 2)))
    cols = np.flatnonzero(brain.any(axis=(0, 1)))
    return (slice(max(rows[0] - MARGIN, 0), rows[-1] + 1 + MARGIN),
            slice(max(cols[0] - MARGIN, 0), cols[-1] + 1 + MARGIN))


def _smooth_field(rng, coarse_shape, shape, amplitude):
    """A smooth random field of ``shape``: Gaussian values on a coarse grid, spread by separable
    Gaussian bumps (three small matrix products instead of a full-size spline zoom)."""
    coarse = rng.standard_normal(coarse_shape) * amplitude                 # (a, b, c)
    bases = []
    for n, c in zip(shape, coarse_shape):
        centres, width = np.linspace(0, n - 1, c), (n - 1) / max(c - 1, 1)
        basis = np.exp(-0.5 * ((np.arange(n)[:, None] - centres) / (0.6 * width)) ** 2)
        bases.append(basis / basis.sum(axis=1, keepdims=True))             # (n, c) rows sum 1
    # one axis at a time with NumPy's own einsum (OpenBLAS is slow on these skinny products)
    field = np.einsum("xk,ijk->ijx", bases[2], coarse)
    field = np.einsum("yj,ijx->iyx", bases[1], field)
    field = np.einsum("zi,iyx->zyx", bases[0].astype(np.float32), field.astype(np.float32))
    return field.astype(np.float32)


def _subject_coordinates(rng, shape):
    """Source voxel coordinates (3, Z, H, W) of a random affine + elastic warp of ``shape``."""
    angle, tilt = np.deg2rad(rng.uniform(-7, 7)), np.deg2rad(rng.uniform(-3, 3))
    rot_z = np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)],
                      [0, np.sin(angle), np.cos(angle)]])                  # in-plane (y, x)
    rot_x = np.array([[np.cos(tilt), -np.sin(tilt), 0], [np.sin(tilt), np.cos(tilt), 0],
                      [0, 0, 1]])                                           # pitch (z, y)
    scale = 1 / np.r_[rng.uniform(0.95, 1.05), rng.uniform(0.92, 1.08, size=2)]
    matrix = rot_z @ rot_x @ np.diag(scale)                                 # output mm -> source mm
    shift = np.r_[rng.uniform(-2, 2), rng.uniform(-4, 4, size=2)]
    centre = (np.array(shape) - 1) / 2
    grid = np.indices(shape, dtype=np.float32)                              # (3, Z, H, W)
    mm = (grid - centre[:, None, None, None]) * SPACING[:, None, None, None]
    source = np.einsum("ij,j...->i...", matrix.astype(np.float32), mm)
    for axis in range(3):
        elastic = _smooth_field(rng, (3, 5, 5), shape, 2.0)                 # mm
        source[axis] += shift[axis] + elastic
        source[axis] = source[axis] / SPACING[axis] + centre[axis]
    return source


def _bias_terms(shape, voxels):
    """The six bias-field terms (N, 6) at ``voxels`` (z, y, x index arrays) of ``shape``."""
    z, y, x = (np.linspace(-1, 1, n, dtype=np.float32)[i] for n, i in zip(shape, voxels))
    return np.stack([z, y, x, y * x, y * y - 0.33, x * x - 0.33], axis=1)


@functools.lru_cache(maxsize=2)
def _template_crop(factor=3):
    """The cropped template maps (read-only) and their box, with the template brain dilated by
    2 voxels (chessboard): outside it the warped gm, wm and csf are exactly 0 (trilinear
    interpolation reaches 1 voxel) and the warped t1 is only needed inside the brain."""
    base = base_anatomy(factor)
    rows, cols = _crop_box(base["brain"])
    crop = {k: base[k][:, rows, cols] for k in ("gm", "wm", "csf", "t1", "depth")}
    near = ndimage.binary_dilation(base["brain"][:, rows, cols] > 0, np.ones((3, 3, 3), bool),
                                   iterations=2)
    near.setflags(write=False)
    return rows, cols, crop, near


def _warp_tissue(crop, near, source):
    """Trilinear warp of the tissue maps to ``source`` coordinates, computed only where the
    source lands near the template brain (about half of the box; elsewhere exactly 0)."""
    shape = source.shape[1:]
    index = [np.clip(np.rint(source[a]).astype(np.intp), 0, n - 1)
             for a, n in enumerate(near.shape)]
    selected = near[tuple(index)]                                        # (Z, H, W) bool
    del index
    points = source[:, selected]                                         # (3, n)
    tissue = {}
    for k in ("gm", "wm", "csf", "t1"):
        tissue[k] = np.zeros(shape, np.float32)
        tissue[k][selected] = ndimage.map_coordinates(crop[k], points, order=1,
                                                      mode="constant", cval=0.0)
    return tissue


def synthesise_volume(seed, num_lesions=None):
    """One synthetic subject.

    Args:
        seed: int or ``np.random.SeedSequence``; same seed, same arrays.
        num_lesions: 1 to 3; None draws it (1: 60%, 2: 28%, 3: 12%).

    Returns:
        image: float32 (Z, 240, 240, 4), channels FLAIR, T1, T1ce, T2, z-scored inside the
            brain per contrast, 0 outside.
        labels: uint8 (Z, 240, 240): 0 background, 1 necrosis, 2 oedema, 3 enhancing.
        brain: bool (Z, 240, 240) skull-stripped brain mask.
    """
    rng = np.random.default_rng(seed)
    base = base_anatomy()
    rows, cols, crop, near = _template_crop()
    shape = crop["gm"].shape
    source = _subject_coordinates(rng, shape)
    tissue = _warp_tissue(crop, near, source)
    brain = np.minimum(tissue["gm"] + tissue["wm"] + tissue["csf"], 1)    # csf = brain - gm - wm
    # depth only picks lesion sites: warp it on every second pixel, repeat to full size
    depth = ndimage.map_coordinates(crop["depth"], source[:, :, ::2, ::2], order=1)
    del source
    depth = np.repeat(np.repeat(depth, 2, axis=1), 2, axis=2)[:, :shape[1], :shape[2]]
    inside = np.maximum(brain, 1e-3)           # tissue fractions per unit of brain: no dark edge
    for k in ("wm", "csf"):                    # full maps for the lesions; gm, t1 in the brain
        tissue[k] = np.minimum(tissue[k] / inside, 1.2)

    if num_lesions is None:
        num_lesions = int(rng.choice([1, 2, 3], p=[0.6, 0.28, 0.12]))
    lesions = sample_lesions(rng, tissue["wm"], depth, num_lesions)
    parts, labels = render_lesions(rng, lesions, tissue["wm"], tissue["csf"], brain)

    # Intensities are computed for the brain voxels only, all four contrasts at once (N, 4).
    mask = brain > 0.5
    voxels = np.nonzero(mask)                                               # (z, y, x) each (N,)
    fractions = np.stack([np.minimum(tissue[k][voxels] / inside[voxels], 1.2)
                          if k in ("gm", "t1") else tissue[k][voxels]
                          for k in ("gm", "wm", "csf", "t1")], axis=1)      # (N, 4)
    part_names = ("necrosis", "core", "enhancing", "oedema")
    amounts = np.stack([parts[k][voxels] for k in part_names], axis=1)      # (N, 4)
    texture = np.zeros(shape, np.float32)      # lesion texture, drawn in the lesions' box only
    support = sum(parts.values()) > 0
    if support.any():
        box = tuple(slice(i.min(), i.max() + 1) for i in np.nonzero(support))
        local = ndimage.gaussian_filter(
            rng.standard_normal(support[box].shape).astype(np.float32), (0.7, 3.0, 3.0))
        texture[box] = local / (local.std() + 1e-6)
    texture = texture[voxels]                                               # (N,)
    fine = rng.standard_normal(len(texture), np.float32)

    mu = [{k: v * rng.uniform(0.95, 1.05) for k, v in CONTRASTS[name].items()}
          for name in CHANNELS]
    # healthy tissue: gm, wm, csf fractions (and, for T1 and T1ce, the template's own T1, which
    # carries the deep grey nuclei) -> contrast; lesion compartments -> contrast
    healthy_mix = np.array([[0.4 * m["gm"], 0.4 * m["wm"], 0.4 * m["csf"], 0.6 * m["wm"]]
                            if name in ("t1", "t1ce") else [m["gm"], m["wm"], m["csf"], 0.0]
                            for name, m in zip(CHANNELS, mu)], np.float32).T   # (4, C)
    lesion_mix = np.array([[m[k] for k in part_names] for m in mu], np.float32).T  # (4, C)
    bias = rng.uniform(-1, 1, size=(6, len(CHANNELS))).astype(np.float32) * 0.12
    sigma = np.array([0.025 * m["wm"] for m in mu], np.float32)
    gain = rng.uniform(0.8, 1.2, size=len(CHANNELS)).astype(np.float32)    # scanner gain

    signal = np.einsum("nk,kc->nc", fractions, healthy_mix)               # (N, C)
    signal *= (1 + 0.02 * fine)[:, None]
    signal *= (1 - amounts.sum(axis=1))[:, None]
    signal += np.einsum("nk,kc->nc", amounts, lesion_mix) * (1 + 0.07 * texture)[:, None]
    signal *= np.exp(np.einsum("nk,kc->nc", _bias_terms(shape, voxels), bias))  # bias field
    signal += sigma * rng.standard_normal(signal.shape, np.float32)
    noisy = np.hypot(signal, sigma * rng.standard_normal(signal.shape, np.float32))  # Rician
    noisy *= gain
    mean = noisy.mean(axis=0, dtype=np.float64)
    std = noisy.std(axis=0, dtype=np.float64)
    noisy -= mean.astype(np.float32)
    noisy /= np.where(std > 0, std, 1).astype(np.float32)                   # z-score in brain

    full = (shape[0],) + base["brain"].shape[1:]
    image = np.zeros(full + (len(CHANNELS),), np.float32)
    placed = (voxels[0], voxels[1] + rows.start, voxels[2] + cols.start)
    image[placed] = noisy
    label_full = np.zeros(full, np.uint8)
    label_full[:, rows, cols] = labels * mask
    mask_full = np.zeros(full, bool)
    mask_full[placed] = True
    return image, label_full, mask_full


def _build_one(args):
    """Worker: synthesise volume ``index`` and save it into the store folder."""
    root, index, seed_sequence = args
    image, labels, _ = synthesise_volume(seed_sequence)
    return write_volume(root, f"phantom-{index:04d}", image, labels)


def build_phantom(num_volumes=60, seed=0, workers=None, root=None, fractions=(0.7, 0.15, 0.15)):
    """Generate (or reuse) the phantom dataset store and return its folder.

    Args:
        num_volumes: number of subjects (default 60; tests use 4).
        seed: dataset seed; volume i uses ``SeedSequence(seed).spawn(num_volumes)[i]``, so a
            volume does not depend on ``num_volumes`` or on the number of workers.
        workers: processes (default: the CPU count, at most 8).
        root: cache folder (default ``$BOXLOC_DATA`` or ``~/.cache/boxloc``).
        fractions: (train, valid, test) shares of the volumes.

    Returns:
        pathlib.Path of the store (see ``store``).
    """
    splits = split_volumes(num_volumes, fractions)
    root = Path(root) if root is not None else cache_root()
    folder = root / f"phantom-brats-mip-v{VERSION}-n{num_volumes}-seed{seed}"
    if read_meta(folder) is not None:
        return folder
    _template_crop()                                 # load once, shared by forked workers
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".tmp-", dir=root))
    jobs = [(tmp, i, s) for i, s in enumerate(np.random.SeedSequence(seed).spawn(num_volumes))]
    workers = workers or min(os.cpu_count() or 1, 8)
    desc = f"boxloc: generating phantom/brats-mip ({num_volumes} volumes, once)"
    if workers == 1:
        volumes = list(progress(map(_build_one, jobs), num_volumes, desc))
    else:
        context = multiprocessing.get_context(
            "fork" if "fork" in multiprocessing.get_all_start_methods() else None)
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            volumes = list(progress(pool.map(_build_one, jobs), num_volumes, desc))
    finish_store(tmp, folder, "phantom/brats-mip", volumes, splits,
                 {"seed": seed, "source": "MNI ICBM152 2009a (bundled) + synthetic gliomas"})
    return folder
