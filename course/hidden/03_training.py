"""Hidden cases of assignment 3 (training): instructor only, never released or sent to students.

The expected values come from the library's Keras losses (``FocalLoss``, ``SmoothL1Loss``),
computed in float32 by the judge: hence the 1e-4 tolerance."""

import numpy as np

from classroom.grader.spec import Exercise, Part, call


def focal_cases(rng):
    cases = [[[0.0], [-8.0]], [[1.0], [0.0]]]
    for gamma, alpha in [(2.0, 0.25), (0.0, 0.5), (float(rng.uniform(0.5, 4)), float(rng.uniform(0.1, 0.9)))]:
        y = (rng.random((2, 1, 5, 5, 9)) < 0.2).astype(np.float64)
        x = rng.normal(0, 3, y.shape).astype(np.float32).astype(np.float64)
        cases.append([y, x, gamma, alpha])
    return cases


def library_focal(y_true, logits, gamma=2.0, alpha=0.25):
    from boxloc.losses import FocalLoss
    y = np.asarray(y_true, dtype=np.float32)
    x = np.asarray(logits, dtype=np.float32)
    return np.asarray(FocalLoss(gamma=gamma, alpha=alpha).call(y, x), dtype=np.float64)


def masked_mean_cases(rng):
    values = rng.random((3, 1, 4, 4, 9))
    weights = (rng.random(values.shape) > 0.3).astype(np.float64)
    sparse = rng.random((2, 1, 30, 30, 9)) * 0.01                        # a focal-loss-like map
    sparse_weights = (rng.random(sparse.shape) > 0.02).astype(np.float64)
    return [[[1.0, 2.0, 3.0, 4.0], [1, 1, 0, 0]], [values, weights], [sparse, sparse_weights],
            [[5.0, 5.0], [0, 0]]]


def masked_mean_reference(values, weights):
    values = np.asarray(values, dtype=np.float64)
    return float(np.sum(values * np.asarray(weights, dtype=np.float64)) / values.size)


def smooth_l1_cases(rng):
    """The notebook's three cases, then deltas 1.0, 0.25 and a drawn one: cases 1, 2 and 4 use
    delta 1 (the default), the others another delta (the rubric's two parts)."""
    cases = [[[0.0, 0.0], [0.5, -0.5]], [[0.0], [3.0]], [[0.0, 0.0], [0.05, 0.3], 0.1]]
    for delta in (1.0, 0.25, float(rng.uniform(0.05, 3.0))):
        y, p = rng.normal(0, 2, (2, 1, 4, 4, 36)), rng.normal(0, 2, (2, 1, 4, 4, 36))
        cases.append([y.astype(np.float32).astype(np.float64), p.astype(np.float32).astype(np.float64), delta])
    return cases


def library_smooth_l1(y_true, y_pred, delta=1.0):
    from boxloc.losses import SmoothL1Loss
    return np.asarray(SmoothL1Loss(delta=delta).call(np.asarray(y_true, dtype=np.float32),
                                                     np.asarray(y_pred, dtype=np.float32)),
                      dtype=np.float64)


def prepare_data():
    """Build the phantom volumes the notebook loads when graded (sandboxes can read, not write,
    the cache)."""
    from boxloc.configs import notebook_data
    from boxloc.datasets.phantom import build_phantom
    build_phantom(**notebook_data("grading"))


FOCAL = ("boxloc.losses.FocalLoss",)
SMOOTH_L1 = ("boxloc.losses.SmoothL1Loss",)

EXERCISES = [
    Exercise("test_focal_elements", call("focal_elements"), focal_cases, expected=library_focal,
             tolerance=1e-4, visible=2, solved_by=FOCAL),
    Exercise("test_masked_mean", call("masked_mean"), masked_mean_cases,
             expected=masked_mean_reference, tolerance=1e-6, visible=1, solved_by=FOCAL + SMOOTH_L1),
    Exercise("test_smooth_l1", call("smooth_l1_elements"), smooth_l1_cases,
             expected=library_smooth_l1, tolerance=1e-4, visible=3, solved_by=SMOOTH_L1,
             parts=(Part("delta 1 (the default): quadratic, then linear", 1, (1, 2, 4)),
                    Part("another delta", 1, (3, 5, 6)))),
]
