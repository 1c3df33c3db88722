"""The built-in phantom dataset and the seed's data API (prepare / Client / generators)."""

import json

import numpy as np
import pytest

pytest.importorskip("nibabel")

from boxloc import BoundingBox  # noqa: E402
from boxloc.datasets import Client, prepare  # noqa: E402
from boxloc.datasets.anatomy import base_anatomy  # noqa: E402
from boxloc.datasets.phantom import CONTRASTS, build_phantom, synthesise_volume  # noqa: E402
from boxloc.datasets.store import read_volume  # noqa: E402

NUM_VOLUMES = 4
BINARISE = {"specs": {"ys": {"tumor": {"norms": {"clip": {"max": 1}}}}}}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("boxloc_data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BOXLOC_DATA", str(root))
        prepare("phantom/brats-mip", num_volumes=NUM_VOLUMES)       # build once for the module
        yield root


@pytest.fixture
def env(data_root, monkeypatch):
    monkeypatch.setenv("BOXLOC_DATA", str(data_root))
    return data_root


@pytest.fixture(scope="module")
def volume():
    return synthesise_volume(7)


def test_template_anatomy_is_bundled_and_on_the_mip_grid():
    base = base_anatomy()
    z = base["brain"].shape[0]
    assert 40 <= z <= 50 and base["brain"].shape[1:] == (240, 240)
    inside = base["brain"] > 0.5
    total = base["gm"] + base["wm"] + base["csf"]
    assert np.allclose(total[inside], base["brain"][inside], atol=1e-4)
    assert base["wm"][inside].mean() > 0.2 and base["gm"][inside].mean() > 0.2


def test_same_seed_same_volume_other_seed_other_volume(volume):
    again = synthesise_volume(7)
    for a, b in zip(volume, again):
        assert np.array_equal(a, b)
    assert not np.array_equal(volume[1], synthesise_volume(8)[1])


def test_volume_shapes_labels_and_zscore(volume):
    image, labels, brain = volume
    assert image.dtype == np.float32 and image.shape[1:] == (240, 240, 4)
    assert labels.dtype == np.uint8 and labels.shape == image.shape[:3] == brain.shape
    assert set(np.unique(labels).tolist()) <= {0, 1, 2, 3} and labels.max() > 0
    assert not labels[~brain].any() and not image[~brain].any()     # skull-stripped
    inside = image[brain]                                            # (N, 4)
    assert np.allclose(inside.mean(axis=0), 0, atol=1e-3)
    assert np.allclose(inside.std(axis=0), 1, atol=1e-3)
    tumour_slices = (labels > 0).any(axis=(1, 2))
    assert 0 < tumour_slices.sum() < len(labels)                     # slices without tumour too


def test_contrasts_follow_tissue_and_lesion_appearance():
    image, labels, brain = synthesise_volume(3, num_lesions=1)
    flair, t1, t1ce, t2 = (image[..., c] for c in range(4))
    oedema, tumour = labels == 2, (labels == 1) | (labels == 3)
    normal = brain & (labels == 0)
    assert flair[oedema].mean() > flair[normal].mean() + 1           # oedema bright in FLAIR
    assert t2[oedema].mean() > t2[normal].mean() + 1                 # and in T2
    assert t1[tumour].mean() < t1[normal].mean()                     # tumour dark in T1
    if (labels == 3).any():
        assert t1ce[labels == 3].mean() > t1ce[normal].mean() + 1    # enhancing rim
    assert CONTRASTS["t2"]["csf"] > CONTRASTS["t2"]["wm"] > CONTRASTS["flair"]["csf"]


def test_store_is_cached_split_by_volume_and_matches_the_seed(env):
    folder = build_phantom(NUM_VOLUMES)                              # reused, not rebuilt
    meta = json.loads((folder / "meta.json").read_text())
    assert [v["split"] for v in meta["volumes"]] == ["train", "train", "valid", "test"]
    entry = meta["volumes"][1]                                       # stored cropped in-plane
    stored = read_volume(folder, entry, "dat")
    image, labels, _ = synthesise_volume(np.random.SeedSequence(0).spawn(NUM_VOLUMES)[1])
    assert stored.dtype == np.float16
    assert np.allclose(stored, image, atol=2e-2)
    assert np.array_equal(read_volume(folder, entry, "lbl"), labels)
    assert str(folder).startswith(str(env))


