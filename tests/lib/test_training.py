"""Training smoke test on toy data (CPU), the compile wiring, saving and loading .keras."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from boxloc import BoundingBox  # noqa: E402
from boxloc.losses import FocalLoss, SmoothL1Loss  # noqa: E402
from boxloc.models import build_retinanet  # noqa: E402
from boxloc.training import (as_dataset, compile_retinanet, configure_accelerator,  # noqa: E402
                             course_callbacks, toy_batches)

BB = dict(image_shape=(64, 64), c=[2, 3], anchor_shapes=[12, 24], anchor_scales=[0],
          anchor_ratios=[0.5, 1], iou_upper=0.5, iou_lower=0.2)


def tiny_model(bb):
    keras.utils.set_random_seed(0)
    return build_retinanet(bb, channels=1, filters=(4, 8, 8, 8), width=8, head_depth=1,
                           prior_probability=0.01)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    bb = BoundingBox(**BB)
    model = compile_retinanet(tiny_model(bb), learning_rate=1e-2)
    directory = tmp_path_factory.mktemp("run")
    history = model.fit(bb.generator(toy_batches((64, 64), 8, lesions=(1, 2), seed=1)),
                        steps_per_epoch=5, epochs=4, verbose=0, shuffle=False,
                        callbacks=course_callbacks(str(directory), monitor="loss"))
    return bb, model, history, directory


def test_loss_decreases(trained):
    _, _, history, _ = trained
    losses = history.history["loss"]
    # last/first epoch: TensorFlow 0.39, PyTorch 0.20, JAX 0.56 (each backend draws its own
    # initial weights from the seed)
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.6 * losses[0]
    assert {"cls-c2_sens", "cls-c2_ppv", "reg-c3_loss"} <= set(history.history)


def test_checkpoint_written(trained):
    assert (trained[3] / "best.keras").is_file()


def test_compiled_loss_is_sum_of_masked_references(trained):
    """Sample weights reach each output's loss by name: evaluate == sum of per-output losses."""
    bb, model, _, _ = trained
    xs, ys, sw = next(bb.generator(toy_batches((64, 64), 4, lesions=(0, 2), seed=7)))
    predicted = model.predict(xs, verbose=0)
    expected = sum(float((FocalLoss() if key.startswith("cls") else SmoothL1Loss())(
        ys[key], predicted[key], sample_weight=sw[key])) for key in predicted)
    result = model.evaluate(xs, ys, sample_weight=sw, verbose=0, return_dict=True)
    assert result["loss"] == pytest.approx(expected, rel=1e-4)


def test_box_weight_scales_the_box_terms(trained):
    """box_weight=w: loss = sum of focal terms + w * sum of smooth-L1 terms."""
    bb, model, _, _ = trained
    xs, ys, sw = next(bb.generator(toy_batches((64, 64), 4, lesions=(1, 2), seed=8)))
    predicted = model.predict(xs, verbose=0)
    parts = {key: float((FocalLoss() if key.startswith("cls") else SmoothL1Loss(delta=0.1))(
        ys[key], predicted[key], sample_weight=sw[key])) for key in predicted}
    weighted = tiny_model(bb)
    weighted.set_weights(model.get_weights())
    compile_retinanet(weighted, smooth_l1={"delta": 0.1}, box_weight=10.0)
    result = weighted.evaluate(xs, ys, sample_weight=sw, verbose=0, return_dict=True)
    expected = sum(v * (10.0 if key.startswith("reg") else 1.0) for key, v in parts.items())
    assert result["loss"] == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ValueError, match="box_weight"):
        compile_retinanet(weighted, box_weight=0)


def test_tf_data_pipeline_trains():
    pytest.importorskip("tensorflow", reason="tf.data needs TensorFlow under every backend")
    bb = BoundingBox(**BB)
    model = compile_retinanet(tiny_model(bb), learning_rate=1e-2)
    dataset = as_dataset(bb.generator(toy_batches((64, 64), 4, lesions=(1, 2), seed=2)))
    xs, ys, sw = dataset.element_spec
    assert xs["dat"].shape.as_list() == [None, None, 64, 64, 1]
    assert set(ys) == set(sw) == set(model.output_names)
    history = model.fit(dataset, steps_per_epoch=3, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])


def test_save_and_load_in_a_fresh_process(trained, tmp_path):
    _, model, _, _ = trained
    path, data = tmp_path / "model.keras", tmp_path / "x.npy"
    model.save(path)
    x = np.random.default_rng(0).normal(size=(1, 3, 64, 64, 1)).astype(np.float32)
    np.save(data, x)
    expected = model.predict({"dat": x}, verbose=0)
    code = textwrap.dedent(f"""
        import numpy as np, keras
        import boxloc.training                     # registers boxloc's losses and metrics
        from boxloc.losses import FocalLoss
        model = keras.saving.load_model({str(path)!r})
        assert isinstance(model.loss["cls-c2"], FocalLoss), model.loss
        out = model.predict({{"dat": np.load({str(data)!r})}}, verbose=0)
        np.savez({str(tmp_path / 'out.npz')!r}, **out)
    """)
    subprocess.run([sys.executable, "-c", code], check=True)
    loaded = np.load(tmp_path / "out.npz")
    assert set(loaded.files) == set(expected)
    for key in expected:     # same weights; oneDNN (TensorFlow 2.18) may differ in the last bit
        np.testing.assert_allclose(loaded[key], expected[key], rtol=1e-6, atol=1e-6,
                                   err_msg=key)


def test_cpu_defaults_are_off():
    """On a CPU: no mixed precision, and no XLA but with JAX (which always compiles)."""
    settings = configure_accelerator()
    if settings["device"] == "cpu":
        jax = keras.backend.backend() == "jax"
        assert settings == {"device": "cpu", "mixed_precision": False, "jit_compile": jax}
        assert keras.mixed_precision.global_policy().name == "float32"
    configure_accelerator(mixed_precision=False)


def test_toy_batches_have_bright_lesions():
    xs, ys = next(toy_batches((32, 32), 3, lesions=(1, 1), radius=(3, 6), noise=0.1))
    assert xs["dat"].shape == (3, 1, 32, 32, 1) and ys["lbl"].shape == (3, 1, 32, 32, 1)
    inside = ys["lbl"][..., 0] > 0
    assert xs["dat"][..., 0][inside].mean() > 0.8 > xs["dat"][..., 0][~inside].mean() + 0.5
