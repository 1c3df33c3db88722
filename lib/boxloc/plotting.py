"""Pictures of boxes and anchors on an image slice, and of the network's feature pyramid
(matplotlib; no deep-learning framework).

Boxes are ``[y1, x1, y2, x2]`` in half-open pixel coordinates, as everywhere in boxloc. The
image is drawn with ``extent=(0, W, H, 0)`` so pixel ``(r, c)`` covers ``[c, c+1] x [r, r+1]``
and a box's edges fall exactly on the pixel edges of its lesion.

Colours: ground truth green (thick), positive anchors orange, ignored anchors dashed grey,
predicted boxes dashed magenta with their scores, boxes removed by NMS dotted light blue
(``plot_nms``; ``nms_explorer`` puts sliders for both decoding thresholds on it).
``plot_deltas`` draws one anchor, its box and the four regression numbers between them.
"""

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch, Rectangle

from .anchors import pyramid_grid
from .boxes import centres_to_corners, corners_to_centres
from .deltas import encode_deltas
from .matching import IGNORE
from .nms import nms

__all__ = ["STYLES", "plot_boxes", "plot_targets", "plot_cell_anchors", "plot_deltas", "plot_nms",
           "nms_explorer", "anchor_explorer", "plot_pyramid"]

# Drawing order: ignored anchors at the bottom, predictions on top (zorder).
STYLES = {
    "ignored": dict(color="#c8c8c8", linewidth=0.5, linestyle=(0, (3, 3)), alpha=0.35,
                    zorder=2, label="ignored anchors"),
    "positive": dict(color="#ff9900", linewidth=0.9, linestyle="-", alpha=0.7, zorder=3,
                     label="positive anchors"),
    "gt": dict(color="#22dd22", linewidth=2.2, linestyle="-", alpha=1.0, zorder=4,
               label="ground truth"),
    "predicted": dict(color="#ff00ff", linewidth=1.4, linestyle=(0, (4, 2)), alpha=1.0,
                      zorder=5, label="predicted"),
    "suppressed": dict(color="#66ccff", linewidth=0.7, linestyle=(0, (1, 2)), alpha=0.8,
                       zorder=3, label="removed by NMS"),
}


def _as_boxes(name, boxes):
    """None or array-like -> float64 (M, 4); ValueError naming ``name`` otherwise."""
    if boxes is None:
        return np.zeros((0, 4))
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.size == 0:
        return boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or not np.all(np.isfinite(boxes)):
        raise ValueError(f"{name} must be finite boxes of shape (M, 4) [y1, x1, y2, x2], "
                         f"got shape {boxes.shape}")
    return boxes


def _new_axes():
    import matplotlib.pyplot as plt   # only when no Axes is given (keeps the import light)
    return plt.subplots(figsize=(6, 6))[1]


