"""``instructor.py similarity`` (issue 22 item 4): two submissions copied from each other (the
copy with its variables renamed and its lines reordered) stand out among independent ones,
per exercise; the report and the CSV escape what students control; no score or submission
changes. No grading run: the answers are compared as submitted."""

import csv
import hashlib
import io
import shutil

from classroom import commands, similarity
from course_helpers import COURSE, HOSTILE_TEXTS, fill, formula_cells, submit

ASSIGNMENT = "01_anchors"

IOU_ORIGINAL = '''def box_iou(boxes1, boxes2):
    """IoU of every box of boxes1 with every box of boxes2."""
    a = np.asarray(boxes1, dtype=float).reshape(-1, 4)
    b = np.asarray(boxes2, dtype=float).reshape(-1, 4)
    top = np.maximum(a[:, None, 0], b[None, :, 0])
    left = np.maximum(a[:, None, 1], b[None, :, 1])
    bottom = np.minimum(a[:, None, 2], b[None, :, 2])
    right = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(bottom - top, 0, None) * np.clip(right - left, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
'''

IOU_COPIED = '''def box_iou(boxes1, boxes2):
    # my own IoU <script>alert(1)</script>
    first = np.asarray(boxes1, dtype=float).reshape(-1, 4)
    second = np.asarray(boxes2, dtype=float).reshape(-1, 4)
    x_low = np.maximum(first[:, None, 1], second[None, :, 1])
    y_low = np.maximum(first[:, None, 0], second[None, :, 0])
    x_high = np.minimum(first[:, None, 3], second[None, :, 3])
    y_high = np.minimum(first[:, None, 2], second[None, :, 2])
    size_second = (second[:, 2] - second[:, 0]) * (second[:, 3] - second[:, 1])
    size_first = (first[:, 2] - first[:, 0]) * (first[:, 3] - first[:, 1])
    overlap = np.clip(y_high - y_low, 0, None) * np.clip(x_high - x_low, 0, None)
    total = size_first[:, None] + size_second[None, :] - overlap
    return np.divide(overlap, total, out=np.zeros_like(overlap), where=total > 0)
'''

IOU_LOOPS = '''def box_iou(boxes1, boxes2):
    result = np.zeros((len(boxes1), len(boxes2)))
    for i, (y1, x1, y2, x2) in enumerate(boxes1):
        for j, (v1, u1, v2, u2) in enumerate(boxes2):
            h = max(0.0, min(y2, v2) - max(y1, v1))
            w = max(0.0, min(x2, u2) - max(x1, u1))
            union = (y2 - y1) * (x2 - x1) + (v2 - v1) * (u2 - u1) - h * w
            if union > 0:
                result[i, j] = h * w / union
    return result
'''

IOU_HELPERS = '''def area(box):
    return max(box[2] - box[0], 0) * max(box[3] - box[1], 0)


def overlap(p, q):
    corners = [max(p[0], q[0]), max(p[1], q[1]), min(p[2], q[2]), min(p[3], q[3])]
    return area(corners) if corners[2] > corners[0] and corners[3] > corners[1] else 0.0


def box_iou(boxes1, boxes2):
    rows = []
    for p in boxes1:
        row = []
        for q in boxes2:
            shared = overlap(p, q)
            whole = area(p) + area(q) - shared
            row.append(shared / whole if whole else 0.0)
        rows.append(row)
    return np.array(rows, dtype=float).reshape(len(boxes1), len(boxes2))
'''

IOU_SPLIT = '''def box_iou(boxes1, boxes2):
    boxes1, boxes2 = np.array(boxes1, float), np.array(boxes2, float)
    y1, x1, y2, x2 = np.split(boxes1, 4, axis=1)
    v1, u1, v2, u2 = [c.T for c in np.split(boxes2, 4, axis=1)]
    heights = (np.minimum(y2, v2) - np.maximum(y1, v1)).clip(min=0)
    widths = (np.minimum(x2, u2) - np.maximum(x1, u1)).clip(min=0)
    shared = heights * widths
    union = (y2 - y1) * (x2 - x1) + (v2 - v1) * (u2 - u1) - shared
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(shared / union)
'''

LABELS_ORIGINAL = '''def label_anchors(iou, iou_upper, iou_lower):
    iou = np.asarray(iou, dtype=float)
    labels = np.zeros(iou.shape[0], dtype=int)
    if iou.shape[1] == 0:
        return labels
    best = iou.max(axis=0)
    upper = np.minimum(iou_upper, best)
    lower = np.minimum(iou_lower, upper)
    positive = ((iou >= upper) & (iou > 0)).any(axis=1)
    ignored = ((iou > lower) & (iou < upper)).any(axis=1)
    labels[ignored] = -1
    labels[positive] = 1
    return labels
'''

LABELS_COPIED = '''def label_anchors(iou, iou_upper, iou_lower):
    m = np.asarray(iou, dtype=float)
    out = np.zeros(m.shape[0], dtype=int)
    if m.shape[1] == 0:
        return out
    top = m.max(axis=0)
    hi = np.minimum(iou_upper, top)
    lo = np.minimum(iou_lower, hi)
    band = ((m > lo) & (m < hi)).any(axis=1)
    pos = ((m >= hi) & (m > 0)).any(axis=1)
    out[band] = -1
    out[pos] = 1
    return out
'''

