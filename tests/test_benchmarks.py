"""The speed benchmark (benchmarks/bench_bounding_box.py): its seed-style baselines must
compute exactly what the library computes (otherwise its speed-ups compare different work),
and the script must run end to end.

The baselines are checked on small inputs against the library and against the seed's own
published test vector, so a baseline that drifts from the seed is caught even where the
library would drift with it.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_bounding_box.py"


def load_benchmark():
    """Import the benchmark script as a module (no pinning: that only happens as __main__)."""
    return load_script("benchmarks/bench_bounding_box.py")


bench = load_benchmark()

from boxloc import BoundingBox                      # noqa: E402  (path set up by the script)
from boxloc.examples import lesion_masks            # noqa: E402


# --- baseline 1: convert_msk_to_box ---------------------------------------------------------

def test_seed_baseline_reproduces_the_seed_test_vector():
    """Seed doc section 3: one lesion rows 100..139, cols 80..149 with the tutorial config
    -> 38 positives (32 at c3, 6 at c4), cls-msk sums 7777 + 1877, reg-msk 128 + 24."""
    bb = BoundingBox(**bench.TUTORIAL_CONFIG)
    mask = np.zeros((1, 1, 240, 240, 1), np.uint8)
    mask[0, 0, 100:140, 80:150] = 1
    box = bench.seed_convert_msk_to_box(bb, mask)
    assert [int(box[f"cls-c{c}"].sum()) for c in (3, 4)] == [32, 6]
    assert [float(box[f"cls-c{c}-msk"].sum()) for c in (3, 4)] == [7777, 1877]
    assert [float(box[f"reg-c{c}-msk"].sum()) for c in (3, 4)] == [128, 24]
    # the anchor at offsets (112, 104, 50.797, 50.797): c3 row 14, col 13, template 7
    np.testing.assert_allclose(bb.offsets[(14 * 30 + 13) * 9 + 7], [112, 104, 50.797, 50.797],
                               atol=1e-3)
    np.testing.assert_allclose(box["reg-c3"][0, 0, 14, 13, 7 * 4:8 * 4],
                               [0.1575, 0.2165, -0.2390, 0.3207], atol=1e-4)


@pytest.mark.parametrize("config, masks", [
    (bench.TUTORIAL_CONFIG, lesion_masks(4, lesions=(1, 4), seed=7)),
    (bench.TUTORIAL_CONFIG, lesion_masks(3, lesions=(0, 2), seed=3)),        # empty slices too
    (dict(image_shape=(240, 240), classes=3, box_padding=2),                 # defaults c3-c5,
     lesion_masks(3, lesions=(1, 3), tumour_labels=True, seed=5)),           # labels 1..3
], ids=["tutorial", "with-empty-slices", "three-classes-padding"])
def test_seed_baseline_equals_library(config, masks):
    """The baseline's box dict equals ``convert_msk_to_box`` key by key."""
    bb = BoundingBox(**config)
    batch = masks.reshape(len(masks), 1, 240, 240, 1)
    bench.assert_same_targets(bench.seed_convert_msk_to_box(bb, batch),
                              bb.convert_msk_to_box(batch))


def test_assert_same_targets_catches_a_difference():
    """The parity check is not vacuous: one flipped class target or one shifted delta fails."""
    bb = BoundingBox(**bench.TUTORIAL_CONFIG)
    batch = lesion_masks(2, seed=1).reshape(2, 1, 240, 240, 1)
    expected = bb.convert_msk_to_box(batch)
    flipped = {key: value.copy() for key, value in expected.items()}
    flipped["cls-c4"][1, 0, 0, 0, 0] ^= 1
    with pytest.raises(AssertionError):
        bench.assert_same_targets(expected, flipped)
    shifted = {key: value.copy() for key, value in expected.items()}
    shifted["reg-c3"][np.nonzero(shifted["reg-c3-msk"])[0][0]] += 1e-3
    with pytest.raises(AssertionError):
        bench.assert_same_targets(expected, shifted)


# --- baseline 2: NMS ------------------------------------------------------------------------

@pytest.mark.parametrize("make", ["realistic_predictions", "scattered_boxes"])
def test_seed_nms_equals_library(make):
    """The seed loop keeps the same boxes as ``BoundingBox.apply_nms``."""
    bb = BoundingBox(**bench.TUTORIAL_CONFIG)
    boxes, scores = getattr(bench, make)(300, seed=4)
    kept = bench.seed_nms(boxes, scores, 0.5)
    assert 0 < len(kept) <= len(boxes)
    np.testing.assert_array_equal(kept, bb.apply_nms(boxes, scores, 0.5))


def test_seed_nms_by_hand():
    """Three boxes: the second overlaps the best one (IoU 0.81 > 0.5) and is dropped."""
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 9], [20, 20, 30, 30]], float)
    np.testing.assert_array_equal(bench.seed_nms(boxes, [0.9, 0.8, 0.1], 0.5), [0, 2])


# --- the script -----------------------------------------------------------------------------

def test_quick_run_prints_the_table():
    """``--quick`` runs both benchmarks (parity checks included) and prints the table."""
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick"], cwd=ROOT,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| figure | value | how measured |" in result.stdout
    assert "convert_msk_to_box, slices/s" in result.stdout
    assert "NMS realistic, 5k boxes" in result.stdout
    assert "Machine:" in result.stdout


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "benchmarks").glob("bench_*.py")))
def test_every_benchmark_script_starts(script):
    """Each benchmark parses its options (and so imports what it uses: a module it names that
    moved fails here, not months later when someone measures)."""
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--help"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
