"""Saving a detector: the network and its anchors round-trip; bad paths and mismatched files
get errors that say what is wrong; where the notebooks keep models."""

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from boxloc import BoundingBox  # noqa: E402
from boxloc.models import build_retinanet  # noqa: E402
from boxloc.saving import load_detector, models_folder, save_detector  # noqa: E402

TINY = dict(filters=(4, 8, 8, 8), width=8, head_depth=1)


@pytest.fixture(scope="module")
def detector():
    bb = BoundingBox((64, 64), c=[2, 3], anchor_shapes=[8, 16], iou_upper=0.5, iou_lower=0.4)
    keras.utils.set_random_seed(1)
    return build_retinanet(bb, channels=2, **TINY), bb


def test_a_saved_detector_predicts_the_same_with_the_same_anchors(detector, tmp_path):
    model, bb = detector
    path = save_detector(tmp_path / "deep" / "mine.keras", model, bb, info={"epochs": 3})
    assert path.is_file() and path.with_suffix(".json").is_file()
    loaded, loaded_bb, info = load_detector(path)
    assert info == {"epochs": 3}
    assert {k: loaded_bb.params[k] for k in ("c", "anchor_shapes", "iou_upper", "iou_lower")} == {
        "c": [2, 3], "anchor_shapes": [8, 16], "iou_upper": 0.5, "iou_lower": 0.4}
    np.testing.assert_array_equal(loaded_bb.anchors, bb.anchors)
    x = {"dat": np.random.default_rng(0).normal(size=(2, 1, 64, 64, 2)).astype("float32")}
    for key, value in model.predict(x, verbose=0).items():
        np.testing.assert_allclose(loaded.predict(x, verbose=0)[key], value, atol=1e-6)


def test_saving_leaves_out_the_optimizer(detector, tmp_path):
    """A compiled, trained model saves as small as an untrained one: no optimizer state."""
    from boxloc.training import compile_retinanet
    model, bb = detector
    plain = save_detector(tmp_path / "plain.keras", model, bb).stat().st_size
    compiled = keras.models.clone_model(model)
    compile_retinanet(compiled, learning_rate=1e-3)
    x = {"dat": np.zeros((2, 1, 64, 64, 2), "float32")}
    y = {k: np.zeros((2, *s), "float32") for k, s in bb.params["inputs_shapes"].items()
         if not k.endswith("-msk")}
    compiled.fit(x, y, epochs=1, verbose=0)
    assert save_detector(tmp_path / "trained.keras", compiled, bb).stat().st_size <= plain * 1.05


def test_bad_paths_and_files_say_what_is_wrong(detector, tmp_path):
    model, bb = detector
    with pytest.raises(ValueError, match=r"must end with \.keras.*mine\.h5"):
        save_detector(tmp_path / "mine.h5", model, bb)
    with pytest.raises(TypeError, match="bb must be a BoundingBox"):
        save_detector(tmp_path / "mine.keras", model, bb.params)
    with pytest.raises(FileNotFoundError, match="absent.keras is missing"):
        load_detector(tmp_path / "absent.keras")
    path = save_detector(tmp_path / "mine.keras", model, bb)
    json_text = path.with_suffix(".json").read_text()
    path.with_suffix(".json").unlink()
    with pytest.raises(FileNotFoundError, match="mine.json is missing.*a .json beside it"):
        load_detector(path)
    path.with_suffix(".json").write_text(json_text)
    record = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**record, "format": "other"}))
    with pytest.raises(ValueError, match="is not a boxloc-detector file"):
        load_detector(path)
    other_anchors = {**record["bounding_box"], "c": [3], "anchor_shapes": [16]}
    path.with_suffix(".json").write_text(json.dumps({**record, "bounding_box": other_anchors}))
    with pytest.raises(ValueError, match=r"weights do not fit the network that the anchors .* "
                                         r"of mine\.json describe \(A total of 3 objects"):
        load_detector(path)
    # a file without network arguments (a block of one's own): the outputs are compared
    path.with_suffix(".json").write_text(json.dumps(
        {**record, "bounding_box": other_anchors, "network": None}))
    with pytest.raises(ValueError, match="do not match the anchors"):
        load_detector(path)


