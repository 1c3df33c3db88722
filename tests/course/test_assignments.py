"""Every assignment graded by the course's grader (each submission in its own sandbox, the
answers judged in a clean interpreter, nbgrader's gradebook): full marks for the solutions and
for correct answers written differently, zero for an untouched release, partial marks for a
partial submission, and each typical mistake loses the marks of its exercise only.

The typical mistakes and the other forms of correct answers are many (about 40 notebooks), and
what they check is the hidden cases and the comparison, not the sandbox: each is judged in this
process (course_helpers.JudgeHere: the answers recorded as the kernel records them, the judge's
own verdicts). The first mistake and the first other form of each assignment are also graded
end to end, and there the sandbox's verdicts must be the ones judged here."""

import json

import nbformat
import pytest

from classroom.grader.records import expected_score
from course_helpers import COURSE, ROOT, JudgeHere, fill, grade, make_course, release_points, scores, solution_cells, submit

# Per assignment: notebook, points per test cell, a partial submission (solution cells kept;
# None where the earlier assignments already show it, to keep the suite fast), typical
# mistakes: name -> (the test cell that must fail, {solution cell: wrong code}), and correct
# answers in another reasonable form (NumPy or float numbers, lists for tuples, letters in
# another case, Keras tensors): name -> {solution cell: code}, all of which keep full marks.
ASSIGNMENTS = {
    "01_anchors": {
        "notebook": "anchors.ipynb",
        "points": {"test_count_anchors": 2, "test_anchor_size": 2, "test_appearance": 2,
                   "test_target_shapes": 2, "test_box_iou": 3, "test_label_anchors": 3,
                   "test_encode_box": 2, "test_decode_box": 2, "test_refinement": 1,
                   "test_small_config": 2},
        "partial": ("count_anchors", "refinement"),
        "wrong": {
            "off_by_one_grid": ("test_count_anchors", {"count_anchors": '''
def count_anchors(image_shape, c, anchor_scales, anchor_ratios):
    import math
    return sum(math.ceil(image_shape[0] / 2 ** l) * math.ceil(image_shape[1] / 2 ** l)
               * len(anchor_scales) * len(anchor_ratios) for l in c)'''}),
            "per_level_counts": ("test_count_anchors", {"count_anchors": '''
def count_anchors(image_shape, c, anchor_scales, anchor_ratios):
    return [int(image_shape[0] / 2 ** l) * int(image_shape[1] / 2 ** l)
            * len(anchor_scales) * len(anchor_ratios) for l in c]'''}),
            "swapped_height_width": ("test_anchor_size", {"anchor_size": '''
def anchor_size(base_size, scale, ratio):
    size = base_size * 2 ** (scale / 3)
    return size * np.sqrt(ratio), size / np.sqrt(ratio)'''}),
            "ratio_inverted": ("test_anchor_size", {"anchor_size": '''
def anchor_size(base_size, scale, ratio):
    size = base_size * 2 ** (scale / 3)
    return size / np.sqrt(1 / ratio), size * np.sqrt(1 / ratio)'''}),
            "swapped_y_x": ("test_target_shapes", {"target_shapes": '''
def target_shapes(image_shape, classes, c, num_anchors):
    height, width = image_shape
    shapes = {}
    for level in c:
        grid = (int(width / 2 ** level), int(height / 2 ** level))
        shapes[f"cls-c{level}"] = (1, *grid, num_anchors * classes)
        shapes[f"reg-c{level}"] = (1, *grid, num_anchors * 4)
    return shapes'''}),
            "shapes_and_scales_swapped": ("test_appearance", {"appearance":
                'setting_effects = {"c": "q", "anchor_shapes": "r", "anchor_ratios": "p", "anchor_scales": "s"}'}),
            "iou_plus_one_pixel": ("test_box_iou", {"box_iou": '''
def box_iou(boxes1, boxes2):
    a, b = np.asarray(boxes1, float)[:, None], np.asarray(boxes2, float)[None]
    h = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1, 0, None)
    w = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1, 0, None)
    area = lambda x: (x[..., 2] - x[..., 0] + 1) * (x[..., 3] - x[..., 1] + 1)
    return h * w / (area(a) + area(b) - h * w)'''}),
            "iou_overlap_not_clipped": ("test_box_iou", {"box_iou": '''
def box_iou(boxes1, boxes2):
    a, b = np.asarray(boxes1, float)[:, None], np.asarray(boxes2, float)[None]
    inter = ((np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]))
             * (np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])))
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])
    union = area(a) + area(b) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)'''}),
            "iou_nan_for_empty_union": ("test_box_iou", {"box_iou": '''
def box_iou(boxes1, boxes2):
    a, b = np.asarray(boxes1, float)[:, None], np.asarray(boxes2, float)[None]
    h = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    w = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])
    with np.errstate(invalid="ignore"):
        return h * w / (area(a) + area(b) - h * w)'''}),
            "no_forced_best_anchor": ("test_label_anchors", {"label_anchors": '''
def label_anchors(iou, iou_upper, iou_lower):
    iou = np.asarray(iou, float)
    positive = (iou >= iou_upper).any(axis=1)
    ignored = ((iou > iou_lower) & (iou < iou_upper)).any(axis=1)
    return np.where(positive, 1, np.where(ignored, -1, 0))'''}),
            "best_anchor_by_argmax_drops_ties": ("test_label_anchors", {"label_anchors": '''
def label_anchors(iou, iou_upper, iou_lower):
    iou = np.asarray(iou, float)
    positive = (iou >= iou_upper).any(axis=1)
    if iou.shape[1]:
        positive[iou.argmax(axis=0)] = True
    up = np.minimum(iou_upper, iou.max(axis=0, initial=0))
    ignored = ((iou > np.minimum(iou_lower, up)) & (iou < up)).any(axis=1)
    return np.where(positive, 1, np.where(ignored, -1, 0))'''}),
            "iou_lower_counts_as_ignored": ("test_label_anchors", {"label_anchors": '''
def label_anchors(iou, iou_upper, iou_lower):
    iou = np.asarray(iou, float)
    up = np.minimum(iou_upper, iou.max(axis=0, initial=0))
    lo = np.minimum(iou_lower, up)
    positive = ((iou >= up) & (iou > 0)).any(axis=1)
    ignored = ((iou >= lo) & (iou < up) & (iou > 0)).any(axis=1)
    return np.where(positive, 1, np.where(ignored, -1, 0))'''}),
            "shift_in_box_sizes": ("test_encode_box", {"encode_box": '''
def encode_box(box, anchor):
    y1, x1, y2, x2 = box
    cy, cx, h, w = anchor
    return (((y1 + y2) / 2 - cy) / (y2 - y1), ((x1 + x2) / 2 - cx) / (x2 - x1),
            np.log((y2 - y1) / h), np.log((x2 - x1) / w))'''}),
            "size_ratio_inverted": ("test_encode_box", {"encode_box": '''
def encode_box(box, anchor):
    y1, x1, y2, x2 = box
    cy, cx, h, w = anchor
    return ((y1 + y2) / 2 - cy) / h, ((x1 + x2) / 2 - cx) / w, np.log(h / (y2 - y1)), np.log(w / (x2 - x1))'''}),
            "centre_moved_by_the_new_size": ("test_decode_box", {"decode_box": '''
def decode_box(deltas, anchor):
    dy, dx, dh, dw = deltas
    cy, cx, h, w = anchor
    h, w = h * np.exp(dh), w * np.exp(dw)
    cy, cx = cy + dy * h, cx + dx * w
    return [cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2]'''}),
            "decoded_to_centre_form": ("test_decode_box", {"decode_box": '''
def decode_box(deltas, anchor):
    dy, dx, dh, dw = deltas
    cy, cx, h, w = anchor
    return [cy + dy * h, cx + dx * w, h * np.exp(dh), w * np.exp(dw)]'''}),
            "nms_averages": ("test_refinement", {"refinement": 'refinement_answer = "a"'}),
            "seed_anchors_for_small_lesions": ("test_small_config", {"small_config":
                'small_lesion_config = dict(c=[3, 4], anchor_shapes=[32, 64])'}),
        },
        "variants": {
            "numpy_and_float_forms": {"count_anchors": '''
def count_anchors(image_shape, c, anchor_scales, anchor_ratios):
    total = 0.0
    for level in c:
        grid = np.floor(np.asarray(image_shape) / 2 ** level)
        total += grid.prod() * len(anchor_scales) * len(anchor_ratios)
    return total''', "anchor_size": '''
def anchor_size(base_size, scale, ratio):
    size = base_size * 2 ** (scale / 3)
    return np.array([size / ratio ** 0.5, size * ratio ** 0.5])''', "target_shapes": '''
def target_shapes(image_shape, classes, c, num_anchors):
    shapes = {}
    for level in reversed(c):
        grid = [np.int64(n // 2 ** level) for n in image_shape]
        shapes["reg-c%d" % level] = [1, *grid, num_anchors * 4]
        shapes["cls-c%d" % level] = [1, *grid, num_anchors * classes]
    return shapes'''},
            "loops_lists_and_math": {"box_iou": '''
def box_iou(boxes1, boxes2):
    rows = []
    for y1, x1, y2, x2 in boxes1:
        row = []
        for v1, u1, v2, u2 in boxes2:
            inter = max(0, min(y2, v2) - max(y1, v1)) * max(0, min(x2, u2) - max(x1, u1))
            union = (y2 - y1) * (x2 - x1) + (v2 - v1) * (u2 - u1) - inter
            row.append(inter / union if union > 0 else 0.0)
        rows.append(row)
    return rows''', "label_anchors": '''
def label_anchors(iou, iou_upper, iou_lower):
    iou = np.asarray(iou, dtype=float)
    labels = [0] * len(iou)
    for j in range(iou.shape[1]):
        up = min(iou_upper, iou[:, j].max())
        lo = min(iou_lower, up)
        for i in range(len(iou)):
            if iou[i, j] > 0 and iou[i, j] >= up:
                labels[i] = 1
            elif lo < iou[i, j] < up and labels[i] == 0:
                labels[i] = -1
    return labels''', "encode_box": '''
def encode_box(box, anchor):
    import math
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    size = np.array([box[2] - box[0], box[3] - box[1]])
    return [*((centre - anchor[:2]) / np.asarray(anchor[2:])), math.log(size[0] / anchor[2]),
            math.log(size[1] / anchor[3])]''', "decode_box": '''
def decode_box(deltas, anchor):
    anchor = np.asarray(anchor, dtype=np.float32)
    centre = anchor[:2] + np.asarray(deltas[:2]) * anchor[2:]
    size = anchor[2:] * np.exp(np.asarray(deltas[2:]))
    return np.concatenate([centre - size / 2, centre + size / 2]).astype(np.float32)'''},
            "letters_any_case_and_tuples": {
                "appearance": 'setting_effects = {"c": " Q", "anchor_shapes": "s ", "anchor_ratios": "P", "anchor_scales": " r "}',
                "refinement": 'refinement_answer = " B "',
                "small_config": 'small_lesion_config = {"c": (2, 3, 4), "anchor_shapes": (8, 24, 48)}'},
        },
    },
    "02_network": {
        "notebook": "network.ipynb",
        "points": {"test_feature_map_size": 2, "test_contracting_arm": 2, "test_top_down": 3,
                   "test_pyramid_serves": 2, "test_head_outputs": 2, "test_conv3d_params": 2},
        "partial": ("feature_map_size", "conv3d_params"),
        "wrong": {
            "floor_instead_of_ceil": ("test_feature_map_size", {"feature_map_size": '''
def feature_map_size(image_shape, num_downsamples):
    return image_shape[0] // 2 ** num_downsamples, image_shape[1] // 2 ** num_downsamples'''}),
            "depth_only": ("test_pyramid_serves", {"pyramid_serves": '''
def pyramid_serves(image_shape, c, num_downsamples):
    return max(c) <= num_downsamples'''}),
            "projects_the_coarser_map": ("test_top_down", {"top_down": '''
def my_top_down(coarser, finer, width):
    projected = layers.Conv3D(width, (1, 1, 1))(coarser)
    return layers.UpSampling3D((1, 2, 2))(projected) + finer'''}),
            "upsamples_z_too": ("test_top_down", {"top_down": '''
def my_top_down(coarser, finer, width):
    return layers.UpSampling3D(2)(coarser) + layers.Conv3D(width, (1, 1, 1))(finer)'''}),
            "concatenates": ("test_top_down", {"top_down": '''
def my_top_down(coarser, finer, width):
    upsampled = layers.UpSampling3D((1, 2, 2))(coarser)
    return layers.Concatenate()([upsampled, layers.Conv3D(width, (1, 1, 1))(finer)])'''}),
            "projects_3x3x3": ("test_top_down", {"top_down": '''
def my_top_down(coarser, finer, width):
    upsampled = layers.UpSampling3D((1, 2, 2))(coarser)
    return upsampled + layers.Conv3D(width, (3, 3, 3), padding="same")(finer)'''}),
        },
        "variants": {
            "numpy_forms": {"feature_map_size": '''
def feature_map_size(image_shape, num_downsamples):
    return list(np.ceil(np.asarray(image_shape) / 2 ** num_downsamples).astype(int))''',
                            "pyramid_serves": '''
def pyramid_serves(image_shape, c, num_downsamples):
    grids = [np.ceil(np.asarray(image_shape) / 2 ** l) for l in c]
    wanted = [np.floor(np.asarray(image_shape) / 2 ** l) for l in c]
    return np.bool_(max(c) <= num_downsamples and all((g == w).all() for g, w in zip(grids, wanted)))''',
                            "head_outputs": '''
def head_outputs(c, num_anchors, classes):
    return {**{f"reg-c{l}": np.int64(4 * num_anchors) for l in c},
            **{f"cls-c{l}": float(num_anchors * classes) for l in c}}''',
                            "conv3d_params": '''
def conv3d_params(kernel, c_in, c_out):
    return np.prod(kernel) * c_in * c_out + c_out''',
                            "top_down": '''
def my_top_down(coarser, finer, width):
    ops = keras.ops
    upsampled = ops.repeat(ops.repeat(coarser, 2, axis=2), 2, axis=3)
    return ops.add(upsampled, layers.Dense(width)(finer))   # a 1x1x1 convolution is a Dense'''},
            "tensorflow_top_down": {"top_down": '''
import tensorflow as tf

def my_top_down(coarser, finer, width):
    upsample = layers.Lambda(lambda t: tf.repeat(tf.repeat(t, 2, axis=2), 2, axis=3))
    return layers.Add()([upsample(coarser), layers.Conv3D(width, 1)(finer)])'''},
        },
    },
    "03_training": {
        "notebook": "training.ipynb",
        "points": {"test_focal_elements": 2, "test_masked_mean": 2, "test_smooth_l1": 2},
        "partial": None,
        "wrong": {
            "alpha_on_negatives_too": ("test_focal_elements", {"focal_elements": '''
def focal_elements(y_true, logits, gamma=2.0, alpha=0.25):
    x = np.asarray(logits, dtype=np.float64)
    p = 1 / (1 + np.exp(-x))
    return np.where(np.asarray(y_true) > 0, alpha * np.logaddexp(0, -x) * (1 - p) ** gamma,
                    alpha * np.logaddexp(0, x) * p ** gamma)'''}),
            "focal_loss_without_the_mask": ("test_masked_mean", {"masked_mean": '''
def masked_mean(values, weights):
    return float(np.mean(values))'''}),
            "masked_mean_per_positive": ("test_masked_mean", {"masked_mean": '''
def masked_mean(values, weights):
    return float(np.sum(np.multiply(values, weights)) / max(np.sum(weights), 1))'''}),
            "smooth_l1_with_delta_1_inside": ("test_smooth_l1", {"smooth_l1_elements": '''
def smooth_l1_elements(y_true, y_pred, delta=1.0):
    error = np.abs(np.subtract(y_pred, y_true))
    return np.where(error <= delta, 0.5 * error ** 2, error - 0.5)'''}),
        },
        "variants": {
            "keras_ops_tensors": {"focal_elements": '''
def focal_elements(y_true, logits, gamma=2.0, alpha=0.25):
    ops = keras.ops
    x = ops.convert_to_tensor(np.asarray(logits, dtype="float64"))
    y = ops.convert_to_tensor(np.asarray(y_true, dtype="float64"))
    p = ops.sigmoid(x)
    positive = alpha * ops.softplus(-x) * (1 - p) ** gamma
    negative = ops.softplus(x) * p ** gamma
    return ops.where(y > 0, positive, negative)''', "masked_mean": '''
def masked_mean(values, weights):
    return np.sum(np.multiply(values, weights)) / np.size(values)''', "smooth_l1_elements": '''
def smooth_l1_elements(y_true, y_pred, delta=1.0):
    error = np.abs(np.subtract(y_pred, y_true))
    quadratic = np.minimum(error, delta)
    return 0.5 * quadratic ** 2 + delta * (error - quadratic)'''},
        },
    },
    "04_inference": {
        "notebook": "inference.ipynb",
        "points": {"test_my_nms": 3, "test_decoded": 1, "test_count_kept": 2, "test_slice_counts": 3,
                   "test_sens_ppv": 1, "test_single_box": 1},
        "partial": None,
        "wrong": {
            "nms_with_greater_or_equal": ("test_my_nms", {"my_nms": '''
def my_nms(boxes, scores, iou_threshold):
    boxes, scores = np.asarray(boxes, dtype=float), np.asarray(scores, dtype=float)
    order, keep = list(np.argsort(-scores)), []
    while order:
        best = order.pop(0)
        keep.append(int(best))
        if order:
            overlap = iou_matrix(boxes[[best]], boxes[order])[0]
            order = [i for i, o in zip(order, overlap) if o < iou_threshold]
    return keep'''}),
            "nms_without_score_sort": ("test_my_nms", {"my_nms": '''
def my_nms(boxes, scores, iou_threshold):
    boxes = np.asarray(boxes, dtype=float)
    order, keep = list(range(len(boxes))), []
    while order:
        best = order.pop(0)
        keep.append(best)
        if order:
            overlap = iou_matrix(boxes[[best]], boxes[order])[0]
            order = [i for i, o in zip(order, overlap) if o <= iou_threshold]
    return keep'''}),
            "score_threshold_inclusive": ("test_count_kept", {"count_kept": '''
def count_kept(boxes, scores, score_threshold, iou_threshold):
    boxes, scores = np.asarray(boxes, dtype=float).reshape(-1, 4), np.asarray(scores, dtype=float)
    above = scores >= score_threshold
    return len(nms(boxes[above], scores[above], iou_threshold))'''}),
            "two_boxes_on_one_lesion_both_count": ("test_slice_counts", {"slice_counts": '''
def slice_counts(pred_boxes, pred_scores, true_boxes, iou_threshold):
    hits = iou_matrix(np.reshape(pred_boxes, (-1, 4)), np.reshape(true_boxes, (-1, 4))) >= iou_threshold
    tp = int(hits.any(axis=1).sum())
    return tp, len(hits) - tp, int((~hits.any(axis=0)).sum())'''}),
            "match_strictly_above_the_threshold": ("test_slice_counts", {"slice_counts": '''
def slice_counts(pred_boxes, pred_scores, true_boxes, iou_threshold):
    pred, true = np.reshape(pred_boxes, (-1, 4)), np.reshape(true_boxes, (-1, 4))
    ious, taken, tp = iou_matrix(pred, true), np.zeros(len(true), bool), 0
    for i in np.argsort(-np.asarray(pred_scores, dtype=float), kind="stable"):
        free = np.flatnonzero((ious[i] > iou_threshold) & ~taken)
        if len(free):
            taken[free[np.argmax(ious[i, free])]] = True
            tp += 1
    return tp, len(pred) - tp, len(true) - tp'''}),
            "match_in_list_order": ("test_slice_counts", {"slice_counts": '''
def slice_counts(pred_boxes, pred_scores, true_boxes, iou_threshold):
    pred, true = np.reshape(pred_boxes, (-1, 4)), np.reshape(true_boxes, (-1, 4))
    ious, taken, tp = iou_matrix(pred, true), np.zeros(len(true), bool), 0
    for i in range(len(pred)):
        free = np.flatnonzero((ious[i] >= iou_threshold) & ~taken)
        if len(free):
            taken[free[np.argmax(ious[i, free])]] = True
            tp += 1
    return tp, len(pred) - tp, len(true) - tp'''}),
            "ties_in_reverse_order": ("test_slice_counts", {"slice_counts": '''
def slice_counts(pred_boxes, pred_scores, true_boxes, iou_threshold):
    pred, true = np.reshape(pred_boxes, (-1, 4)), np.reshape(true_boxes, (-1, 4))
    ious, taken, tp = iou_matrix(pred, true), np.zeros(len(true), bool), 0
    for i in np.argsort(np.asarray(pred_scores, dtype=float), kind="stable")[::-1]:
        free = np.flatnonzero((ious[i] >= iou_threshold) & ~taken)
        if len(free):
            taken[free[np.argmax(ious[i, free])]] = True
            tp += 1
    return tp, len(pred) - tp, len(true) - tp'''}),
            "sensitivity_and_ppv_swapped": ("test_sens_ppv", {"sens_ppv": '''
def sens_and_ppv(tp, fp, fn):
    return tp / (tp + fp), tp / (tp + fn)'''}),
        },
        "variants": {
            "arrays_and_capitals": {"my_nms": '''
def my_nms(boxes, scores, iou_threshold):
    boxes = np.asarray(boxes, dtype=float)
    remaining = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    keep = []
    while remaining.size:
        best, remaining = remaining[0], remaining[1:]
        keep.append(best)
        remaining = remaining[iou_matrix(boxes[[best]], boxes[remaining])[0] <= iou_threshold]
    return np.array(keep)''', "decoded": 'decoded_answer = "B"', "count_kept": '''
def count_kept(boxes, scores, score_threshold, iou_threshold):
    boxes, scores = np.reshape(boxes, (-1, 4)), np.asarray(scores)
    return np.float64(np.size(nms(boxes[scores > score_threshold], scores[scores > score_threshold], iou_threshold)))''',
                                    "single_box": "single_box_median_iou = np.float32(1)"},
            "python_loops_and_arrays": {"slice_counts": '''
def slice_counts(pred_boxes, pred_scores, true_boxes, iou_threshold):
    def iou(a, b):
        h = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        w = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - h * w
        return h * w / union if union > 0 else 0.0
    pred, true = [list(map(float, b)) for b in pred_boxes], [list(map(float, b)) for b in true_boxes]
    free = list(range(len(true)))
    tp = 0
    for i in sorted(range(len(pred)), key=lambda i: -float(pred_scores[i])):
        best = None
        for j in free:
            if iou(pred[i], true[j]) >= iou_threshold and (best is None or iou(pred[i], true[j]) > iou(pred[i], true[best])):
                best = j
        if best is not None:
            free.remove(best)
            tp += 1
    return np.array([tp, len(pred) - tp, len(true) - tp])''', "sens_ppv": '''
def sens_and_ppv(tp, fp, fn):
    counts = np.array([tp, fp, fn], dtype=np.int64)
    return [np.float64(counts[0] / (counts[0] + counts[2])), np.float32(counts[0] / (counts[0] + counts[1]))]'''},
        },
    },
}


