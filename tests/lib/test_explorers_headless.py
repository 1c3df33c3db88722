"""The explorers in a notebook executed headless (nbclient), under ipywidgets 8 and 7.7.1
(Colab's): both render, their controls redraw, and no cell waits for its timeout.

ipywidgets 7.7.1 comes from PyPI once (``pip install --target``) into
``.compat-venvs/ipywidgets-7.7.1`` (git-ignored; reused offline afterwards) and goes first on
the kernel's ``PYTHONPATH``; ipywidgets 8 is this environment's own.
"""

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".compat-venvs"
COLAB_WIDGETS = ["ipywidgets==7.7.1", "ipython_genutils==0.2.0"]   # 7.x imports ipython_genutils
CELL_TIMEOUT = 90              # seconds: a cell that missed its reply waits this long (else ~5 s)

SETUP = """\
import json
import numpy as np
import ipywidgets
from boxloc.examples import lesion_masks
from boxloc.plotting import anchor_explorer, nms_explorer
masks = lesion_masks(2, (240, 240), seed=3)
png = lambda widget: widget.children[-1].value"""

EXPLORERS = """\
anchors = anchor_explorer(masks[0].astype(float), masks[0], masks)
# candidates 0 and 1 overlap at IoU 0.5 exactly, 2 scores 0.5, 3 lies far away with 0.2
nms = nms_explorer(np.zeros((200, 300)), [[0, 0, 10, 10], [0, 0, 10, 20], [50, 50, 60, 60],
                   [100, 100, 120, 120]], [0.9, 0.8, 0.5, 0.2], score_threshold=0.5,
                   iou_threshold=0.3)"""

REDRAW = """\
pictures, kept, covered = [png(nms)], [nms.result.tolist()], [anchors.result.fraction_covered]
score, iou = nms.kwargs_widgets
iou.value = 0.5
kept.append(nms.result.tolist())
score.value = 0.1
kept.append(nms.result.tolist())
pictures += [png(nms), png(anchors)]
controls = {w.description: w for w in anchors.kwargs_widgets}
controls["ratios w/h"].value = (1,)
covered.append(anchors.result.fraction_covered)
controls["smallest base size (px)"].value = 16
covered.append(anchors.result.fraction_covered)
pictures.append(png(anchors))
print(json.dumps({"ipywidgets": ipywidgets.__version__, "kept": kept, "covered": covered,
                  "png": all(p[:8] == b"\\x89PNG\\r\\n\\x1a\\n" for p in pictures),
                  "redrawn": pictures[0] != pictures[1] and pictures[2] != pictures[3]}))"""


def installed_ipywidgets():
    try:
        return importlib.metadata.version("ipywidgets")
    except importlib.metadata.PackageNotFoundError:
        return None


def colab_widgets_folder():
    """A folder holding ipywidgets 7.7.1 (downloaded once, then reused)."""
    folder = CACHE / "ipywidgets-7.7.1"
    if not (folder / "ipywidgets-7.7.1.dist-info").is_dir():
        partial = CACHE / "ipywidgets-7.7.1.partial"
        shutil.rmtree(partial, ignore_errors=True)
        result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                                 "--target", str(partial), *COLAB_WIDGETS],
                                capture_output=True, text=True)
        assert result.returncode == 0, "pip could not fetch ipywidgets 7.7.1:\n" + \
            result.stdout[-2000:] + result.stderr[-2000:]
        partial.rename(folder)              # whole or not at all: an interrupted run leaves none
    return folder


def kernel_environment(version):
    """The kernel's environment for ``version`` ('8' or '7.7.1'), or skip."""
    here = installed_ipywidgets()
    if here is None:
        pytest.skip("ipywidgets is not installed here")
    env = dict(os.environ)
    if version == "8":
        if not here.startswith("8."):
            pytest.skip(f"this environment has ipywidgets {here}, not 8")
    elif here != version:
        path = [str(colab_widgets_folder()), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, path))
    return env


@pytest.mark.parametrize("version", ["8", "7.7.1"])
def test_explorers_render_redraw_and_never_block_a_headless_run(version, tmp_path):
    env = kernel_environment(version)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code) for code in (SETUP, EXPLORERS, REDRAW)]
    started, seconds = {}, {}
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
        on_cell_execute=lambda cell, cell_index: started.update({cell_index: time.perf_counter()}),
        on_cell_executed=lambda cell, cell_index, execute_reply: seconds.update(
            {cell_index: time.perf_counter() - started[cell_index]}))
    client.execute(env=env)
    # A cell whose reply the client missed ends at its timeout without an error: only its
    # time tells (a few seconds otherwise).
    assert max(seconds.values()) < CELL_TIMEOUT, f"a cell waited for its timeout: {seconds}"
    # What made the client miss it: an Output widget, whose captured outputs it answers on the
    # kernel's shell channel while waiting there for the reply.
    models = {state.get("_model_name") for state in client.widget_state.values()}
    assert "OutputModel" not in models and "ImageModel" in models, models
    report = json.loads(nb.cells[2].outputs[0]["text"])
    assert report["ipywidgets"].startswith(version)
    assert report["png"] and report["redrawn"]
    assert report["kept"] == [[0], [0, 1], [0, 1, 2, 3]]   # IoU 0.5 not above 0.5; score 0.1
    # square anchors alone cover fewer of these lesions; smaller ones cover them again
    assert report["covered"][1] < report["covered"][0] <= report["covered"][2]
