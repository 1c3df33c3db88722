"""plot_boxes / plot_targets: rendered off-screen (Agg) on a non-square image; plot_pyramid:
one box per map of the network, labelled with the sizes build_retinanet gives them."""

import collections
import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from boxloc import BoundingBox  # noqa: E402
from boxloc.plotting import plot_boxes, plot_deltas, plot_pyramid, plot_targets  # noqa: E402

HEIGHT, WIDTH = 200, 300
GT = [[40, 200, 80, 270], [150, 30, 160, 42]]
POSITIVE = [[36, 196, 84, 276], [40, 190, 80, 280], [144, 24, 166, 48]]
IGNORED = [[0, 150, 90, 300], [20, 180, 100, 260], [130, 10, 180, 60], [30, 220, 70, 300]]
PREDICTED = [[42, 198, 79, 268], [148, 33, 161, 45]]


def new_axes():
    fig = Figure(figsize=(6, 4))
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def rectangles(ax):
    """Category -> number of Rectangle patches (the gid plot_boxes gives them)."""
    return collections.Counter(p.get_gid() for p in ax.patches if isinstance(p, Rectangle))


def is_png(path):
    return path.is_file() and path.stat().st_size > 1000 and \
        path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_boxes_draws_every_category_on_a_non_square_image(tmp_path):
    image = np.random.default_rng(0).random((HEIGHT, WIDTH))
    ax = plot_boxes(image, gt_boxes=GT, positive_anchors=POSITIVE, ignored_anchors=IGNORED,
                    predicted_boxes=PREDICTED, predicted_scores=[0.91, 0.42], ax=new_axes(),
                    title="non-square")
    assert rectangles(ax) == {"gt": 2, "positive": 3, "ignored": 4, "predicted": 2}
    assert sorted(t.get_text() for t in ax.texts) == ["0.42", "0.91"]
    assert ax.get_title() == "non-square"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["ignored anchors", "positive anchors", "ground truth", "predicted"]
    # pixel edges line up: image extent and axis limits are the image, row 0 on top
    assert tuple(ax.images[0].get_extent()) == (0, WIDTH, HEIGHT, 0)
    assert ax.get_xlim() == (0, WIDTH) and ax.get_ylim() == (HEIGHT, 0)
    path = tmp_path / "boxes.png"
    ax.figure.savefig(path)
    assert is_png(path)


def test_rectangles_use_x1_y1_width_height():
    ax = plot_boxes(np.zeros((HEIGHT, WIDTH)), gt_boxes=[[40, 200, 80, 270]], ax=new_axes())
    (patch,) = ax.patches
    assert patch.get_xy() == (200, 40)
    assert (patch.get_width(), patch.get_height()) == (70, 40)
    assert not patch.get_fill()


def test_only_given_categories_are_drawn_and_scores_may_be_per_class():
    ax = plot_boxes(np.zeros((HEIGHT, WIDTH)), predicted_boxes=PREDICTED,
                    predicted_scores=[[0.1, 0.8], [0.3, 0.2]], ax=new_axes(), legend=False)
    assert rectangles(ax) == {"predicted": 2}
    assert sorted(t.get_text() for t in ax.texts) == ["0.30", "0.80"]
    assert ax.get_legend() is None


def test_plot_boxes_makes_a_figure_when_no_axes_given(tmp_path):
    import matplotlib.pyplot as plt
    ax = plot_boxes(np.ones((HEIGHT, WIDTH)), gt_boxes=GT)
    try:
        assert rectangles(ax) == {"gt": 2}
        ax.figure.savefig(tmp_path / "new.png")
        assert is_png(tmp_path / "new.png")
    finally:
        plt.close(ax.figure)


def test_plot_targets_matches_bb_match_anchors(tmp_path):
    bb = BoundingBox((HEIGHT, WIDTH), c=[3, 4], anchor_shapes=[32, 64], iou_upper=0.5,
                     iou_lower=0.2, min_size_blob=0)
    msk = np.zeros((HEIGHT, WIDTH), np.uint8)
    msk[40:80, 200:270] = 1
    msk[150:160, 30:42] = 1
    boxes, _, _, matched = bb.match_anchors(msk)
    ax = plot_targets(bb, msk * 0.5, msk, ax=new_axes())
    counts = rectangles(ax)
    assert counts["gt"] == len(boxes) == 2
    assert counts["positive"] == np.sum(matched >= 0) > 0
    assert counts["ignored"] == np.sum(matched == -2) > 0
    assert "predicted" not in counts
    assert ax.get_title() == (f"2 GT boxes, {counts['positive']} positive, "
                              f"{counts['ignored']} ignored anchors")
    ax.figure.savefig(tmp_path / "targets.png")
    assert is_png(tmp_path / "targets.png")