def plot_boxes(image, gt_boxes=None, positive_anchors=None, ignored_anchors=None,
               predicted_boxes=None, predicted_scores=None, ax=None, title=None, legend=True):
    """Overlay boxes and anchors on one image slice.

    Every box becomes one ``matplotlib.patches.Rectangle`` whose ``gid`` is its category:
    ``"gt"``, ``"positive"``, ``"ignored"`` or ``"predicted"``.

    Args:
        image: float or int (H, W), a 2-D slice (any H, W; shown in grey).
        gt_boxes: float (M, 4) ground-truth boxes, or None.
        positive_anchors: float (P, 4) anchors matched to a box, or None.
        ignored_anchors: float (I, 4) anchors in an ignore band, or None.
        predicted_boxes: float (D, 4) decoded boxes, or None.
        predicted_scores: float (D,) or (D, K) scores (the best class is shown), or None.
        ax: a matplotlib Axes; None makes a new figure.
        title: Axes title, or None.
        legend: draw a legend to the right of the image (outside it, so it hides nothing).

    Returns:
        The matplotlib Axes.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be a 2-D slice (H, W), got shape {image.shape}; "
                         f"pass e.g. image[..., 0] or volume[z]")
    height, width = image.shape
    groups = {"ignored": _as_boxes("ignored_anchors", ignored_anchors),
              "positive": _as_boxes("positive_anchors", positive_anchors),
              "gt": _as_boxes("gt_boxes", gt_boxes),
              "predicted": _as_boxes("predicted_boxes", predicted_boxes)}
    scores = None
    if predicted_scores is not None:
        scores = np.asarray(predicted_scores, dtype=np.float64)
        scores = scores.max(axis=1) if scores.ndim == 2 else scores.reshape(-1)
        if len(scores) != len(groups["predicted"]):
            raise ValueError(f"predicted_scores must hold one score per predicted box "
                             f"({len(groups['predicted'])}), got {len(scores)}")

    ax = _new_axes() if ax is None else ax
    ax.imshow(image, cmap="gray", origin="upper", extent=(0, width, height, 0),
              interpolation="nearest")
    for name, boxes in groups.items():
        style = dict(STYLES[name])
        label, color = style.pop("label"), style.pop("color")
        for y1, x1, y2, x2 in boxes:
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color,
                                   gid=name, **style))
        if len(boxes):   # an empty, opaque line as legend entry: no Rectangle in ax.patches
            ax.add_line(Line2D([], [], color=color, label=label, **{**style, "alpha": 1,
                                 "linewidth": max(style["linewidth"], 1.2)}))
    if scores is not None:
        for (y1, x1, _, _), score in zip(groups["predicted"], scores):
            ax.text(x1, y1 - 1, f"{score:.2f}", color="white", fontsize=7, ha="left",
                    va="bottom", zorder=6, clip_on=True,
                    bbox=dict(facecolor=STYLES["predicted"]["color"], alpha=0.8, pad=1,
                              edgecolor="none"))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)   # row 0 at the top, like the array
    ax.tick_params(labelsize=7)
    if title is not None:
        ax.set_title(title, fontsize=9)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0,
                  fontsize=8, frameon=False)
    return ax


def plot_targets(bb, image, msk, ax=None, title=None, legend=True):
    """Ground-truth boxes, positive and ignored anchors of one slice, as ``bb`` matches them.

    Args:
        bb: a ``BoundingBox``.
        image: float or int (H, W), the slice, with (H, W) = ``bb.params['image_shape']``.
        msk: integer labels (H, W) (or (1, H, W), (H, W, 1)) of the same slice.
        ax, title, legend: as in ``plot_boxes``; the default title counts each category.

    Returns:
        The matplotlib Axes.
    """
    image = np.asarray(image)
    if image.shape != tuple(bb.params["image_shape"]):
        raise ValueError(f"image must have shape image_shape {tuple(bb.params['image_shape'])}"
                         f", got {image.shape}")
    boxes, _, _, matched = bb.match_anchors(msk)        # matched: (S, N)
    if matched.shape[0] != 1:
        raise ValueError(f"msk must be one slice (H, W), got {matched.shape[0]} slices of "
                         f"shape {np.shape(msk)}")
    positive = bb.anchors[matched[0] >= 0]
    ignored = bb.anchors[matched[0] == IGNORE]
    if title is None:
        title = (f"{len(boxes)} GT box{'' if len(boxes) == 1 else 'es'}, "
                 f"{len(positive)} positive, {len(ignored)} ignored anchors")
    return plot_boxes(image, gt_boxes=boxes, positive_anchors=positive,
                      ignored_anchors=ignored, ax=ax, title=title, legend=legend)


def plot_cell_anchors(bb, axes=None):
    """The A anchors of one grid cell of every level, centred in the image: one panel per
    level, colour = scale, line style = ratio (tall dashed, square solid, wide dotted); the
    grey square is one grid cell (stride x stride).

    Returns the list of Axes.
    """
    import matplotlib.pyplot as plt

    levels = bb.params["c"]
    if axes is None:
        _, axes = plt.subplots(1, len(levels), figsize=(4.2 * len(levels), 4.2), squeeze=False)
        axes = list(axes[0])
    height, width = bb.params["image_shape"]
    scales, ratios = bb.params["anchor_scales"], bb.params["anchor_ratios"]
    colours = plt.get_cmap("viridis")(np.linspace(0.15, 0.85, len(scales)))
    styles = ["--" if r < 1 else ":" if r > 1 else "-" for r in ratios]
    for ax, level, start, strides in zip(axes, levels, bb.anchor_set.level_starts,
                                         bb.anchor_set.strides):
        ax.imshow(np.ones((height, width)), cmap="gray", vmin=0, vmax=1, extent=(0, width, height, 0))
        sizes = bb.offsets[start:start + bb.anchor_set.num_per_location, 2:]   # (A, 2) h, w
        for a, (h, w) in enumerate(sizes):
            scale, ratio = divmod(a, len(ratios))                            # scale-major
            ax.add_patch(Rectangle((width / 2 - w / 2, height / 2 - h / 2), w, h, fill=False,
                                   edgecolor=colours[scale], linestyle=styles[ratio], linewidth=1.6))
        ax.add_patch(Rectangle((width / 2, height / 2), strides[1], strides[0], facecolor="black",
                               alpha=0.35, edgecolor="none"))
        ax.set_title(f"c{level}: the {len(sizes)} anchors of one cell")
    handles = ([Line2D([], [], color=colours[i], label=f"scale 2^({s}/3)") for i, s in enumerate(scales)]
               + [Line2D([], [], color="grey", linestyle=styles[i], label=f"ratio w/h = {r:g}")
                  for i, r in enumerate(ratios)])
    axes[-1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)
    return axes


def plot_deltas(anchor, box, ax=None, title=None):
    """One anchor, one box and the four regression targets that turn the anchor into the box.

    The anchor is drawn dashed orange and the box solid green (``STYLES``), each with its
    centre; an L-shaped path shows the centre shift split into its x part (``dx * w``) and its
    y part (``dy * h``); the four numbers of ``deltas.encode_deltas`` are written beside the
    picture with their formulas (``dh``, ``dw``: ``ln(h' / (h + 1e-6))`` exactly, the seed's
    convention; the small constant is left out of the label). Rows grow downwards, as in an
    image.

    Args:
        anchor: float (4,) ``[cy, cx, h, w]`` (a row of ``BoundingBox.offsets``), h, w > 0.
        box: float (4,) ``[y1, x1, y2, x2]``, half-open pixel coordinates.
        ax: a matplotlib Axes; None makes a new figure.
        title: Axes title, or None.

    Returns:
        The matplotlib Axes. The two ``Rectangle`` patches have the gids ``"anchor"`` and
        ``"box"``.
    """
    anchor = np.asarray(anchor, dtype=np.float64).reshape(-1)
    box = np.asarray(box, dtype=np.float64).reshape(-1)
    if anchor.shape != (4,) or not np.all(np.isfinite(anchor)) or np.any(anchor[2:] <= 0):
        raise ValueError(f"anchor must be [cy, cx, h, w] with h, w > 0, got {anchor.tolist()}")
    if box.shape != (4,) or not np.all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f"box must be [y1, x1, y2, x2] with y2 > y1 and x2 > x1, "
                         f"got {box.tolist()}")
    dy, dx, dh, dw = encode_deltas(box[None], anchor[None])[0].astype(float)
    cy, cx, h, w = anchor
    by, bx, bh, bw = corners_to_centres(box)
    ax = _new_axes() if ax is None else ax
    shapes = (("anchor", centres_to_corners(anchor), STYLES["positive"]["color"], (0, (5, 3)),
               "anchor  [cy, cx, h, w]"),
              ("box", box, STYLES["gt"]["color"], "-", "box  [cy', cx', h', w']"))
    handles = []
    for gid, (y1, x1, y2, x2), colour, style, label in shapes:
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colour,
                               linestyle=style, linewidth=2, gid=gid))
        ax.plot([(x1 + x2) / 2], [(y1 + y2) / 2], "o", color=colour, markersize=5)
        handles.append(Line2D([], [], color=colour, linestyle=style, linewidth=2, marker="o",
                              markersize=5, label=label))
    ax.plot([cx, bx], [cy, cy], color="black", linewidth=1)            # x part of the shift
    ax.plot([bx, bx], [cy, by], color="black", linewidth=1)            # y part of the shift
    ax.text((cx + bx) / 2, cy, "dx · w", ha="center", va="bottom", fontsize=8)
    ax.text(bx, (cy + by) / 2, " dy · h", ha="left", va="center", fontsize=8)
    ax.text(1.04, 1.0, "\n".join([
        f"anchor: cy  = {cy:.1f}, cx  = {cx:.1f}, h  = {h:.1f}, w  = {w:.1f}",
        f"box:    cy' = {by:.1f}, cx' = {bx:.1f}, h' = {bh:.1f}, w' = {bw:.1f}",
        "",
        f"dy = (cy' - cy) / h = {dy:+.3f}",
        f"dx = (cx' - cx) / w = {dx:+.3f}",
        f"dh = ln(h' / h)     = {dh:+.3f}",
        f"dw = ln(w' / w)     = {dw:+.3f}"]),
        transform=ax.transAxes, ha="left", va="top", family="monospace", fontsize=8)
    corners = np.stack([centres_to_corners(anchor), box])
    low, high = corners[:, :2].min(axis=0), corners[:, 2:].max(axis=0)     # (y, x) extent
    margin = 0.15 * (high - low).max()
    ax.set_xlim(low[1] - margin, high[1] + margin)
    ax.set_ylim(high[0] + margin, low[0] - margin)       # rows grow downwards, as in an image
    ax.set_aspect("equal")
    ax.set_xlabel("x (column, px)", fontsize=8)
    ax.set_ylabel("y (row, px)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(1.02, 0.0), borderaxespad=0,
              fontsize=8, frameon=False)
    if title is not None:
        ax.set_title(title, fontsize=9)
    return ax


# Columns of the pyramid diagram (x of each box's centre) and the colour of each part.
_PYRAMID_X = {"contracting": 0.0, "merge": 2.3, "pyramid": 3.7, "head": 6.4}
_PYRAMID_COLOURS = {"input": "#dddddd", "contracting": "#9ecae1", "pyramid": "#fdae6b",
                    "merge": "white", "cls": "#a1d99b", "reg": "#bcbddc"}


def _map_box(ax, x, y, size, text, kind, full_size):
    """A feature map as a box centred at (x, y), its width growing with its size (h)."""
    width, height = 0.9 + 0.9 * (size / full_size) ** 0.5, 0.5
    ax.add_patch(Rectangle((x - width / 2, y - height / 2), width, height, gid=kind,
                           facecolor=_PYRAMID_COLOURS[kind.split("-")[0]], edgecolor="black",
                           linewidth=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=8)
    return width


def _arrow(ax, start, end, text=None, offset=(0.0, 0.0)):
    """An arrow from start to end (gid "arrow"), with a small label beside its middle."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, linewidth=0.9,
                                 color="#444444", gid="arrow", shrinkA=0, shrinkB=0))
    if text:
        ax.text((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1], text,
                ha="center", va="center", fontsize=7, color="#444444")


