"""Hidden cases of assignment 4 (inference): instructor only, never released or sent to students."""

import numpy as np

from classroom.grader.spec import Exercise, Part, call, value

TOY_BOXES = [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 20]]
TOY_SCORES = [0.9, 0.8, 0.7, 0.95]


def random_boxes(rng, n, extent, smallest, largest):
    corners = rng.uniform(0, extent, (n, 2))
    return np.concatenate([corners, corners + rng.uniform(smallest, largest, (n, 2))], axis=1)


def nms_cases(rng):
    cases = [[TOY_BOXES, TOY_SCORES, 0.45],
             [[[0, 0, 10, 10], [0, 0, 10, 20]], [0.9, 0.8], 0.5]]    # IoU exactly at the threshold
    for threshold in (0.3, 0.5, float(rng.uniform(0.1, 0.9))):
        cases.append([random_boxes(rng, 60, 100, 5, 40), rng.permutation(60) / 60, threshold])
    return cases


def library_nms(boxes, scores, iou_threshold):
    from boxloc.nms import nms
    return [int(i) for i in nms(np.asarray(boxes, float), np.asarray(scores, float), iou_threshold)]


def count_kept_cases(rng):
    boxes, scores = random_boxes(rng, 300, 200, 4, 50), rng.random(300)
    drawn = [[boxes, scores, float(s), float(t)] for s, t in
             [(0.0, 0.5), (0.5, 0.5), (0.9, 0.1), (0.3, 0.99), (rng.uniform(0, 1), rng.uniform(0, 1))]]
    return [[TOY_BOXES, TOY_SCORES, 0.75, 0.45], [[[0, 0, 1, 1]], [0.5], 0.5, 0.5]] + drawn


def library_count_kept(boxes, scores, score_threshold, iou_threshold):
    from boxloc.nms import nms
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    scores = np.asarray(scores, dtype=float)
    above = scores > score_threshold
    return len(nms(boxes[above], scores[above], iou_threshold))


# one slice: predictions A and B, lesions L0 and L1 (IoU(A, L0) 0.67, IoU(A, L1) 0.43,
# IoU(B, L0) 1, IoU(B, L1) 0.25): at IoU 0.4 the order decides whether B finds a lesion
BOX_A, BOX_B, LESION_0, LESION_1 = [0, 2, 10, 12], [0, 0, 10, 10], [0, 0, 10, 10], [0, 6, 10, 16]


