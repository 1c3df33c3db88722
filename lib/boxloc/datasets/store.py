"""A prepared dataset on disk: preprocessed volumes plus the per-slice header, in one folder.

Layout of a store (written once, read by ``client.Client``)::

    <root>/meta.json            name, channels, labels, volumes (id, split, slices, crop), rows
    <root>/<id>_dat.npy         float16 (Z, h, w, 4) z-scored FLAIR, T1, T1ce, T2
    <root>/<id>_lbl.npy         uint8 (Z, h, w) labels 0 bg, 1 necrosis, 2 oedema, 3 enh.

Only the in-plane bounding box of the volume's non-zero voxels is stored (format 2): the
volume's ``crop`` ``[row0, row1, col0, col1]`` and ``frame`` ``[H, W]`` say where it sits in the
full frame, which ``read_volume`` / ``read_slices`` rebuild (zeros outside). Format-1 stores (full
frames, no ``crop``) are read as they are.

``meta.json`` is written last, so a folder without it is an interrupted build and is rebuilt.
The cache root is ``$BOXLOC_DATA`` (default ``~/.cache/boxloc``).
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np

from .preprocess import CHANNELS, LABELS, slice_header

__all__ = ["FORMAT", "cache_root", "split_volumes", "write_volume", "finish_store",
           "read_meta", "read_slices", "read_volume", "progress"]

FORMAT = 2            # 1: full frames; 2: in-plane crop to the non-zero box


def cache_root():
    """``$BOXLOC_DATA`` if set, else ``~/.cache/boxloc`` (created on demand)."""
    root = Path(os.environ.get("BOXLOC_DATA") or Path.home() / ".cache" / "boxloc").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def split_volumes(num_volumes, fractions=(0.7, 0.15, 0.15)):
    """Split names per volume: 'valid' and 'test' get ``round(fraction * n)`` volumes each
    (at least one each when ``n >= 3``), 'train' the rest; the order is fixed (volume i of a
    seeded dataset is always in the same split)."""
    if num_volumes < 1:
        raise ValueError(f"num_volumes must be >= 1, got {num_volumes}")
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions must be three numbers >= 0 summing to 1, got {fractions}")
    extra = 1 if num_volumes >= 3 else 0
    num_valid = max(int(round(fractions[1] * num_volumes)), extra if fractions[1] else 0)
    num_test = max(int(round(fractions[2] * num_volumes)), extra if fractions[2] else 0)
    num_train = num_volumes - num_valid - num_test
    return ["train"] * num_train + ["valid"] * num_valid + ["test"] * num_test


def _nonzero_box(image, labels):
    """[row0, row1, col0, col1] of the voxels that are non-zero in any slice/contrast/label."""
    rows = np.zeros(labels.shape[1], bool)
    cols = np.zeros(labels.shape[2], bool)
    for z in range(len(labels)):                    # slice by slice: no full-size temporary
        held = (image[z] != 0).any(axis=-1) | (labels[z] != 0)
        rows |= held.any(axis=1)
        cols |= held.any(axis=0)
    if not rows.any():
        return [0, 0, 0, 0]
    r, c = np.flatnonzero(rows), np.flatnonzero(cols)
    return [int(r[0]), int(r[-1]) + 1, int(c[0]), int(c[-1]) + 1]


def write_volume(root, volume_id, image, labels):
    """Save one preprocessed volume, cropped in-plane to its non-zero box; return its header
    entry (slices, crop, frame and cohort columns)."""
    r0, r1, c0, c1 = crop = _nonzero_box(image, labels)
    np.save(Path(root) / f"{volume_id}_dat.npy", image[:, r0:r1, c0:c1].astype(np.float16))
    np.save(Path(root) / f"{volume_id}_lbl.npy", labels[:, r0:r1, c0:c1].astype(np.uint8))
    header = slice_header(labels)
    return {"id": volume_id, "slices": int(len(labels)), "crop": crop,
            "frame": [int(labels.shape[1]), int(labels.shape[2])],
            "cohorts": {k: v.astype(int).tolist() for k, v in header.items()}}


def read_slices(array, volume, slices=slice(None)):
    """Full-frame slices of a stored array (``np.load`` result, memory map or in memory).

    Args:
        array: the stored (Z, h, w[, C]) array of ``volume``.
        volume: its entry of ``meta['volumes']`` (``crop`` and ``frame`` when cropped).
        slices: a slice object or index array along Z.

    Returns:
        (Z', H, W[, C]) array in the stored dtype, zeros outside the crop.
    """
    part = np.asarray(array[slices])
    if "crop" not in volume:                           # format 1: full frames
        return part
    r0, r1, c0, c1 = volume["crop"]
    out = np.zeros((part.shape[0], *volume["frame"], *part.shape[3:]), part.dtype)
    out[:, r0:r1, c0:c1] = part
    return out


def read_volume(root, volume, key):
    """The full-frame array ``key`` ('dat' or 'lbl') of one volume entry of a store."""
    return read_slices(np.load(Path(root) / f"{volume['id']}_{key}.npy", mmap_mode="r"), volume)


def finish_store(tmp_root, root, name, volumes, splits, extra=None):
    """Write ``meta.json`` into ``tmp_root`` and move it to ``root`` (atomic on one file system)."""
    for volume, split in zip(volumes, splits):
        volume["split"] = split
    meta = {"name": name, "format": FORMAT, "channels": list(CHANNELS),
            "labels": {str(k): v for k, v in LABELS.items()}, "volumes": volumes}
    meta.update(extra or {})
    (Path(tmp_root) / "meta.json").write_text(json.dumps(meta))
    if Path(root).exists():
        shutil.rmtree(root)
    os.replace(tmp_root, root)
    return meta


def read_meta(root):
    """The ``meta.json`` of a finished store, or None."""
    path = Path(root) / "meta.json"
    return json.loads(path.read_text()) if path.is_file() else None


def progress(iterable, total, desc):
    """``tqdm`` progress bar when tqdm is installed, else a plain iterator. In a notebook
    without ipywidgets, older tqdm (4.60) raises instead of falling back to text: text then."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    try:
        return tqdm(iterable, total=total, desc=desc, unit="volume")
    except ImportError:                                 # "IProgress not found" (tqdm.notebook)
        from tqdm.std import tqdm as text_tqdm
        return text_tqdm(iterable, total=total, desc=desc, unit="volume")
