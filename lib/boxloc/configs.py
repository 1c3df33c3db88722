"""Named training configurations for the course's box localiser on 240 x 240 BraTS-like slices.

One place for every choice that ``benchmarks/bench_training.py`` measures, so notebooks and
scripts reuse exactly what was benchmarked::

    from boxloc.configs import CPU_CONFIG, bounding_box
    bb = bounding_box(CPU_CONFIG)                         # the anchors
    model = build_retinanet(bb, channels=4, **CPU_CONFIG["model"])

Pure data plus two tiny helpers: importing this module imports neither TensorFlow nor Keras.

Why these anchors (``anchor_coverage`` on the 1,890 training slices of
``prepare('phantom/brats-mip')``, phantom v1, 1,530 lesion boxes, iou_upper 0.5; half the boxes
are cross-sections smaller than 16 px; on phantom v3, whose labels have no detached specks, the
chosen anchors cover 78.5% of 1,300 boxes: <16 px 43%, 16-32 px 100%, 32-64 px 100%, >=64 px
98%):

=========================  =======  =========  =========  ========  ===========
anchors                    covered  <16 px     16-32 px   >=64 px   no positive
=========================  =======  =========  =========  ========  ===========
seed c3,c4 [32, 64]        43.5%    0.0%       56.6%      100%      19 boxes
c2,c3,c4 [16, 32, 64]      64.0%    24.1%      100%       100%      2
c2,c3,c4 [12, 24, 48]      70.2%    37.6%      100%       98.0%     3
c2,c3,c4 [8, 16, 32]       70.5%    52.8%      99.7%      28.9%     1
=========================  =======  =========  =========  ========  ===========

``[12, 24, 48]`` at c2-c4 covers every box of 16-64 px and nearly all larger ones (mean best
IoU 0.70-0.74 there) and 38% of the tiny ones; ``[8, 16, 32]`` gains tiny boxes but loses
the large ones. A c2 level (60 x 60 grid) is needed for the small anchors; its heads are the
most expensive part of the network, hence ``width=32`` on the CPU (18 vs 8 training
slices/s for width 64, measured on the project's busy 2-core machine, batch 16).
"""

import copy
import os
import sys

__all__ = ["CPU_CONFIG", "GPU_CONFIG", "CONFIGS", "get_config", "bounding_box", "run_mode",
           "MODES", "notebook_data"]

_ANCHORS = {
    "image_shape": [240, 240],
    "c": [2, 3, 4],
    "anchor_shapes": [12, 24, 48],
    "anchor_scales": [0, 1, 2],          # 2 ** (s / 3)
    "anchor_ratios": [0.5, 1, 2],        # w / h
    "iou_upper": 0.5,                    # RetinaNet's 0.5 / 0.4
    "iou_lower": 0.4,
    "match_rule": "seed",                # forced best-anchor matches for the small boxes
}

