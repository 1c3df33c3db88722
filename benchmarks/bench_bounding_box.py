#!/usr/bin/env python3
"""Speed of the two hot paths of ``BoundingBox``, against the seed library's way of doing them.

    python3 run.py bench                              # from the repository root (uses .venv)
    python3 benchmarks/bench_bounding_box.py          # any Python with numpy + scipy
    python3 benchmarks/bench_bounding_box.py --quick  # smoke run: few repeats (used by a test)

What is measured, all in one process pinned to ONE core (BLAS/OpenMP threads = 1):

1. ``convert_msk_to_box`` on a training batch: 16 toy lesion masks of 240 x 240 with 1-4
   lesions each, shaped (16, 1, 240, 240, 1), with the seed tutorial's configuration
   ``BoundingBox((240, 240), c=[3, 4], anchor_shapes=[32, 64], iou_upper=0.5, iou_lower=0.2)``.
   The baseline (``seed_convert_msk_to_box`` below) is written the way the seed library works:
   one slice, one lesion, one IoU vector at a time.
2. ``apply_nms`` on 1k and 5k boxes: (a) realistic decoded predictions clustered around ~10
   lesions of a 240 x 240 slice, (b) a worst case of small boxes scattered over a
   2048 x 2048 plane, where nearly every box is kept. The baseline (``seed_nms``) is the
   seed's greedy loop: argmax, keep, zero the scores of the boxes that overlap it.

Before anything is timed, every baseline's output is checked against the library's (same
arrays, same kept boxes), so each ratio compares two programs that compute the same thing.
Each figure is the median of several repeats after a warm-up call, with garbage collection
off during the timed calls, as ``timeit`` does.

Goals (from the issue): convert_msk_to_box >= 10x the baseline and >= 3000 slices/s;
NMS of 5k realistic boxes <= 10 ms.
"""

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# --- one core -----------------------------------------------------------------------------
# Thread counts must be set before NumPy is imported, so this runs before the imports below
# (and only when the file is run as a script: importing it from a test changes nothing).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "BLIS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def pin_to_one_core():
    """Limit numerical libraries to one thread and this process to its first allowed CPU.

    Returns the CPU number the process is pinned to, or None where the platform cannot pin
    (macOS, Windows): the thread limits still apply there.
    """
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


PINNED_CPU = pin_to_one_core() if __name__ == "__main__" else None

import numpy as np                    # noqa: E402  (after the thread limits, on purpose)
import scipy                          # noqa: E402
from scipy import ndimage             # noqa: E402

try:
    import boxloc                     # installed (the .venv of run.py installs it editable)
except ImportError:                   # a plain checkout: use the source tree
    sys.path.insert(0, str(ROOT / "lib"))
    import boxloc                     # noqa: E402
from boxloc import BoundingBox        # noqa: E402
from boxloc.examples import lesion_masks  # noqa: E402

# The seed tutorial's configuration (spring 2021 course).
TUTORIAL_CONFIG = dict(image_shape=(240, 240), c=[3, 4], anchor_shapes=[32, 64],
                       iou_upper=0.5, iou_lower=0.2)
BATCH_SIZE = 16
MASK_SEED = 2021
NMS_THRESHOLD = 0.5
DELTA_EPS = 1e-6                      # the seed's epsilon in dh = ln(h' / (h + eps))


# =========================================================================================
# Baseline 1: convert_msk_to_box the seed's way (per slice, per lesion, per box)
# =========================================================================================

