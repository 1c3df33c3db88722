"""Real data: BraTS 2020/2021 case folders and the MSD Task01_BrainTumour layout (nibabel).

* BraTS: one folder per case holding ``<case>_flair``, ``_t1``, ``_t1ce``, ``_t2`` and ``_seg``
  NIfTI files (``.nii`` or ``.nii.gz``), anywhere below the given folder. Labels 1 necrosis
  (NCR, or NCR/NET), 2 oedema, 4 enhancing -> seed labels 1, 2, 3 (the old label 3, NET, -> 1).
* MSD Task01_BrainTumour: ``imagesTr/<case>.nii.gz`` 4-D (X, Y, Z, 4) with channels FLAIR, T1w,
  T1gd, T2w and ``labelsTr/<case>.nii.gz`` with 1 oedema, 2 non-enhancing tumour, 3 enhancing ->
  seed labels 2, 1, 3. Files starting with '.' (the archive's '._' copies) are ignored.

A case is read into the seed's layout: float32 (Z, 240, 240, 4) FLAIR, T1, T1ce, T2 (slice 0
inferior, row 0 anterior, column 0 the subject's right, as the phantom), uint8 labels
(Z, 240, 240). ``build_nifti_store`` then applies the shared preprocessing and caches the result.
"""

import hashlib
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .preprocess import CHANNELS, brain_mask, crop_to_brain, mip_reduce, reduce_labels, zscore
from .store import cache_root, finish_store, progress, read_meta, split_volumes, write_volume

__all__ = ["CaseError", "MissingFileError", "BRATS_LABELS", "MSD_LABELS", "Case", "find_cases", "read_case",
           "preprocess_case", "build_nifti_store"]

BRATS_LABELS = {0: 0, 1: 1, 2: 2, 3: 1, 4: 3}
MSD_LABELS = {0: 0, 1: 2, 2: 1, 3: 3}
BRATS_SUFFIXES = {"flair": "flair", "t1": "t1", "t1ce": "t1ce", "t2": "t2", "seg": "seg"}
NIFTI = (".nii.gz", ".nii")
IMAGE_SHAPE = (240, 240)


class CaseError(ValueError):
    """A case that cannot be read; the message names the case and the file."""


class MissingFileError(CaseError, FileNotFoundError):
    """A case lacks a modality or its label file."""


class Case:
    """One case: ``layout`` 'brats' (``files`` per modality and 'seg') or 'msd' ('image',
    'seg')."""

    def __init__(self, case_id, layout, files):
        self.id, self.layout, self.files = case_id, layout, files

    def __repr__(self):
        return f"Case({self.id!r}, {self.layout})"


def _strip(name):
    for ext in NIFTI:
        if name.endswith(ext):
            return name[:-len(ext)]
    return None