def test_training_batches_seed_shapes_and_labels(env):
    gen_train, gen_valid, client = prepare("phantom/brats-mip", num_volumes=NUM_VOLUMES,
                                           keyword="mip*vox")
    for gen in (gen_train, gen_valid):
        xs, ys = next(gen)
        assert xs["dat"].shape == (16, 1, 240, 240, 4) and xs["dat"].dtype == np.float32
        assert ys["tumor"].shape == (16, 1, 240, 240, 1) and ys["tumor"].dtype == np.uint8
        assert set(np.unique(ys["tumor"]).tolist()) <= {0, 1, 2, 3}
    assert "train" in repr(client)


def test_binarise_config_and_batch_size(env):
    gen_train, _, _ = prepare("phantom/brats-mip", num_volumes=NUM_VOLUMES,
                              configs={**BINARISE, "batch": {"size": 5}}, sampling_seed=0)
    values = set()
    for _ in range(4):
        xs, ys = next(gen_train)
        assert len(xs["dat"]) == 5
        values |= set(np.unique(ys["tumor"]).tolist())
    assert values == {0, 1}


@pytest.mark.parametrize("configs, match", [
    ({"sampling": {"tumor": 1}}, r"configs\['sampling'\] is not a known config key"),
    ({"specs": {"ys": {"tumr": {}}}}, r"configs\['specs'\]\['ys'\]\['tumr'\]"),
    ({"specs": {"ys": {"tumor": {"norms": {"clamp": {}}}}}}, r"keys among"),
    ({"batch": {"sampling": {"lesion": 1.0}}}, r"cohort columns"),
    ({"batch": {"size": 0}}, r"batch'\]\['size'\] must be an integer >= 1"),
])
def test_unknown_or_bad_configs_raise(env, configs, match):
    with pytest.raises(ValueError, match=match):
        prepare("phantom/brats-mip", num_volumes=NUM_VOLUMES, configs=configs)


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "mr/brats-2021"}, "unknown dataset name"),
    ({"name": "phantom/brats-mip", "keyword": "mip*glb"}, "keyword must be one of"),
    ({"name": "mr/brats-2020-mip"}, "BOXLOC_BRATS"),
])
def test_bad_names_raise(env, monkeypatch, kwargs, match):
    monkeypatch.delenv("BOXLOC_BRATS", raising=False)
    with pytest.raises(ValueError, match=match):
        prepare(**kwargs)


def test_stratified_sampling(env):
    configs = {**BINARISE, "batch": {"size": 32, "sampling": {"lbl-mip-00": 1, "tumor": 1}}}
    gen_train, _, _ = prepare("phantom/brats-mip", num_volumes=NUM_VOLUMES, configs=configs,
                              sampling_seed=1)
    fractions = [ys["tumor"].any(axis=(1, 2, 3, 4)).mean() for _, ys in
                 (next(gen_train) for _ in range(6))]
    assert 0.3 < np.mean(fractions) < 0.7
    only = {"batch": {"size": 8, "sampling": {"tumor": 1.0}}}
    gen_train, _, _ = prepare("phantom/brats-mip", num_volumes=NUM_VOLUMES, configs=only)
    assert next(gen_train)[1]["tumor"].any(axis=(1, 2, 3, 4)).all()


def test_same_sampling_seed_same_batches_and_in_memory_unchanged(env):
    folder = build_phantom(NUM_VOLUMES)
    first = next(Client(folder, seed=3).create_generators()[0])
    client = Client(folder, seed=3)
    client.load_data_in_memory()
    second = next(client.create_generators()[0])
    assert np.array_equal(first[0]["dat"], second[0]["dat"])
    assert np.array_equal(first[1]["tumor"], second[1]["tumor"])


def test_test_mode_whole_volumes_and_slices(env):
    client = Client(build_phantom(NUM_VOLUMES))
    test_train, test_valid = client.create_generators(test=True, expand=True)
    volumes = list(test_train)
    assert len(volumes) == 2
    x, y = volumes[0]
    assert x["dat"].shape[0] == 1 and 40 <= x["dat"].shape[1] <= 50
    assert x["dat"].shape[2:] == (240, 240, 4) and y["tumor"].shape == x["dat"].shape[:4] + (1,)
    slices = list(client.create_generators(test=True)[1])
    meta_slices = [v["slices"] for v in client.meta["volumes"] if v["split"] == "valid"]
    assert len(slices) == sum(meta_slices) and slices[0][0]["dat"].shape == (1, 1, 240, 240, 4)
    held_out = list(client.generator_test("test", expand=True))
    assert len(held_out) == 1


