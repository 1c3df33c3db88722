"""Hidden cases of assignment 1 (anchors): instructor only, never released or sent to students.

Each exercise's cases start with the visible ones; the rest are drawn from the grading secret's
generator ``rng`` (see course/grader/spec.py).
"""

from grader.spec import Exercise, call, value


def count_anchors_cases(rng):
    visible = [[(240, 240), [3, 4], [0, 1, 2], [0.5, 1, 2]], [(96, 96), [3], [0], [1]]]
    drawn = []
    for _ in range(4):
        shape = tuple(int(n) for n in rng.integers(64, 320, 2))
        levels = sorted(int(n) for n in rng.choice([2, 3, 4, 5], rng.integers(1, 4), replace=False))
        scales = list(range(int(rng.integers(1, 4))))
        ratios = [float(r) for r in rng.choice([0.5, 1.0, 2.0, 3.0], rng.integers(1, 4), replace=False)]
        drawn.append([shape, levels, scales, ratios])
    return visible + drawn + [[(200, 300), [2, 5], [0, 1], [0.5, 2]]]


def library_anchor_count(shape, levels, scales, ratios):
    from boxloc import BoundingBox
    return len(BoundingBox(shape, c=levels, anchor_shapes=[16] * len(levels),
                           anchor_scales=scales, anchor_ratios=ratios).anchors)


def anchor_size_cases(rng):
    drawn = [[int(rng.choice([8, 16, 32, 64])), int(rng.integers(-1, 3)),
              float(rng.choice([0.5, 1.0, 2.0, 3.0]))] for _ in range(4)]
    return [[32, 0, 1], [32, 0, 0.5], [32, 2, 2]] + drawn


def library_anchor_size(base, scale, ratio):
    from boxloc.anchors import anchor_templates
    height, width = anchor_templates(base, [scale], [ratio])[0]
    return (float(height), float(width))


def target_shapes_cases(rng):
    drawn = []
    for _ in range(3):
        shape = tuple(int(n) for n in rng.integers(64, 320, 2))
        levels = sorted(int(n) for n in rng.choice([2, 3, 4, 5], rng.integers(1, 4), replace=False))
        drawn.append([shape, int(rng.integers(1, 4)), levels, int(rng.choice([3, 6, 9]))])
    return [[(240, 240), 1, [3, 4], 9], [(200, 300), 1, [3, 4], 9]] + drawn


def library_target_shapes(shape, classes, levels, num_anchors):
    from boxloc import BoundingBox
    ratios = {3: [1], 6: [0.5, 2], 9: [0.5, 1, 2]}[num_anchors]
    bb = BoundingBox(shape, classes=classes, c=levels, anchor_shapes=[16] * len(levels),
                     anchor_scales=[0, 1, 2], anchor_ratios=ratios)
    return {k: tuple(v) for k, v in bb.params["inputs_shapes"].items() if not k.endswith("msk")}


def small_config_problem(config):
    """Whether a configuration for small lesions keeps within 60,000 anchors and covers the
    small lesions of the notebook's masks (half) and of other masks (40%)."""
    from boxloc import BoundingBox
    from boxloc.coverage import anchor_coverage
    from boxloc.examples import lesion_masks
    if type(config) is not dict or not {"c", "anchor_shapes"} <= set(config):
        return "expected a dict with the keys 'c' and 'anchor_shapes'"
    try:
        bb = BoundingBox((240, 240), c=list(config["c"]), anchor_shapes=list(config["anchor_shapes"]),
                         iou_upper=0.5, iou_lower=0.2)
    except Exception as error:
        return f"BoundingBox rejects it: {type(error).__name__}: {error}"
    if len(bb.anchors) > 60000:
        return f"{len(bb.anchors):,} anchors: more than 60,000"
    for masks, least in ((lesion_masks(8, seed=1), 0.5), (lesion_masks(16, seed=11), 0.4)):
        covered = anchor_coverage(bb, masks).by_size[0]["fraction_covered"]
        if covered < least:
            return f"covers {covered:.0%} of the small lesions of a set of masks (at least {least:.0%} needed)"
    return None


EXERCISES = [
    Exercise("test_count_anchors", call("count_anchors"), count_anchors_cases,
             expected=library_anchor_count, visible=2),
    Exercise("test_anchor_size", call("anchor_size"), anchor_size_cases,
             expected=library_anchor_size, tolerance=1e-4, visible=1),
    Exercise("test_appearance", value("setting_effects"), kind="choice",
             expected={"c": "a", "anchor_shapes": "b", "anchor_ratios": "c", "anchor_scales": "d"}),
    Exercise("test_target_shapes", call("target_shapes"), target_shapes_cases,
             expected=library_target_shapes, visible=1),
    Exercise("test_refinement", value("refinement_answer"), expected="b", kind="choice"),
    Exercise("test_small_config", value("small_lesion_config"), judge=small_config_problem),
]
