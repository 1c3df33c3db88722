"""The seed tutorial's anchor configuration, end to end, on toy lesion masks (no data needed).

    python -m boxloc.demo [--out DIR]      # default DIR: outputs

Prints the anchor summary and the anchor coverage report of 32 example slices, then writes
``DIR/anchor_overlay.png``: four slices with their ground-truth boxes, positive and ignored
anchors, and the boxes decoded back from the training targets (positive anchors moved by
their regression deltas, then NMS), which land exactly on the ground truth.
"""

import argparse
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import ndimage
from scipy.special import expit

from .bounding_box import BoundingBox
from .coverage import anchor_coverage
from .examples import lesion_masks
from .matching import IGNORE
from .plotting import STYLES, plot_boxes

__all__ = ["seed_config", "toy_image", "pick_slices", "main"]

NUM_SLICES = 32
NUM_PANELS = 4


def seed_config():
    """The seed tutorial's ``BoundingBox``: levels c3, c4 of a 240 x 240 slice, 9 anchors
    per cell, positive at IoU >= 0.5, ignored between 0.2 and 0.5 (10125 anchors)."""
    return BoundingBox((240, 240), c=[3, 4], anchor_shapes=[32, 64], anchor_scales=[0, 1, 2],
                       anchor_ratios=[0.5, 1, 2], iou_upper=0.5, iou_lower=0.2)


def toy_image(msk, seed=0):
    """A plausible grey MRI-like slice around a lesion mask: uint8 (H, W) -> float64 (H, W).

    A smooth elliptical "brain" with a faint texture inside a bright "skull" ring, the
    lesions brighter with soft edges, and a little noise; values roughly in [0, 1].
    """
    height, width = msk.shape
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    radius = np.hypot((rows - height / 2) / (0.47 * height), (cols - width / 2) / (0.42 * width))
    brain = expit((1 - radius) * 40)                                   # 1 inside, soft edge
    skull = np.exp(-((radius - 1.06) / 0.025) ** 2)                    # thin bright ring
    texture = 0.06 * np.sin(rows / 7 + np.cos(cols / 11)) * np.cos(cols / 9)
    lesion = ndimage.gaussian_filter((msk > 0).astype(np.float64), 1.0)
    noise = np.random.default_rng(seed).normal(0, 0.02, msk.shape)
    return 0.35 * brain * (1 + texture) + 0.6 * skull + 0.5 * lesion + noise


def pick_slices(boxes, slice_index, count=NUM_PANELS):
    """Slices worth showing: the one with the largest box, the one with the smallest box,
    then the first slices with a box. ``boxes`` float (M, 4), ``slice_index`` int (M,)."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    order = [slice_index[np.argmax(area)], slice_index[np.argmin(area)], *slice_index]
    return [int(s) for s in dict.fromkeys(order)][:count]


def _recovered(gt, found, tolerance=0.01):
    """How many GT boxes (m, 4) have a decoded box (d, 4) within ``tolerance`` px."""
    if len(gt) == 0 or len(found) == 0:
        return 0
    worst = np.abs(gt[:, None, :] - found[None, :, :]).max(axis=2)     # (m, d) worst corner
    return int(np.sum(worst.min(axis=1) <= tolerance))


def main(argv=None):
    """Run the demo; ``argv`` as for ``argparse`` (None: the command line). Returns 0."""
    parser = argparse.ArgumentParser(prog="python -m boxloc.demo",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="outputs", help="output folder (default: outputs)")
    args = parser.parse_args(argv)

    bb = seed_config()
    print(repr(bb))
    masks = lesion_masks(NUM_SLICES, seed=0)                           # uint8 (S, H, W)
    report = anchor_coverage(bb, masks)
    print()
    print(report)

    # The shown slices: which anchors are positive / ignored, and the boxes decoded back
    # from their training targets (positives moved by their deltas, then NMS).
    shown = pick_slices(report.boxes, report.slice_index)
    gt, _, gt_slice, matched = bb.match_anchors(masks[shown])          # matched: (4, N)
    targets = bb.convert_msk_to_box(masks[shown])
    decoded, _ = bb.convert_box_to_anc(targets, apply_deltas=True)      # (d, 4) per slice
    recovered = [_recovered(gt[gt_slice == k], found) for k, found in enumerate(decoded)]
    print(f"\nDecoded targets of slices {shown}: {sum(recovered)}/{len(gt)} GT boxes are "
          f"recovered exactly (within 0.01 px) by their refined positive anchors")

    fig = Figure(figsize=(10, 11), layout="constrained")
    FigureCanvasAgg(fig)
    for k, (ax, s) in enumerate(zip(fig.subplots(2, 2).ravel(), shown)):
        positive, ignored = matched[k] >= 0, matched[k] == IGNORE
        plot_boxes(toy_image(masks[s], seed=s), gt_boxes=gt[gt_slice == k],
                   positive_anchors=bb.anchors[positive], ignored_anchors=bb.anchors[ignored],
                   predicted_boxes=decoded[k], ax=ax, legend=False)
        best = report.best_iou[report.slice_index == s]
        forced = np.sum(best < bb.params["iou_upper"])
        ax.set_title(f"slice {s}: {len(best)} GT box{'' if len(best) == 1 else 'es'}, "
                     f"{positive.sum()} positive, "
                     f"{ignored.sum()} ignored anchors\nbest anchor IoU per box: "
                     + ", ".join(f"{v:.2f}" for v in best)
                     + (f" ({forced} below {bb.params['iou_upper']:g}: forced)" if forced else ""),
                     fontsize=9)
    handles = {line.get_label(): line for ax in fig.axes for line in ax.lines}
    names = {STYLES["predicted"]["label"]: "decoded targets (positive anchors + deltas, NMS)"}
    fig.legend(list(handles.values()), [names.get(n, n) for n in handles], ncol=4,
               loc="outside lower center", fontsize=9, frameon=False)
    fig.suptitle(f"Seed anchors: c3 + c4, {len(bb.anchors)} anchors; IoU >= "
                 f"{bb.params['iou_upper']:g} positive, {bb.params['iou_lower']:g} to "
                 f"{bb.params['iou_upper']:g} ignored (match_rule="
                 f"{bb.params['match_rule']!r})", fontsize=11)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "anchor_overlay.png"
    fig.savefig(path, dpi=110)
    print(f"\nWrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