def slice_count_cases(rng):
    """The notebook's five cases; then slices whose lesions lie 70 px or more apart, each with
    a few noisy boxes on it and boxes elsewhere (6-11: no box can match two lesions, so the
    order of matching does not change the counts), and a slice without any box (12). The
    rubric's parts: matching (1, 2, 6-11), the order (3, 4), no prediction (5, 12)."""
    cases = [[[[11, 10, 31, 30], [12, 12, 32, 32], [80, 80, 100, 100]], [0.9, 0.6, 0.7],
              [[10, 10, 30, 30], [50, 50, 70, 80]], 0.5],          # a hit, a duplicate, a miss
             [[[0, 0, 10, 20]], [0.8], [[0, 0, 10, 10]], 0.5],     # IoU exactly at the threshold
             [[BOX_B, BOX_A], [0.6, 0.9], [LESION_0, LESION_1], 0.4],   # higher score first
             [[BOX_A, BOX_B], [0.7, 0.7], [LESION_0, LESION_1], 0.4],   # a tie: input order
             [[], [], [LESION_0], 0.5]]                            # no prediction
    for threshold in (0.1, 0.3, 0.5, 0.5, 0.7, float(rng.uniform(0.1, 0.9))):
        cells = rng.permutation(4)[:int(rng.integers(1, 5))]      # lesions in a 2 x 2 grid
        corners = 150 * np.stack([cells // 2, cells % 2], axis=1) + rng.uniform(0, 40, (len(cells), 2))
        truth = np.concatenate([corners, corners + rng.uniform(8, 40, (len(cells), 2))], axis=1)
        near = truth[rng.integers(0, len(truth), int(rng.integers(1, 2 * len(truth) + 2)))]
        near = near + rng.normal(0, 2.5, near.shape)               # several boxes per lesion
        far = random_boxes(rng, int(rng.integers(0, 4)), 260, 8, 40)
        boxes = np.concatenate([near, far])[rng.permutation(len(near) + len(far))]
        scores = np.round(rng.random(len(boxes)), 1)                # ties happen
        cases.append([boxes, scores, truth, threshold])
    return cases + [[[], [], [], 0.5]]


def library_slice_counts(pred_boxes, pred_scores, true_boxes, iou_threshold):
    """(TP, FP, FN) of one slice by the library's slice-level matching."""
    from boxloc.evaluation import match_detections
    pred = np.asarray(pred_boxes, dtype=float).reshape(-1, 4)
    true = np.asarray(true_boxes, dtype=float).reshape(-1, 4)
    detections = [{"boxes": [pred], "scores": [np.asarray(pred_scores, dtype=float).reshape(-1)]}]
    truths = [{"boxes": [true], "lesions": [np.arange(1, len(true) + 1)]}]
    _, is_tp, _, _, num_truths = match_detections(detections, truths, iou_threshold, "slice")
    tp = int(is_tp.sum())
    return (tp, len(pred) - tp, num_truths - tp)


def sens_ppv_cases(rng):
    cases = [[1, 2, 1], [3, 0, 0], [0, 4, 2]]
    while len(cases) < 8:
        tp, fp, fn = (int(n) for n in rng.integers(0, 25, 3))
        if tp + fn and tp + fp:
            cases.append([tp, fp, fn])
    return cases


def library_sens_ppv(tp, fp, fn):
    """(sensitivity, PPV) by the library, on a slice built to have these counts."""
    from boxloc.evaluation import sensitivity_ppv
    true = np.array([[0, 20 * i, 10, 20 * i + 10] for i in range(tp + fn)], float).reshape(-1, 4)
    false = np.array([[100, 20 * i, 110, 20 * i + 10] for i in range(fp)], float).reshape(-1, 4)
    pred = np.concatenate([true[:tp], false])
    detections = [{"boxes": [pred], "scores": [np.ones(len(pred))]}]
    truths = [{"boxes": [true], "lesions": [np.arange(1, len(true) + 1)]}]
    return tuple(float(v) for v in sensitivity_ppv(detections, truths, 0.5, score_threshold=0.5))


def prepare_data():
    """Build the phantom volumes the notebook loads when graded (sandboxes can read, not write,
    the cache)."""
    from boxloc.configs import notebook_data
    from boxloc.datasets.phantom import build_phantom
    build_phantom(**notebook_data("grading", held_out=True))


NMS = ("boxloc.nms", "boxloc.nms.nms", "boxloc.bounding_box.nms", "boxloc.plotting.nms",
       "boxloc.batched_nms", "boxloc.nms.batched_nms")

EXERCISES = [
    Exercise("test_my_nms", call("my_nms"), nms_cases, expected=library_nms, visible=2,
             solved_by=NMS,
             parts=(Part("greedy suppression, highest score first", 2, (1, 3, 4, 5)),
                    Part("an IoU equal to the threshold is not suppressed", 1, (2,)))),
    Exercise("test_decoded", value("decoded_answer"), expected="b", kind="choice"),
    Exercise("test_count_kept", call("count_kept"), count_kept_cases, expected=library_count_kept,
             visible=2, solved_by=NMS,
             parts=(Part("scores above the threshold, then NMS", 1, (1, 3, 4, 5, 6, 7)),
                    Part("a score equal to the threshold is not above it", 1, (2,)))),
    Exercise("test_slice_counts", call("slice_counts"), slice_count_cases,
             expected=library_slice_counts, visible=5, fields=("TP", "FP", "FN"),
             solved_by=("boxloc.evaluation.match_detections", "boxloc.evaluation.sensitivity_ppv"),
             parts=(Part("hits, second boxes on a lesion, false alarms and misses", 1,
                         (1, 2, 6, 7, 8, 9, 10, 11)),
                    Part("the higher score chooses first, equal scores in input order", 1, (3, 4)),
                    Part("a slice without predictions", 1, (5, 12)))),
    Exercise("test_sens_ppv", call("sens_and_ppv"), sens_ppv_cases, expected=library_sens_ppv,
             visible=1, fields=("sensitivity", "PPV"),
             solved_by=("boxloc.evaluation.sensitivity_ppv", "boxloc.evaluation.match_detections")),
    Exercise("test_single_box", value("single_box_median_iou"), expected=1.0),
]
