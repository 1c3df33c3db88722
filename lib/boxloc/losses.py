"""Masked detection losses as serialisable ``keras.losses.Loss`` subclasses (keras.ops only).

The loss masks arrive as sample weights of the same shape as the targets (``BoundingBox.
generator`` yields them keyed by output name): weight 0 removes an ignored anchor from the
loss. Keras then computes ``reduce(values * weights)``.

Two normalisations, chosen by ``variant``:

* ``"seed"`` (default, the tutorial's ``jarvis`` losses): Keras' ``sum_over_batch_size``,
  i.e. ``sum(v * w) / number of elements`` (B*Z*gh*gw*A*K), ignored anchors included in the
  count. The box loss is therefore tiny when positives are few.
* ``"retinanet"`` (the RetinaNet paper): ``sum(v * w) / max(1, number of positive anchors)``,
  counted per output (so per pyramid level, a documented difference from the paper's count over
  all levels).

An image without lesions has no positive anchor: its box loss is exactly 0 and its
classification loss finite in both variants.
"""

from ._keras import keras

ops = keras.ops

__all__ = ["FocalLoss", "SmoothL1Loss", "VARIANTS"]

VARIANTS = ("seed", "retinanet")


def _check_variant(variant):
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    return variant


class _NormalisedLoss(keras.losses.Loss):
    """Shared ``__call__``: Keras' reduction for ``seed``, per-positive for ``retinanet``."""

    def _num_positives(self, y_true, sample_weight):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self.variant == "seed":
            return super().__call__(y_true, y_pred, sample_weight)
        y_pred = ops.convert_to_tensor(y_pred, dtype=self.dtype)
        y_true = ops.convert_to_tensor(y_true, dtype=self.dtype)
        weights = ops.ones_like(y_true) if sample_weight is None else \
            ops.broadcast_to(ops.cast(sample_weight, self.dtype), ops.shape(y_true))
        values = self.call(y_true, y_pred)
        positives = ops.maximum(self._num_positives(y_true, weights), 1.0)
        return ops.sum(values * weights) / positives


@keras.saving.register_keras_serializable(package="boxloc")
class FocalLoss(_NormalisedLoss):
    """Sigmoid focal loss on logits (Lin et al. 2017), masked by the sample weights.

    With ``p = sigmoid(x)``, ``y`` in {0, 1} (any ``y > 0`` counts as positive)::

        seed:      v = alpha * y * softplus(-x) * (1 - p)**gamma + (1 - y) * softplus(x) * p**gamma
        retinanet: v = alpha * y * softplus(-x) * (1 - p)**gamma
                       + (1 - alpha) * (1 - y) * softplus(x) * p**gamma

    ``seed`` weights only the positives by alpha (jarvis' ``pos_weight``), so its negatives are
    4/3 heavier than the paper's at alpha = 0.25; it averages over all elements.
    ``retinanet`` divides by ``max(1, sum of y * w)``, the number of positive anchors.

    Args:
        gamma: focusing exponent (0 gives alpha-weighted binary cross-entropy).
        alpha: weight of the positives.
        variant: ``"seed"`` or ``"retinanet"``.
    """

    def __init__(self, gamma=2.0, alpha=0.25, variant="seed", name="focal_loss",
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if gamma < 0 or not 0 <= alpha <= 1:
            raise ValueError(f"need gamma >= 0 and 0 <= alpha <= 1, got gamma={gamma}, "
                             f"alpha={alpha}")
        self.gamma, self.alpha, self.variant = float(gamma), float(alpha), _check_variant(variant)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        positive = ops.cast(ops.cast(y_true, y_pred.dtype) > 0, y_pred.dtype)
        p = ops.sigmoid(y_pred)
        neg_weight = 1.0 - self.alpha if self.variant == "retinanet" else 1.0
        pos_term = self.alpha * ops.softplus(-y_pred) * ops.power(1.0 - p, self.gamma)
        neg_term = neg_weight * ops.softplus(y_pred) * ops.power(p, self.gamma)
        return positive * pos_term + (1.0 - positive) * neg_term

    def _num_positives(self, y_true, weights):
        return ops.sum(ops.cast(y_true > 0, weights.dtype) * weights)

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, "alpha": self.alpha,
                "variant": self.variant}


@keras.saving.register_keras_serializable(package="boxloc")
class SmoothL1Loss(_NormalisedLoss):
    """Huber loss per element, masked by the sample weights (the seed's ``sl1``)::

        e = y_pred - y_true;  v = 0.5 * e**2 if |e| <= delta else delta * (|e| - 0.5 * delta)

    Smooth-L1 with parameter beta (torchvision, Detectron) is ``huber(delta=beta) / beta``;
    at ``delta = 1`` the two coincide. ``seed`` averages over all elements; ``retinanet``
    divides by ``max(1, sum(w) / 4)``, the number of positive anchors (4 deltas each).
    """

    def __init__(self, delta=1.0, variant="seed", name="smooth_l1_loss",
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not delta > 0:
            raise ValueError(f"delta must be > 0, got {delta}")
        self.delta, self.variant = float(delta), _check_variant(variant)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        error = ops.abs(y_pred - ops.cast(y_true, y_pred.dtype))
        quadratic = ops.minimum(error, self.delta)
        return 0.5 * quadratic ** 2 + self.delta * (error - quadratic)

    def _num_positives(self, y_true, weights):
        return ops.sum(weights) / 4.0

    def get_config(self):
        return {**super().get_config(), "delta": self.delta, "variant": self.variant}
