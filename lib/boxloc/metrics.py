"""Anchor-level sensitivity and PPV as stateful ``keras.metrics.Metric`` classes.

An anchor is predicted positive when ``sigmoid(logit) > threshold`` and truly positive when
``y_true > 0``. Counts are weighted by the sample weights (the loss masks), so an ignored anchor
(weight 0) counts neither as a true nor as a false prediction. Counts accumulate over the epoch
and the result is the ratio of the totals (the seed averaged per-batch ratios instead); with
no positives the result is 0, never NaN.

Pass them as ``weighted_metrics`` in ``compile``: Keras 3 gives sample weights only to those.
``PPV(masked=False)`` reproduces the seed's unmasked PPV, where predictions in the ignore band
count as false positives.
"""

import math

from ._keras import keras

ops = keras.ops

__all__ = ["Sensitivity", "PPV"]


class _AnchorCounts(keras.metrics.Metric):
    """Accumulates weighted true positives and a denominator."""

    def __init__(self, threshold=0.5, masked=True, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if not 0 < threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        self.threshold, self.masked = float(threshold), bool(masked)
        self._logit_threshold = math.log(threshold / (1 - threshold))
        self.true_positives = self.add_variable((), initializer="zeros", name="true_positives")
        self.denominator = self.add_variable((), initializer="zeros", name="denominator")

    def _denominator(self, predicted, actual):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(y_pred, "float32")
        predicted = ops.cast(y_pred > self._logit_threshold, "float32")  # sigmoid(x) > thr
        actual = ops.cast(ops.cast(y_true, "float32") > 0, "float32")
        if sample_weight is not None and self.masked:
            weights = ops.broadcast_to(ops.cast(sample_weight, "float32"), ops.shape(y_pred))
        else:
            weights = ops.ones_like(y_pred)
        self.true_positives.assign_add(ops.cast(ops.sum(predicted * actual * weights),
                                                self.dtype))
        self.denominator.assign_add(ops.cast(ops.sum(self._denominator(predicted, actual)
                                                     * weights), self.dtype))

    def result(self):
        return ops.divide_no_nan(self.true_positives, self.denominator)

    def reset_state(self):
        self.true_positives.assign(0.0)
        self.denominator.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold, "masked": self.masked}


@keras.saving.register_keras_serializable(package="boxloc")
class Sensitivity(_AnchorCounts):
    """TP / (TP + FN) over anchors: the fraction of positive anchors predicted positive."""

    def __init__(self, threshold=0.5, masked=True, name="sens", dtype=None):
        super().__init__(threshold, masked, name, dtype)

    def _denominator(self, predicted, actual):
        return actual


@keras.saving.register_keras_serializable(package="boxloc")
class PPV(_AnchorCounts):
    """TP / (TP + FP) over anchors: the fraction of predicted positives that are positive.

    ``masked=False`` is the seed's PPV (ignored anchors predicted positive count as FP).
    """

    def __init__(self, threshold=0.5, masked=True, name="ppv", dtype=None):
        super().__init__(threshold, masked, name, dtype)

    def _denominator(self, predicted, actual):
        return predicted
