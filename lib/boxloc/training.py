"""Training side on Keras 3: course configuration, compile helper, callbacks, mixed precision /
XLA switch, a tf.data pipeline, toy training batches, and loading saved models.

Everything here runs on the TensorFlow, JAX and PyTorch backends of Keras 3 (``KERAS_BACKEND``)
except ``as_dataset``, which builds a ``tf.data`` pipeline and so needs TensorFlow installed.

The wiring the seed tutorial needed (loss closures over symbolic mask Inputs,
``experimental_run_tf_function``, ``add_metric``) is replaced by plain Keras 3 parts::

    bb = BoundingBox((240, 240), c=[3, 4], anchor_shapes=[32, 64], iou_upper=0.5, iou_lower=0.2)
    model = build_retinanet(bb, channels=4, preset="course")
    compile_retinanet(model)                               # losses + masked metrics per output
    gen_train, gen_valid = bb.create_generators(gen_train, gen_valid, msk="tumor")
    model.fit(gen_train, steps_per_epoch=500, epochs=16, validation_data=gen_valid,
              validation_steps=500, validation_freq=4, callbacks=course_callbacks("runs/box"))
    model = load_model("runs/box/best.keras")              # in any process

The generators yield ``(xs, ys, sample_weights)``: the loss masks are sample weights keyed by
output name, which Keras 3 hands to each output's loss and weighted metrics.
"""

import itertools
import os

import numpy as np

from . import losses as _losses
from . import metrics as _metrics
from ._keras import backend, keras
from ._tensorflow import import_tensorflow
from .examples import lesion_masks
from .targets import map_key

__all__ = ["COURSE_CONFIG", "accelerator", "default_jit_compile", "configure_accelerator",
           "detection_losses", "detection_metrics", "compile_retinanet", "course_callbacks",
           "as_dataset", "toy_batches", "load_model"]

#: The course's training configuration (the seed tutorial's numbers where it has them).
COURSE_CONFIG = {
    "preset": "course",              # seed architecture + prior-probability bias 0.01
    "learning_rate": 2e-4,           # Adam, as the seed
    "focal": {"gamma": 2.0, "alpha": 0.25, "variant": "seed"},
    "smooth_l1": {"delta": 1.0, "variant": "seed"},
    "metric_threshold": 0.5,
    "steps_per_epoch": 500, "epochs": 16, "validation_steps": 500, "validation_freq": 4,
    "early_stopping_patience": 2,    # in validation rounds (each validation_freq epochs)
}


def accelerator():
    """``'gpu'`` when the Keras backend (TensorFlow, JAX or PyTorch) sees a GPU, else ``'cpu'``."""
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf
        return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    if name == "jax":
        import jax
        return "gpu" if any(device.platform == "gpu" for device in jax.devices()) else "cpu"
    if name == "torch":
        import torch
        return "gpu" if torch.cuda.is_available() else "cpu"
    return "cpu"


def default_jit_compile(device=None):
    """The ``jit_compile`` that pays off for the backend: JAX always compiles (eager JAX is
    very slow), TensorFlow's XLA pays off on a GPU only, and PyTorch's ``torch.compile`` is
    left off (its compile time exceeds a course run's savings)."""
    name = backend()
    if name == "jax":
        return True
    if name == "tensorflow":
        return (device or accelerator()) == "gpu"
    return False


def configure_accelerator(mixed_precision="auto", xla="auto"):
    """Switch mixed precision (global ``mixed_float16`` policy) and choose XLA.

    ``"auto"`` turns mixed precision on with a GPU and off on a CPU-only machine (float16 is
    slow on CPUs) and chooses ``jit_compile`` by ``default_jit_compile``. Call it before
    building the model; pass the returned ``jit_compile`` to ``compile_retinanet``. Returns
    ``{'device': ..., 'mixed_precision': bool, 'jit_compile': bool}``.
    """
    device = accelerator()
    use_mixed = device == "gpu" if mixed_precision == "auto" else bool(mixed_precision)
    use_xla = default_jit_compile(device) if xla == "auto" else bool(xla)
    keras.mixed_precision.set_global_policy("mixed_float16" if use_mixed else "float32")
    return {"device": device, "mixed_precision": use_mixed, "jit_compile": use_xla}


def _levels(model):
    names = [name for name in model.output_names if name.startswith("cls-c")]
    if not names:
        raise ValueError(f"model has no cls-c* output; outputs are {model.output_names}")
    return [int(name[len("cls-c"):]) for name in names]


def detection_losses(model, focal=None, smooth_l1=None):
    """``{'cls-c{c}': FocalLoss, 'reg-c{c}': SmoothL1Loss}`` for every level of ``model``."""
    focal = {**COURSE_CONFIG["focal"], **(focal or {})}
    smooth_l1 = {**COURSE_CONFIG["smooth_l1"], **(smooth_l1 or {})}
    result = {}
    for level in _levels(model):
        result[map_key("cls", level)] = _losses.FocalLoss(**focal)
        result[map_key("reg", level)] = _losses.SmoothL1Loss(**smooth_l1)
    return result


