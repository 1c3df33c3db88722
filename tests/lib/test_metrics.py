"""Masked anchor-level sensitivity and PPV on hand-built counts."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from boxloc.metrics import PPV, Sensitivity  # noqa: E402

# 6 anchors: truth, logit (positive when > 0, i.e. sigmoid > 0.5), mask weight
Y = np.array([1, 1, 1, 0, 0, 0], np.float32)
X = np.array([3, 2, -1, 4, 5, -2], np.float32)   # predicted positive: 0, 1, 3, 4
W = np.array([1, 1, 1, 1, 0, 1], np.float32)     # anchor 4 (a confident FP) is ignored


def value(metric, *batches):
    for batch in batches:
        metric.update_state(*batch)
    return float(metric.result())


def test_sensitivity_masked():
    assert value(Sensitivity(), (Y, X, W)) == pytest.approx(2 / 3)


def test_ppv_masked_and_seed():
    assert value(PPV(), (Y, X, W)) == pytest.approx(2 / 3)                 # TP 2, FP 1
    assert value(PPV(masked=False), (Y, X, W)) == pytest.approx(2 / 4)     # ignored FP counts


def test_threshold():
    assert value(Sensitivity(threshold=0.9), (Y, X, W)) == pytest.approx(1 / 3)  # logit > 2.197


def test_counts_accumulate_over_batches_and_reset():
    metric = PPV()
    second = (np.array([1, 0], np.float32), np.array([1, 1], np.float32), np.ones(2, np.float32))
    assert value(metric, (Y, X, W), second) == pytest.approx(3 / 5)        # totals, not mean
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_no_positives_gives_zero():
    zeros = np.zeros(4, np.float32)
    assert value(Sensitivity(), (zeros, -np.ones(4, np.float32), np.ones(4, np.float32))) == 0.0
    assert value(PPV(), (zeros, -np.ones(4, np.float32), np.ones(4, np.float32))) == 0.0


def test_uint8_targets_and_maps():
    y = np.zeros((2, 1, 3, 3, 9), np.uint8)
    y[0, 0, 1, 1, 4] = 1
    x = np.full(y.shape, -5, np.float32)
    x[0, 0, 1, 1, 4] = 5
    assert value(Sensitivity(), (y, x, np.ones(y.shape, np.float32))) == 1.0


def test_serialisation_round_trip():
    metric = PPV(threshold=0.3, masked=False, name="ppv_seed")
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert isinstance(again, PPV) and again.get_config() == metric.get_config()


def test_bad_threshold():
    with pytest.raises(ValueError, match="threshold"):
        Sensitivity(threshold=1.0)