LABELS_LOOPS = '''def label_anchors(iou, iou_upper, iou_lower):
    n_anchors, n_boxes = np.shape(iou)
    result = []
    for a in range(n_anchors):
        label = 0
        for b in range(n_boxes):
            best_of_box = max(iou[k][b] for k in range(n_anchors))
            up = min(iou_upper, best_of_box)
            low = min(iou_lower, up)
            value = iou[a][b]
            if value > 0 and value >= up:
                label = 1
            elif low < value < up and label == 0:
                label = -1
        result.append(label)
    return np.array(result, dtype=int)
'''

LABELS_SORTED = '''def label_anchors(iou, iou_upper, iou_lower):
    iou = np.array(iou, dtype=float)
    if iou.size == 0:
        return np.zeros(len(iou), int)
    thresholds = np.clip(iou.max(0), None, iou_upper)
    floor = np.clip(thresholds, None, iou_lower)
    is_positive = np.any((iou >= thresholds[None]) & (iou > 0), 1)
    in_band = np.any((floor[None] < iou) & (iou < thresholds[None]), 1)
    return np.where(is_positive, 1, np.where(in_band, -1, 0))
'''

COPIER = HOSTILE_TEXTS[2]          # a student id that starts like a formula: '@SUM(1)'
STUDENTS = {
    "alice": {"box_iou": IOU_ORIGINAL, "label_anchors": LABELS_ORIGINAL},
    COPIER: {"box_iou": IOU_COPIED, "label_anchors": LABELS_COPIED},
    "carol": {"box_iou": IOU_LOOPS, "label_anchors": LABELS_LOOPS},
    "dave": {"box_iou": IOU_HELPERS, "label_anchors": LABELS_SORTED},
    "erin": {"box_iou": IOU_SPLIT},
    "frank": {},                                                 # handed in the release as it is
}


def folder_digest(folder, skip="reports"):
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and skip not in path.relative_to(folder).parts:
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def test_copied_answers_stand_out_among_independent_ones(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(COURSE / "release" / ASSIGNMENT, course / "release" / ASSIGNMENT)
    release = course / "release" / ASSIGNMENT / "anchors.ipynb"
    for student, answers in STUDENTS.items():
        submit(course, student, ASSIGNMENT, fill(release, answers))
    before = folder_digest(course)
    assert commands.instructor(["similarity", "--assignment", ASSIGNMENT, "--course", str(course),
                                "--threshold", "0"]) == 0
    assert folder_digest(course) == before                  # nothing but reports/ was written
    text = (course / "reports" / ASSIGNMENT / "similarity.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    for exercise in ("box_iou", "label_anchors"):
        pairs = [r for r in rows if r["exercise"] == exercise]
        copied = {"alice", "'" + COPIER}                    # the CSV quotes a formula start
        top, *others = pairs
        assert {top["student_a"], top["student_b"]} == copied, pairs
        assert float(top["similarity"]) >= 0.6, top
        assert all(float(r["similarity"]) <= float(top["similarity"]) - 0.25 for r in others), pairs
        assert not any("frank" in (r["student_a"], r["student_b"]) for r in pairs)
    assert formula_cells(text) == []
    page = (course / "reports" / ASSIGNMENT / "similarity.html").read_text()
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<mark>" in page and "default-src 'none'" in page


def test_a_threshold_keeps_only_the_most_similar_pairs(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(COURSE / "release" / ASSIGNMENT, course / "release" / ASSIGNMENT)
    release = course / "release" / ASSIGNMENT / "anchors.ipynb"
    for student, answers in STUDENTS.items():
        submit(course, student, ASSIGNMENT, fill(release, answers))
    assert similarity.similarity(course, ASSIGNMENT, top=1, threshold=0.6) == 0
    rows = list(csv.DictReader(io.StringIO((course / "reports" / ASSIGNMENT / "similarity.csv").read_text())))
    assert sorted(r["exercise"] for r in rows) == ["box_iou", "label_anchors"]
    assert all({r["student_a"], r["student_b"]} == {"alice", "'" + COPIER} for r in rows)


def test_no_submissions_is_said(tmp_path, capsys):
    course = tmp_path / "course"
    shutil.copytree(COURSE / "release" / ASSIGNMENT, course / "release" / ASSIGNMENT)
    assert similarity.similarity(course, ASSIGNMENT) == 1
    assert "no submissions" in capsys.readouterr().out


def test_the_starter_code_is_boilerplate():
    starter = 'def f(x):\n    """Double x, then add one."""\n    # YOUR CODE HERE\n    raise NotImplementedError()\n'
    body = "    y = x * 2\n    y = y + 1\n    return y\n"
    same_starter = {"a": starter, "b": starter}
    assert similarity.compare_exercise("f", starter, same_starter) == []
    answered = {"a": starter.replace("    # YOUR CODE HERE\n    raise NotImplementedError()\n", body),
                "b": 'def f(x):\n    """Double x, then add one."""\n    return 2 * x + 1\n'}
    pairs = similarity.compare_exercise("f", starter, answered)
    assert all(p.share < 0.5 for p in pairs)              # the shared docstring does not count
