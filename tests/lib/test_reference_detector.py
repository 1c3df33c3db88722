"""The reference detector shipped with the library (``boxloc.saving.load_reference``) loads in a
fresh process and, on the held-out phantom volumes notebook 4 evaluates in its fast and grading
modes, scores what the README's "Reference detector" table states, within the tolerance stated
there."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("keras")

ROOT = Path(__file__).resolve().parents[2]

# notebook 4's evaluation cell, on the data of its fast and grading modes
EVALUATE = """
import json, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from boxloc.configs import get_config, notebook_data
from boxloc.datasets import prepare
from boxloc.evaluation import collect_detections, detection_report, seed_protocol
from boxloc.saving import load_reference

model, bb, info = load_reference()
binarise = {"specs": {"ys": {"tumor": {"norms": {"clip": {"max": 1}}}}}}
_, _, client = prepare("phantom/brats-mip", configs=binarise, sampling_seed=0,
                       **notebook_data("grading", held_out=True))
volumes = list(client.create_generators(test=True, expand=True)[1])
decode = get_config("cpu")["decode"]
detections, truths = collect_detections(lambda x: model.predict(x, verbose=0), volumes, bb,
                                        msk="tumor", cls_threshold=decode["curve_threshold"],
                                        iou_nms=decode["iou_nms"])
report = detection_report(detections, truths, score_threshold=decode["score_threshold"])
table = seed_protocol(detections, truths, score_threshold=decode["score_threshold"])
report["median_iou"] = float(table["iou_median"].median())
report["volumes"] = len(volumes)
print(json.dumps({k: float(v) for k, v in report.items()}))
"""


def stated():
    """{key: value} of the README's reference table (last column) and its tolerance."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Reference detector", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| [^|]*`(\S+)`[^|]* \| [^|]+ \| ([0-9.]+) \|$", section, re.MULTILINE)
    tolerance = float(re.search(r"within ±([0-9.]+)", section)[1])
    return {key: float(value) for key, value in rows}, tolerance


def test_the_shipped_detector_scores_what_the_readme_states(tmp_path):
    figures, tolerance = stated()
    assert {"AP_slice@0.5", "sens@0.5", "ppv@0.5", "FROC@0.1", "median_iou"} <= set(figures)
    done = subprocess.run([sys.executable, "-c", EVALUATE], capture_output=True, text=True,
                          cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert measured["volumes"] >= 2
    off = {k: (measured[k], v) for k, v in figures.items() if abs(measured[k] - v) > tolerance}
    assert not off, f"measured vs README (tolerance {tolerance}): {off}"


def test_the_shipped_detector_says_how_it_was_made():
    from boxloc.saving import reference_path
    record = json.loads(reference_path().with_suffix(".json").read_text())
    info = record["info"]
    assert info["command"].startswith("python3 benchmarks/bench_training.py ")
    assert "--save lib/boxloc/weights/retinanet-cpu.keras" in info["command"]
    assert info["data"]["phantom_version"] >= 3 and info["steps"] > 1000
    assert reference_path().stat().st_size < 5e6
    readme = (ROOT / "README.md").read_text().split("### Reference detector", 1)[1]
    assert info["command"] in readme
    for key in ("AP_slice@0.5", "median_iou"):
        assert f"{info['test_figures'][key]:.3f}" in readme