def find_cases(folder):
    """All cases below ``folder``, sorted by id.

    Raises:
        FileNotFoundError: the folder does not exist or holds no BraTS/MSD case.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder {folder} does not exist")
    cases = {}
    for images in sorted(p for p in folder.rglob("imagesTr") if p.is_dir()):     # MSD
        for file in sorted(images.iterdir()):
            stem = _strip(file.name)
            if stem is None or file.name.startswith("."):
                continue
            cases[stem] = Case(stem, "msd", {"image": file,
                                             "seg": images.parent / "labelsTr" / file.name})
    groups = {}
    for file in sorted(folder.rglob("*.nii*")):                                   # BraTS
        stem = _strip(file.name)
        if stem is None or file.name.startswith(".") or "imagesTr" in file.parts \
                or "labelsTr" in file.parts or "_" not in stem:
            continue
        prefix, suffix = stem.rsplit("_", 1)
        if suffix.lower() in BRATS_SUFFIXES:
            groups.setdefault(file.parent, {})[suffix.lower()] = file
    for parent, files in groups.items():
        case_id = parent.name if parent != folder else _strip(next(iter(files.values())).name
                                                             ).rsplit("_", 1)[0]
        cases[case_id] = Case(case_id, "brats", files)
    if not cases:
        raise FileNotFoundError(f"no BraTS case (<case>_flair/_t1/_t1ce/_t2/_seg.nii[.gz]) and "
                                f"no MSD imagesTr/ folder found in {folder}")
    return [cases[k] for k in sorted(cases)]


def _load(case, key, file):
    """A NIfTI file as a float32 array in closest-RAS orientation; errors name case and file."""
    import nibabel

    if file is None or not Path(file).is_file():
        expected = (f"{case.id}_{key}.nii[.gz]" if case.layout == "brats"
                    else f"labelsTr/{case.id}.nii.gz")
        where = f" in {Path(next(iter(case.files.values()))).parent}" if case.files else ""
        raise MissingFileError(f"case {case.id}: missing {key} file ({expected}){where}")
    try:
        image = nibabel.as_closest_canonical(nibabel.load(str(file)))
        return np.asarray(image.dataobj, dtype=np.float32)
    except Exception as error:                        # truncated gzip, bad header, ...
        raise CaseError(f"case {case.id}: cannot read {file}: {type(error).__name__}: "
                        f"{error}") from error


def _to_axial(volume):
    """RAS (X, Y, Z, ...) -> (Z, 240, 240, ...), centre-padded or cropped in-plane."""
    axial = np.swapaxes(volume, 0, 2)[:, ::-1, ::-1]                      # (Z, Y, X, ...)
    out = axial
    for axis, size in ((1, IMAGE_SHAPE[0]), (2, IMAGE_SHAPE[1])):
        excess = out.shape[axis] - size
        if excess > 0:
            out = np.take(out, np.arange(excess // 2, excess // 2 + size), axis=axis)
        elif excess < 0:
            pad = [(0, 0)] * out.ndim
            pad[axis] = (-excess // 2, -excess - (-excess // 2))
            out = np.pad(out, pad)
    return out


def _map_labels(case, file, labels, mapping):
    values = np.unique(labels).astype(np.int64)
    unknown = sorted(set(values.tolist()) - set(mapping))
    if unknown:
        raise CaseError(f"case {case.id}: {file} holds labels {unknown}, expected "
                        f"{sorted(mapping)}")
    lut = np.zeros(max(mapping) + 1, np.uint8)
    for old, new in mapping.items():
        lut[old] = new
    return lut[labels.astype(np.int64)]


def read_case(case):
    """Read one case: float32 (Z, 240, 240, 4) FLAIR, T1, T1ce, T2 and uint8 (Z, 240, 240)
    seed labels (0 bg, 1 necrosis, 2 oedema, 3 enhancing). Raises CaseError naming the case
    and the file for a missing modality, unreadable file, shape mismatch or unknown label."""
    if case.layout == "msd":
        image = _load(case, "image", case.files["image"])
        if image.ndim != 4 or image.shape[-1] != 4:
            raise CaseError(f"case {case.id}: {case.files['image']} has shape {image.shape}, "
                            f"expected (X, Y, Z, 4) with FLAIR, T1w, T1gd, T2w")
        shapes = {case.files["image"]: image.shape[:3]}
        seg_file, mapping = case.files["seg"], MSD_LABELS
    else:
        channels = [_load(case, key, case.files.get(key)) for key in CHANNELS]
        shapes = {case.files[key]: c.shape for key, c in zip(CHANNELS, channels)}
        if len(set(shapes.values())) > 1:
            raise CaseError(f"case {case.id}: modalities differ in shape: "
                            + ", ".join(f"{Path(f).name} {s}" for f, s in shapes.items()))
        image = np.stack(channels, axis=-1)
        seg_file, mapping = case.files.get("seg"), BRATS_LABELS
    labels = _load(case, "seg", seg_file)
    if labels.shape != image.shape[:3]:
        raise CaseError(f"case {case.id}: {seg_file} has shape {labels.shape}, the images "
                        f"{image.shape[:3]} ({Path(next(iter(shapes))).name})")
    labels = _map_labels(case, seg_file, np.rint(labels), mapping)
    return _to_axial(image), _to_axial(labels)


def preprocess_case(image, labels, factor=3):
    """The shared preprocessing: 3-slice mean projection, slices with brain, z-score.

    Returns float32 (Z', 240, 240, 4) and uint8 (Z', 240, 240)."""
    image, labels = mip_reduce(image, factor), reduce_labels(labels, factor)
    mask = brain_mask(image)
    image, labels, mask = crop_to_brain(image, labels, mask)
    return zscore(image, mask), labels * mask


def _fingerprint(folder, cases):
    digest = hashlib.sha1(str(Path(folder).resolve()).encode())
    for case in cases:
        for file in sorted(str(f) for f in case.files.values()):
            stat = Path(file).stat() if Path(file).is_file() else None
            digest.update(f"{file}:{stat and stat.st_size}:{stat and stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


def build_nifti_store(folder, skip_bad=False, root=None, fractions=(0.7, 0.15, 0.15)):
    """Preprocess every case below ``folder`` once and cache it (see ``store``).

    Args:
        folder: BraTS or MSD data folder.
        skip_bad: False raises the first CaseError; True skips bad cases, warns with the list
            and records it in the store's ``meta['skipped']``.
        root: cache folder (default ``$BOXLOC_DATA`` or ``~/.cache/boxloc``).
        fractions: (train, valid, test) shares; cases are assigned in a seeded random order.

    Returns:
        pathlib.Path of the store.
    """
    cases = find_cases(folder)
    root = Path(root) if root is not None else cache_root()
    store = root / f"nifti-{Path(folder).name}-{_fingerprint(folder, cases)}"
    meta = read_meta(store)
    if meta is not None and (skip_bad or not meta.get("skipped")):
        return store
    tmp = Path(tempfile.mkdtemp(prefix=store.name + ".tmp-", dir=root))
    volumes, skipped = [], []
    for case in progress(cases, len(cases), f"boxloc: preprocessing {len(cases)} cases (once)"):
        try:
            image, labels = read_case(case)
            try:
                image, labels = preprocess_case(image, labels)
            except ValueError as error:          # e.g. an all-zero volume: no brain
                files = ", ".join(Path(f).name for f in case.files.values())
                raise CaseError(f"case {case.id} ({files}): {error}") from error
        except CaseError as error:
            if not skip_bad:
                raise
            skipped.append({"case": case.id, "error": str(error)})
            continue
        volumes.append(write_volume(tmp, case.id, image, labels))
    if skipped:
        warnings.warn(f"skipped {len(skipped)} bad case(s) of {len(cases)}: "
                      + "; ".join(s["error"] for s in skipped), stacklevel=2)
    if not volumes:
        raise CaseError(f"no readable case in {folder} ({len(skipped)} skipped)")
    order = np.random.default_rng(0).permutation(len(volumes))
    splits = np.empty(len(volumes), dtype=object)
    splits[order] = split_volumes(len(volumes), fractions)
    finish_store(tmp, store, f"nifti:{Path(folder).resolve()}", volumes, list(splits),
                 {"layouts": sorted({c.layout for c in cases}), "skipped": skipped})
    return store
