"""Datasets with the seed's data API: ``prepare(name, configs, keyword) -> (gen_train,
gen_valid, client)``.

* ``'phantom/brats-mip'`` (built in, no download): BraTS-like volumes synthesised from the MNI
  ICBM152 anatomy bundled with boxloc (see ``phantom`` and ``anatomy``), generated on first use
  and cached under ``$BOXLOC_DATA`` (default ``~/.cache/boxloc``).
* a folder of BraTS 2020/2021 cases or the MSD Task01_BrainTumour layout (see ``nifti``), or the
  seed's name ``'mr/brats-2020-mip'`` with the folder given as ``path=`` or ``$BOXLOC_BRATS``.

Both go through the same preprocessing (3-slice mean projection, per-volume z-score in the
brain) and the same ``client.Client``. Nothing is ever downloaded. Importing this package
imports no deep-learning framework; ``make_dataset`` (a ``tf.data`` pipeline with
augmentation and box targets, see ``pipeline``) imports TensorFlow when called.

>>> gen_train, gen_valid, client = prepare('phantom/brats-mip', num_volumes=4)  # doctest: +SKIP
>>> xs, ys = next(gen_train)                                                     # doctest: +SKIP
>>> xs['dat'].shape, ys['tumor'].shape                                           # doctest: +SKIP
((16, 1, 240, 240, 4), (16, 1, 240, 240, 1))
"""

import os
from pathlib import Path

from .client import DEFAULT_CONFIGS, Client, merge_configs
from .nifti import build_nifti_store, find_cases, read_case
from .phantom import build_phantom, synthesise_volume
from .preprocess import CHANNELS, LABELS
from .store import cache_root

__all__ = ["prepare", "PHANTOM", "SEED_NAME", "KEYWORDS", "Client", "DEFAULT_CONFIGS",
           "merge_configs", "build_phantom", "synthesise_volume", "build_nifti_store",
           "find_cases", "read_case", "cache_root", "CHANNELS", "LABELS", "make_dataset"]

PHANTOM = "phantom/brats-mip"
SEED_NAME = "mr/brats-2020-mip"
KEYWORDS = ("", "mip*vox")          # the voxel-label client; the seed's 'mip*glb' is not offered


def prepare(name=PHANTOM, configs=None, keyword="", path=None, num_volumes=60, seed=0,
            skip_bad=False, sampling_seed=None):
    """The seed's ``datasets.prepare``: ``(gen_train, gen_valid, client)``.

    Args:
        name: ``'phantom/brats-mip'``, a folder of BraTS/MSD cases, or ``'mr/brats-2020-mip'``
            (folder from ``path`` or ``$BOXLOC_BRATS``).
        configs: overrides of ``DEFAULT_CONFIGS`` (unknown keys raise ValueError), e.g. the
            seed's ``{'specs': {'ys': {'tumor': {'norms': {'clip': {'max': 1}}}}}}``.
        keyword: ``''`` or ``'mip*vox'`` (both the voxel-label client).
        path: folder of real data for ``name='mr/brats-2020-mip'``.
        num_volumes, seed: size (default 60: 42 train, 9 valid, 9 test volumes) and seed of
            the phantom; they apply to the phantom only.
        skip_bad: real data only: skip unreadable cases (reported) instead of raising.
        sampling_seed: seed of the training generators' random slices (None: fresh).

    Returns:
        (gen_train, gen_valid, client): infinite generators of ``(xs, ys)`` and the Client.
    """
    if keyword not in KEYWORDS:
        raise ValueError(f"keyword must be one of {KEYWORDS}, got {keyword!r}")
    if name == PHANTOM:
        root = build_phantom(num_volumes=num_volumes, seed=seed)
    else:
        if name == SEED_NAME:
            path = path or os.environ.get("BOXLOC_BRATS")
            if not path:
                raise ValueError(f"name={SEED_NAME!r} needs the data folder: pass path=... or "
                                 f"set BOXLOC_BRATS (nothing is downloaded)")
        elif Path(str(name)).expanduser().is_dir():
            path = name
        else:
            raise ValueError(f"unknown dataset name {name!r}: use {PHANTOM!r}, {SEED_NAME!r} "
                             f"with path=..., or an existing folder of BraTS/MSD cases")
        root = build_nifti_store(path, skip_bad=skip_bad)
    client = Client(root, configs=configs, seed=sampling_seed)
    gen_train, gen_valid = client.create_generators()
    return gen_train, gen_valid, client


def make_dataset(client_or_arrays, bb, split="train", batch_size=16, augment=True, seed=0,
                 **kwargs):
    """``pipeline.make_dataset``: a ``tf.data.Dataset`` of augmented ``(x, y, sample_weight)``
    batches with box targets (imports TensorFlow on first call)."""
    from .pipeline import make_dataset as _make_dataset
    return _make_dataset(client_or_arrays, bb, split=split, batch_size=batch_size,
                         augment=augment, seed=seed, **kwargs)
