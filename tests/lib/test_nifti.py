"""Real-data readers: BraTS case folders and the MSD Task01 layout, written as tiny NIfTI files."""

import json

import numpy as np
import pytest

nibabel = pytest.importorskip("nibabel")

from boxloc.datasets import prepare  # noqa: E402
from boxloc.datasets.nifti import (CaseError, MissingFileError, build_nifti_store,  # noqa: E402
                                   find_cases, read_case)

SHAPE = (240, 240, 12)        # X, Y, Z: 12 slices -> 4 after the 3-slice projection
LPS = np.diag([-1.0, -1.0, 1.0, 1.0])   # BraTS files store LPS-like affines


def phantom_case(seed):
    """(X, Y, Z, 4) images with an elliptic 'brain' and seed-label regions (0..3), constant in z."""
    rng = np.random.default_rng(seed)
    x, y = np.mgrid[0:SHAPE[0], 0:SHAPE[1]]
    brain = ((x - 120) / 70) ** 2 + ((y - 120) / 90) ** 2 < 1
    labels = np.zeros(SHAPE[:2], np.uint8)
    labels[100:130, 100:140] = 2
    labels[108:122, 110:130] = 3
    labels[112:118, 115:125] = 1
    images = np.stack([brain * (100 + 10 * c + 50 * labels + rng.normal(0, 5, SHAPE[:2]))
                       for c in range(4)], axis=-1)                       # (X, Y, 4)
    images = np.repeat(images[:, :, None], SHAPE[2], axis=2).astype(np.float32)
    return images, np.repeat(labels[:, :, None], SHAPE[2], axis=2)


def save(array, path, affine=LPS):
    nibabel.save(nibabel.Nifti1Image(array, affine), str(path))


def write_brats(folder, case_id, seed=0, gz=True):
    images, labels = phantom_case(seed)
    brats = np.select([labels == 1, labels == 2, labels == 3], [1, 2, 4], 0).astype(np.uint8)
    case = folder / case_id
    case.mkdir(parents=True)
    ext = ".nii.gz" if gz else ".nii"
    for c, key in enumerate(("flair", "t1", "t1ce", "t2")):
        save(images[..., c], case / f"{case_id}_{key}{ext}")
    save(brats, case / f"{case_id}_seg{ext}")
    return case


def write_msd(folder, case_id, seed=0):
    images, labels = phantom_case(seed)
    msd = np.select([labels == 1, labels == 2, labels == 3], [2, 1, 3], 0).astype(np.uint8)
    (folder / "imagesTr").mkdir(parents=True, exist_ok=True)
    (folder / "labelsTr").mkdir(exist_ok=True)
    save(images, folder / "imagesTr" / f"{case_id}.nii.gz")
    save(msd, folder / "labelsTr" / f"{case_id}.nii.gz")
    (folder / "imagesTr" / f"._{case_id}.nii.gz").write_bytes(b"macOS junk")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BOXLOC_DATA", str(tmp_path / "cache"))


def test_brats_and_msd_layouts_read_the_same_data_with_seed_labels(tmp_path):
    write_brats(tmp_path / "brats", "BraTS20_Training_001", gz=True)
    write_brats(tmp_path / "brats", "BraTS20_Training_002", gz=False)
    write_msd(tmp_path / "msd" / "Task01_BrainTumour", "BRATS_001")
    brats_cases, msd_cases = find_cases(tmp_path / "brats"), find_cases(tmp_path / "msd")
    assert [c.id for c in brats_cases] == ["BraTS20_Training_001", "BraTS20_Training_002"]
    assert [c.id for c in msd_cases] == ["BRATS_001"]          # the '._' file is ignored
    image_b, labels_b = read_case(brats_cases[0])
    image_m, labels_m = read_case(msd_cases[0])
    assert image_b.shape == (12, 240, 240, 4) and labels_b.shape == (12, 240, 240)
    assert np.array_equal(labels_b, labels_m) and np.allclose(image_b, image_m)
    _, labels = phantom_case(0)                                  # expected seed labels
    counts = [int((labels[..., 0] == k).sum()) for k in range(4)]
    assert [int((labels_b[0] == k).sum()) for k in range(4)] == counts


