"""The Keras parts on each Keras 3 backend, each in its own process (``KERAS_BACKEND``):
``build_retinanet``, the losses and metrics, ``compile_retinanet``, a few training steps from
``bb.generator``, evaluation, ``.keras`` save and load. A backend whose package is not installed
here is skipped (``python3 run.py compat`` runs JAX and PyTorch in an environment that has them
and no TensorFlow)."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}

SCRIPT = textwrap.dedent("""
    import importlib.util, sys
    import numpy as np
    import keras
    from boxloc import BoundingBox
    from boxloc.losses import FocalLoss, SmoothL1Loss
    from boxloc.metrics import PPV, Sensitivity
    from boxloc.models import build_retinanet
    from boxloc.training import (as_dataset, compile_retinanet, configure_accelerator,
                                 load_model, toy_batches)

    assert keras.backend.backend() == sys.argv[1], keras.backend.backend()
    settings = configure_accelerator()
    bb = BoundingBox((64, 64), c=[2, 3], anchor_shapes=[12, 24], anchor_scales=[0],
                     anchor_ratios=[0.5, 1], iou_upper=0.5, iou_lower=0.2)
    keras.utils.set_random_seed(0)
    model = build_retinanet(bb, channels=1, filters=(4, 8, 8, 8), width=8, head_depth=1,
                            prior_probability=0.01)
    compile_retinanet(model, learning_rate=1e-2, jit_compile=settings["jit_compile"])
    history = model.fit(bb.generator(toy_batches((64, 64), 4, lesions=(1, 2), seed=1)),
                        steps_per_epoch=2, epochs=2, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 2 and all(np.isfinite(losses)), losses
    xs, ys, sw = next(bb.generator(toy_batches((64, 64), 4, lesions=(1, 2), seed=2)))
    scores = model.evaluate(xs, ys, sample_weight=sw, verbose=0, return_dict=True)
    assert any(k.endswith("sens") for k in scores) and all(np.isfinite(list(scores.values())))

    focal = FocalLoss()(ys["cls-c2"], np.zeros_like(ys["cls-c2"]), sw["cls-c2"])
    smooth = SmoothL1Loss(variant="retinanet")(ys["reg-c2"], np.zeros_like(ys["reg-c2"]),
                                               sw["reg-c2"])
    sens = Sensitivity()
    sens.update_state(ys["cls-c2"], np.full_like(ys["cls-c2"], 5.0), sw["cls-c2"])
    assert float(focal) > 0 and float(smooth) > 0 and float(sens.result()) == 1.0

    path = sys.argv[2] + "/model.keras"
    model.save(path)
    loaded = load_model(path)
    assert isinstance(loaded.loss["cls-c2"], FocalLoss), loaded.loss
    for key, value in model.predict(xs, verbose=0).items():
        np.testing.assert_allclose(loaded.predict(xs, verbose=0)[key], value, atol=1e-6)
    loaded.fit(xs, ys, sample_weight=sw, epochs=1, verbose=0)

    if importlib.util.find_spec("tensorflow") is None:
        try:
            as_dataset(bb.generator(toy_batches((64, 64), 4)))
        except ModuleNotFoundError as error:
            assert "tf.data" in str(error) and "needs TensorFlow" in str(error), error
        else:
            raise AssertionError("as_dataset worked without TensorFlow")
    print("backend ok:", keras.backend.backend(), settings)
""")


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_keras_parts_train_save_and_load_on_the_backend(backend, tmp_path):
    if importlib.util.find_spec(BACKENDS[backend]) is None:
        pytest.skip(f"{BACKENDS[backend]} is not installed here")
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", SCRIPT, backend, str(tmp_path)],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-4000:]
    assert f"backend ok: {backend}" in result.stdout
