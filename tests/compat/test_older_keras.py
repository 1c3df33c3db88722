"""The shipped reference detector loads and predicts the same on every Keras the package
declares (the floor in lib/pyproject.toml) and on Colab's Keras releases (compat/stacks), and
notebook 4 runs top to bottom on the oldest of them.

Each older Keras is a pure-Python overlay: ``pip install --no-deps --target`` of that release
alone, put first on PYTHONPATH in a subprocess, over this environment's TensorFlow. What breaks
between Keras releases is Keras's own (de)serialisation, which the overlay exercises; the whole
Colab stacks (their TensorFlow, NumPy, Python) are ``python3 run.py compat``'s. Overlays are
cached under .compat-venvs/ (one small wheel each)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from packaging.version import Version

from compat_helpers import ROOT, load

keras = pytest.importorskip("keras")

OVERLAYS = ROOT / ".compat-venvs" / "keras-overlays"

PREDICT = """
import json, sys
import numpy as np
import keras
from boxloc.saving import load_reference
model, bb, info = load_reference()
x = {"dat": np.random.default_rng(0).normal(size=(1, 1, 240, 240, 4)).astype("float32")}
out = model.predict(x, verbose=0)
np.savez(sys.argv[1], **{k: np.asarray(v) for k, v in out.items()})
print(json.dumps({"keras": keras.__version__, "parameters": model.count_params()}))
"""


def declared_floor():
    text = (ROOT / "lib" / "pyproject.toml").read_text()
    floors = set(re.findall(r'"keras>=([0-9.]+)"', text))
    assert len(floors) == 1, f"one Keras floor expected in lib/pyproject.toml, found {floors}"
    return floors.pop()


def colab_keras():
    """The Keras of every Colab-like stack (compat/stacks/colab-*.in), oldest first."""
    stacks = load("compat/matrix.py")
    return sorted({stacks.stack_pins(path.name)["keras"]
                   for path in stacks.STACKS.glob("colab-*.in")}, key=Version)


def keras_versions():
    """The declared floor and Colab's Keras releases, oldest first."""
    return sorted({declared_floor(), *colab_keras()}, key=Version)


def overlay(version):
    """A folder holding Keras ``version`` alone (installed once, then reused)."""
    target = OVERLAYS / version
    if not (target / "keras").is_dir():
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                               "--disable-pip-version-check", "--target", str(target),
                               f"keras=={version}"], capture_output=True, text=True)
        assert done.returncode == 0, f"pip could not fetch keras=={version}:\n{done.stderr[-2000:]}"
    return target


def overlaid_environment(version):
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(overlay(version)), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.fixture(scope="module")
def reference_outputs():
    """The reference detector's outputs on a fixed input, read with this environment's Keras
    straight from the .keras file (architecture and weights as they were saved)."""
    from boxloc.saving import reference_path
    model = keras.models.load_model(reference_path(), compile=False)
    x = {"dat": np.random.default_rng(0).normal(size=(1, 1, 240, 240, 4)).astype("float32")}
    return {k: np.asarray(v) for k, v in model.predict(x, verbose=0).items()}


def test_the_versions_tried_include_the_floor_and_colabs():
    assert keras_versions()[0] == declared_floor() and len(colab_keras()) >= 2, keras_versions()


@pytest.mark.parametrize("version", keras_versions())
def test_the_reference_detector_predicts_the_same_on_keras(version, reference_outputs, tmp_path):
    out = tmp_path / "outputs.npz"
    done = subprocess.run([sys.executable, "-c", PREDICT, str(out)], capture_output=True,
                          text=True, cwd=tmp_path, env=overlaid_environment(version), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    reported = json.loads(done.stdout.strip().splitlines()[-1])
    assert Version(reported["keras"]) == Version(version) and reported["parameters"] == 238015
    with np.load(out) as loaded:
        assert sorted(loaded.files) == sorted(reference_outputs)
        for key, expected in reference_outputs.items():
            np.testing.assert_allclose(loaded[key], expected, rtol=1e-5, atol=1e-4, err_msg=key)


def pasted_snippets(nb, steps=("steps_per_epoch=100, epochs=6", "steps_per_epoch=1, epochs=1")):
    """The code blocks of the notebook's text (*Going further*), as a student pastes them into a
    new cell (training shortened to one step)."""
    blocks = [block for cell in nb.cells if cell.cell_type == "markdown"
              for block in re.findall(r"```python\n(.*?)```", cell.source, re.S)]
    assert blocks and any(steps[0] in block for block in blocks)
    return [block.replace(*steps) for block in blocks]


def test_notebook_4_runs_on_the_oldest_colab_keras(tmp_path, monkeypatch):
    """The executed solution of notebook 4 (fast mode) top to bottom, its kernel on the oldest
    Keras of the Colab stacks, then the code its text offers (pasted into new cells): every
    cell runs."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient
    version = colab_keras()[0]
    for name, value in overlaid_environment(version).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BOXLOC_FAST", "1")
    monkeypatch.setenv("BOXLOC_MODELS", str(tmp_path / "models"))
    nb = nbformat.read(ROOT / "solutions" / "04_inference" / "inference.ipynb", as_version=4)
    nb.cells += [nbformat.v4.new_code_cell(block) for block in pasted_snippets(nb)]
    nb.cells.insert(1, nbformat.v4.new_code_cell("import keras; print('keras', keras.__version__)"))
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert Version(printed.split()[-1]) == Version(version), printed
    errors = [c.source[:60] for c in nb.cells if c.cell_type == "code"
              and any(o.output_type == "error" for o in c.outputs)]
    assert not errors