#: The course configuration for a 2-core CPU and a training budget of <= 10 minutes.
CPU_CONFIG = {
    "name": "cpu",
    "bounding_box": _ANCHORS,
    "model": {"preset": "course", "width": 32},          # prior-probability bias 0.01
    # box term: smooth-L1 with beta 0.1 (Huber delta 0.1, weight 1 / 0.1), as Detectron's
    # RetinaNet; the seed's Huber delta 1 on raw deltas (~0.1-0.3) is quadratic, with
    # gradients too small for tight boxes
    "loss": {"focal": {"gamma": 2.0, "alpha": 0.25, "variant": "retinanet"},
             "smooth_l1": {"delta": 0.1, "variant": "retinanet"}, "box_weight": 10.0},
    "optimizer": {"name": "adam", "learning_rate": 1e-3, "clipnorm": 10.0},
    # learning rate over the time budget: linear warm-up, then cosine decay to final_fraction
    "schedule": {"warmup_fraction": 0.03, "final_fraction": 0.02},
    "batch_size": 16,
    "minutes": 10.0,
    # cohort rates of the training batches (client cohorts: 'tumor' = slice holds a lesion)
    "sampling": {"tumor": 0.7, "lbl-mip-00": 0.3},
    # random 176 x 176 windows of the 240 x 240 slices at offsets that are multiples of 16 (the
    # c4 stride, so the crop's anchor grids line up with the full image's): 0.54 of the pixels,
    # 1.8x the slices per second (69-70 vs 38-39), and the same network predicts full slices
    "augment": {"flip_lr": 0.5, "crop": [176, 176]},
    # subjects of prepare('phantom/brats-mip') the benchmark trains and tests on: 106 train /
    # 22 valid / 22 test volumes. More training anatomy (60 subjects have 42 train volumes,
    # which a 16-minute run fits to AP@0.5 0.85 against 0.75 on held-out ones) and a test
    # split of 620 boxes / 29 lesions instead of 268 / 14, for figures that move less
    # between runs
    "phantom_volumes": 150,
    # decoding, held fixed for every reported number
    "decode": {"score_threshold": 0.5, "iou_nms": 0.3, "curve_threshold": 0.05},
    "mixed_precision": False, "jit_compile": False,
}

#: The same detector with a wider network and larger batches for a Colab-class GPU
#: (mixed precision + XLA). Not measured on a GPU yet.
GPU_CONFIG = copy.deepcopy(CPU_CONFIG)
GPU_CONFIG.update({
    "name": "gpu",
    "model": {"preset": "course", "width": 64},
    "batch_size": 32,
    "mixed_precision": True, "jit_compile": True,
})

CONFIGS = {"cpu": CPU_CONFIG, "gpu": GPU_CONFIG}


def get_config(name):
    """A deep copy of ``CONFIGS[name]`` (``'cpu'`` or ``'gpu'``), safe to modify."""
    if name not in CONFIGS:
        raise ValueError(f"config must be one of {sorted(CONFIGS)}, got {name!r}")
    return copy.deepcopy(CONFIGS[name])


def bounding_box(config, **overrides):
    """The ``BoundingBox`` of a configuration (``config['bounding_box']`` as arguments, updated
    by ``overrides``, e.g. ``image_shape=[176, 176]`` for the anchors of training crops)."""
    from .bounding_box import BoundingBox
    return BoundingBox(**{**config["bounding_box"], **overrides})


#: How much work a notebook's training and evaluation cells do (``run_mode``).
MODES = {
    "full": "a student's run: the training the notebook describes (CPU or GPU schedule)",
    "fast": "the course's own checks and executed solutions ($BOXLOC_FAST=1): short training, "
            "the shipped reference detector for evaluation",
    "grading": "the instructor's grader ($BOXLOC_GRADING=1, set by `instructor.py grade`): a "
               "token training step, the reference detector; graded exercises are unaffected",
}


def run_mode(environ=None):
    """``'grading'`` when ``$BOXLOC_GRADING`` is ``1`` (set by the grader for every
    submission), ``'fast'`` when ``$BOXLOC_FAST`` is ``1`` outside Colab, else ``'full'``."""
    environ = os.environ if environ is None else environ
    if environ.get("BOXLOC_GRADING") == "1":
        return "grading"
    if environ.get("BOXLOC_FAST") == "1" and "google.colab" not in sys.modules:
        return "fast"
    return "full"


def notebook_data(mode, held_out=False):
    """``prepare('phantom/brats-mip', **notebook_data(mode))``'s size and seed in the notebooks.

    Training notebooks use dataset seed 0 (60 subjects; 6 in the fast and grading modes).
    ``held_out=True``: the subjects notebook 4 evaluates on, dataset seed 1 (60; 12 in the fast
    and grading modes), which neither the reference detector (seed 0, 150 subjects) nor a
    student's model from notebook 3 has seen. The grader builds these before any sandbox.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
    small = mode != "full"
    if held_out:
        return {"num_volumes": 12 if small else 60, "seed": 1}
    return {"num_volumes": 6 if small else 60, "seed": 0}
