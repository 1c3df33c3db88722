"""Keras 3 for boxloc's Keras modules, imported with an error that says what to install.

The NumPy core (``import boxloc``, the datasets without ``tf.data``) needs no Keras. The Keras
modules (``models``, ``losses``, ``metrics``, ``training``) run on any Keras 3 backend
(TensorFlow, JAX, PyTorch: ``KERAS_BACKEND``); only ``tf.data`` (``training.as_dataset``,
``datasets.make_dataset``, see ``_tensorflow``) needs TensorFlow whatever the backend.
"""

import os

__all__ = ["keras", "backend"]

INSTALL_HINT = ("pip install 'boxloc[tensorflow]' (or 'boxloc[jax]', 'boxloc[torch]'); on "
                "Colab, Keras and TensorFlow are already there")


def _import_keras():
    try:
        import keras
    except ModuleNotFoundError as error:
        if error.name == "keras":
            raise ModuleNotFoundError(
                f"boxloc's Keras modules (models, losses, metrics, training) need Keras 3 and a "
                f"backend, and Keras is not installed: {INSTALL_HINT}. The NumPy core "
                f"(import boxloc, boxloc.datasets) works without them.", name="keras") from error
        backend_name = os.environ.get("KERAS_BACKEND", "tensorflow (Keras' default)")
        raise ModuleNotFoundError(
            f"Keras is installed but its backend {backend_name} cannot be imported "
            f"({error}): install that backend, or choose an installed one with "
            f"KERAS_BACKEND=tensorflow|jax|torch before importing keras", name=error.name
        ) from error
    major = int(str(keras.__version__).split(".")[0])
    if major < 3:
        raise ImportError(f"boxloc needs Keras 3, found keras {keras.__version__}: "
                          f"pip install 'keras>=3.5'")
    return keras


keras = _import_keras()


def backend():
    """The Keras backend in use: ``'tensorflow'``, ``'jax'`` or ``'torch'``."""
    return keras.backend.backend()
