"""The executed solutions (what a self-learner reads) show a detector that works: loss curves
that move over several epochs, boxes on the prediction figures, a kept-boxes curve that is not
flat, a found lesion on the slice that notebook 4 counts by hand, and non-zero AP, FROC and PR
figures. Read from the committed ``solutions/``."""

import re

import nbformat
import pytest

from course_helpers import ROOT

SOLUTIONS = ROOT / "solutions"


def cell(path, grade_id):
    nb = nbformat.read(SOLUTIONS / path, as_version=4)
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def printed(c):
    return "".join(o.get("text", "") for o in c.outputs if o.output_type == "stream")


def images(c):
    return sum("image/png" in o.get("data", {}) for o in c.outputs)


def test_notebook_3_trains_long_enough_for_the_loss_curves_to_move():
    text = printed(cell("03_training/training.ipynb", "training"))
    losses = [float(x) for x in re.findall(r" - loss: ([0-9.]+(?:e[-+][0-9]+)?)", text)]
    assert len(losses) >= 5, text[-2000:]
    assert losses[-1] < losses[0]
    nb = nbformat.read(SOLUTIONS / "03_training/training.ipynb", as_version=4)
    curves = nb.cells[[c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells].index("training") + 1]
    assert images(curves) == 1
    assert "the loaded detector predicts the same: True" in printed(cell("03_training/training.ipynb", "save_model"))


def test_notebook_4_shows_boxes_and_curves_of_a_working_detector():
    path = "04_inference/inference.ipynb"
    assert "the reference detector:" in printed(cell(path, "detector"))
    before, after = map(int, re.search(r"(\d+) boxes with score > 0.05 before NMS; (\d+) after",
                                       printed(cell(path, "predictions"))).groups())
    assert after >= 1 and before > after
    assert images(cell(path, "predictions")) == 1
    kept = re.search(r"boxes kept: \{(.*)\}", printed(cell(path, "test_count_kept")))[1]
    counts = [int(v) for v in re.findall(r": (\d+)", kept)]
    assert len(set(counts)) > 1 and min(counts) >= 1
    assert images(cell(path, "nms_explorer")) == 1               # static in the executed copy
    report = printed(cell(path, "evaluation"))
    figures = {k: float(v) for k, v in re.findall(r"^(\S+)\s+([0-9.]+)$", report, re.MULTILINE)}
    assert figures["AP_slice@0.5"] > 0.5 and figures["FROC@0.1"] > 0.5, report
    assert images(cell(path, "average_precision")) == 1 and images(cell(path, "froc_curve")) == 1
    froc_score = float(re.search(r"FROC score \(their mean\): ([0-9.]+)", printed(cell(path, "froc_curve")))[1])
    assert abs(froc_score - figures["FROC@0.1"]) < 0.002                  # the report's FROC@0.1
    counts = re.findall(r"IoU >= ([0-9.]+): TP (\d+), FP (\d+), FN (\d+)", printed(cell(path, "slice_example")))
    assert len(counts) == 3 and int(counts[0][1]) >= 1, counts        # the slice's lesion is found
    accuracy = re.search(r"accuracy ([0-9.]+)%", printed(cell(path, "accuracy")))
    assert accuracy and float(accuracy[1]) > 99, printed(cell(path, "accuracy"))


@pytest.mark.parametrize("path", sorted(SOLUTIONS.glob("*/*.ipynb")), ids=lambda p: p.parent.name)
def test_every_figure_of_the_solutions_was_drawn(path):
    nb = nbformat.read(path, as_version=4)
    for c in nb.cells:
        if c.cell_type == "code" and "plt.show()" in c.source:
            assert images(c) >= 1, c.source[:200]