def _heads(ax, start, x, level, outputs, label):
    """The ``cls-c{level}`` (above) and ``reg-c{level}`` (below) outputs of one level (row
    ``y = level``), each an arrow from ``start`` to a box at ``x`` labelled with its size."""
    y = level
    for (kind, text), dy in zip(outputs.items(), (0.15, -0.15)):
        _arrow(ax, start, (x - 0.85, y + dy), label if kind == "cls" else None,
               offset=(-0.05, 0.25))
        ax.add_patch(Rectangle((x - 0.85, y + dy - 0.14), 1.7, 0.28, gid=f"{kind}-c{level}",
                               facecolor=_PYRAMID_COLOURS[kind], edgecolor="black",
                               linewidth=0.8))
        ax.text(x, y + dy, f"{kind}-c{level}  {text}", ha="center", va="center", fontsize=7.5)


def plot_pyramid(bb, filters=(8, 16, 24, 32, 48), width=64, channels=1, head_depth=2, ax=None):
    """Diagram of the network ``build_retinanet`` makes for ``bb``: contracting arm, top-down
    path and one pair of heads per level, every map labelled with its size per slice
    ``h x w x channels`` (Z passes through unchanged).

    Rows are levels, level 0 at the bottom as in the FPN paper. The contracting arm (blue,
    ``c0 ...``) halves the map at each level going up. The top-down path (orange, ``p{c}``)
    starts with a 1x1x1 projection of the deepest map; going down, each level adds the 2x
    upsampled map above it to the 1x1x1 projection of its contracting map (circles: ``+``)
    and applies a conv block. Every level of ``bb`` gets a ``cls-c{c}`` and a ``reg-c{c}``
    output (A*K and A*4 channels).

    Args:
        bb: a ``BoundingBox`` (its ``params``: image_shape, c, anchors, classes).
        filters: channels of each contracting level, as in ``build_retinanet``.
        width: channels of the pyramid maps.
        channels: C, channels of the input slices.
        head_depth: conv blocks per head (only written on the diagram).
        ax: a matplotlib Axes; None makes a new figure.

    Returns:
        The matplotlib Axes. Maps are ``Rectangle`` patches with a ``gid``: ``"input"``,
        ``"contracting"``, ``"pyramid"``, ``"cls-c{c}"``, ``"reg-c{c}"``; merges are
        ``Circle`` patches with gid ``"merge"``, arrows ``FancyArrowPatch`` with gid ``"arrow"``.
    """
    params = bb.params
    levels, top = sorted(params["c"]), len(filters) - 1
    if max(levels) > top:
        raise ValueError(f"filters has levels c0..c{top} but the BoundingBox asks for "
                         f"c{max(levels)}: give filters at least {max(levels) + 1} entries")
    num_anchors = len(params["anchor_scales"]) * len(params["anchor_ratios"])
    height, width_px = params["image_shape"]
    if ax is None:
        import matplotlib.pyplot as plt
        ax = plt.subplots(figsize=(10, 1.0 + 0.85 * (top + 2)))[1]

    def size(level, map_channels):                       # "30x30x64"
        grid_h, grid_w = pyramid_grid((height, width_px), level)
        return f"{grid_h}x{grid_w}x{map_channels}"

    xc, xm, xp, xh = (_PYRAMID_X[k] for k in ("contracting", "merge", "pyramid", "head"))
    _map_box(ax, xc, -1, height, f"dat {height}x{width_px}x{channels}", "input", height)
    _arrow(ax, (xc, -0.75), (xc, -0.25))
    for level, level_channels in enumerate(filters):     # row y = level
        map_h = pyramid_grid((height, width_px), level)[0]
        half = _map_box(ax, xc, level, map_h, f"c{level}  {size(level, level_channels)}",
                        "contracting", height) / 2
        if level < top:
            _arrow(ax, (xc, level + 0.25), (xc, level + 0.75),
                   "stride 2" if level == 0 else None, offset=(0.45, 0))
        if level < levels[0]:
            continue                                     # the top-down path stops at min(c)
        if level == top:
            _arrow(ax, (xc + half, level), (xp - 0.75, level), "1x1x1 proj", offset=(0.1, 0.13))
        else:                                            # + of projection and upsampled map
            ax.add_patch(Circle((xm, level), 0.13, gid="merge",
                                facecolor=_PYRAMID_COLOURS["merge"], edgecolor="black",
                                linewidth=0.8))
            ax.text(xm, level, "+", ha="center", va="center", fontsize=10)
            _arrow(ax, (xc + half, level), (xm - 0.13, level), "1x1x1 proj", offset=(0, 0.13))
            _arrow(ax, (xp, level + 0.75), (xm + 0.1, level + 0.1),
                   "2x up" if level == top - 1 else None, offset=(-0.35, 0.12))
            _arrow(ax, (xm + 0.13, level), (xp - 0.75, level),
                   "conv block" if level == levels[0] else None, offset=(-0.1, -0.22))
        _map_box(ax, xp, level, map_h, f"p{level}  {size(level, width)}", "pyramid", height)
        if level in levels:
            _heads(ax, (xp + 0.75, level), xh, level,
                   {"cls": size(level, num_anchors * params["classes"]),
                    "reg": size(level, num_anchors * 4)},
                   f"{head_depth} conv blocks" if level == levels[-1] else None)
    for x, title in ((xc, "contracting arm"), (xp, "top-down path"), (xh, "heads (per level)")):
        ax.text(x, top + 0.75, title, ha="center", va="center", fontsize=9, fontweight="bold")
    ax.set_xlim(-1.2, xh + 1.0)
    ax.set_ylim(-1.4, top + 1.0)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def plot_nms(image, boxes, scores, score_threshold, iou_threshold, gt_boxes=None, ax=None,
             legend=True):
    """Decoding's two thresholds on one slice's candidate boxes, drawn.

    Keeps the boxes whose score is strictly above ``score_threshold``, then runs greedy NMS at
    ``iou_threshold`` (``boxloc.nms.nms``: suppressed when the IoU with a kept box is strictly
    above it). The kept boxes are drawn as predictions with their scores, the ones NMS removed
    dotted (gid ``"suppressed"``), the ground truth in green; boxes under the score threshold
    are not drawn.

    Args:
        image: (H, W) slice; boxes: float (N, 4); scores: float (N,) or (N, K) (best class).
        score_threshold, iou_threshold: the two thresholds.
        gt_boxes: (M, 4) ground truth, or None. ax: an Axes, or None for a new figure.

    Returns:
        ``(ax, kept)``: the Axes and int64 indices into ``boxes`` of the kept boxes, highest
        score first.
    """
    boxes = _as_boxes("boxes", boxes)
    scores = np.asarray(scores, dtype=np.float64)
    scores = scores.max(axis=1) if scores.ndim == 2 else scores.reshape(-1)
    if len(scores) != len(boxes):
        raise ValueError(f"scores must hold one score per box ({len(boxes)}), got {len(scores)}")
    above = np.flatnonzero(scores > score_threshold)
    kept = above[nms(boxes[above], scores[above], iou_threshold)].astype(np.int64)
    removed = np.setdiff1d(above, kept)
    ax = plot_boxes(image, gt_boxes=gt_boxes, predicted_boxes=boxes[kept],
                    predicted_scores=scores[kept], ax=ax, legend=False,
                    title=f"score > {score_threshold:g}: {len(above)} boxes; NMS at IoU "
                          f"{iou_threshold:g}: {len(kept)} kept")
    style = dict(STYLES["suppressed"])
    label, color = style.pop("label"), style.pop("color")
    for y1, x1, y2, x2 in boxes[removed]:
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color,
                               gid="suppressed", **style))
    if len(removed):
        ax.add_line(Line2D([], [], color=color, label=label, **{**style, "linewidth": 1.2}))
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0, fontsize=8,
                  frameon=False)
    return ax, kept


