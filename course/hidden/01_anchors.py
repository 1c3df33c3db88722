"""Hidden cases of assignment 1 (anchors): instructor only, never released or sent to students.

Each exercise's cases start with the visible ones; the rest are drawn from the grading secret's
generator ``rng`` (see course/classroom/grader/spec.py).
"""

import functools

import numpy as np

from classroom.grader.spec import Exercise, Part, call, value

# The library functions that answer each write-it-yourself exercise, with every alias under
# which boxloc exposes them (spec.py, ``solved_by``; tests/course/test_exercise_rubrics.py
# finds the aliases by scanning the library).
BOUNDING_BOX = ("boxloc.BoundingBox", "boxloc.bounding_box.BoundingBox", "boxloc.demo.BoundingBox",
                "boxloc.saving.BoundingBox")
ANCHORS = ("boxloc.Anchors", "boxloc.anchors.Anchors", "boxloc.make_anchors",
           "boxloc.anchors.make_anchors", "boxloc.bounding_box.make_anchors")
GRID_SHAPES = ("boxloc.grid_shapes", "boxloc.anchors.grid_shapes")


def count_anchors_cases(rng):
    visible = [[(240, 240), [3, 4], [0, 1, 2], [0.5, 1, 2]], [(96, 96), [3], [0], [1]],
               [(200, 300), [3, 5], [0, 1], [0.5, 2]]]
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
    return [[(240, 240), 1, [3, 4], 9], [(200, 300), 1, [3, 4], 9]] + drawn     # 2 visible


def library_target_shapes(shape, classes, levels, num_anchors):
    from boxloc import BoundingBox
    ratios = {3: [1], 6: [0.5, 2], 9: [0.5, 1, 2]}[num_anchors]
    bb = BoundingBox(shape, classes=classes, c=levels, anchor_shapes=[16] * len(levels),
                     anchor_scales=[0, 1, 2], anchor_ratios=ratios)
    return {k: tuple(v) for k, v in bb.params["inputs_shapes"].items() if not k.endswith("msk")}


def box_iou_cases(rng):
    """Cases 1-5 are the notebook's; then, for the rubric's parts (``BOX_IOU_PARTS``), boxes
    that all overlap (6-8), boxes apart, touching or overlapping, none of zero area (9-10),
    and zero-area boxes that lie inside every other box and on one row (11-12), so a missing
    clip at 0 costs only the second part and a 0 / 0 only the third."""
    visible = [[[[0, 0, 10, 10]], [[5, 5, 15, 15]]],                       # 25 / 175
               [[[0, 0, 10, 10]], [[10, 0, 20, 10]]],                      # touching: 0
               [[[0, 0, 10, 10]], [[2, 2, 6, 6]]],                         # containment: 0.16
               [[[5, 5, 5, 9], [0, 0, 10, 10]], [[5, 5, 5, 9]]],           # zero area: 0, no NaN
               [[[0, 0, 10, 10], [0, 0, 20, 20], [30, 30, 40, 50]],
                [[0, 0, 10, 10], [10, 10, 20, 20]]]]                       # 3 x 2
    overlapping = [[around(rng, int(rng.integers(1, 8)), fractional=number == 1)
                    for _ in range(2)] for number in range(2)]
    overlapping.append([around(rng, 40, fractional=False), around(rng, 30, fractional=False)])
    apart = []
    for _ in range(2):
        sets = []
        for size in rng.integers(2, 8, 2):
            corner = rng.integers(0, 80, (size, 2)).astype(float)
            sets.append(np.concatenate([corner, corner + rng.integers(1, 30, (size, 2))], axis=1))
        first = sets[0][0]                                                 # a box touching it
        sets[1][0] = [first[0], first[3], first[2], first[3] + rng.integers(1, 20)]
        apart.append([s.tolist() for s in sets])
    zero_area = []
    for _ in range(2):
        sets = []
        for size in rng.integers(1, 4, 2):
            boxes = around(rng, int(size), fractional=False, centre=(50, 50), least=3)
            lines = [[50, int(x), 50, int(x) + w] for x, w in zip(rng.integers(48, 51, 2), (0, 2))]
            sets.append(boxes + lines)                                     # a point and a line
        zero_area.append(sets)
    return visible + overlapping + apart + zero_area


def around(rng, size, fractional, centre=(50, 50), least=1):
    """``size`` boxes that all hold the square of half-side ``least`` around ``centre``: every
    pair overlaps, some are nested."""
    reach = rng.integers(least, 30, (size, 4)).astype(float)
    if fractional:
        reach += rng.random((size, 4))
    cy, cx = centre
    return np.stack([cy - reach[:, 0], cx - reach[:, 1], cy + reach[:, 2], cx + reach[:, 3]],
                    axis=1).tolist()


def library_box_iou(boxes1, boxes2):
    from boxloc.boxes import iou_matrix
    return iou_matrix(boxes1, boxes2)


