"""The training benchmark (benchmarks/bench_training.py) runs end to end on a tiny setting and
prints its table (``--quick``: 4 phantom volumes, a few eager training steps, 1 test volume).
The real figures come from a full run (``python3 benchmarks/bench_training.py``)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
from scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_training.py"


def load_benchmark():
    return load_script("benchmarks/bench_training.py")


def test_big_truths_keeps_large_blobs():
    """A 3D lesion with a 12x12 and a 5x5 blob: the slice-level subset keeps the 12x12 box
    only, the lesion-level subset keeps both (its largest blob has 144 px)."""
    bench = load_benchmark()
    from boxloc.evaluation import volume_lesions
    mask = np.zeros((2, 40, 40), np.uint8)
    mask[0, 5:17, 5:17] = 1
    mask[1, 5:10, 5:10] = 1
    mask[1, 30:35, 30:35] = 2                    # a separate small lesion
    truths = [volume_lesions(mask)]
    assert [p.tolist() for p in truths[0]["pixels"]] == [[144], [25, 25]]
    sliced, lesioned = bench.big_truths(truths, 100)
    assert [len(b) for b in sliced[0]["boxes"]] == [1, 0]
    assert [len(b) for b in lesioned[0]["boxes"]] == [1, 1]


def test_quick_run_prints_the_table():
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "| figure | value | how measured | load (1 min) |" in out
    for figure in ("training throughput", "seed protocol", "AP @ IoU 0.5",
                   "FROC @ IoU 0.1", "inference per 45-slice volume: forward pass",
                   "inference per 45-slice volume: decode + NMS", "goals (test split)"):
        assert figure in out, figure
    assert "Decode (fixed): score threshold" in out
    assert "Machine:" in out


def test_stratified_batches_crop_windows():
    """With ``crop``, every sample is a window of its slice at offsets that are multiples of
    ``crop_step``, image and labels cut alike; a crop larger than the slices is refused."""
    import pytest
    bench = load_benchmark()
    rng = np.random.default_rng(0)
    images = rng.random((6, 48, 40, 2)).astype(np.float16)
    labels = np.zeros((6, 48, 40), np.uint8)
    labels[:3, 20:30, 10:20] = 1
    batches = bench.stratified_batches(images, labels, 8, {"tumor": 0.5, "lbl-mip-00": 0.5},
                                       flip_lr=0.0, seed=1, crop=(32, 24), crop_step=8)
    xs, ys = next(batches)
    assert xs["dat"].shape == (8, 1, 32, 24, 2) and ys["tumor"].shape == (8, 1, 32, 24, 1)
    for x, y in zip(xs["dat"][:, 0], ys["tumor"][:, 0, ..., 0]):
        found = [(i, top, left) for i in range(6) for top in range(0, 17, 8)
                 for left in range(0, 17, 8)
                 if np.array_equal(images[i, top:top + 32, left:left + 24], x)]
        assert len(found) == 1
        i, top, left = found[0]
        np.testing.assert_array_equal(labels[i, top:top + 32, left:left + 24], y)
    with pytest.raises(ValueError, match="crop must fit in the 48 x 40 slices"):
        next(bench.stratified_batches(images, labels, 2, {"tumor": 1}, 0.0, 0, crop=(32, 48)))