def detection_metrics(model, threshold=0.5):
    """Masked ``[Sensitivity, PPV]`` per ``cls-c{c}`` output (use as ``weighted_metrics``)."""
    return {map_key("cls", level): [_metrics.Sensitivity(threshold), _metrics.PPV(threshold)]
            for level in _levels(model)}


def compile_retinanet(model, optimizer=None, learning_rate=None, focal=None, smooth_l1=None,
                      metric_threshold=None, jit_compile=None, box_weight=1.0, **kwargs):
    """Compile with the course losses, Adam and masked sensitivity/PPV.

    The loss is the sum over outputs of each ``cls-c{c}`` focal loss plus ``box_weight``
    times each ``reg-c{c}`` smooth-L1 loss (1, as the seed). With ``smooth_l1={'delta': b}``
    and ``box_weight=1/b`` the box term is torchvision's smooth-L1 with beta ``b``.
    ``focal`` / ``smooth_l1`` update the course arguments, e.g. ``focal={'variant':
    'retinanet'}``. ``jit_compile=None``: on with the JAX backend (eager JAX is very slow),
    off otherwise. Extra ``kwargs`` go to ``model.compile``.
    """
    if optimizer is None:
        optimizer = keras.optimizers.Adam(learning_rate or COURSE_CONFIG["learning_rate"])
    if not box_weight > 0:
        raise ValueError(f"box_weight must be > 0, got {box_weight}")
    threshold = COURSE_CONFIG["metric_threshold"] if metric_threshold is None else metric_threshold
    if jit_compile is None:
        jit_compile = backend() == "jax"
    losses = detection_losses(model, focal, smooth_l1)
    weights = {key: float(box_weight) if key.startswith("reg-") else 1.0 for key in losses}
    model.compile(optimizer=optimizer, loss=losses, loss_weights=weights,
                  weighted_metrics=detection_metrics(model, threshold),
                  jit_compile=jit_compile, **kwargs)
    return model


def course_callbacks(directory, monitor="val_loss", patience=None, save_best_only=True):
    """``[ModelCheckpoint(directory/best.keras), EarlyStopping(restore_best_weights=True)]``.

    Without validation data use ``monitor="loss"``.
    """
    os.makedirs(directory, exist_ok=True)
    patience = COURSE_CONFIG["early_stopping_patience"] if patience is None else patience
    return [keras.callbacks.ModelCheckpoint(os.path.join(directory, "best.keras"),
                                            monitor=monitor, save_best_only=save_best_only),
            keras.callbacks.EarlyStopping(monitor=monitor, patience=patience,
                                          restore_best_weights=True)]


def as_dataset(batches, prefetch=True):
    """Wrap an iterator of ``(xs, ys, sw)`` dicts (e.g. ``bb.generator(...)``) as a
    ``tf.data.Dataset`` with prefetching. The first batch fixes dtypes, channel and grid sizes;
    batch and Z axes are left ``None``. The iterator is consumed once (use an infinite one
    with ``steps_per_epoch``). Needs TensorFlow (whatever the Keras backend)."""
    tf = import_tensorflow("boxloc.training.as_dataset")
    iterator = iter(batches)
    first = next(iterator)

    def spec(array):
        array = np.asarray(array)
        return tf.TensorSpec((None, None) + array.shape[2:], tf.as_dtype(array.dtype))

    signature = tuple({key: spec(value) for key, value in part.items()} for part in first)
    dataset = tf.data.Dataset.from_generator(lambda: itertools.chain([first], iterator),
                                             output_signature=signature)
    return dataset.prefetch(tf.data.AUTOTUNE) if prefetch else dataset


def toy_batches(image_shape=(64, 64), batch_size=8, channels=1, lesions=(0, 2),
                radius=(4.0, 12.0), noise=0.3, seed=0, msk="lbl"):
    """Endless toy training batches ``(xs, ys)``: ``xs['dat']`` float32 (B, 1, H, W, C) noisy
    images where lesions are bright, ``ys[msk]`` uint8 (B, 1, H, W, 1) lesion masks
    (``boxloc.examples.lesion_masks``). Feed them through ``bb.generator``."""
    rng = np.random.default_rng(seed)
    for _ in itertools.count():
        masks = lesion_masks(batch_size, image_shape, lesions, radius,
                             seed=int(rng.integers(2 ** 31)))
        images = masks[..., None].astype(np.float32) + noise * rng.standard_normal(
            (batch_size, *image_shape, channels)).astype(np.float32)
        yield {"dat": images[:, None]}, {msk: masks[:, None, ..., None]}


def load_model(path, compile=True):
    """``keras.saving.load_model`` with boxloc's losses and metrics registered (importing this
    module registers them; plain ``keras.saving.load_model`` works too after
    ``import boxloc.training``)."""
    return keras.saving.load_model(path, compile=compile)
