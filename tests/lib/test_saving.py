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
    path.with_suffix(".json").write_text(json.dumps(
        {**record, "bounding_box": {**record["bounding_box"], "c": [3], "anchor_shapes": [16]}}))
    with pytest.raises(ValueError, match="do not match the anchors"):
        load_detector(path)


def test_models_folder_outside_colab(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOXLOC_MODELS", raising=False)
    assert models_folder().resolve() == tmp_path / "models" and (tmp_path / "models").is_dir()
    monkeypatch.setenv("BOXLOC_MODELS", str(tmp_path / "elsewhere"))
    assert models_folder() == tmp_path / "elsewhere" and (tmp_path / "elsewhere").is_dir()
