"""Real human anatomy, offline: the MNI ICBM152 2009 templates bundled with boxloc.

boxloc ships, as package data (no download), the symmetric ICBM152 2009a T1 template (already
skull-stripped) and its grey- and white-matter probability maps, at 1 mm, 197 x 233 x 189, uint8:
byte for byte the copies nilearn ships (``data/README.md`` gives their origin, checksums and
license; nilearn itself is not needed). From them we derive the cerebrospinal fluid map (brain
minus grey and white matter) and the brain mask, place them on the BraTS grid (240 x 240 axial
slices, 1 mm), and reduce slices as the seed's 'mip' data (groups of 3 slices averaged; tissue
fractions average exactly). The files are read with nibabel.

Orientation of the returned arrays ``(Z, H, W)``: slice 0 is inferior, row 0 anterior, column 0
the subject's right (radiological display, as BraTS viewers show it).
"""

import functools
from pathlib import Path

import numpy as np
from scipy import ndimage

from .preprocess import mip_reduce

__all__ = ["TEMPLATE_FILES", "template_dir", "load_templates", "base_anatomy"]

TEMPLATE_FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}
IMAGE_SHAPE = (240, 240)
MIP_FACTOR = 3
MIN_BRAIN_FRACTION = 0.1     # keep slices whose brain area is >= 10% of the largest slice's


def template_dir():
    """The folder of the bundled template files (``boxloc/datasets/data``)."""
    folder = Path(__file__).resolve().parent / "data"
    missing = [name for name in TEMPLATE_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"this boxloc installation lacks its bundled MNI152 2009 "
                                f"template files {missing} in {folder}: reinstall boxloc")
    return folder


def load_templates():
    """The three templates as float32 (197, 233, 189) in [0, 1], RAS voxel order."""
    import nibabel

    folder = template_dir()
    return {key: np.asarray(nibabel.load(folder / name).dataobj, dtype=np.float32) / 255.0
            for key, name in TEMPLATE_FILES.items()}


def _to_axial_grid(volume):
    """RAS (X, Y, Z) at 1 mm -> (Z, 240, 240): rows anterior->posterior, columns right->left."""
    axial = np.transpose(volume, (2, 1, 0))[:, ::-1, ::-1]                 # (Z, Y, X) flipped
    height, width = IMAGE_SHAPE
    pad_y, pad_x = height - axial.shape[1], width - axial.shape[2]
    return np.pad(axial, ((0, 0), (pad_y // 2, pad_y - pad_y // 2),
                          (pad_x // 2, pad_x - pad_x // 2)))


@functools.lru_cache(maxsize=2)
def base_anatomy(factor=MIP_FACTOR):
    """Tissue maps of the template on the reduced BraTS grid.

    Returns:
        dict of float32 (Z, 240, 240) arrays (Z about 48 for ``factor=3``): ``t1`` template
        intensity (white matter ~1), ``gm``, ``wm``, ``csf`` tissue fractions (sum = ``brain``),
        ``brain`` fraction of brain in the voxel, ``depth`` distance to the brain surface (mm). Read-only (shared by every volume).
    """
    maps = {key: _to_axial_grid(value) for key, value in load_templates().items()}
    brain = (maps["t1"] > 0.02).astype(np.float32)                         # skull-stripped T1
    maps["gm"] *= brain
    maps["wm"] *= brain
    maps["csf"] = np.clip(brain - maps["gm"] - maps["wm"], 0, 1)
    maps["brain"] = brain
    area = brain.sum(axis=(1, 2))
    keep = np.flatnonzero(area >= MIN_BRAIN_FRACTION * area.max())
    maps = {key: mip_reduce(value[keep[0]:keep[-1] + 1], factor) for key, value in maps.items()}
    white = np.median(maps["t1"][maps["wm"] > 0.9])
    maps["t1"] = maps["t1"] / white
    maps["depth"] = ndimage.distance_transform_edt(maps["brain"] > 0.5,
                                                   sampling=(factor, 1, 1)).astype(np.float32)
    for value in maps.values():
        value.setflags(write=False)
    return maps