def seed_iou_one_to_all(box, anchors, anchor_areas):
    """IoU of one box ``[y1, x1, y2, x2]`` with every anchor (N, 4) -> float64 (N,).

    The seed's vectorised one-box-vs-all IoU: an overlap extent below zero means no
    intersection; a zero union gives 0.
    """
    height = np.minimum(box[2], anchors[:, 2]) - np.maximum(box[0], anchors[:, 0])  # (N,)
    width = np.minimum(box[3], anchors[:, 3]) - np.maximum(box[1], anchors[:, 1])   # (N,)
    inter = np.where((height > 0) & (width > 0), height * width, 0.0)
    union = (box[2] - box[0]) * (box[3] - box[1]) + anchor_areas - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def seed_find_boxes(mask, num_classes, min_size_blob=0.1, box_padding=0):
    """Ground-truth boxes of one 2-D label mask, one lesion at a time.

    Lesions are 4-connected components of ``mask > 0`` (``ndimage.label``'s default cross);
    lesions smaller than ``min_size_blob`` times the slice's largest are dropped. The box is
    the rows/columns holding the lesion, half-open, padded and clipped to the image; the
    class is the label of the lesion's first pixel in raster order (1 when K = 1).

    Returns a list of ``(box, class)`` with ``box`` float64 (4,), in label (raster) order.
    """
    height, width = mask.shape
    labels, count = ndimage.label(mask > 0)
    if count == 0:
        return []
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]       # (count,) pixels
    largest = sizes.max()
    found = []
    for label in range(1, count + 1):
        if sizes[label - 1] < min_size_blob * largest:                 # size filter
            continue
        blob = labels == label                                           # (H, W) bool
        rows = np.flatnonzero(blob.any(axis=1))
        cols = np.flatnonzero(blob.any(axis=0))
        box = np.array([max(rows[0] - box_padding, 0), max(cols[0] - box_padding, 0),
                        min(rows[-1] + 1 + box_padding, height),
                        min(cols[-1] + 1 + box_padding, width)], dtype=np.float64)
        label_value = mask.ravel()[np.argmax(blob.ravel())]              # first pixel's label
        found.append((box, 1 if num_classes == 1 else int(label_value)))
    return found


def seed_slice_targets(bb, mask):
    """Targets of one 2-D mask as per-anchor vectors, by the seed's matching rule.

    Per box, in raster order: ``up = min(iou_upper, best IoU)``, ``lo = min(iou_lower, up)``;
    anchors with ``IoU >= up`` (and > 0) become positive for this box (a later box
    overwrites), anchors with ``lo < IoU < up`` are in its ignore band. An anchor's class
    channel is ignored only where it is in the band of a box of that class AND not positive
    for it (the library's fix of the seed). Deltas are taken against the UNCLIPPED offsets.

    Returns ``cls`` uint8 (N, K), ``reg`` float32 (N, 4), ``cls_msk`` float32 (N, K),
    ``reg_msk`` float32 (N, 4).
    """
    params = bb.params
    num_anchors, num_classes = len(bb.anchors), params["classes"]
    cls_index = np.zeros(num_anchors, dtype=np.int64)            # (N,) 0 = background
    destination = np.zeros((num_anchors, 4), dtype=np.float64)   # (N, 4) matched box
    ignore = np.zeros((num_anchors, num_classes), dtype=bool)    # (N, K) in some band
    for box, label in seed_find_boxes(mask, num_classes, params["min_size_blob"],
                                      params["box_padding"]):
        iou = seed_iou_one_to_all(box, bb.anchors, bb.anchor_areas)      # (N,)
        upper = min(params["iou_upper"], iou.max())
        lower = min(params["iou_lower"], upper)
        positive = (iou >= upper) & (iou > 0)
        cls_index[positive] = label
        destination[positive] = box
        ignore[(iou > lower) & (iou < upper), label - 1] = True

    positive = cls_index > 0                                               # (N,)
    cls = np.zeros((num_anchors, num_classes), dtype=np.uint8)
    cls[positive, cls_index[positive] - 1] = 1                             # one-hot

    # Deltas of every anchor's destination box w.r.t. its unclipped [cy, cx, h, w], as the
    # seed computes them (all N rows at once); rows without a destination are then zeroed.
    y1, x1, y2, x2 = destination.T                                         # (N,) each
    cy, cx, h, w = bb.offsets.T
    with np.errstate(divide="ignore"):                                     # ln(0) off-box
        reg = np.stack([((y1 + y2) / 2 - cy) / h, ((x1 + x2) / 2 - cx) / w,
                        np.log((y2 - y1) / (h + DELTA_EPS)),
                        np.log((x2 - x1) / (w + DELTA_EPS))], axis=1).astype(np.float32)
    reg[~positive] = 0

    cls_msk = np.where(ignore & (cls == 0), 0, 1).astype(np.float32)      # (N, K)
    reg_msk = np.repeat(positive[:, None], 4, axis=1).astype(np.float32)  # (N, 4)
    return cls, reg, cls_msk, reg_msk