@pytest.mark.parametrize("kwargs, message", [
    (dict(image=np.zeros((2, HEIGHT, WIDTH))), "image must be a 2-D slice"),
    (dict(gt_boxes=[[0, 0, 10]]), "gt_boxes must be finite boxes"),
    (dict(positive_anchors=[[0, 0, np.nan, 5]]), "positive_anchors must be finite boxes"),
    (dict(predicted_boxes=PREDICTED, predicted_scores=[0.5]), "predicted_scores must hold"),
])
def test_plot_boxes_rejects_bad_input(kwargs, message):
    kwargs = {"image": np.zeros((HEIGHT, WIDTH)), **kwargs}
    with pytest.raises(ValueError, match=message):
        plot_boxes(ax=new_axes(), **kwargs)


def test_plot_targets_rejects_a_stack_or_a_wrong_image():
    bb = BoundingBox((HEIGHT, WIDTH), c=[3, 4], anchor_shapes=[32, 64])
    msk = np.zeros((HEIGHT, WIDTH), np.uint8)
    with pytest.raises(ValueError, match="msk must be one slice"):
        plot_targets(bb, msk, np.stack([msk, msk]), ax=new_axes())
    with pytest.raises(ValueError, match="image must have shape image_shape"):
        plot_targets(bb, msk.T, msk, ax=new_axes())


def patches_by_gid(ax):
    return collections.Counter(p.get_gid() for p in ax.patches)


def test_plot_pyramid_draws_the_tutorial_network(tmp_path):
    """c0..c4 contracting maps, p4 and p3 on the top-down path (one merge), and one cls/reg
    pair per level, with the seed's sizes (30x30 and 15x15 grids, 9 anchors)."""
    bb = BoundingBox((240, 240), c=[3, 4], anchor_shapes=[32, 64])
    ax = plot_pyramid(bb, filters=(8, 16, 24, 32, 48), width=64, channels=4, ax=new_axes())
    counts = patches_by_gid(ax)
    assert counts["input"] == 1 and counts["contracting"] == 5 and counts["pyramid"] == 2
    assert counts["merge"] == 1
    assert {g: n for g, n in counts.items() if g.startswith(("cls", "reg"))} == \
        {"cls-c3": 1, "reg-c3": 1, "cls-c4": 1, "reg-c4": 1}
    texts = {t.get_text() for t in ax.texts}
    assert {"dat 240x240x4", "c0  240x240x8", "c4  15x15x48", "p3  30x30x64", "p4  15x15x64",
            "cls-c3  30x30x9", "reg-c3  30x30x36", "cls-c4  15x15x9", "reg-c4  15x15x36"} <= texts
    ax.figure.savefig(tmp_path / "pyramid.png")
    assert is_png(tmp_path / "pyramid.png")


def test_plot_pyramid_rounds_up_and_skips_heads_of_unused_levels():
    """A 104-pixel image: the strided map rounds 13 up to 7 at c4, which is on the path (p4)
    but has no heads; classes and anchors set the head channels."""
    bb = BoundingBox((104, 104), classes=2, c=[2, 3], anchor_shapes=[8, 16], anchor_ratios=[1])
    ax = plot_pyramid(bb, filters=(4, 8, 8, 8, 8), width=8, ax=new_axes())
    counts = patches_by_gid(ax)
    assert counts["pyramid"] == 3 and counts["merge"] == 2 and "cls-c4" not in counts
    texts = {t.get_text() for t in ax.texts}
    assert {"p4  7x7x8", "c3  13x13x8", "cls-c2  26x26x6", "reg-c3  13x13x12"} <= texts


def test_plot_pyramid_makes_a_figure_and_refuses_a_too_shallow_arm():
    import matplotlib.pyplot as plt
    bb = BoundingBox((64, 64), c=[2, 4], anchor_shapes=[8, 32])
    with pytest.raises(ValueError, match=r"levels c0..c3 .* asks for c4: .*at least 5 entries"):
        plot_pyramid(bb, filters=(4, 8, 8, 8), ax=new_axes())
    ax = plot_pyramid(bb)
    try:
        assert patches_by_gid(ax)["pyramid"] == 3
    finally:
        plt.close(ax.figure)


