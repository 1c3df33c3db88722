"""A prepared dataset on disk: preprocessed volumes plus the per-slice header, in one folder.

Layout of a store (written once, read by ``client.Client``)::

    <root>/meta.json            name, channels, labels, volumes (id, split, slices), rows
    <root>/<id>_dat.npy         float16 (Z, 240, 240, 4) z-scored FLAIR, T1, T1ce, T2
    <root>/<id>_lbl.npy         uint8 (Z, 240, 240) labels 0 bg, 1 necrosis, 2 oedema, 3 enh.

``meta.json`` is written last, so a folder without it is an interrupted build and is rebuilt.
The cache root is ``$BOXLOC_DATA`` (default ``~/.cache/boxloc``).
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np

from .preprocess import CHANNELS, LABELS, slice_header

__all__ = ["cache_root", "split_volumes", "write_volume", "finish_store", "read_meta",
           "progress"]


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


def write_volume(root, volume_id, image, labels):
    """Save one preprocessed volume; return its header entry (slices and cohort columns)."""
    np.save(Path(root) / f"{volume_id}_dat.npy", image.astype(np.float16))
    np.save(Path(root) / f"{volume_id}_lbl.npy", labels.astype(np.uint8))
    header = slice_header(labels)
    return {"id": volume_id, "slices": int(len(labels)),
            "cohorts": {k: v.astype(int).tolist() for k, v in header.items()}}


def finish_store(tmp_root, root, name, volumes, splits, extra=None):
    """Write ``meta.json`` into ``tmp_root`` and move it to ``root`` (atomic on one file system)."""
    for volume, split in zip(volumes, splits):
        volume["split"] = split
    meta = {"name": name, "format": 1, "channels": list(CHANNELS),
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
    """``tqdm`` progress bar when tqdm is installed, else a plain iterator."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, unit="volume")