def seed_convert_msk_to_box(bb, masks):
    """The seed's ``convert_msk_to_box`` for a batch (B, 1, H, W, 1): one slice at a time.

    Each slice's vectors are split per level and reshaped to (1, gh, gw, A*D) maps, then the
    maps of the batch are stacked to (B, 1, gh, gw, A*D). Keys in the seed's order: per level
    ``cls-c{c}``, ``reg-c{c}``, ``cls-c{c}-msk``, ``reg-c{c}-msk``.
    """
    params = bb.params
    starts = [0] + params["anchor_levels"][:-1]
    per_slice = []
    for item in masks:                                          # (1, H, W, 1)
        vectors = seed_slice_targets(bb, item[0, :, :, 0])
        maps = {}
        for level, (grid_h, grid_w), start, stop in zip(params["c"], params["anchor_gsizes"],
                                                        starts, params["anchor_levels"]):
            for suffix, vector in zip(("cls-c{}", "reg-c{}", "cls-c{}-msk", "reg-c{}-msk"),
                                      vectors):
                maps[suffix.format(level)] = vector[start:stop].reshape(1, grid_h, grid_w, -1)
        per_slice.append(maps)
    return {key: np.stack([maps[key] for maps in per_slice]) for key in per_slice[0]}


def assert_same_targets(expected, actual):
    """Assert two box dicts hold the same keys (in the same order), shapes and values:
    exact for ``cls`` and the masks, within 1e-5 for the ``reg`` deltas."""
    assert list(expected) == list(actual), f"keys differ: {list(expected)} vs {list(actual)}"
    for key in expected:
        assert expected[key].shape == actual[key].shape, \
            f"{key}: shape {expected[key].shape} vs {actual[key].shape}"
        assert expected[key].dtype == actual[key].dtype, \
            f"{key}: dtype {expected[key].dtype} vs {actual[key].dtype}"
        if key.startswith("reg") and not key.endswith("-msk"):
            np.testing.assert_allclose(actual[key], expected[key], rtol=0, atol=1e-5,
                                       err_msg=key)
        else:
            np.testing.assert_array_equal(actual[key], expected[key], err_msg=key)


# =========================================================================================
# Baseline 2: the seed's greedy NMS loop
# =========================================================================================

