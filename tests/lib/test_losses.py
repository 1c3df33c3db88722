"""Masked focal and smooth-L1 losses against NumPy references of their formulas."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from boxloc.losses import FocalLoss, SmoothL1Loss  # noqa: E402


def softplus(x):
    return np.logaddexp(0, x)


def focal_reference(y, x, w, gamma=2.0, alpha=0.25, variant="seed"):
    y, x, w = (np.asarray(a, np.float64) for a in (y, x, w))
    p = 1 / (1 + np.exp(-x))
    neg = 1 - alpha if variant == "retinanet" else 1.0
    v = np.where(y > 0, alpha * softplus(-x) * (1 - p) ** gamma, neg * softplus(x) * p ** gamma)
    if variant == "seed":
        return np.sum(v * w) / v.size
    return np.sum(v * w) / max(1.0, np.sum((y > 0) * w))


def huber_reference(y, x, w, delta=1.0, variant="seed"):
    e = np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))
    v = np.where(e <= delta, 0.5 * e ** 2, delta * (e - 0.5 * delta))
    if variant == "seed":
        return np.sum(v * w) / v.size
    return np.sum(v * w) / max(1.0, np.sum(w) / 4)


def cls_batch(seed=0, shape=(2, 1, 4, 4, 9)):
    rng = np.random.default_rng(seed)
    y = (rng.random(shape) < 0.2).astype(np.uint8)
    x = rng.normal(0, 3, shape).astype(np.float32)
    w = (rng.random(shape) < 0.8).astype(np.float32)
    w[y > 0] = 1
    return y, x, w


@pytest.mark.parametrize("variant", ["seed", "retinanet"])
@pytest.mark.parametrize("gamma,alpha", [(2.0, 0.25), (0.0, 0.5), (1.5, 0.9)])
def test_focal_matches_reference(variant, gamma, alpha):
    y, x, w = cls_batch()
    loss = FocalLoss(gamma, alpha, variant)(y, x, sample_weight=w)
    assert float(loss) == pytest.approx(focal_reference(y, x, w, gamma, alpha, variant), rel=1e-5)


def test_focal_seed_is_jarvis_formula():
    """The seed's tf.nn.weighted_cross_entropy_with_logits(pos_weight=alpha) form, averaged."""
    tf = pytest.importorskip("tensorflow")
    y, x, w = cls_batch(1)
    y32 = y.astype(np.float32)
    ce = tf.nn.weighted_cross_entropy_with_logits(labels=y32, logits=x, pos_weight=0.25)
    p = tf.math.sigmoid(x)
    mod = tf.where(tf.cast(y32, tf.bool), (1 - p) ** 2, p ** 2)
    jarvis = float(tf.reduce_mean(mod * ce * w))
    assert float(FocalLoss()(y, x, sample_weight=w)) == pytest.approx(jarvis, rel=1e-5)


def test_keras_sum_over_batch_size_divides_by_element_count():
    y, x, w = cls_batch(2)
    w[:] = 0
    w[0, 0, 0, 0, 0] = 1
    single = float(FocalLoss()(y[:, :, :1, :1, :1], x[:, :, :1, :1, :1],
                               sample_weight=w[:, :, :1, :1, :1]))
    assert float(FocalLoss()(y, x, sample_weight=w)) == pytest.approx(single * 2 / y.size, rel=1e-5)


@pytest.mark.parametrize("variant", ["seed", "retinanet"])
@pytest.mark.parametrize("delta", [1.0, 0.5, 1 / 9])
def test_smooth_l1_matches_reference(variant, delta):
    rng = np.random.default_rng(3)
    y = rng.normal(0, 1, (2, 1, 4, 4, 36)).astype(np.float32)
    x = rng.normal(0, 1.5, y.shape).astype(np.float32)
    w = np.repeat((rng.random((2, 1, 4, 4, 9, 1)) < 0.1), 4, axis=-1).reshape(y.shape)
    w = w.astype(np.float32)
    loss = SmoothL1Loss(delta, variant)(y, x, sample_weight=w)
    assert float(loss) == pytest.approx(huber_reference(y, x, w, delta, variant), rel=1e-5)


def test_smooth_l1_is_huber_without_weights():
    y, x = np.zeros((3, 4), np.float32), np.array([[0.5, -2, 3, 0]] * 3, np.float32)
    expected = keras.losses.Huber(delta=1.0, reduction="sum")(y[..., None], x[..., None])
    assert float(SmoothL1Loss()(y, x)) * y.size == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.parametrize("variant", ["seed", "retinanet"])
def test_empty_image(variant):
    """No lesion: all-negative cls targets, reg mask all 0 -> box loss exactly 0, cls finite."""
    shape = (1, 1, 8, 8, 9)
    y_cls, w_cls = np.zeros(shape, np.float32), np.ones(shape, np.float32)
    x_cls = np.random.default_rng(4).normal(0, 2, shape).astype(np.float32)
    cls = float(FocalLoss(variant=variant)(y_cls, x_cls, sample_weight=w_cls))
    assert np.isfinite(cls) and cls > 0
    assert cls == pytest.approx(focal_reference(y_cls, x_cls, w_cls, variant=variant), rel=1e-5)
    reg_shape = shape[:-1] + (36,)
    y_reg, w_reg = np.zeros(reg_shape, np.float32), np.zeros(reg_shape, np.float32)
    x_reg = np.full(reg_shape, 3.0, np.float32)
    assert float(SmoothL1Loss(variant=variant)(y_reg, x_reg, sample_weight=w_reg)) == 0.0


def test_ignored_anchors_do_not_count():
    y, x, w = cls_batch(5)
    x_changed = np.where(w == 0, -x + 7, x).astype(np.float32)
    assert float(FocalLoss()(y, x, sample_weight=w)) == \
        pytest.approx(float(FocalLoss()(y, x_changed, sample_weight=w)), rel=1e-6)


@pytest.mark.parametrize("loss", [FocalLoss(1.0, 0.5, "retinanet"), SmoothL1Loss(0.25, "retinanet")])
def test_serialisation_round_trip(loss):
    config = keras.saving.serialize_keras_object(loss)
    assert config["registered_name"].startswith("boxloc>")
    again = keras.saving.deserialize_keras_object(config)
    assert type(again) is type(loss) and again.get_config() == loss.get_config()


@pytest.mark.parametrize("make", [lambda: FocalLoss(gamma=-1), lambda: FocalLoss(alpha=2),
                                  lambda: FocalLoss(variant="paper"),
                                  lambda: SmoothL1Loss(delta=0)])
def test_bad_arguments(make):
    with pytest.raises(ValueError, match="gamma|alpha|variant|delta"):
        make()
