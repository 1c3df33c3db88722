#!/usr/bin/env python3
"""Quality and speed of the course detector: train on the built-in phantom data, evaluate held-out
volumes.

    python3 benchmarks/bench_training.py                    # CPU configuration, 10 min budget
    python3 benchmarks/bench_training.py --config gpu       # GPU configuration (on a GPU)
    python3 benchmarks/bench_training.py --minutes 3        # another training budget
    python3 benchmarks/bench_training.py --quick            # < 60 s smoke run (used by a test)

What it does, in one process (TensorFlow uses every core it is given):

1. builds (or reuses) ``prepare('phantom/brats-mip')`` with ``--volumes`` subjects (default
   ``config['phantom_volumes']``, 150: 106 train / 22 valid / 22 test), cached in
   ``$BOXLOC_DATA``;
2. takes the configuration from ``boxloc.configs`` (``CPU_CONFIG`` / ``GPU_CONFIG``) and prints
   the anchor coverage report of its ``BoundingBox`` on the training slices;
3. input pipeline: the training split is read once into memory (float16 as stored); a NumPy
   generator draws tumour-stratified batches (``config['sampling']``), flips them left-right,
   cuts random windows of ``config['augment']['crop']`` pixels, and ``BoundingBox.generator``
   (the anchors of the crop size) turns the label masks into targets and loss masks; it runs
   ahead of the model in ``boxloc.training.as_dataset`` (tf.data prefetch). The network is
   trained at the crop size and its weights are then loaded into the same network built for
   whole 240 x 240 slices, which is what is saved and evaluated;
4. trains with Keras' progress bar until the time budget is spent; the learning rate follows the
   budget (linear warm-up, then cosine decay), so any budget ends with a decayed rate;
5. evaluates the held-out ``test`` split volume by volume: forward pass on the whole
   (1, Z, 240, 240, 4) volume, decoding + NMS with ``BoundingBox.convert_box_to_anc``, then
   ``boxloc.evaluation``: the seed's per-volume IoU protocol and ``detection_report``, plus the
   sensitivity on lesion blobs of >= 100 pixels (ground truth = the training
   targets' boxes, each tagged with its 3D lesion). The validation split gets the same
   metrics at a few other decode settings (for choosing them; the test split never is);
6. prints a markdown table: each figure, its value, how it was measured, and the 1-minute load
   average of the machine when it was measured (other jobs share the cores).

Decode settings are held fixed (``config['decode']``): a box is reported when its score is
>= ``score_threshold``; NMS is greedy and class-agnostic at ``iou_nms``; AP and FROC are traced
from boxes decoded at ``curve_threshold`` with the same NMS (boxes above the score threshold are
identical either way: greedy NMS never lets a lower score suppress a higher one).

Goals (from the issue), CPU configuration, <= 10 min on 2 cores, all at once: seed median IoU
>= 0.6, AP@0.5 >= 0.7, sensitivity >= 0.9 on lesions of >= 100 px.
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np                                     # noqa: E402

try:
    import boxloc                                      # noqa: F401
except ImportError:                                    # a plain checkout: use the source tree
    sys.path.insert(0, str(ROOT / "lib"))
from boxloc import configs as box_configs              # noqa: E402
from boxloc import evaluation                          # noqa: E402
from boxloc.coverage import anchor_coverage            # noqa: E402
from boxloc.datasets import prepare                    # noqa: E402
from boxloc.datasets.pipeline import crop_offsets, load_split, take_windows  # noqa: E402

MIN_PIXELS = 100                  # "lesions of >= 100 px" (blob area in the slice, pixels)
GOALS = {"median_iou": 0.6, "ap50": 0.7, "sens_big": 0.9}
# (score threshold, NMS IoU) compared on the validation split only
VALID_SWEEP = [(0.5, 0.3), (0.5, 0.5), (0.4, 0.3), (0.3, 0.3), (0.7, 0.3)]


def load():
    """1-minute load average (other engineers' jobs share this machine)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


# --- data ------------------------------------------------------------------------------------
def stratified_batches(images, labels, batch_size, sampling, flip_lr, seed, crop=None,
                       crop_step=1):
    """Endless ``(xs, ys)`` batches: each sample picks a cohort by rate ('tumor': slices with a
    lesion, 'lbl-mip-00': without), then the next slice of that cohort's shuffled list;
    left-right flips with probability ``flip_lr``. ``crop`` (h, w): each sample is a random
    window of that size whose offsets are multiples of ``crop_step``."""
    rng = np.random.default_rng(seed)
    shape = images.shape[1:3]
    crop = tuple(crop or shape)
    crop_offsets(None, 1, shape, crop, crop_step)                 # checks crop and crop_step
    tumour = labels.reshape(len(labels), -1).any(axis=1)
    pools = {"tumor": np.flatnonzero(tumour), "lbl-mip-00": np.flatnonzero(~tumour)}
    unknown = set(sampling) - set(pools)
    if unknown:
        raise ValueError(f"sampling cohorts must be among {sorted(pools)}, got {sorted(unknown)}")
    names = [k for k in sampling if len(pools[k])]
    rates = np.array([sampling[k] for k in names], float)
    rates /= rates.sum()
    queues = {k: [] for k in names}
    while True:
        index = []
        for name in rng.choice(names, size=batch_size, p=rates):
            if not queues[name]:
                queues[name] = list(rng.permutation(pools[name]))
            index.append(queues[name].pop())
        top, left = crop_offsets(rng, batch_size, shape, crop, crop_step)
        x = take_windows(images, index, top, left, crop).astype(np.float32)   # (B, h, w, C)
        y = take_windows(labels, index, top, left, crop)                      # (B, h, w)
        flip = rng.random(batch_size) < flip_lr
        x[flip], y[flip] = x[flip, :, ::-1], y[flip, :, ::-1]
        yield {"dat": x[:, None]}, {"tumor": y[:, None, ..., None]}


# --- training --------------------------------------------------------------------------------
def budget_callback(budget_s, base_lr, warmup_fraction, final_fraction, budget_steps=None):
    """Keras callback: learning rate as a function of the elapsed share of the budget (linear
    warm-up, cosine decay to ``final_fraction * base_lr``); stops training when the budget is
    spent. The budget is ``budget_s`` seconds, or ``budget_steps`` steps when given (a run
    that other jobs on the machine cannot change). Records steps and timing for the
    throughput figures."""
    import keras

    class Budget(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()
            self.steps, self.first_step_s, self.epoch_marks = 0, None, []

        def share(self):
            if budget_steps:
                return self.steps / budget_steps
            return (time.perf_counter() - self.start) / budget_s

        def on_train_batch_begin(self, batch, logs=None):
            share = self.share()
            if share >= 1:
                self.model.stop_training = True
            if share < warmup_fraction:
                lr = base_lr * max(share / warmup_fraction, 0.05)
            else:
                progress = min((share - warmup_fraction) / (1 - warmup_fraction), 1.0)
                lr = base_lr * (final_fraction + (1 - final_fraction)
                                * 0.5 * (1 + np.cos(np.pi * progress)))
            self.model.optimizer.learning_rate.assign(lr)

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            if self.first_step_s is None:
                self.first_step_s = time.perf_counter() - self.start
            if self.share() >= 1:
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            self.epoch_marks.append((self.steps, time.perf_counter() - self.start,
                                     float((logs or {}).get("loss", np.nan))))

        def on_train_end(self, logs=None):
            self.total_s = time.perf_counter() - self.start

    return Budget()


# --- evaluation ------------------------------------------------------------------------------
def big_truths(truths, min_pixels):
    """Ground truth restricted to boxes of blobs of >= ``min_pixels`` pixels (slice level) and
    to lesions whose largest blob has >= ``min_pixels`` (lesion level)."""
    sliced, lesioned = [], []
    for truth in truths:
        pix = truth["pixels"]
        largest = {}
        for ids, n in zip(truth["lesions"], pix):
            for i, k in zip(ids, n):
                largest[int(i)] = max(largest.get(int(i), 0), int(k))
        keep_slice = [n >= min_pixels for n in pix]
        keep_lesion = [np.array([largest[int(i)] >= min_pixels for i in ids], bool)
                       for ids in truth["lesions"]]
        for keep, target in ((keep_slice, sliced), (keep_lesion, lesioned)):
            target.append({key: [np.asarray(v)[k] for v, k in zip(truth[key], keep)]
                           for key in ("boxes", "lesions", "pixels")})
    return sliced, lesioned


def evaluate_split(model, bb, client, split, decode, nms_values, timing=False):
    """Predict every volume of ``split``; decode at ``curve_threshold`` for each NMS value.

    Returns ``(detections per NMS value, truths, timings)``; timings (when asked) are
    per-volume seconds of the forward pass and of decoding + NMS at the operating point.
    """
    detections = {nms: [] for nms in nms_values}
    truths, timings = [], {"forward": [], "decode": [], "decode_curve": [],
                                        "slices": []}
    for xs, ys in client.generator_test(split, expand=True):
        volume = {"dat": xs["dat"].astype(np.float32)}
        start = time.perf_counter()
        raw = model.predict_on_batch(volume)               # dict of (1, Z, gh, gw, ch)
        raw = {k: np.asarray(v) for k, v in raw.items()}
        forward = time.perf_counter() - start
        if timing:
            start = time.perf_counter()
            bb.convert_box_to_anc(raw, iou_nms=decode["iou_nms"],
                                  cls_threshold=decode["score_threshold"], return_scores=True)
            timings["decode"].append(time.perf_counter() - start)
            timings["forward"].append(forward)
            timings["slices"].append(volume["dat"].shape[1])
        for nms in nms_values:
            start = time.perf_counter()
            decoded = bb.convert_box_to_anc(raw, iou_nms=nms,
                                            cls_threshold=decode["curve_threshold"],
                                            return_scores=True)
            if timing and nms == decode["iou_nms"]:
                timings["decode_curve"].append(time.perf_counter() - start)
            detections[nms].append(evaluation.as_detections(decoded))
        truths.append(evaluation.volume_lesions(ys["tumor"], bb.params["min_size_blob"],
                                                bb.params["box_padding"]))
    return detections, truths, timings


def metrics(detections, truths, score_threshold):
    """Seed protocol, detection report and the >= 100 px sensitivities in one dict."""
    seed = evaluation.seed_protocol(detections, truths, score_threshold)
    result = {"median_iou": float(seed["iou_median"].median()),
              "p25_iou": float(seed["iou_p-25th"].median()),
              "p75_iou": float(seed["iou_p-75th"].median())}
    result.update(evaluation.detection_report(detections, truths,
                                              score_threshold=score_threshold))
    sliced, lesioned = big_truths(truths, MIN_PIXELS)
    for t in (0.1, 0.3, 0.5):
        result[f"big_sens@{t}"] = evaluation.sensitivity_ppv(detections, sliced, t,
                                                             score_threshold, "slice")[0]
        result[f"big_lesion_sens@{t}"] = evaluation.sensitivity_ppv(
            detections, lesioned, t, score_threshold, "lesion")[0]
    kept = [sum(int(np.sum(s >= score_threshold)) for s in d["scores"]) for d in detections]
    result["boxes_per_truth"] = sum(kept) / max(sum(len(b) for t in truths for b in t["boxes"]), 1)
    result["num_truths"] = sum(len(b) for t in truths for b in t["boxes"])
    result["num_big"] = sum(len(b) for t in sliced for b in t["boxes"])
    result["num_lesions"] = sum(len(np.unique(np.concatenate(t["lesions"]))) for t in truths)
    return result


def detector_info(args, argv, config, bb, m, budget, budget_text, num_volumes, model):
    """How a saved detector was made and what it scored on the test split (plain values, the
    ``info`` of ``boxloc.saving.save_detector``)."""
    import datetime

    import keras
    from boxloc.datasets.phantom import VERSION
    steps = f"{budget.steps:,} steps" + ("" if args.steps else f" ({budget_text} budget)")
    figures = {"median_iou": m["median_iou"], "AP_slice@0.5": m["AP_slice@0.5"],
               "AP_lesion@0.5": m["AP_lesion@0.5"], "big_sens@0.5": m["big_sens@0.5"],
               "sens@0.5": m["sens@0.5"], "ppv@0.5": m["ppv@0.5"], "FROC@0.1": m["FROC@0.1"]}
    return {
        "summary": (f"{config['name'].upper()}_CONFIG (levels c{bb.params['c'][0]}-c{bb.params['c'][-1]}, "
                    f"anchors {'/'.join(map(str, bb.params['anchor_shapes']))} px), {steps} on "
                    f"phantom v{VERSION} subjects (dataset seed 0); on {m['num_lesions']} held-out "
                    f"lesions: AP@0.5 {m['AP_slice@0.5']:.2f}, sensitivity on lesions >= "
                    f"{MIN_PIXELS} px {m['big_sens@0.5']:.2f}, median IoU {m['median_iou']:.2f}"),
        "command": "python3 benchmarks/bench_training.py " + " ".join(
            sys.argv[1:] if argv is None else argv),
        "config": config["name"], "weights_seed": args.seed, "steps": budget.steps,
        "batch_size": config["batch_size"], "training_seconds": round(budget.total_s, 1),
        "data": {"dataset": "phantom/brats-mip", "phantom_version": VERSION,
                 "num_volumes": num_volumes, "dataset_seed": 0,
                 "test_split": "the last 15% of the volumes (boxloc.datasets.store.split_volumes)"},
        "test_figures": {k: round(float(v), 4) for k, v in figures.items()},
        "decode": config["decode"], "parameters": int(model.count_params()),
        "made": datetime.date.today().isoformat(),
        "versions": {"keras": keras.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
    }


# --- main ------------------------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", choices=sorted(box_configs.CONFIGS), default="cpu")
    parser.add_argument("--minutes", type=float, default=None,
                        help="training budget (default: the configuration's)")
    parser.add_argument("--steps", type=int, default=None,
                        help="train this many steps instead of for a time budget (the learning "
                             "rate follows the steps; used for the shipped reference model)")
    parser.add_argument("--volumes", type=int, default=None,
                        help="phantom subjects (default: the configuration's, 150)")
    parser.add_argument("--seed", type=int, default=0, help="sampling and weight seed")
    parser.add_argument("--save", type=Path, default=None,
                        help="also save the trained detector here (.keras + .json, "
                             "boxloc.saving.save_detector) with how it was made and its test "
                             "figures; the shipped reference detector is made this way")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 4 volumes, a few eager training steps, no "
                             "validation sweep")
    args = parser.parse_args(argv)

    config = box_configs.get_config(args.config)
    minutes = args.minutes if args.minutes is not None else (0.1 if args.quick
                                                            else config["minutes"])
    num_volumes = args.volumes or (4 if args.quick else config["phantom_volumes"])
    steps_per_epoch = 5 if args.quick else 50
    decode = config["decode"]
    rows = []                                                   # (figure, value, how, load)

    def row(figure, value, how):
        rows.append((figure, value, how, f"{load():.2f}"))

    budget_text = f"{args.steps} steps" if args.steps else f"{minutes:g} min"
    print(f"boxloc bench_training: config {args.config!r}, budget {budget_text}, "
          f"{num_volumes} volumes, load average {os.getloadavg() if hasattr(os, 'getloadavg') else '-'}",
          flush=True)

    # 1. data
    start = time.perf_counter()
    _, _, client = prepare("phantom/brats-mip", num_volumes=num_volumes)
    images, labels = load_split(client, "train")
    data_s = time.perf_counter() - start
    row("data: build/reuse phantom + read train split",
        f"{data_s:.1f} s, {len(images)} train slices",
        f"`prepare('phantom/brats-mip', num_volumes={num_volumes})`, cache {client.root.parent}")

    # 2. configuration and anchor coverage on the training slices
    bb = box_configs.bounding_box(config)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coverage = anchor_coverage(bb, labels)
    print(bb)
    print(coverage, flush=True)
    sizes = ", ".join(f"{r['size']} {r['fraction_covered']:.0%}" for r in coverage.by_size
                      if r["count"])
    row("anchor coverage (train boxes with best IoU >= iou_upper)",
        f"{coverage.fraction_covered:.1%} of {coverage.num_boxes} ({sizes}); "
        f"mean best IoU {coverage.mean_best_iou:.3f}",
        f"`anchor_coverage` c={bb.params['c']}, anchor_shapes={bb.params['anchor_shapes']}, "
        f"iou_upper={bb.params['iou_upper']}")

    # 3. model and input pipeline
    import keras
    from boxloc.models import build_retinanet
    from boxloc.training import as_dataset, compile_retinanet, configure_accelerator

    keras.utils.set_random_seed(args.seed)
    accel = configure_accelerator(mixed_precision=config["mixed_precision"],
                                  xla=config["jit_compile"])
    # training on random crops (config['augment']['crop']): the same fully convolutional
    # network built for the crop size; its weights go to the full-size model afterwards
    crop = config["augment"].get("crop")
    bb_train = bb if crop is None else box_configs.bounding_box(
        config, image_shape=crop)
    model = build_retinanet(bb_train, channels=images.shape[-1], **config["model"])
    opt = config["optimizer"]
    compile_retinanet(model, optimizer=keras.optimizers.Adam(opt["learning_rate"],
                                                             clipnorm=opt.get("clipnorm")),
                      focal=config["loss"]["focal"], smooth_l1=config["loss"]["smooth_l1"],
                      box_weight=config["loss"].get("box_weight", 1.0),
                      jit_compile=accel["jit_compile"],
                      run_eagerly=args.quick)     # quick: no graph tracing (~30 s on a busy CPU)
    batches = bb_train.generator(stratified_batches(
        images, labels, config["batch_size"], config["sampling"], config["augment"]["flip_lr"],
        args.seed, crop=crop, crop_step=2 ** max(bb.params["c"])), msk="tumor")
    dataset = as_dataset(batches)

    # 4. training for the budget
    budget = budget_callback(minutes * 60, opt["learning_rate"],
                             config["schedule"]["warmup_fraction"],
                             config["schedule"]["final_fraction"], budget_steps=args.steps)
    model.fit(dataset, steps_per_epoch=steps_per_epoch, epochs=1_000_000, callbacks=[budget],
              verbose=1 if sys.stdout.isatty() else 2)
    slices = budget.steps * config["batch_size"]
    steady = [m for m in budget.epoch_marks if m[0] > 0]
    train_h, train_w = bb_train.params["image_shape"]
    if len(steady) >= 2:
        (s0, t0, _), (s1, t1, _) = steady[0], steady[-1]
        steady_rate = (s1 - s0) * config["batch_size"] / (t1 - t0)
        steady_how = f"epochs 2..{len(steady)} ({s1 - s0} steps), after tracing"
    else:
        steady_rate = (budget.steps - 1) * config["batch_size"] / max(
            budget.total_s - budget.first_step_s, 1e-9)
        steady_how = "all steps after the first"
    row("training throughput", f"{steady_rate:.1f} slices/s",
        f"batch {config['batch_size']} of (1, {train_h}, {train_w}, {images.shape[-1]})"
        f"{' random crops' if crop else ''}, {steady_how}, wall clock incl. input pipeline")
    row("training run", f"{budget.steps} steps = {slices} slices "
        f"({slices / max(len(images), 1):.1f} passes over train) in {budget.total_s:.0f} s",
        f"budget {budget_text} incl. first step {budget.first_step_s:.1f} s (tracing); "
        f"final loss {budget.epoch_marks[-1][2]:.3f}" if budget.epoch_marks else "")
    if budget.epoch_marks:
        marks = budget.epoch_marks
        picks = sorted({0, len(marks) // 4, len(marks) // 2, 3 * len(marks) // 4, len(marks) - 1})
        row("training loss along the budget",
            ", ".join(f"{marks[i][1] / 60:.1f} min: {marks[i][2]:.3f}" for i in picks),
            f"Keras epoch loss (sum over {2 * len(bb.params['c'])} outputs), epochs of "
            f"{steps_per_epoch} steps")

    if crop is not None:
        trained = model
        model = build_retinanet(bb, channels=images.shape[-1], **config["model"])
        model.set_weights(trained.get_weights())
    # 5. validation (decode choices) and test (reported) evaluation
    sweep_settings = VALID_SWEEP[:1] if args.quick else VALID_SWEEP
    valid_nms = sorted({n for _, n in sweep_settings})
    vdet, vtruth, _ = evaluate_split(model, bb, client, "valid", decode, valid_nms)
    sweep = []
    for score, nms in sweep_settings:
        m = metrics(vdet[nms], vtruth, score)
        sweep.append(f"score {score}/NMS {nms}: IoU {m['median_iou']:.2f}, "
                     f"AP@0.5 {m['AP_slice@0.5']:.2f}, PPV@0.5 {m['ppv@0.5']:.2f}, "
                     f"sens>=100px@0.5 {m['big_sens@0.5']:.2f}")
    row("validation split: decode settings compared (choices only)", "; ".join(sweep),
        f"{len(vtruth)} valid volumes; same metrics as below")

    test_nms = decode["iou_nms"]
    tdet, ttruth, timings = evaluate_split(model, bb, client, "test", decode, [test_nms],
                                                 timing=True)
    m = metrics(tdet[test_nms], ttruth, decode["score_threshold"])
    how_decode = (f"score >= {decode['score_threshold']}, class-agnostic NMS IoU {test_nms}; "
                  f"{len(ttruth)} test volumes, {m['num_truths']} GT boxes, "
                  f"{m['num_lesions']} 3D lesions")
    row("seed protocol: median over volumes of per-volume median IoU",
        f"{m['median_iou']:.3f} (p25 {m['p25_iou']:.3f}, p75 {m['p75_iou']:.3f})",
        "`evaluation.seed_protocol` (best IoU of each predicted box; misses not counted); "
        + how_decode)
    for t in (0.1, 0.3, 0.5):
        row(f"sensitivity / PPV @ IoU {t}, slice level",
            f"{m[f'sens@{t}']:.3f} / {m[f'ppv@{t}']:.3f}", "`detection_report`, " + how_decode)
        row(f"sensitivity / PPV @ IoU {t}, lesion level",
            f"{m[f'lesion_sens@{t}']:.3f} / {m[f'lesion_ppv@{t}']:.3f}",
            "3D lesion found by any of its boxes; " + how_decode)
    for t in (0.1, 0.5):
        row(f"AP @ IoU {t}, slice / lesion level",
            f"{m[f'AP_slice@{t}']:.3f} / {m[f'AP_lesion@{t}']:.3f}",
            f"all-point AP from boxes decoded at score > {decode['curve_threshold']}, "
            f"NMS {test_nms}")
    froc_points = ", ".join(f"{r:g}: {m[f'FROC@0.1_fp{r:g}']:.2f}" for r in evaluation.FROC_RATES)
    row("FROC @ IoU 0.1 (lesion sensitivity at FP/volume)",
        f"score {m['FROC@0.1']:.3f} ({froc_points})", "`evaluation.froc`, 1/8 ... 8 FP/volume")
    for t in (0.1, 0.3, 0.5):
        row(f"sensitivity on lesions >= {MIN_PIXELS} px @ IoU {t} (slice / lesion level)",
            f"{m[f'big_sens@{t}']:.3f} / {m[f'big_lesion_sens@{t}']:.3f}",
            f"{m['num_big']} ground-truth blobs of >= {MIN_PIXELS} px; lesion level: lesions whose "
            f"largest blob has >= {MIN_PIXELS} px")
    row("reported boxes per GT box", f"{m['boxes_per_truth']:.2f}",
        f"boxes with score >= {decode['score_threshold']} after NMS / GT boxes (duplicates)")

    forward = np.array(timings["forward"]) * 1e3
    dec = np.array(timings["decode"]) * 1e3
    dec_curve = np.array(timings["decode_curve"]) * 1e3
    per45 = 45 / np.array(timings["slices"])
    row("inference per 45-slice volume: forward pass",
        f"{np.median(forward * per45):.0f} ms",
        f"`model.predict_on_batch` on (1, Z, 240, 240, 4), Z = {min(timings['slices'])}-"
        f"{max(timings['slices'])} scaled to 45, median of {len(forward)} test volumes")
    row("inference per 45-slice volume: decode + NMS",
        f"{np.median(dec * per45):.0f} ms (at score > {decode['curve_threshold']} for curves: "
        f"{np.median(dec_curve * per45):.0f} ms)",
        f"`bb.convert_box_to_anc`, score > {decode['score_threshold']}, NMS {test_nms}, "
        f"{len(bb.anchors)} anchors/slice; goal: below the forward pass")

    goals = [("median IoU >= 0.6", m["median_iou"], GOALS["median_iou"]),
             ("AP@0.5 (slice) >= 0.7", m["AP_slice@0.5"], GOALS["ap50"]),
             ("AP@0.5 (lesion) >= 0.7", m["AP_lesion@0.5"], GOALS["ap50"]),
             (f"sensitivity >= 0.9, >= {MIN_PIXELS} px, IoU 0.5 slice", m["big_sens@0.5"],
              GOALS["sens_big"]),
             (f"sensitivity >= 0.9, >= {MIN_PIXELS} px, IoU 0.1 lesion",
              m["big_lesion_sens@0.1"], GOALS["sens_big"]),
             ("decode + NMS < forward pass", np.median(forward) - np.median(dec), 0.0)]
    verdict = "; ".join(f"{name}: {'met' if value >= goal else 'MISSED'}"
                        for name, value, goal in goals)
    row("goals (test split)", verdict, f"CPU budget {minutes:g} min" if args.config == "cpu"
        else "GPU configuration")

    import tensorflow as tf
    if args.save is not None:
        from boxloc.saving import save_detector
        info = detector_info(args, argv, config, bb, m, budget, budget_text, num_volumes, model)
        path = save_detector(args.save, model, bb, info=info)
        print(f"saved the detector to {path} and {path.with_suffix('.json').name}: "
              f"{info['summary']}", flush=True)
    print()
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{accel['device']}, Python {platform.python_version()}, TensorFlow {tf.__version__}, "
          f"Keras {keras.__version__}, NumPy {np.__version__}; load average at the end "
          f"{os.getloadavg() if hasattr(os, 'getloadavg') else '-'}")
    print(f"Configuration: boxloc.configs.{args.config.upper()}_CONFIG: anchors c={bb.params['c']} "
          f"anchor_shapes={bb.params['anchor_shapes']} iou {bb.params['iou_lower']}/"
          f"{bb.params['iou_upper']} ({len(bb.anchors)} anchors); model {config['model']} "
          f"({model.count_params():,} parameters); loss variant "
          f"{config['loss']['focal']['variant']}; Adam lr {opt['learning_rate']} warm-up + cosine "
          f"over the budget; batch {config['batch_size']}, sampling {config['sampling']}, "
          f"augment {config['augment']}; mixed precision {accel['mixed_precision']}, "
          f"XLA {accel['jit_compile']}")
    print(f"Decode (fixed): score threshold {decode['score_threshold']}, class-agnostic NMS IoU "
          f"{decode['iou_nms']}, curves from score > {decode['curve_threshold']}")
    print()
    print("| figure | value | how measured | load (1 min) |")
    print("|---|---|---|---|")
    for figure, value, how, load_avg in rows:
        print(f"| {figure} | {value} | {how} | {load_avg} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
