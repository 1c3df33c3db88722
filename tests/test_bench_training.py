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