LABEL_ANCHORS_VISIBLE = np.array([[0.70, 0.00],     # 1: IoU >= iou_upper
                                  [0.50, 0.00],     # 1: exactly iou_upper is positive
                                  [0.30, 0.00],     # -1: between the thresholds
                                  [0.20, 0.10],     # 0: exactly iou_lower is negative
                                  [0.00, 0.35],     # 1: the best anchor of box 1 (below 0.5)
                                  [0.30, 0.35],     # 1: tied best of box 1, beats box 0's band
                                  [0.05, 0.25]])    # -1: box 1's band is (0.2, 0.35)


def label_anchors_cases(rng):
    """Cases 1-2 are the notebook's; then, for the rubric's parts (``LABEL_ANCHORS_PARTS``),
    slices whose every box has an anchor at or above ``iou_upper`` (3-6: the thresholds alone
    decide), slices with a small box whose best IoU is below ``iou_upper`` and ties for it
    (7-9: its best anchors are positive), and slices without lesions (10)."""
    visible = [[LABEL_ANCHORS_VISIBLE, 0.5, 0.2], [np.zeros((4, 0)), 0.5, 0.2]]
    thresholds = [(0.5, 0.2), (0.5, 0.4), (0.6, 0.3), (0.4, 0.4), (0.7, 0.3)]
    plain_boxes, small_boxes = [], []
    for number in range(7):
        num_anchors, num_boxes = int(rng.integers(6, 40)), int(rng.integers(1, 4))
        iou = np.zeros((num_anchors, num_boxes))
        upper, lower = thresholds[number % len(thresholds)]
        for box in range(num_boxes):
            near = rng.choice(num_anchors, int(rng.integers(2, min(num_anchors, 10))), replace=False)
            small = number >= 4 and box == 0                               # a small box
            values = np.round(rng.uniform(0.01, 0.15 if small else 0.9, len(near)), 2)
            values[rng.random(len(near)) < 0.2] = upper                    # exact thresholds
            values[rng.random(len(near)) < 0.2] = lower
            if small:
                values = np.minimum(values, 0.15)
                values[1] = values.max()                                   # a tie for the best
            else:
                values[0] = max(values.max(), upper)                       # reaches iou_upper
            iou[near, box] = values
        (small_boxes if number >= 4 else plain_boxes).append([iou, upper, lower])
    return visible + plain_boxes + small_boxes + [[np.zeros((9, 0)), 0.6, 0.3]]


def library_label_anchors(iou, iou_upper, iou_lower):
    """1 positive / -1 ignored / 0 negative per anchor, by the library's matching (seed rule)
    for one slice whose anchors x boxes IoU matrix is ``iou``."""
    from boxloc.matching import IGNORE, dense_matches, match_anchors, pair_cells
    iou = np.asarray(iou, dtype=np.float64)
    num_anchors, num_boxes = iou.shape
    pair_anchor, pair_box = np.nonzero(iou > 0)
    slice_index = np.zeros(num_boxes, dtype=np.int64)
    matches = match_anchors(pair_box, pair_anchor, iou[pair_anchor, pair_box], slice_index, 1,
                            num_anchors, iou_upper, iou_lower, rule="seed")
    band = pair_cells(pair_box, pair_anchor, slice_index, num_anchors)[matches.band]
    matched = dense_matches(matches, band, 1, num_anchors)[0]
    return np.where(matched >= 0, 1, np.where(matched == IGNORE, -1, 0))


def random_anchor(rng):
    height, width = rng.uniform(10, 100, 2)
    return [float(v) for v in (*rng.uniform(0, 240, 2), height, width)]


def encode_box_cases(rng):
    drawn = []
    for _ in range(5):
        cy, cx, height, width = random_anchor(rng)
        by, bx = cy + rng.uniform(-0.5, 0.5) * height, cx + rng.uniform(-0.5, 0.5) * width
        bh, bw = height * np.exp(rng.uniform(-0.7, 0.7)), width * np.exp(rng.uniform(-0.7, 0.7))
        drawn.append([[by - bh / 2, bx - bw / 2, by + bh / 2, bx + bw / 2], [cy, cx, height, width]])
    return [[[100, 80, 140, 150], [112, 104, 50.797, 50.797]],
            [[10, 20, 50, 40], [30, 30, 40, 20]]] + drawn


def library_encode_box(box, anchor):
    from boxloc.deltas import encode_deltas
    return tuple(float(v) for v in encode_deltas([box], [anchor])[0])


def decode_box_cases(rng):
    drawn = [[[float(v) for v in (*rng.uniform(-0.5, 0.5, 2), *rng.uniform(-1, 1, 2))],
              random_anchor(rng)] for _ in range(5)]
    return [[[0.1575, 0.2165, -0.2390, 0.3207], [112, 104, 50.797, 50.797]]] + drawn


def library_decode_box(deltas, anchor):
    from boxloc.deltas import decode_deltas
    corners, _ = decode_deltas([deltas], [anchor])
    return [float(v) for v in corners[0]]


