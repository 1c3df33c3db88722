"""TensorFlow for boxloc's ``tf.data`` parts, imported with an error that says why it is needed."""

import os
import sys

__all__ = ["import_tensorflow"]


def _keras_backend():
    keras = sys.modules.get("keras")
    if keras is not None:
        return keras.backend.backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def import_tensorflow(what):
    """``import tensorflow``, or a ModuleNotFoundError saying that ``what`` needs it and why."""
    try:
        import tensorflow
    except ModuleNotFoundError as error:
        if error.name != "tensorflow":
            raise
        raise ModuleNotFoundError(
            f"{what} builds a tf.data pipeline and needs TensorFlow, which is not installed "
            f"(Keras backend: {_keras_backend()}). tf.data is TensorFlow-only under every "
            f"Keras backend: feed model.fit the Python generators of bb.generator(...) / "
            f"bb.create_generators(...) instead, or pip install tensorflow.",
            name="tensorflow") from error
    return tensorflow
