"""Judging like a teaching assistant (issue 22), in-process: the rubric's parts of an exercise
(partial credit), the feedback a wrong answer gets for every exercise of the four assignments
(the check's title, expected and got in the exercise's words, the part missed, "other inputs
were tried too" only where there are hidden cases, nothing of a hidden case), and the library
functions each write-it-yourself exercise declares.

Each wrong answer is a typical mistake, run here on the exercise's cases as the sandbox's
recorder would (``record``) and judged by ``judge.verdict``; no sandbox is started."""

import html
import importlib
import json
import pkgutil

import nbformat
import numpy as np
import pytest

from classroom.grader import batch, judge, plain, records, spec
from classroom.layout import CourseFolder
from course_helpers import COURSE

FOLDER = CourseFolder(COURSE)
SECRETS = ("rubric-1", "rubric-2", "rubric-3")


def exercises_of(assignment):
    return {e.grade_id: e for e in spec.load(FOLDER.hidden_file(assignment))}


def release_of(assignment):
    (path,) = sorted((FOLDER.release / assignment).glob("*.ipynb"))
    return nbformat.read(path, as_version=4)


def record(exercise, answer, cases):
    """What the sandbox's recorder keeps of ``answer`` on ``cases`` (through JSON)."""
    if not exercise.record.calls:
        results = [{"ok": plain.to_plain(plain.answer_value(answer))}]
    else:
        helper = {}
        if exercise.record.helper:
            exec(exercise.record.helper, helper)
        results = []
        for case in cases:
            args = plain.from_plain(case)
            try:
                value = helper["record_case"](answer, *args) if helper else answer(*args)
                results.append({"ok": plain.to_plain(plain.answer_value(value))})
            except Exception as error:
                results.append({"error": f"{type(error).__name__}: {error}"[:300]})
    return json.loads(json.dumps(results))


def judged(assignment, grade_id, answer, secret=SECRETS[0]):
    """(exercise, verdict, feedback page) of ``answer`` to one exercise."""
    exercise = exercises_of(assignment)[grade_id]
    drawn = spec.draw_cases([exercise], secret).get(grade_id, [])
    cases = [plain.to_plain(c) for c in drawn]
    expected, errors = judge.expected_values([exercise], {grade_id: cases})
    assert errors == {}
    found = judge.verdict(exercise, record(exercise, answer, cases), expected.get(grade_id))
    page = records.feedback_html("student", assignment, "nb", {grade_id: found}, release_of(assignment))
    return exercise, found, page


def section(page, grade_id):
    """The text of one exercise's part of a feedback page, tags removed, entities read."""
    import re
    start = page.index(f"<h3>{grade_id}:")
    end = page.find("<h3>", start + 1)
    return html.unescape(re.sub(r"<[^>]+>", " ", page[start:end if end > 0 else None]))


def hidden_fragments(exercise, secret):
    """Texts that would betray a hidden case: its inputs and large expected counts."""
    cases = spec.draw_cases([exercise], secret).get(exercise.grade_id, [])
    fragments = set()
    for case in cases[exercise.visible:]:
        fragments.add(repr(tuple(case)))
        fragments |= {repr(tuple(a)) for a in case if isinstance(a, (tuple, list)) and len(a) > 1}
        value = exercise.expected(*case) if exercise.expected else None
        if isinstance(value, int) and value > 100:
            fragments.add(f"{value}")
    return fragments


# ---------------------------------------------------------------- typical wrong answers

def count_anchors_square(image_shape, c, anchor_scales, anchor_ratios):
    side = image_shape[0]                                         # assumes a square image
    return sum((side // 2 ** level) ** 2 for level in c) * len(anchor_scales) * len(anchor_ratios)


def anchor_size_inverted(base_size, scale, ratio):
    area = (base_size * 2 ** (scale / 3)) ** 2                    # ratio read as h / w
    return (np.sqrt(area * ratio), np.sqrt(area / ratio))


def target_shapes_transposed(image_shape, classes, c, num_anchors):
    width, height = image_shape                                   # columns first
    shapes = {}
    for level in c:
        h, w = height // 2 ** level, width // 2 ** level
        shapes[f"cls-c{level}"] = (1, h, w, num_anchors * classes)
        shapes[f"reg-c{level}"] = (1, h, w, num_anchors * 4)
    return shapes


def iou_parts(clip=True, guard=True):
    def box_iou(boxes1, boxes2):
        a, b = np.asarray(boxes1, float).reshape(-1, 4), np.asarray(boxes2, float).reshape(-1, 4)
        h = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
        w = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
        inter = np.clip(h, 0, None) * np.clip(w, 0, None) if clip else h * w
        area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])
        union = area(a)[:, None] + area(b)[None, :] - inter
        with np.errstate(all="ignore"):
            return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0) if guard \
                else inter / union
    return box_iou