def _explorer(draw, values, controls, interactive, figsize):
    """``draw(ax, **values)`` once on a static figure, or, when ``interactive`` and ipywidgets is
    importable, ``controls(ipywidgets)`` (widgets named like ``draw``'s arguments) above a
    picture that ``draw`` redraws whenever a control changes.

    Returns ``draw``'s result (static), or the widget: a ``VBox`` whose ``kwargs_widgets`` are
    the controls and whose ``result`` is the last draw's result (named as on
    ``ipywidgets.interactive``).

    The picture is an ``Image`` widget holding a PNG, not an ``Output`` widget holding a
    figure: a headless client (nbclient, which the course's tools and tests run notebooks with)
    answers every output captured by an ``Output`` widget with a message on the kernel's shell
    channel, sent while it waits there for the cell's reply, and can then miss that reply until
    the cell's timeout (a race in its socket handling: a third to half of the runs with
    ipywidgets 7.7.1, Colab's, fewer with 8). An ``Image`` widget sends nothing back: the cell
    ends as soon as it has drawn.
    """
    try:
        if not interactive:
            raise ImportError("a static figure was asked for")
        import ipywidgets
    except ImportError:
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=figsize)
        result = draw(ax, **values)
        fig.tight_layout()
        plt.show()
        return result
    import io

    from IPython.display import display
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize)            # off pyplot: never shown again at the cell's end
    FigureCanvasAgg(figure)
    picture = ipywidgets.Image(format="png")
    named = controls(ipywidgets)
    box = ipywidgets.VBox([*named.values(), picture])
    box.kwargs_widgets = tuple(named.values())

    def redraw(change=None):
        figure.clear()
        box.result = draw(figure.add_subplot(), **{n: w.value for n, w in named.items()})
        figure.tight_layout()
        png = io.BytesIO()
        figure.savefig(png, format="png", bbox_inches="tight")   # the legend outside the axes
        picture.value = png.getvalue()

    for control in named.values():
        control.observe(redraw, names="value")
    redraw()
    display(box)
    return box


