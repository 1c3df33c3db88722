"""Save and load a detector: the Keras network and the anchors it was trained with.

A network's outputs only mean something with its ``BoundingBox`` (which anchor each output
channel refines), so a detector is two files side by side::

    my_retinanet.keras    the Keras 3 model (architecture + weights, no optimizer state)
    my_retinanet.json     {"format": "boxloc-detector", "version": 2,
                           "bounding_box": {...BoundingBox arguments...},
                           "network": {"builder": "build_retinanet", "arguments": {...}},
                           "info": {...}}

``save_detector(path, model, bb)`` writes both; ``load_detector(path)`` returns
``(model, bb, info)``; ``models_folder()`` is where the notebooks keep them (Google Drive in
Colab). ``load_reference()`` loads the course's reference detector, shipped with
the library (``boxloc/weights/``; how it was trained is in its ``info`` and in the README).

Why ``network``: a ``.keras`` file's architecture is the configuration of every layer as
the saving Keras wrote it, and older releases refuse arguments they do not know (Keras 3.15
writes ``input_axes`` into every initializer; 3.5-3.14 cannot read that). So a network
built by ``build_retinanet`` is loaded by building it again from its arguments with this
library and the installed Keras, and reading only the weights from the ``.keras`` file (a
format every Keras 3 release reads). A network with a block of your own has no such
arguments and is loaded with ``keras.models.load_model``: on a Keras at least as new as the
one that saved it. Version 1 files (no ``network``) load the same way. Imports Keras.
"""

import json
import os
import sys
import zipfile
from pathlib import Path

from ._keras import keras
from .bounding_box import BoundingBox
from .models import build_arguments, build_retinanet

__all__ = ["save_detector", "load_detector", "models_folder", "reference_path", "load_reference",
           "REFERENCE_NAME"]

FORMAT, VERSION = "boxloc-detector", 2
_READABLE_VERSIONS = (1, 2)
_BUILDER = "build_retinanet"
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
    arguments = build_arguments(model)
    record = {"format": FORMAT, "version": VERSION,
              "bounding_box": {k: bb.params[k] for k in _BB_ARGUMENTS},
              "network": None if arguments is None else {"builder": _BUILDER,
                                                         "arguments": arguments},
              "info": dict(info or {})}
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
    if record.get("format") != FORMAT or record.get("version") not in _READABLE_VERSIONS:
        raise ValueError(f"{json_path} is not a {FORMAT} file of version "
                         f"{' or '.join(map(str, _READABLE_VERSIONS))}")
    bb = BoundingBox(**record["bounding_box"])
    network = record.get("network")
    model = (_rebuild(model_path, bb, network) if network
             else _load_keras_file(model_path))
    expected = {k for k in bb.params["inputs_shapes"] if not k.endswith("-msk")}
    if set(model.output_names) != expected:
        raise ValueError(f"{model_path}: the model's outputs {sorted(model.output_names)} do not "
                         f"match the anchors in {json_path.name} ({sorted(expected)})")
    return model, bb, record.get("info", {})


def _rebuild(model_path, bb, network):
    """The network built again by this library from ``network``'s arguments, with the weights
    of ``model_path``."""
    if network.get("builder") != _BUILDER or not isinstance(network.get("arguments"), dict):
        raise ValueError(f"{model_path.with_suffix('.json')}: 'network' must be "
                         f"{{'builder': '{_BUILDER}', 'arguments': {{...}}}}, got {network!r}")
    model = build_retinanet(bb, **network["arguments"])
    try:
        model.load_weights(model_path)
    except ValueError as error:
        # Keras's message goes on to print whole weight arrays: its first line says enough
        reason = str(error).strip().splitlines()[0][:300]
        raise ValueError(f"{model_path}: its weights do not fit the network that the anchors and "
                         f"the network arguments of {model_path.with_suffix('.json').name} "
                         f"describe ({reason})") from error
    return model


def _load_keras_file(model_path):
    """``keras.models.load_model``, with an error that says which Keras saved the file."""
    try:
        return keras.models.load_model(model_path, compile=False)
    except Exception as error:                           # noqa: BLE001 (Keras raises many kinds)
        saved_by = _saving_keras_version(model_path)
        raise ValueError(
            f"{model_path} could not be read by Keras {keras.__version__} (it was saved by Keras "
            f"{saved_by}): a network with a block of your own loads only on a Keras at least as "
            f"new as the one that saved it; upgrade Keras or save it again here ({error})"
        ) from error


def _saving_keras_version(model_path):
    """The Keras version written in a ``.keras`` file's ``metadata.json``, or 'unknown'."""
    try:
        with zipfile.ZipFile(model_path) as archive:
            return json.loads(archive.read("metadata.json")).get("keras_version", "unknown")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return "unknown"


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