def label_anchors_wrong(best_anchor=True, empty=True):
    def label_anchors(iou, iou_upper, iou_lower):
        iou = np.asarray(iou, float)
        if not empty and iou.shape[1] == 0:
            raise ValueError("zero-size array to reduction operation maximum")
        labels = np.zeros(len(iou), int)
        if iou.shape[1] == 0:
            return labels
        best = iou.max(axis=0)
        up = np.minimum(iou_upper, best) if best_anchor else np.full_like(best, iou_upper)
        lo = np.minimum(iou_lower, up)
        positive = ((iou >= up) & (iou > 0)).any(axis=1)
        band = ((iou > lo) & (iou < up)).any(axis=1)
        labels[band] = -1
        labels[positive] = 1
        return labels
    return label_anchors


def encode_box_no_log(box, anchor):
    y1, x1, y2, x2 = box
    cy, cx, h, w = anchor
    return ((y1 + y2) / 2 - cy) / h, ((x1 + x2) / 2 - cx) / w, (y2 - y1) / h - 1, (x2 - x1) / w - 1


def decode_box_no_exp(deltas, anchor):
    dy, dx, dh, dw = deltas
    cy, cx, h, w = anchor
    y, x, bh, bw = cy + dy * h, cx + dx * w, h * (1 + dh), w * (1 + dw)
    return [y - bh / 2, x - bw / 2, y + bh / 2, x + bw / 2]


def nms_wrong(strict_edge=True):
    def my_nms(boxes, scores, iou_threshold):
        boxes, order = np.asarray(boxes, float).reshape(-1, 4), list(np.argsort(-np.asarray(scores), kind="stable"))
        keep = []
        while order:
            best, order = order[0], order[1:]
            keep.append(int(best))
            ious = iou_parts()(boxes[[best]], boxes[order])[0] if order else np.zeros(0)
            order = [o for o, v in zip(order, ious) if (v <= iou_threshold if strict_edge else v < iou_threshold)]
        return keep
    return my_nms


def count_kept_at_edge(boxes, scores, score_threshold, iou_threshold):
    scores = np.asarray(scores, float)
    above = scores >= score_threshold                              # "at least" instead of "above"
    return len(nms_wrong()(np.asarray(boxes, float).reshape(-1, 4)[above], scores[above], iou_threshold))


def slice_counts_wrong(by_score=True, empty=True):
    def slice_counts(pred_boxes, pred_scores, true_boxes, iou_threshold):
        if not empty and len(pred_boxes) == 0:
            raise IndexError("list index out of range")
        pred = np.asarray(pred_boxes, float).reshape(-1, 4)
        true = np.asarray(true_boxes, float).reshape(-1, 4)
        order = np.argsort(-np.asarray(pred_scores, float), kind="stable") if by_score else range(len(pred))
        used, tp = np.zeros(len(true), bool), 0
        for i in order:
            iou = iou_parts()(pred[[i]], true)[0] if len(true) else np.zeros(0)
            candidates = np.flatnonzero((iou >= iou_threshold) & ~used)
            if len(candidates):
                used[candidates[np.argmax(iou[candidates])]] = True
                tp += 1
        return tp, len(pred) - tp, len(true) - tp
    return slice_counts


def smooth_l1_without_delta(y_true, y_pred, delta=1.0):
    error = np.abs(np.asarray(y_pred, float) - np.asarray(y_true, float))
    return np.where(error < 1, 0.5 * error ** 2, error - 0.5)     # delta ignored


def focal_without_alpha(y_true, logits, gamma=2.0, alpha=0.25):
    y, x = np.asarray(y_true, float), np.asarray(logits, float)
    p = 1 / (1 + np.exp(-x))
    pt = np.where(y == 1, p, 1 - p)
    return -(1 - pt) ** gamma * np.log(np.clip(pt, 1e-12, 1))