def seed_nms(boxes, scores, iou_threshold):
    """The seed's ``apply_nms``: sorted indices of the kept boxes.

    While a score is left: keep the best box, zero its score and the scores of every box
    whose IoU with it exceeds the threshold (strict ``>``). Each round computes the IoU of
    the kept box against ALL boxes, suppressed ones included, so a round costs O(N) and
    the loop O(N * kept).
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    scores = np.array(scores, dtype=np.float64)                 # a copy: zeroed as we go
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while np.any(scores > 0):
        best = int(np.argmax(scores))
        keep.append(best)
        scores[best] = 0
        scores[seed_iou_one_to_all(boxes[best], boxes, areas) > iou_threshold] = 0
    return np.sort(np.asarray(keep, dtype=np.int64))


# =========================================================================================
# Inputs
# =========================================================================================

def make_batch(batch_size=BATCH_SIZE, seed=MASK_SEED):
    """A training batch of toy lesion masks: uint8 (B, 1, 240, 240, 1), 1-4 lesions each."""
    masks = lesion_masks(batch_size, image_shape=(240, 240), lesions=(1, 4), seed=seed)
    return masks.reshape(batch_size, 1, 240, 240, 1)


def realistic_predictions(num_boxes, num_objects=10, image_size=240, seed=0):
    """Decoded predictions around a few lesions: float64 boxes (n, 4), scores (n,).

    Each object is a box of 10-60 px somewhere on the slice; every candidate is one object's
    box with its centre shifted by ~10% of the size and its height/width scaled by ~15%
    (normal jitter), like refined anchors around a lesion. Scores are uniform in
    [0.05, 1): the candidates that survived a score threshold.
    """
    rng = np.random.default_rng(seed)
    sizes = rng.uniform(10, 60, (num_objects, 2))                                # (O, 2) h, w
    centres = rng.uniform(sizes / 2, image_size - sizes / 2)                     # (O, 2) cy, cx
    owner = rng.integers(0, num_objects, num_boxes)                              # (n,)
    jittered_centres = centres[owner] + rng.normal(0, 0.1, (num_boxes, 2)) * sizes[owner]
    jittered_sizes = sizes[owner] * np.exp(rng.normal(0, 0.15, (num_boxes, 2)))
    boxes = np.concatenate([jittered_centres - jittered_sizes / 2,
                            jittered_centres + jittered_sizes / 2], axis=1)      # (n, 4)
    return boxes, rng.uniform(0.05, 1.0, num_boxes)


def scattered_boxes(num_boxes, plane_size=2048, seed=0):
    """Worst case for greedy NMS: small boxes (2-8 px) spread uniformly over a large plane,
    so almost none overlap and nearly every box is kept. float64 (n, 4), scores (n,)."""
    rng = np.random.default_rng(seed)
    sizes = rng.uniform(2, 8, (num_boxes, 2))
    corners = rng.uniform(0, plane_size - 8, (num_boxes, 2))
    return np.concatenate([corners, corners + sizes], axis=1), rng.uniform(0.05, 1.0, num_boxes)


# =========================================================================================
# Timing
# =========================================================================================

def median_seconds(func, repeats, warmup=1, min_seconds=0.005, budget_seconds=5.0):
    """Median wall time of one call of ``func``, timeit-style -> ``(seconds, samples)``.

    ``warmup`` untimed calls first; then each of up to ``repeats`` samples runs ``func``
    enough times in a row to last at least ``min_seconds`` (so sub-millisecond calls are not
    dominated by the clock) and records the time per call. Slow calls get fewer samples
    (at least 3) so that one figure takes about ``budget_seconds`` at most. Garbage
    collection is off while timing, as in ``timeit``.
    """
    for _ in range(warmup):
        func()
    start = time.perf_counter()
    func()
    single = max(time.perf_counter() - start, 1e-9)
    number = max(1, int(min_seconds / single))
    repeats = min(repeats, max(3, int(budget_seconds / (single * number))))
    samples = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(number):
                func()
            samples.append((time.perf_counter() - start) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return statistics.median(samples), len(samples)


def machine_description():
    """One line naming the CPU, the core count, the load, the pinning and the versions."""
    processor = platform.processor() or "?"
    model = ""
    try:                                          # Linux: platform.processor() is often empty
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pinned = f"pinned to CPU {PINNED_CPU}" if PINNED_CPU is not None else "not pinned"
    # other processes on the machine make every figure slower: say how busy it was
    load = f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    return (f"processor: {processor!r}{f' ({model})' if model else ''}; "
            f"os.cpu_count(): {os.cpu_count()}{load}, {pinned}, OMP/OPENBLAS threads: "
            f"{os.environ.get('OMP_NUM_THREADS', 'unset')}/"
            f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; "
            f"{platform.system()} {platform.machine()}; Python {platform.python_version()}; "
            f"numpy {np.__version__}; scipy {scipy.__version__}; boxloc {boxloc.__version__}")


# =========================================================================================
# The benchmarks
# =========================================================================================

def bench_targets(repeats, rows):
    """Benchmark 1: ``convert_msk_to_box`` vs the seed-style baseline; appends table rows.

    Returns the list of goal results ``(goal, met, detail)``.
    """
    bb = BoundingBox(**TUTORIAL_CONFIG)
    masks = make_batch()
    num_lesions = len(bb.find_boxes(masks)[0])

    # Parity first: the baseline must compute exactly what the library computes.
    assert_same_targets(seed_convert_msk_to_box(bb, masks), bb.convert_msk_to_box(masks))

    library, library_samples = median_seconds(lambda: bb.convert_msk_to_box(masks), repeats)
    baseline, baseline_samples = median_seconds(lambda: seed_convert_msk_to_box(bb, masks),
                                                repeats)
    library_rate, baseline_rate = BATCH_SIZE / library, BATCH_SIZE / baseline
    ratio = baseline / library
    rows.extend([
        ("convert_msk_to_box, ms per batch of 16", f"{library * 1e3:.2f}",
         f"batch (16,1,240,240,1), {num_lesions} lesions, seed tutorial config, "
         f"{len(bb.anchors)} anchors; median of {library_samples}"),
        ("convert_msk_to_box, slices/s", f"{library_rate:,.0f}", "16 / (s per batch)"),
        ("seed-style baseline, ms per batch / slices/s",
         f"{baseline * 1e3:.2f} / {baseline_rate:,.0f}",
         f"per slice label, per lesion one-vs-all IoU (in this file), output checked equal "
         f"to the library's; median of {baseline_samples}"),
        ("convert_msk_to_box speed-up vs baseline", f"{ratio:.1f}x",
         "baseline time / library time"),
    ])
    return [(">= 10x the seed-style baseline", ratio >= 10, f"{ratio:.1f}x"),
            (">= 3000 slices/s on one core", library_rate >= 3000, f"{library_rate:,.0f}")]


def bench_nms(repeats, sizes, rows):
    """Benchmark 2: ``apply_nms`` vs the seed loop, realistic and worst case; appends rows.

    Returns the list of goal results ``(goal, met, detail)``.
    """
    bb = BoundingBox(**TUTORIAL_CONFIG)
    goals = []
    cases = (("realistic", realistic_predictions,
              "~10 lesions of 10-60 px on 240x240, jittered boxes"),
             ("worst case", scattered_boxes, "2-8 px boxes spread over 2048x2048"))
    for name, make, description in cases:
        for num_boxes in sizes:
            boxes, scores = make(num_boxes)
            kept = bb.apply_nms(boxes, scores, NMS_THRESHOLD)
            expected = seed_nms(boxes, scores, NMS_THRESHOLD)
            np.testing.assert_array_equal(kept, expected, err_msg=f"NMS {name} {num_boxes}")

            library, library_samples = median_seconds(
                lambda: bb.apply_nms(boxes, scores, NMS_THRESHOLD), repeats)
            baseline, baseline_samples = median_seconds(
                lambda: seed_nms(boxes, scores, NMS_THRESHOLD), repeats)
            label = f"NMS {name}, {num_boxes // 1000}k boxes"
            rows.extend([
                (f"{label}: apply_nms ms (kept)", f"{library * 1e3:.2f} ({len(kept)})",
                 f"{description}, IoU > {NMS_THRESHOLD}; median of {library_samples}"),
                (f"{label}: seed loop ms, speed-up",
                 f"{baseline * 1e3:.2f}, {baseline / library:.1f}x",
                 f"argmax + one-vs-all IoU loop (in this file), same kept set; "
                 f"median of {baseline_samples}"),
            ])
            if name == "realistic" and num_boxes == 5000:
                goals.append(("NMS of 5k realistic boxes <= 10 ms", library <= 0.010,
                              f"{library * 1e3:.2f} ms"))
    return goals


def main(argv=None):
    """Run both benchmarks, print the table, the goals and the machine; return 0.

    A baseline that disagrees with the library raises AssertionError (non-zero exit).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 3 repeats instead of 30 (numbers are rough)")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 30

    print(f"boxloc benchmark{' (--quick: rough numbers)' if args.quick else ''}", flush=True)
    print(machine_description(), flush=True)
    rows = []
    goals = bench_targets(repeats, rows)
    goals += bench_nms(repeats, (1000, 5000), rows)

    print("\n| figure | value | how measured |")
    print("|---|---|---|")
    for figure, value, how in rows:
        print(f"| {figure} | {value} | {how} |")
    print("\nGoals:")
    for goal, met, detail in goals:
        print(f"  [{'met' if met else 'MISSED'}] {goal}: {detail}")
    print(f"\nMachine: {machine_description()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
