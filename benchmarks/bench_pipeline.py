"""Benchmark: training batches with box targets from memory, tf.data pipeline vs the plain
generators.

Slices per second of ``(x, y, sample_weight)`` batches (16 slices of 240 x 240 x 4, box targets
of the course ``BoundingBox``) from the phantom dataset held in memory:

* baseline: ``bb.generator(client.create_generators()[0], msk='tumor')`` with
  ``client.load_data_in_memory()`` (one Python thread, no augmentation);
* ``make_dataset(client, bb, augment=False)`` and ``augment=True`` (flips, shifts, intensity
  jitter), iterated in the same process;
* ``make_dataset(augment=True, num_parallel_calls=2)`` (the default is AUTOTUNE);
* ``precompute_targets=True`` (augment=False only): the box targets of every slice computed
  once and gathered per batch, to see whether computing them per batch costs throughput.

The goal is >= 2000 slices/s on 2 CPU cores. Run ``python benchmarks/bench_pipeline.py``
(``--quick`` for a smoke run). Other processes on the machine slow every figure down: the load
average is printed with each one.
"""

import argparse
import os
import platform
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from boxloc import BoundingBox  # noqa: E402
from boxloc.datasets import Client  # noqa: E402
from boxloc.datasets.phantom import build_phantom  # noqa: E402
from boxloc.datasets.pipeline import (SliceBatches, augment_batch, load_split,  # noqa: E402
                                     make_dataset)

COURSE_BB = dict(image_shape=(240, 240), c=[3, 4], anchor_shapes=[32, 64], iou_upper=0.5,
                 iou_lower=0.2)
BATCH = 16


def load():
    return f"load average {os.getloadavg()[0]:.2f}"


def rate(iterator, batches, warmup, repeats=5):
    """Median slices/s of ``repeats`` runs of ``batches`` batches of ``iterator`` after
    ``warmup`` untimed ones."""
    for _ in range(warmup):
        next(iterator)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(batches):
            next(iterator)
        rates.append(BATCH * batches / (time.perf_counter() - start))
    return float(np.median(rates))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volumes", type=int, default=8, help="phantom volumes (default 8)")
    parser.add_argument("--batches", type=int, default=50,
                        help="timed batches per run (median of 5 runs per figure)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 8 batches")
    args = parser.parse_args(argv)
    batches = 8 if args.quick else args.batches

    import tensorflow as tf

    print(f"boxloc pipeline benchmark{' (--quick)' if args.quick else ''}: "
          f"os.cpu_count() {os.cpu_count()}, {load()}, Python {platform.python_version()}, "
          f"numpy {np.__version__}, tensorflow {tf.__version__}", flush=True)
    root = build_phantom(args.volumes)
    client = Client(root, configs={"batch": {"size": BATCH}}, seed=0)
    client.load_data_in_memory()
    bb = BoundingBox(**COURSE_BB)
    images, labels = load_split(client, "train")
    print(f"phantom: {args.volumes} volumes, {len(labels)} training slices in memory "
          f"({images.nbytes / 1e6:.0f} MB float16); batches of {BATCH}", flush=True)

    rows = []

    def record(name, slices_per_second, how):
        rows.append((name, slices_per_second, how, load()))
        print(f"  {name}: {slices_per_second:,.0f} slices/s ({load()})", flush=True)

    # single-thread cost of the two steps of one batch (NumPy only)
    source = SliceBatches(images, labels, bb, BATCH, augment=True, seed=0)
    index = source.indices(0)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(batches):
        _, y, _ = augment_batch(images, labels, index, rng, jitter=False, **source.options)
    augment_ms = (time.perf_counter() - start) / batches * 1e3
    start = time.perf_counter()
    for _ in range(batches):
        bb.convert_msk_to_box(y)
    targets_ms = (time.perf_counter() - start) / batches * 1e3
    print(f"  one thread, per batch: gather + flips + shifts (NumPy) {augment_ms:.1f} ms, "
          f"convert_msk_to_box {targets_ms:.1f} ms ({load()})", flush=True)

    baseline = rate(bb.generator(client.create_generators()[0], msk="tumor"), batches, 2)
    record("baseline bb.generator(client generator)", baseline,
           "client.load_data_in_memory(), one thread, no augmentation")
    for augment in (False, True):
        dataset = make_dataset(client, bb, "train", batch_size=BATCH, augment=augment, seed=0)
        record(f"make_dataset(augment={augment})", rate(iter(dataset), batches, 4),
               "tf.numpy_function per batch, AUTOTUNE parallel calls, XLA cast + jitter, "
               "prefetch")
    dataset = make_dataset(client, bb, "train", batch_size=BATCH, augment=True, seed=0,
                           num_parallel_calls=2)
    record("make_dataset(augment=True), 2 parallel calls", rate(iter(dataset), batches, 4),
           "as above with num_parallel_calls=2")
    dataset = make_dataset(client, bb, "train", batch_size=BATCH, augment=False, seed=0,
                           precompute_targets=True)
    record("make_dataset(augment=False, precompute_targets=True)", rate(iter(dataset), batches, 4),
           "targets of all slices computed once (0/1 maps as uint8), gathered per batch")

    print("\n| pipeline | slices/s | vs baseline | how | load |")
    print("|---|---|---|---|---|")
    for name, value, how, when in rows:
        print(f"| {name} | {value:,.0f} | {value / baseline:.2f}x | {how} | {when} |")
    augmented = rows[2][1]
    print("\nGoals:")
    print(f"  [{'met' if augmented >= 2000 else 'MISSED'}] >= 2000 slices/s with augmentation "
          f"and box targets on this machine ({os.cpu_count()} cores): {augmented:,.0f}")
    print(f"\nMachine: {platform.processor() or platform.machine()}, os.cpu_count() "
          f"{os.cpu_count()}, {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