def test_box_generators_and_inputs(env):
    gen_train, gen_valid, client = prepare("phantom/brats-mip", num_volumes=NUM_VOLUMES,
                                           configs={**BINARISE, "batch": {"size": 4}})
    bb = BoundingBox((240, 240), c=[3, 4], anchor_shapes=[32, 64], iou_upper=0.5, iou_lower=0.2)
    box_train, _ = bb.create_generators(gen_train, gen_valid, msk="tumor")
    xs, ys, weights = next(box_train)
    assert xs["dat"].shape == (4, 1, 240, 240, 4)
    assert ys["cls-c3"].shape == (4, 1, 30, 30, 9) and ys["reg-c4"].shape == (4, 1, 15, 15, 36)
    assert set(weights) == {"cls-c3", "reg-c3", "cls-c4", "reg-c4"}
    test_train, _ = bb.create_generators(*client.create_generators(test=True, expand=True),
                                         msk="tumor")
    x, y, _ = next(test_train)
    assert y["cls-c3"].shape[:2] == (1, x["dat"].shape[1])
    assert any(len(boxes) for boxes in bb.convert_box_to_anc(y)[0])   # GT boxes rebuilt

    def Input(shape, dtype, name):
        return (shape, dtype, name)

    assert client.get_inputs(Input) == {"dat": ((None, 240, 240, 4), "float32", "dat")}


def test_store_keeps_only_the_nonzero_box_and_pads_on_load(env):
    folder = build_phantom(NUM_VOLUMES)
    client = Client(folder)
    for entry in client.meta["volumes"]:
        r0, r1, c0, c1 = entry["crop"]
        raw = np.load(folder / f"{entry['id']}_dat.npy", mmap_mode="r")
        assert raw.shape == (entry["slices"], r1 - r0, c1 - c0, 4) and entry["frame"] == [240, 240]
        assert (r1 - r0) * (c1 - c0) < 0.7 * 240 * 240                # well under the frame
        full = client.volume_array(entry["id"], "dat")
        assert full.shape == (entry["slices"], 240, 240, 4)
        assert not full[:, :r0].any() and not full[:, r1:].any()
        assert not full[:, :, :c0].any() and not full[:, :, c1:].any()
        assert np.array_equal(full[:, r0:r1, c0:c1], raw)
    entry = client.meta["volumes"][0]
    x, y = client._item(entry["id"], slice(3, 5))
    assert x["dat"].shape == (2, 240, 240, 4) and y["tumor"].shape == (2, 240, 240, 1)
    assert np.array_equal(x["dat"], client.volume_array(entry["id"], "dat")[3:5].astype(np.float32))


def test_format_1_stores_with_full_frames_still_read(env, tmp_path):
    folder = build_phantom(NUM_VOLUMES)
    old = tmp_path / "old"
    old.mkdir()
    meta = json.loads((folder / "meta.json").read_text())
    for entry in meta["volumes"]:
        for key in ("dat", "lbl"):
            np.save(old / f"{entry['id']}_{key}.npy", read_volume(folder, entry, key))
        del entry["crop"], entry["frame"]
    meta["format"] = 1
    (old / "meta.json").write_text(json.dumps(meta))
    first = next(Client(folder, seed=5).create_generators()[0])
    second = next(Client(old, seed=5).create_generators()[0])
    assert np.array_equal(first[0]["dat"], second[0]["dat"])
    assert np.array_equal(first[1]["tumor"], second[1]["tumor"])


def test_progress_falls_back_to_text_when_the_notebook_bar_cannot_start(monkeypatch):
    """tqdm 4.60's notebook bar raises 'IProgress not found' without ipywidgets (seen executing
    notebook 3 on the lowest declared releases); the phantom build must go on with a text bar."""
    tqdm_auto = pytest.importorskip("tqdm.auto")
    from tqdm.std import tqdm as text_tqdm

    from boxloc.datasets.store import progress

    def notebook_bar(*args, **kwargs):
        raise ImportError("IProgress not found. Please update jupyter and ipywidgets.")

    monkeypatch.setattr(tqdm_auto, "tqdm", notebook_bar)
    bar = progress(range(3), 3, "volumes")
    assert isinstance(bar, text_tqdm) and list(bar) == [0, 1, 2]