def masked_mean_by_weights(values, weights):
    values, weights = np.asarray(values, float), np.asarray(weights, float)
    return float((values * weights).sum() / weights.sum())        # divides by the weights


def feature_map_size_floor(image_shape, num_downsamples):
    return tuple(int(n // 2 ** num_downsamples) for n in image_shape)


def contracting_arm_extra_block(x, filters):
    from keras import layers
    features = []
    for level, width in enumerate(filters):
        x = layers.Conv3D(width, (1, 3, 3), strides=(1, 2, 2) if level else 1, padding="same")(x)
        x = layers.Conv3D(width, (1, 3, 3), padding="same")(x)
        x = layers.Conv3D(width, (1, 3, 3), padding="same")(x)    # a third convolution per level
        features.append(x)
    return features


def top_down_projecting_both(coarser, finer, width):
    from keras import layers
    up = layers.UpSampling3D((1, 2, 2))(layers.Conv3D(width, 1)(coarser))   # an extra projection
    return layers.Add()([up, layers.Conv3D(width, 1)(finer)])


def pyramid_serves_reach_only(image_shape, c, num_downsamples):
    return max(c) <= num_downsamples                              # ignores the grid size


def head_outputs_anchors_only(c, num_anchors, classes):
    return {name: num_anchors * (classes if kind == "cls" else 1)  # forgets the 4 coordinates
            for level in c for kind, name in (("cls", f"cls-c{level}"), ("reg", f"reg-c{level}"))}


def conv3d_params_no_bias(kernel, c_in, c_out):
    return int(np.prod(kernel)) * c_in * c_out


def sens_ppv_swapped(tp, fp, fn):
    return tp / (tp + fp), tp / (tp + fn)


# grade id -> (assignment, wrong answer, parts it must miss (None: no parts), visible check
# whose title the feedback names (None: a single answer), texts the feedback must show)
WRONG = {
    "test_count_anchors": ("01_anchors", count_anchors_square, None, 3, ["expected 3916, got"]),
    "test_anchor_size": ("01_anchors", anchor_size_inverted, None, 2,
                         ["height: expected 45.2548, got 22.6274"]),
    "test_appearance": ("01_anchors", {"c": "q", "anchor_shapes": "s", "anchor_ratios": "r",
                                       "anchor_scales": "p"}, None, None,
                        ["['anchor_ratios'] got 'r', which is not right"]),
    "test_target_shapes": ("01_anchors", target_shapes_transposed, None, 2,
                           ["['cls-c3'] expected (1, 25, 37, 9), got (1, 37, 25, 9)"]),
    "test_box_iou": ("01_anchors", iou_parts(guard=False), {"zero-area boxes: IoU 0, not nan"}, 4,
                     ["expected [[0], [0]], got [[nan], [0]]"]),
    "test_label_anchors": ("01_anchors", label_anchors_wrong(best_anchor=False),
                           {"each box's best anchor is positive, ties too"}, 1,
                           ["expected [1, 1, -1, 0, 1, 1, -1], got [1, 1, -1, 0, -1, -1, -1]"]),
    "test_encode_box": ("01_anchors", encode_box_no_log, None, 1, ["dh: expected -0.23"]),
    "test_decode_box": ("01_anchors", decode_box_no_exp, None, 1, ["y1: expected 100.001, got 100.672"]),
    "test_refinement": ("01_anchors", "a", None, None, ["got 'a', which is not right"]),
    "test_small_config": ("01_anchors", {"c": [3], "anchor_shapes": [16]}, None, None,
                          ["of other masks the grader tried (at least 40% needed)",
                           "other masks were tried too"]),
    "test_feature_map_size": ("02_network", feature_map_size_floor, None, 2,
                              ["expected (8, 8), got (7, 7)"]),
    "test_contracting_arm": ("02_network", contracting_arm_extra_block, None, 1, ["parameters: expected "]),
    "test_top_down": ("02_network", top_down_projecting_both, None, 1,
                      ["parameters: expected 2112, got 6272"]),
    "test_pyramid_serves": ("02_network", pyramid_serves_reach_only, None, 3,
                            ["expected False, got True"]),
    "test_head_outputs": ("02_network", head_outputs_anchors_only, None, 1,
                          ["['reg-c3'] expected 36, got 9"]),
    "test_conv3d_params": ("02_network", conv3d_params_no_bias, None, 1, ["expected 296, got 288"]),
    "test_focal_elements": ("03_training", focal_without_alpha, None, 2, ["expected [0.0433"]),
    "test_masked_mean": ("03_training", masked_mean_by_weights, None, 1, ["expected 0.75, got 1.5"]),
    "test_smooth_l1": ("03_training", smooth_l1_without_delta, {"another delta"}, 3,
                       ["expected [0.00125, 0.025], got [0.00125, 0.045]"]),
    "test_my_nms": ("04_inference", nms_wrong(strict_edge=False),
                    {"an IoU equal to the threshold is not suppressed"}, 2,
                    ["expected [0, 1], got [0]"]),
    "test_decoded": ("04_inference", "a", None, None, ["got 'a', which is not right"]),
    "test_count_kept": ("04_inference", count_kept_at_edge,
                        {"a score equal to the threshold is not above it"}, 2, ["expected 0, got 1"]),
    "test_slice_counts": ("04_inference", slice_counts_wrong(by_score=False),
                          {"the higher score chooses first, equal scores in input order"}, 3,
                          ["TP: expected 1, got 2"]),
    "test_sens_ppv": ("04_inference", sens_ppv_swapped, None, 1,
                      ["sensitivity: expected 0.5, got 0.333333"]),
    "test_single_box": ("04_inference", 0.8, None, None, ["got 0.8, which is not right"]),
}


def test_every_exercise_of_the_four_assignments_has_a_wrong_answer_here():
    every = {gid for a in FOLDER.assignments() for gid in exercises_of(a)}
    assert set(WRONG) == every


@pytest.mark.parametrize("grade_id", sorted(WRONG))
def test_the_feedback_of_a_wrong_answer_explains_it_as_a_teaching_assistant_would(grade_id):
    assignment, answer, missed, check, texts = WRONG[grade_id]
    exercise, found, page = judged(assignment, grade_id, answer)
    text = section(page, grade_id)
    assert not found["passed"]
    for wanted in texts:
        assert wanted in text, text
    if check is not None:                          # the check's title, as the notebook has it
        title = records.check_titles(release_of(assignment))[grade_id][check - 1]
        assert f"✗ check {check}, “{title}”: " in text, text
    else:
        assert "✗ your answer: " in text and "check " not in text
    hidden = exercise.hidden_cases(found["cases"])
    assert ("were tried too" in text) == bool(hidden and (found["hidden_failed"] or found.get("answer")))
    assert "general case" not in text and "visible check" not in text
    if missed is not None:                         # partial credit: only the part missed is lost
        assert {p["title"] for p in found["parts"] if not p["passed"]} == missed
        for title in missed:
            assert f"✗ missed: {title}: 0 / " in text
        points = records.points_of(release_of(assignment))[grade_id]
        score = records.expected_score(points, found, False)
        assert 0 < score < points and f"{grade_id}: {score:g} / {points:g}" in text
    else:
        assert "parts" not in found
        assert f"{grade_id}: 0 / " in text
    if exercise.record.calls:
        leaked = sorted(f for f in hidden_fragments(exercise, SECRETS[0]) if f in page)
        assert leaked == [], f"the feedback shows hidden cases: {leaked}"
    if not exercise.record.calls and exercise.kind == "choice":   # a single answer's key stays
        assert "expected" not in text


@pytest.mark.parametrize("grade_id, answer, missed", [
    ("test_box_iou", iou_parts(clip=False), {"separate and touching boxes: IoU 0"}),
    ("test_box_iou", iou_parts(guard=False), {"zero-area boxes: IoU 0, not nan"}),
    ("test_label_anchors", label_anchors_wrong(best_anchor=False), {"each box's best anchor is positive, ties too"}),
    ("test_label_anchors", label_anchors_wrong(empty=False), {"a slice without lesions"}),
    ("test_my_nms", nms_wrong(strict_edge=False), {"an IoU equal to the threshold is not suppressed"}),
    ("test_count_kept", count_kept_at_edge, {"a score equal to the threshold is not above it"}),
    ("test_slice_counts", slice_counts_wrong(by_score=False), {"the higher score chooses first, equal scores in input order"}),
    ("test_slice_counts", slice_counts_wrong(empty=False), {"a slice without predictions"}),
    ("test_smooth_l1", smooth_l1_without_delta, {"another delta"})])
@pytest.mark.parametrize("secret", SECRETS)
def test_a_mistake_costs_only_its_part_whatever_the_secret(grade_id, answer, missed, secret):
    assignment = next(a for a in FOLDER.assignments() if grade_id in exercises_of(a))
    _, found, page = judged(assignment, grade_id, answer, secret)
    assert {p["title"] for p in found["parts"] if not p["passed"]} == missed
    if "slice without" in " ".join(missed):        # a crash on an empty input says which error
        assert "raised " in section(page, grade_id)


@pytest.mark.parametrize("assignment", ["01_anchors", "04_inference"])
def test_the_library_passes_every_part(assignment):
    """The library's own answers (what the executed solutions compute) keep full marks."""
    hidden = spec.load_module(FOLDER.hidden_file(assignment))
    answers = {"test_box_iou": "library_box_iou", "test_label_anchors": "library_label_anchors",
               "test_my_nms": "library_nms", "test_count_kept": "library_count_kept",
               "test_slice_counts": "library_slice_counts"}
    for grade_id, name in answers.items():
        if grade_id in exercises_of(assignment):
            answer = getattr(hidden, name)
            for secret in SECRETS:
                _, found, _ = judged(assignment, grade_id, answer, secret)
                assert found["passed"] and all(p["passed"] for p in found["parts"]), (grade_id, secret)


# ---------------------------------------------------------------- the rubric's declarations

# A teaching assistant's rubric: partial credit where an exercise has separable ideas (the
# general formula and an edge the notebook teaches on its own), all-or-nothing for one formula,
# one number, a letter, a configuration or a network block.
RUBRIC = {"test_box_iou": [1, 1, 1], "test_label_anchors": [1, 1, 1], "test_smooth_l1": [1, 1],
          "test_my_nms": [2, 1], "test_count_kept": [1, 1], "test_slice_counts": [1, 1, 1]}


@pytest.mark.parametrize("assignment", sorted(CourseFolder(COURSE).assignments()))
def test_parts_follow_the_rubric_cover_the_cases_and_add_up_to_the_points(assignment):
    release = {p.stem: nbformat.read(p, as_version=4) for p in (FOLDER.release / assignment).glob("*.ipynb")}
    for secret in SECRETS:
        exercises, cases, _ = batch.plan_for(COURSE, assignment, release, secret)  # checks both
    points = {g: p for nb in release.values() for g, p in records.points_of(nb).items()}
    for exercise in exercises:
        assert [p.points for p in exercise.parts] == RUBRIC.get(exercise.grade_id, [])
        if exercise.parts:
            assert sum(p.points for p in exercise.parts) == points[exercise.grade_id]
            assert exercise.parts_problem(len(cases[exercise.grade_id])) is None


def test_parts_that_do_not_fit_stop_grading_before_any_sandbox(monkeypatch):
    release = {"anchors": release_of("01_anchors")}
    exercises = spec.load(FOLDER.hidden_file("01_anchors"))
    iou = next(e for e in exercises if e.grade_id == "test_box_iou")
    wrong_points = spec.Exercise(**{**iou.__dict__, "parts": (spec.Part("all", 2, range(1, 13)),)})
    with pytest.raises(SystemExit, match="add up to 2 points, its test cell has 3"):
        batch.check_exercises([wrong_points if e is iou else e for e in exercises], release, "01_anchors")
    short = spec.Exercise(**{**iou.__dict__, "parts": (spec.Part("all", 3, range(1, 12)),)})
    assert "cover the cases 1 to 12 once" in short.parts_problem(12)
    with pytest.raises(ValueError, match="parts group the cases"):
        spec.Exercise("t", spec.value("x"), expected=1, parts=(spec.Part("a", 1, [1]),))


def test_every_visible_case_has_the_title_of_its_check():
    for assignment in FOLDER.assignments():
        titles = records.check_titles(release_of(assignment))
        for exercise in exercises_of(assignment).values():
            assert len(titles[exercise.grade_id]) >= exercise.visible, exercise.grade_id


def test_a_configuration_judged_by_a_property_is_explained_without_echoing_it():
    _, found, page = judged("01_anchors", "test_small_config", {"c": ["(200, 300) seen"], "anchor_shapes": [16]})
    text = section(page, "test_small_config")
    assert "✗ your answer: BoundingBox does not accept it (" in text and "seen" not in page
    assert "other masks were tried too" in text
    _, right, page = judged("01_anchors", "test_small_config", {"c": [2, 3], "anchor_shapes": [8, 16]})
    assert right["passed"] and "tried too" not in page and "all checks passed" in page


def test_a_timeout_and_an_error_are_said_without_the_students_text():
    exercise = exercises_of("01_anchors")["test_count_anchors"]
    results = [{"timeout": 20.0}] + [{"error": "ValueError: secret (200, 300) seen"}] * 3 + \
        [{"skipped": "after_unfinished"}] * 5
    found = judge.verdict(exercise, results, list(range(9)))
    page = records.feedback_html("s", "01_anchors", "anchors", {"test_count_anchors": found},
                                 release_of("01_anchors"))
    text = section(page, "test_count_anchors")
    assert "✗ check 1, “tutorial configuration” did not finish within 20 s" in text
    assert "✗ check 2, “a single level”: raised ValueError" in text
    assert "other inputs were tried too: 6 of 6 failed" in text
    assert "one of them was not run: an earlier case did not finish" in text
    assert "secret" not in page and "(200, 300)" not in page


# ---------------------------------------------------------------- write-it-yourself exercises

def library_objects():
    """{dotted name: object} of every public attribute of every boxloc module."""
    import boxloc
    found = {}
    modules = {"boxloc": boxloc}
    for info in pkgutil.walk_packages(boxloc.__path__, "boxloc."):
        modules[info.name] = importlib.import_module(info.name)
    for name, module in modules.items():
        for attribute in dir(module):
            if not attribute.startswith("_"):
                found[f"{name}.{attribute}"] = getattr(module, attribute)
    return found


def resolve(dotted):
    module, attribute = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(module), attribute)


def test_every_write_it_yourself_exercise_declares_the_library_functions_that_solve_it():
    """Every call() exercise of the four assignments asks the student to write a mechanism the
    library has: it declares those functions (``solved_by``), each name resolves, and every
    alias under which boxloc exposes them is declared too (the recorder will block them all;
    issue 22 item 1). Single answers (letters, a configuration, a number) declare none."""
    everything = library_objects()
    for assignment in FOLDER.assignments():
        for exercise in exercises_of(assignment).values():
            if not exercise.record.calls:
                assert exercise.solved_by == (), exercise.grade_id
                continue
            assert exercise.solved_by, f"{exercise.grade_id} declares no library function"
            objects = [resolve(name) for name in exercise.solved_by]
            aliases = {name for name, obj in everything.items()
                       if any(obj is o for o in objects)}
            assert aliases <= set(exercise.solved_by), (exercise.grade_id, aliases - set(exercise.solved_by))


@pytest.mark.parametrize("assignment, grade_ids", [
    ("01_anchors", ("test_box_iou", "test_label_anchors")),
    ("03_training", ("test_smooth_l1",)),
    ("04_inference", ("test_my_nms", "test_count_kept", "test_slice_counts"))])
def test_the_solutions_keep_full_marks_on_the_rubrics_cases(assignment, grade_ids):
    """The source notebooks' own answers (what the executed solutions run) pass every case of
    the exercises whose cases were drawn for the rubric's parts, under every secret."""
    from course_helpers import solution_cells
    (source,) = sorted((COURSE / "source" / assignment).glob("*.ipynb"))
    import boxloc
    namespace = {"np": np, **{name: getattr(boxloc, name) for name in boxloc.__all__}}
    for code in solution_cells(source).values():
        try:
            exec(code, namespace)
        except Exception:                 # a cell that needs the notebook's data: not these
            pass
    exercises = exercises_of(assignment)
    for grade_id in grade_ids:
        answer = namespace[exercises[grade_id].record.name]
        for secret in SECRETS:
            _, found, _ = judged(assignment, grade_id, answer, secret)
            assert found["passed"], (grade_id, secret, found["problems"])