@functools.lru_cache(maxsize=None)
def small_lesion_masks():
    """((masks, least fraction of their small lesions covered), ...): the notebook's masks, then
    others; drawn once per judge (drawing them costs more than judging a configuration)."""
    from boxloc.examples import lesion_masks
    drawn = (lesion_masks(8, seed=1), 0.5), (lesion_masks(16, seed=11), 0.4)
    for masks, _ in drawn:
        masks.setflags(write=False)             # shared by every judged configuration
    return drawn


def small_config_problem(config):
    """Whether a configuration for small lesions keeps within 60,000 anchors and covers the
    small lesions of the notebook's masks (half) and of other masks (40%)."""
    from boxloc import BoundingBox
    from boxloc.coverage import anchor_coverage
    if type(config) is not dict or not {"c", "anchor_shapes"} <= set(config):
        return "expected a dict with the keys 'c' and 'anchor_shapes'"
    try:
        bb = BoundingBox((240, 240), c=list(config["c"]), anchor_shapes=list(config["anchor_shapes"]),
                         iou_upper=0.5, iou_lower=0.2)
    except Exception as error:        # the student reads the message: its type only (no echo)
        return f"BoundingBox does not accept it ({type(error).__name__})"
    if len(bb.anchors) > 60000:
        return f"{len(bb.anchors):,} anchors: more than 60,000"
    for (masks, least), which in zip(small_lesion_masks(),
                                     ("the notebook's masks", "other masks the grader tried")):
        covered = anchor_coverage(bb, masks).by_size[0]["fraction_covered"]
        if covered < least:
            return (f"covers {covered:.0%} of the small lesions (under 16 px) of {which} "
                    f"(at least {least:.0%} needed)")
    return None


BOX_IOU_PARTS = (Part("overlapping and nested boxes", 1, (1, 3, 6, 7, 8)),
                 Part("separate and touching boxes: IoU 0", 1, (2, 5, 9, 10)),
                 Part("zero-area boxes: IoU 0, not nan", 1, (4, 11, 12)))
LABEL_ANCHORS_PARTS = (Part("the thresholds: positive, ignored, negative", 1, (3, 4, 5, 6)),
                       Part("each box's best anchor is positive, ties too", 1, (1, 7, 8, 9)),
                       Part("a slice without lesions", 1, (2, 10)))

EXERCISES = [
    Exercise("test_count_anchors", call("count_anchors"), count_anchors_cases,
             expected=library_anchor_count, visible=3,
             solved_by=BOUNDING_BOX + ANCHORS + GRID_SHAPES),
    Exercise("test_anchor_size", call("anchor_size"), anchor_size_cases,
             expected=library_anchor_size, tolerance=1e-4, visible=2, fields=("height", "width"),
             solved_by=("boxloc.anchor_templates", "boxloc.anchors.anchor_templates")),
    Exercise("test_appearance", value("setting_effects"), kind="choice",
             expected={"c": "q", "anchor_shapes": "s", "anchor_ratios": "p", "anchor_scales": "r"}),
    Exercise("test_target_shapes", call("target_shapes"), target_shapes_cases,
             expected=library_target_shapes, visible=2, solved_by=BOUNDING_BOX + GRID_SHAPES),
    Exercise("test_box_iou", call("box_iou"), box_iou_cases, expected=library_box_iou,
             tolerance=1e-6, visible=5, parts=BOX_IOU_PARTS,
             solved_by=("boxloc.iou_matrix", "boxloc.boxes.iou_matrix", "boxloc.coverage.iou_matrix",
                        "boxloc.evaluation.iou_matrix", "boxloc.boxes.iou",
                        "boxloc.boxes.iou_one_to_many", "boxloc.bounding_box.iou_one_to_many")),
    Exercise("test_label_anchors", call("label_anchors"), label_anchors_cases,
             expected=library_label_anchors, visible=2, parts=LABEL_ANCHORS_PARTS,
             solved_by=("boxloc.match_anchors", "boxloc.matching.match_anchors",
                        "boxloc.targets.match_anchors", "boxloc.matching.dense_matches",
                        "boxloc.bounding_box.dense_matches")),
    Exercise("test_encode_box", call("encode_box"), encode_box_cases,
             expected=library_encode_box, tolerance=1e-4, visible=2,
             fields=("dy", "dx", "dh", "dw"),
             solved_by=("boxloc.encode_deltas", "boxloc.deltas.encode_deltas",
                        "boxloc.plotting.encode_deltas", "boxloc.targets.encode_deltas")),
    Exercise("test_decode_box", call("decode_box"), decode_box_cases,
             expected=library_decode_box, tolerance=1e-3, visible=1,
             fields=("y1", "x1", "y2", "x2"),
             solved_by=("boxloc.decode_deltas", "boxloc.deltas.decode_deltas",
                        "boxloc.bounding_box.decode_deltas")),
    Exercise("test_refinement", value("refinement_answer"), expected="b", kind="choice"),
    Exercise("test_small_config", value("small_lesion_config"), judge=small_config_problem,
             others="other masks"),
]