_SLIDER = dict(continuous_update=False, style={"description_width": "initial"})


def nms_explorer(image, boxes, scores, gt_boxes=None, score_threshold=0.5, iou_threshold=0.3,
                 interactive=True):
    """Two sliders, the score and the NMS IoU threshold, over ``plot_nms`` of one slice.

    With ipywidgets importable and ``interactive``, displays the sliders and the figure (redrawn
    when a slider is released) and returns the widget, whose ``result`` is the last ``kept`` of
    ``plot_nms`` and ``kwargs_widgets`` the two sliders. Otherwise draws one static figure at
    the given thresholds and returns its ``kept``.
    """
    def draw(ax, score_threshold, iou_threshold):
        return plot_nms(image, boxes, scores, score_threshold, iou_threshold, gt_boxes, ax=ax)[1]

    def controls(widgets):
        slider = dict(readout_format=".2f", **_SLIDER)
        return dict(
            score_threshold=widgets.FloatSlider(value=score_threshold, min=0.05, max=0.95,
                                                step=0.05, description="score threshold", **slider),
            iou_threshold=widgets.FloatSlider(value=iou_threshold, min=0.05, max=1.0, step=0.05,
                                              description="NMS IoU threshold", **slider))

    return _explorer(draw, dict(score_threshold=score_threshold, iou_threshold=iou_threshold),
                     controls, interactive, figsize=(7.5, 5.5))