def test_importing_plotting_imports_no_deep_learning_framework():
    code = ("import sys, boxloc.plotting, boxloc.coverage, boxloc.demo; "
            "print(sorted({'tensorflow', 'keras', 'torch', 'jax'} & set(sys.modules)))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, check=True)
    assert result.stdout.strip() == "[]"


def test_plot_deltas_draws_the_anchor_the_box_and_the_seed_test_vector(tmp_path):
    # the seed's test vector: anchor (112, 104, 50.797, 50.797), box [100, 80, 140, 150]
    ax = plot_deltas([112, 104, 50.797, 50.797], [100, 80, 140, 150], ax=new_axes(), title="t")
    patches = {p.get_gid(): p for p in ax.patches if isinstance(p, Rectangle)}
    assert sorted(patches) == ["anchor", "box"]
    assert patches["box"].get_xy() == (80, 100)
    assert (patches["box"].get_width(), patches["box"].get_height()) == (70, 40)
    assert np.allclose(patches["anchor"].get_xy(), (104 - 50.797 / 2, 112 - 50.797 / 2))
    numbers = "\n".join(t.get_text() for t in ax.texts)
    for value in ("+0.157", "+0.217", "-0.239", "+0.321"):       # encode_deltas, rounded
        assert value in numbers
    bottom, top = ax.get_ylim()
    assert bottom > top                                            # rows grow downwards
    assert ax.get_title() == "t" and len(ax.get_legend().get_texts()) == 2
    ax.figure.savefig(tmp_path / "deltas.png")
    assert is_png(tmp_path / "deltas.png")


@pytest.mark.parametrize("anchor, box, message", [
    ([10, 10, 0, 5], [0, 0, 5, 5], "anchor must be"),
    ([10, 10, 5], [0, 0, 5, 5], "anchor must be"),
    ([10, 10, 5, 5], [5, 0, 5, 5], "box must be"),
    ([10, 10, 5, 5], [0, 0, np.nan, 5], "box must be"),
])
def test_plot_deltas_rejects_bad_input(anchor, box, message):
    with pytest.raises(ValueError, match=message):
        plot_deltas(anchor, box, ax=new_axes())


# --- the NMS explorer of notebook 4 --------------------------------------------------------
# Candidates of one slice: 0 and 1 overlap at IoU 0.5 exactly (100 / 200), 2 sits alone with a
# score equal to 0.5, 3 is far away with a low score.
CANDIDATES = [[0, 0, 10, 10], [0, 0, 10, 20], [50, 50, 60, 60], [100, 100, 120, 120]]
CANDIDATE_SCORES = [0.9, 0.8, 0.5, 0.2]


def test_plot_nms_applies_both_thresholds_at_their_edges():
    from boxloc.plotting import plot_nms
    image = np.zeros((HEIGHT, WIDTH))
    # score strictly above 0.5 (box 2 dropped); IoU equal to 0.5 is not suppressed
    ax, kept = plot_nms(image, CANDIDATES, CANDIDATE_SCORES, 0.5, 0.5, gt_boxes=GT, ax=new_axes())
    assert kept.tolist() == [0, 1]
    assert rectangles(ax) == {"gt": 2, "predicted": 2}
    assert ax.get_title() == "score > 0.5: 2 boxes; NMS at IoU 0.5: 2 kept"
    # a stricter NMS removes box 1: drawn dotted, with a legend entry
    ax, kept = plot_nms(image, CANDIDATES, CANDIDATE_SCORES, 0.1, 0.45, ax=new_axes())
    assert kept.tolist() == [0, 2, 3]
    assert rectangles(ax) == {"predicted": 3, "suppressed": 1}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["predicted", "removed by NMS"]
    assert sorted(t.get_text() for t in ax.texts) == ["0.20", "0.50", "0.90"]
    # per-class scores, nothing above the threshold
    ax, kept = plot_nms(image, CANDIDATES, np.array(CANDIDATE_SCORES)[:, None], 0.95, 0.3,
                        ax=new_axes())
    assert kept.tolist() == [] and rectangles(ax) == {}
    with pytest.raises(ValueError, match="one score per box"):
        plot_nms(image, CANDIDATES, [0.5], 0.1, 0.3)


def test_nms_explorer_draws_a_static_figure_without_ipywidgets(monkeypatch):
    import matplotlib.pyplot as plt
    from boxloc.plotting import nms_explorer
    monkeypatch.setitem(sys.modules, "ipywidgets", None)          # import ipywidgets fails
    plt.close("all")
    kept = nms_explorer(np.zeros((HEIGHT, WIDTH)), CANDIDATES, CANDIDATE_SCORES, GT, 0.5, 0.45)
    assert kept.tolist() == [0]
    assert len(plt.get_fignums()) == 1
    assert plt.gcf().axes[0].get_title().endswith("1 kept")
    plt.close("all")


def test_nms_explorer_static_when_asked_even_with_ipywidgets():
    import matplotlib.pyplot as plt
    from boxloc.plotting import nms_explorer
    plt.close("all")
    kept = nms_explorer(np.zeros((HEIGHT, WIDTH)), CANDIDATES, CANDIDATE_SCORES, interactive=False)
    assert kept.tolist() == [0] and len(plt.get_fignums()) == 1       # defaults 0.5 and 0.3
    plt.close("all")


def test_nms_explorer_sliders_redraw_with_ipywidgets():
    pytest.importorskip("ipywidgets")
    import matplotlib.pyplot as plt
    from boxloc.plotting import nms_explorer
    plt.close("all")
    widget = nms_explorer(np.zeros((HEIGHT, WIDTH)), CANDIDATES, CANDIDATE_SCORES, GT, 0.5, 0.3)
    score, iou = widget.kwargs_widgets
    assert (score.description, score.value, iou.description, iou.value) == (
        "score threshold", 0.5, "NMS IoU threshold", 0.3)
    assert widget.result.tolist() == [0]                          # drawn once at the start
    picture = widget.children[-1]
    first = picture.value
    iou.value = 0.5                                               # IoU(0, 1) = 0.5 survives
    assert widget.result.tolist() == [0, 1]
    score.value = 0.1
    assert widget.result.tolist() == [0, 1, 2, 3]
    assert first[:4] == picture.value[:4] == b"\x89PNG" and picture.value != first
    assert plt.get_fignums() == []                     # drawn off pyplot: not shown twice


def test_anchor_explorer_static_figure_reports_the_coverage_of_the_setting(monkeypatch):
    import matplotlib.pyplot as plt
    from boxloc import BoundingBox
    from boxloc.coverage import anchor_coverage
    from boxloc.examples import lesion_masks
    from boxloc.plotting import anchor_explorer
    monkeypatch.setitem(sys.modules, "ipywidgets", None)          # import ipywidgets fails
    masks = lesion_masks(4, (240, 240), seed=1)
    plt.close("all")
    report = anchor_explorer(masks[0].astype(float), masks[0], masks, c=(2, 3), smallest=8,
                             iou_upper=0.5, iou_lower=0.7)         # lower above upper: lowered
    expected = anchor_coverage(BoundingBox((240, 240), c=[2, 3], anchor_shapes=[8, 16],
                                           iou_upper=0.5, iou_lower=0.5), masks)
    assert report.fraction_covered == expected.fraction_covered
    assert report.num_boxes == expected.num_boxes > 0
    title = plt.gcf().axes[0].get_title()
    assert title.startswith("40,500 anchors; ") and "boxes covered" in title   # (3600 + 900) x 9
    plt.close("all")


def test_anchor_explorer_controls_redraw_with_ipywidgets():
    pytest.importorskip("ipywidgets")
    import matplotlib.pyplot as plt
    from boxloc.examples import lesion_masks
    from boxloc.plotting import anchor_explorer
    masks = lesion_masks(2, (240, 240), seed=3)
    plt.close("all")
    widget = anchor_explorer(masks[0].astype(float), masks[0], masks)
    controls = {w.description: w for w in widget.kwargs_widgets}
    assert set(controls) == {"levels c", "smallest base size (px)", "scales", "ratios w/h",
                             "iou_upper", "iou_lower"}
    before = widget.result.fraction_covered                        # tutorial: c3, c4; 32, 64 px
    first = widget.children[-1].value
    controls["levels c"].value = (2, 3, 4)
    controls["smallest base size (px)"].value = 12
    assert widget.result.fraction_covered >= before
    assert widget.children[-1].value != first