def test_prepare_a_folder_runs_the_seed_api(tmp_path):
    for i in range(4):
        write_brats(tmp_path / "data", f"BraTS20_Training_00{i}", seed=i)
    configs = {"specs": {"ys": {"tumor": {"norms": {"clip": {"max": 1}}}}}, "batch": {"size": 3}}
    gen_train, _, client = prepare(str(tmp_path / "data"), configs=configs)
    xs, ys = next(gen_train)
    assert xs["dat"].shape == (3, 1, 240, 240, 4) and ys["tumor"].shape == (3, 1, 240, 240, 1)
    assert set(np.unique(ys["tumor"]).tolist()) == {0, 1}
    x, y = next(client.create_generators(test=True, expand=True)[0])
    assert x["dat"].shape == (1, 4, 240, 240, 4)                 # 12 slices -> 4
    brain = x["dat"][0].any(axis=-1)
    assert abs(x["dat"][0][brain].mean()) < 1e-3 and abs(x["dat"][0][brain].std() - 1) < 1e-2
    assert {v["split"] for v in client.meta["volumes"]} == {"train", "valid", "test"}


def test_seed_name_with_path_or_environment(tmp_path, monkeypatch):
    write_brats(tmp_path / "data", "case_a")
    gen_train, _, client = prepare("mr/brats-2020-mip", path=tmp_path / "data")
    assert len(client.meta["volumes"]) == 1
    monkeypatch.setenv("BOXLOC_BRATS", str(tmp_path / "data"))
    assert prepare("mr/brats-2020-mip")[2].root == client.root   # cached store reused


def test_missing_modality_names_case_and_file(tmp_path):
    case = write_brats(tmp_path, "BraTS20_Training_007")
    (case / "BraTS20_Training_007_t1ce.nii.gz").unlink()
    with pytest.raises(MissingFileError, match=r"BraTS20_Training_007.*t1ce"):
        read_case(find_cases(tmp_path)[0])
    with pytest.raises(FileNotFoundError, match="BraTS20_Training_007"):
        build_nifti_store(tmp_path)


def test_missing_msd_label_names_case(tmp_path):
    write_msd(tmp_path, "BRATS_003")
    (tmp_path / "labelsTr" / "BRATS_003.nii.gz").unlink()
    with pytest.raises(MissingFileError, match=r"BRATS_003.*labelsTr/BRATS_003"):
        read_case(find_cases(tmp_path)[0])


def test_shape_mismatch_names_case_and_files(tmp_path):
    case = write_brats(tmp_path, "case_x")
    save(np.zeros((240, 240, 10), np.float32), case / "case_x_t2.nii.gz")
    with pytest.raises(CaseError, match=r"case case_x: modalities differ.*case_x_t2.nii.gz"):
        read_case(find_cases(tmp_path)[0])


def test_corrupt_file_names_case_and_file(tmp_path):
    case = write_brats(tmp_path, "case_y")
    path = case / "case_y_flair.nii.gz"
    path.write_bytes(path.read_bytes()[:200])                    # truncated download
    with pytest.raises(CaseError, match=r"case case_y: cannot read .*case_y_flair.nii.gz"):
        read_case(find_cases(tmp_path)[0])


def test_unknown_label_names_case_and_file(tmp_path):
    case = write_brats(tmp_path, "case_z")
    save(np.full(SHAPE, 5, np.uint8), case / "case_z_seg.nii.gz")
    with pytest.raises(CaseError, match=r"case_z.*case_z_seg.nii.gz holds labels \[5\]"):
        read_case(find_cases(tmp_path)[0])


def test_empty_or_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no BraTS case"):
        find_cases(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_cases(tmp_path / "nope")


def test_skip_bad_reports_and_keeps_the_good_cases(tmp_path):
    for i in range(3):
        write_brats(tmp_path / "data", f"good_{i}", seed=i)
    bad = write_brats(tmp_path / "data", "bad_1")
    (bad / "bad_1_t2.nii.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(CaseError, match="bad_1"):
        build_nifti_store(tmp_path / "data")
    with pytest.warns(UserWarning, match=r"skipped 1 bad case\(s\) of 4: case bad_1"):
        store = build_nifti_store(tmp_path / "data", skip_bad=True)
    meta = json.loads((store / "meta.json").read_text())
    assert [v["id"] for v in meta["volumes"]] == ["good_0", "good_1", "good_2"]
    assert meta["skipped"][0]["case"] == "bad_1" and "bad_1_t2.nii.gz" in meta["skipped"][0]["error"]