def source_of(assignment):
    return COURSE / "source" / assignment / ASSIGNMENTS[assignment]["notebook"]


def answers_of(assignment, kind, student):
    """The solution cells of a typical mistake ("wrong") or another form ("variants")."""
    answers = ASSIGNMENTS[assignment][kind][student]
    return {**solution_cells(source_of(assignment)), **(answers[1] if kind == "wrong" else answers)}


def end_to_end(assignment, kind):
    """The students of ``kind`` also graded in sandboxes: the first one."""
    return list(ASSIGNMENTS[assignment][kind])[:1]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the solution, the untouched release, the partial submission and the first mistake
    and other form of every assignment (one grading run per assignment)."""
    course = make_course(tmp_path_factory.mktemp("grading"))
    for assignment, spec in ASSIGNMENTS.items():
        release = course / "release" / assignment / spec["notebook"]
        solutions = solution_cells(source_of(assignment))
        submit(course, "solution", assignment, fill(release, solutions))
        submit(course, "untouched", assignment, release)
        if spec["partial"]:
            partial = {k: v for k, v in solutions.items() if k in spec["partial"]}
            submit(course, "partial", assignment, fill(release, partial))
        for kind in ("wrong", "variants"):
            for student in end_to_end(assignment, kind):
                submit(course, student, assignment, fill(release, answers_of(assignment, kind, student)))
        assert grade(course, assignment) == 0
    return course


@pytest.fixture(scope="module")
def judged():
    """{(assignment, student): verdicts} judged in this process, computed on demand."""
    judge, verdicts = JudgeHere(), {}

    def verdicts_of(assignment, kind, student):
        if (assignment, student) not in verdicts:
            answers = solution_cells(source_of(assignment)) if kind == "solution" else \
                answers_of(assignment, kind, student)
            verdicts[assignment, student] = judge.verdicts(assignment, answers)
        return verdicts[assignment, student]
    return verdicts_of


def cases(kind):
    return [pytest.param(a, s, id=f"{a}-{s}") for a, spec in ASSIGNMENTS.items()
            for s in spec.get(kind, {})]


def failed(verdicts):
    return {gid for gid, verdict in verdicts.items() if not verdict["passed"]}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_get_full_marks_and_no_flags(graded, assignment):
    assert release_points(assignment) == ASSIGNMENTS[assignment]["points"]
    assert scores(graded, assignment, "solution") == ASSIGNMENTS[assignment]["points"]
    report = json.loads((graded / "reports" / assignment / "grading.json").read_text())
    assert report["solution"] == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_honest_submissions_raise_no_flag(graded, assignment):
    """A flag on every honest submission would teach teaching assistants to ignore flags: the
    solution, correct answers in other forms, typical mistakes, partial and untouched notebooks
    raise none (TensorFlow's import reading /sys, loading native code and reading frames
    included), but the judge's ``odd_answer`` for an answer of an odd form (a list of counts
    where one count is expected)."""
    report = json.loads((graded / "reports" / assignment / "grading.json").read_text())
    flagged = {student: [f for f in found if f["flag"] != "odd_answer"]
               for student, found in report.items()}
    assert flagged == dict.fromkeys(report, [])


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_release_scores_zero_without_stopping_the_grader(graded, assignment):
    assert scores(graded, assignment, "untouched") == {
        k: 0 for k in ASSIGNMENTS[assignment]["points"]}


@pytest.mark.parametrize("assignment", [a for a, spec in ASSIGNMENTS.items() if spec["partial"]])
def test_partial_submission_gets_partial_marks(graded, assignment):
    spec = ASSIGNMENTS[assignment]
    expected = {k: (v if k.removeprefix("test_") in spec["partial"] else 0)
                for k, v in spec["points"].items()}
    assert scores(graded, assignment, "partial") == expected


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_judged_here_pass_every_exercise(judged, assignment):
    """What makes the checks below mean something: the solutions pass when judged here."""
    verdicts = judged(assignment, "solution", "solution")
    assert set(verdicts) == set(ASSIGNMENTS[assignment]["points"]) and failed(verdicts) == set()


@pytest.mark.parametrize("assignment, student", cases("variants"))
def test_correct_answers_in_another_form_keep_full_marks(judged, assignment, student):
    assert failed(judged(assignment, "variants", student)) == set()


@pytest.mark.parametrize("assignment, student", cases("wrong"))
def test_each_typical_mistake_loses_its_exercise_only(judged, assignment, student):
    failed_test, _ = ASSIGNMENTS[assignment]["wrong"][student]
    assert failed(judged(assignment, "wrong", student)) == {failed_test}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_graded_end_to_end_as_judged_here(graded, judged, assignment):
    """The first mistake and other form of each assignment, graded in sandboxes: the marks in
    the gradebook and the sandbox's verdicts are those judged in this process."""
    spec = ASSIGNMENTS[assignment]
    results = json.loads((graded / "reports" / assignment / "results.json").read_text())["students"]
    notebook = spec["notebook"].removesuffix(".ipynb")
    for kind in ("wrong", "variants"):
        for student in end_to_end(assignment, kind):
            here = judged(assignment, kind, student)
            lost = {spec["wrong"][student][0]} if kind == "wrong" else set()
            assert failed(here) == lost
            assert scores(graded, assignment, student) == marks(here, spec["points"]), student
            assert results[student][notebook]["verdicts"] == here, student


