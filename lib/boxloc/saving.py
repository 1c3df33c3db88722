"""Save and load a detector: the Keras network and the anchors it was trained with.

A network's outputs only mean something with its ``BoundingBox`` (which anchor each output
channel refines), so a detector is two files side by side::

    my_retinanet.keras    the Keras 3 model (architecture + weights, no optimizer state)
    my_retinanet.json     {"format": "boxloc-detector", "version": 1,
                           "bounding_box": {...BoundingBox arguments...}, "info": {...}}

``save_detector(path, model, bb)`` writes both; ``load_detector(path)`` returns
``(model, bb, info)``; ``models_folder()`` is where the notebooks keep them (Google Drive in
Colab). ``load_reference()`` loads the course's reference detector, shipped with
the library (``boxloc/weights/``; how it was trained is in its ``info`` and in the README).
Imports Keras.
"""

import json
import os
import sys
from pathlib import Path

from ._keras import keras
from .bounding_box import BoundingBox

__all__ = ["save_detector", "load_detector", "models_folder", "reference_path", "load_reference",
           "REFERENCE_NAME"]

FORMAT, VERSION = "boxloc-detector", 1
REFERENCE_NAME = "retinanet-cpu"
# the BoundingBox constructor's arguments (params also holds derived values: grids, levels)
_BB_ARGUMENTS = ("image_shape", "classes", "c", "anchor_shapes", "anchor_scales", "anchor_ratios",
                 "iou_upper", "iou_lower", "iou_nms", "box_padding", "min_size_blob",
                 "cls_threshold", "match_rule")


def _paths(path):
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"path must end with .keras (Keras 3's format), got {str(path)!r}")
    return path, path.with_suffix(".json")


def save_detector(path, model, bb, info=None):
    """Write ``model`` to ``path`` (``.keras``) and ``bb``'s arguments with ``info`` (a dict
    of plain values: how it was trained) to the ``.json`` beside it. The optimizer state is
    left out (a detector for inference; compile again to train on). Returns the model's path."""
    model_path, json_path = _paths(path)
    if not isinstance(bb, BoundingBox):
        raise TypeError(f"bb must be a BoundingBox, got {type(bb).__name__}")
    model_path.parent.mkdir(parents=True, exist_ok=True)
    # the same architecture, never compiled (clone_model would carry the optimizer along)
    bare = keras.Model.from_config(model.get_config())
    bare.set_weights(model.get_weights())
    bare.save(model_path)
    record = {"format": FORMAT, "version": VERSION,
              "bounding_box": {k: bb.params[k] for k in _BB_ARGUMENTS}, "info": dict(info or {})}
    json_path.write_text(json.dumps(record, indent=1) + "\n")
    return model_path


def load_detector(path):
    """``(model, bb, info)`` from a detector saved by :func:`save_detector`. The model is not
    compiled (``compile_retinanet`` it to train further)."""
    model_path, json_path = _paths(path)
    for needed in (model_path, json_path):
        if not needed.is_file():
            raise FileNotFoundError(f"no detector at {model_path}: {needed} is missing "
                                    "(save_detector writes the .keras file and a .json beside it)")
    record = json.loads(json_path.read_text())
    if record.get("format") != FORMAT or record.get("version") != VERSION:
        raise ValueError(f"{json_path} is not a {FORMAT} file of version {VERSION}")
    bb = BoundingBox(**record["bounding_box"])
    model = keras.models.load_model(model_path, compile=False)
    expected = {k for k in bb.params["inputs_shapes"] if not k.endswith("-msk")}
    if set(model.output_names) != expected:
        raise ValueError(f"{model_path}: the model's outputs {sorted(model.output_names)} do not "
                         f"match the anchors in {json_path.name} ({sorted(expected)})")
    return model, bb, record.get("info", {})


def models_folder(mount_drive=True):
    """The folder the course notebooks save detectors in (created): ``$BOXLOC_MODELS`` if set;
    in Colab ``MyDrive/boxloc-models`` on your Google Drive, which outlives the runtime
    (``mount_drive``: mount Drive if needed, Colab asks for permission; if that fails, the
    runtime's own ``/content/boxloc-models`` with a warning); elsewhere ``./models``."""
    folder = os.environ.get("BOXLOC_MODELS")
    if not folder and "google.colab" in sys.modules:
        drive = Path("/content/drive")
        if mount_drive and not (drive / "MyDrive").is_dir():
            try:
                from google.colab import drive as colab_drive
                colab_drive.mount(str(drive))
            except Exception as error:                     # noqa: BLE001 (refused, offline, ...)
                print(f"Google Drive is not available ({error}): models are kept in this "
                      "runtime only and are lost when it disconnects")
        folder = drive / "MyDrive" / "boxloc-models" if (drive / "MyDrive").is_dir() \
            else Path("/content/boxloc-models")
    folder = Path(folder or "models")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def reference_path():
    """Where the shipped reference detector's ``.keras`` file is."""
    return Path(__file__).resolve().parent / "weights" / f"{REFERENCE_NAME}.keras"


def load_reference():
    """The course's reference detector ``(model, bb, info)``: ``configs.CPU_CONFIG`` trained on
    the phantom data (``info`` says how, and what it scored)."""
    return load_detector(reference_path())
