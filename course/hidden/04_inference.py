"""Hidden cases of assignment 4 (inference): instructor only, never released or sent to students."""

import numpy as np

from grader.spec import Exercise, call, value

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



def prepare_data():
    """Build the phantom volumes the notebook loads when graded (sandboxes can read, not write,
    the cache)."""
    from boxloc.configs import notebook_data
    from boxloc.datasets.phantom import build_phantom
    build_phantom(**notebook_data("grading", held_out=True))


EXERCISES = [
    Exercise("test_my_nms", call("my_nms"), nms_cases, expected=library_nms, visible=1),
    Exercise("test_decoded", value("decoded_answer"), expected="b", kind="choice"),
    Exercise("test_count_kept", call("count_kept"), count_kept_cases, expected=library_count_kept,
             visible=1),
    Exercise("test_single_box", value("single_box_median_iou"), expected=1.0),
]