def test_models_folder_outside_colab(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOXLOC_MODELS", raising=False)
    assert models_folder().resolve() == tmp_path / "models" and (tmp_path / "models").is_dir()
    monkeypatch.setenv("BOXLOC_MODELS", str(tmp_path / "elsewhere"))
    assert models_folder() == tmp_path / "elsewhere" and (tmp_path / "elsewhere").is_dir()


def test_a_built_network_loads_by_building_it_again(detector, tmp_path, monkeypatch):
    """build_retinanet's arguments travel in the .json; loading builds the network with this
    library and reads only the weights, so no Keras ever parses another release's layer
    configuration (Keras 3.5-3.14 cannot read what 3.15 writes)."""
    model, bb = detector
    path = save_detector(tmp_path / "mine.keras", model, bb)
    network = json.loads(path.with_suffix(".json").read_text())["network"]
    assert network == {"builder": "build_retinanet", "arguments": {
        "channels": 2, "filters": [4, 8, 8, 8], "blocks": 1, "width": 8, "head_depth": 1,
        "prior_probability": None, "input_name": "dat", "name": "retinanet"}}

    def refuse(*args, **kwargs):
        raise AssertionError("load_model must not be needed")
    monkeypatch.setattr(keras.models, "load_model", refuse)
    loaded, _, _ = load_detector(path)
    x = {"dat": np.random.default_rng(2).normal(size=(1, 1, 64, 64, 2)).astype("float32")}
    for key, value in model.predict(x, verbose=0).items():
        np.testing.assert_array_equal(loaded.predict(x, verbose=0)[key], value)
    # and it saves again with its arguments
    again = save_detector(tmp_path / "again.keras", loaded, bb)
    assert json.loads(again.with_suffix(".json").read_text())["network"] == network


def test_a_network_with_a_block_of_ones_own_and_old_files_load_with_keras(detector, tmp_path):
    from boxloc.models import top_down_merge
    _, bb = detector

    def my_top_down(coarser, finer, width):
        return top_down_merge(coarser, finer, width)
    model = build_retinanet(bb, channels=2, top_down=my_top_down, **TINY)
    path = save_detector(tmp_path / "own.keras", model, bb)
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["network"] is None
    x = {"dat": np.random.default_rng(3).normal(size=(1, 1, 64, 64, 2)).astype("float32")}
    np.testing.assert_allclose(load_detector(path)[0].predict(x, verbose=0)["cls-c2"],
                               model.predict(x, verbose=0)["cls-c2"], atol=1e-6)
    # a version 1 file (before 'network' existed) still loads
    old = {k: v for k, v in record.items() if k != "network"}
    path.with_suffix(".json").write_text(json.dumps({**old, "version": 1}))
    assert load_detector(path)[0].count_params() == model.count_params()


def test_files_another_keras_cannot_read_say_which_keras_saved_them(detector, tmp_path):
    import zipfile
    from boxloc.models import top_down_merge
    model, bb = detector
    own = build_retinanet(bb, channels=2, top_down=lambda c, f, w: top_down_merge(c, f, w), **TINY)
    path = save_detector(tmp_path / "own.keras", own, bb)
    # what a newer Keras writes: an argument this one does not know, in every initializer
    future = tmp_path / "future.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(future, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "config.json":
                data = data.replace(b'"seed": null', b'"seed": null, "from_the_future": 1')
                assert b"from_the_future" in data
            if item.filename == "metadata.json":
                data = json.dumps({**json.loads(data), "keras_version": "9.9.9"}).encode()
            target.writestr(item, data)
    future.with_suffix(".json").write_text(path.with_suffix(".json").read_text())
    with pytest.raises(ValueError, match=r"future\.keras could not be read by Keras 3\.\S+ "
                                         r"\(it was saved by Keras 9\.9\.9\).*upgrade Keras"):
        load_detector(future)
    # weights that do not fit the recorded network, and a malformed 'network'
    built = save_detector(tmp_path / "built.keras", model, bb)
    record = json.loads(built.with_suffix(".json").read_text())
    record["network"]["arguments"]["width"] = 16
    built.with_suffix(".json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"built\.keras: its weights do not fit the network"):
        load_detector(built)
    built.with_suffix(".json").write_text(json.dumps({**record, "network": {"builder": "x"}}))
    with pytest.raises(ValueError, match="'network' must be"):
        load_detector(built)