def anchor_explorer(image, msk, masks=None, c=(3, 4), smallest=32, anchor_scales=(0, 1, 2),
                    anchor_ratios=(0.5, 1, 2), iou_upper=0.5, iou_lower=0.2, interactive=True):
    """Controls for the levels, the smallest base size (doubling per level), the scales, the
    ratios and the two IoU thresholds over ``plot_targets`` of one slice, with the coverage
    of ``masks`` in the title.

    Args:
        image: (H, W) slice; msk: its (H, W) integer labels.
        masks: (S, H, W) label slices whose boxes the coverage counts (default: ``msk``).
        c, smallest, anchor_scales, anchor_ratios, iou_upper, iou_lower: the starting setting
            (``anchor_shapes`` = ``smallest * 2 ** k`` for the k-th level, as the tutorial's 32
            and 64 px); an ``iou_lower`` above ``iou_upper`` is lowered to it.
        interactive: as in ``nms_explorer``; the static figure returns the coverage report.

    Returns:
        The ``CoverageReport`` of the drawn setting (static), or the widget (its ``result``).
    """
    from .bounding_box import BoundingBox
    from .coverage import anchor_coverage
    masks = np.asarray(msk)[None] if masks is None else np.asarray(masks)

    def draw(ax, c, smallest, anchor_scales, anchor_ratios, iou_upper, iou_lower):
        levels = sorted(c) or [3]
        bb = BoundingBox(np.shape(image), c=levels,
                         anchor_shapes=[smallest * 2 ** k for k in range(len(levels))],
                         anchor_scales=list(anchor_scales) or [0],
                         anchor_ratios=list(anchor_ratios) or [1],
                         iou_upper=iou_upper, iou_lower=min(iou_lower, iou_upper))
        report = anchor_coverage(bb, masks)
        plot_targets(bb, image, msk, ax=ax)
        small = report.by_size[0]

        def percent(fraction):
            return "-" if fraction is None else f"{fraction:.0%}"
        ax.set_title(f"{len(bb.anchors):,} anchors; {percent(report.fraction_covered)} of "
                     f"{report.num_boxes} boxes covered ({small['size']}: "
                     f"{percent(small['fraction_covered'])})\n" + ax.get_title(), fontsize=9)
        return report

    values = dict(c=tuple(c), smallest=smallest, anchor_scales=tuple(anchor_scales),
                  anchor_ratios=tuple(anchor_ratios), iou_upper=iou_upper, iou_lower=iou_lower)

    def controls(widgets):
        def choose(name, options, value):
            return widgets.SelectMultiple(options=options, value=value, rows=len(options),
                                          description=name, **{k: v for k, v in _SLIDER.items()
                                                               if k == "style"})

        def fraction(name, value):
            return widgets.FloatSlider(value=value, min=0.05, max=0.95, step=0.05,
                                       description=name, readout_format=".2f", **_SLIDER)
        return dict(c=choose("levels c", (2, 3, 4, 5), values["c"]),
                    smallest=widgets.IntSlider(value=smallest, min=4, max=64, step=4,
                                               description="smallest base size (px)", **_SLIDER),
                    anchor_scales=choose("scales", (0, 1, 2), values["anchor_scales"]),
                    anchor_ratios=choose("ratios w/h", (0.5, 1, 2), values["anchor_ratios"]),
                    iou_upper=fraction("iou_upper", iou_upper),
                    iou_lower=fraction("iou_lower", iou_lower))

    return _explorer(draw, values, controls, interactive, figsize=(7.5, 6))