def marks(verdicts, points):
    """{grade id: marks} the verdicts give, by the gradebook's own rule (``expected_score``:
    the test cell's points where the exercise passed, else the rubric's parts it passed)."""
    return {gid: expected_score(points[gid], verdict, None) for gid, verdict in verdicts.items()}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_has_no_solutions_or_hidden_tests(assignment):
    release_path = COURSE / "release" / assignment / ASSIGNMENTS[assignment]["notebook"]
    release = release_path.read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in release
    solutions = solution_cells(source_of(assignment))
    for code in solutions.values():
        assert code.strip() not in release
    stubs = [c for c in nbformat.reads(release, as_version=4).cells
             if c.cell_type == "code" and "raise NotImplementedError()" in c.source]
    assert len(stubs) == len(solutions)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_are_executed_without_errors_or_hidden_tests(assignment):
    nb = nbformat.read(ROOT / "solutions" / assignment / ASSIGNMENTS[assignment]["notebook"],
                       as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code_cells)
    assert not any(o.output_type == "error" for c in code_cells for o in c.outputs)
    assert "HIDDEN" not in nbformat.writes(nb)
    # nbgrader scores a test cell with stderr output as failed: none may write to stderr
    tests = [c for c in code_cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert not [o for c in tests for o in c.outputs if o.get("name") == "stderr"]


def test_every_assignment_is_covered():
    assert sorted(ASSIGNMENTS) == sorted(p.name for p in (COURSE / "source").iterdir())
