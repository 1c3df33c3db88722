"""Keras 3 FPN + RetinaNet builders: the seed architecture, shapes, the level check, the bias,
and a top-down block of one's own in place of the library's."""

import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from boxloc import BoundingBox  # noqa: E402
from boxloc.models import (build_retinanet, check_levels, prior_bias, pyramid_grid,  # noqa: E402
                           top_down_merge)

SEED_BB = dict(image_shape=(240, 240), c=[3, 4], anchor_shapes=[32, 64])
TINY = dict(filters=(4, 8, 8, 8), width=8, head_depth=1)


@pytest.fixture(scope="module")
def seed_model():
    return build_retinanet(BoundingBox(**SEED_BB), channels=4, preset="seed")


def test_seed_parameter_count(seed_model):
    assert seed_model.count_params() == 456_146


def test_seed_layers(seed_model):
    """Layer for layer: 9 contracting convs, 2 projections + 1 merge conv, 2 levels x 2 heads x
    (2 blocks + output); a BatchNorm and ReLU after every conv except projections/outputs."""
    kinds = Counter(type(layer).__name__ for layer in seed_model.layers)
    assert kinds["Conv3D"] == 9 + 3 + 12
    assert kinds["BatchNormalization"] == kinds["ReLU"] == 9 + 1 + 8
    assert kinds["UpSampling3D"] == kinds["Add"] == 1
    proj = seed_model.get_layer("p4-proj")
    assert proj.kernel_size == (1, 1, 1) and proj.filters == 64
    assert [seed_model.get_layer(f"p3-{part}").name for part in ("up", "proj", "add")] == \
        ["p3-up", "p3-proj", "p3-add"]


def test_outputs_and_whole_volume_prediction(seed_model):
    assert sorted(seed_model.output_names) == ["cls-c3", "cls-c4", "reg-c3", "reg-c4"]
    assert tuple(seed_model.inputs[0].shape) == (None, None, 240, 240, 4)
    out = seed_model.predict({"dat": np.zeros((1, 3, 240, 240, 4), np.float32)}, verbose=0)
    assert isinstance(out, dict)
    assert out["cls-c3"].shape == (1, 3, 30, 30, 9) and out["reg-c4"].shape == (1, 3, 15, 15, 36)


def test_outputs_match_bounding_box_shapes():
    bb = BoundingBox((64, 64), classes=2, c=[2, 3], anchor_shapes=[8, 16], anchor_ratios=[1])
    model = build_retinanet(bb, channels=1, **TINY)
    for key, shape in bb.params["inputs_shapes"].items():
        if not key.endswith("-msk"):
            assert tuple(model.get_layer(key).output.shape[2:]) == tuple(shape[1:])
    assert model.get_layer("cls-c2").filters == 3 * 2


def test_missing_level_says_how_deep():
    bb = BoundingBox((64, 64), c=[2, 4], anchor_shapes=[8, 32])
    with pytest.raises(ValueError, match=r"level c4 .*stops at level c3.*at least 5 entries"):
        build_retinanet(bb, filters=(4, 8, 8, 8))


def test_grid_mismatch_names_the_level():
    bb = BoundingBox((240, 240), c=[5], anchor_shapes=[64])          # 240 / 32 = 7.5 -> 7
    assert pyramid_grid((240, 240), 5) == (8, 8)
    with pytest.raises(ValueError, match=r"level c5: .*8x8 .*7x7"):
        check_levels(bb, depth=5)


def test_deeper_arm_with_odd_grid_is_cropped():
    model = build_retinanet(BoundingBox((40, 40), c=[1, 2], anchor_shapes=[8, 16]),
                            filters=(4, 4, 4, 4, 4), width=4, head_depth=1)  # c3 5x5, c4 3x3
    assert tuple(model.get_layer("p3-crop").output.shape[2:4]) == (5, 5)
    assert tuple(model.get_layer("cls-c1").output.shape[2:4]) == (20, 20)


def test_prior_probability_bias():
    bb = BoundingBox((64, 64), c=[2, 3], anchor_shapes=[8, 16])
    course = build_retinanet(bb, preset="course", filters=TINY["filters"])
    assert np.allclose(course.get_layer("cls-c2").bias.numpy(), prior_bias(0.01))
    assert np.allclose(course.get_layer("reg-c2").bias.numpy(), 0)
    assert prior_bias(0.01) == pytest.approx(-np.log(99))
    seed = build_retinanet(bb, preset="seed", filters=TINY["filters"])
    assert np.allclose(seed.get_layer("cls-c2").bias.numpy(), 0)
    logits = course.predict({"dat": np.zeros((1, 1, 64, 64, 1), np.float32)}, verbose=0)
    probability = 1 / (1 + np.exp(-logits["cls-c3"]))
    assert abs(float(np.median(probability)) - 0.01) < 0.02


@pytest.mark.parametrize("kwargs", [dict(preset="paper"), dict(prior_probability=1.5)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="preset|prior_probability"):
        build_retinanet(BoundingBox((64, 64), c=[2], anchor_shapes=[8]), **kwargs)


def test_import_boxloc_stays_numpy_only():
    code = ("import sys, boxloc, boxloc.evaluation; "
            "assert not {'tensorflow', 'keras'} & set(sys.modules), 'framework imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def layers_block(coarser, finer, width):
    """The top-down step written with layers, as a student would (no names, no crop)."""
    up = keras.layers.UpSampling3D((1, 2, 2))(coarser)
    return up + keras.layers.Conv3D(width, 1)(finer)


def ops_block(coarser, finer, width):
    """The same step with keras.ops: repeat rows and columns, then add."""
    up = keras.ops.repeat(keras.ops.repeat(coarser, 2, axis=2), 2, axis=3)
    return keras.ops.add(up, keras.layers.Conv3D(width, (1, 1, 1))(finer))


def concatenating_block(coarser, finer, width):
    up = keras.layers.UpSampling3D((1, 2, 2))(coarser)
    return keras.layers.Concatenate()([up, keras.layers.Conv3D(width, 1)(finer)])


def test_own_block_gives_the_seed_network():
    model = build_retinanet(BoundingBox(**SEED_BB), channels=4, preset="seed",
                            top_down=layers_block)
    assert model.count_params() == 456_146
    assert {n: tuple(o.shape) for n, o in zip(model.output_names, model.outputs)} == {
        "cls-c3": (None, None, 30, 30, 9), "reg-c3": (None, None, 30, 30, 36),
        "cls-c4": (None, None, 15, 15, 9), "reg-c4": (None, None, 15, 15, 36)}


@pytest.mark.parametrize("block", [layers_block, ops_block])
def test_own_block_with_the_same_weights_predicts_the_same(block):
    bb = BoundingBox((64, 64), c=[2, 3], anchor_shapes=[8, 16])
    library = build_retinanet(bb, channels=2, **TINY)
    own = build_retinanet(bb, channels=2, top_down=block, **TINY)
    own.set_weights(library.get_weights())
    data = {"dat": np.random.default_rng(0).normal(size=(1, 2, 64, 64, 2)).astype("float32")}
    expected, got = library.predict(data, verbose=0), own.predict(data, verbose=0)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=1e-5)


def test_top_down_merge_shapes_and_parameters():
    coarser = keras.Input((None, 3, 5, 8))
    finer = keras.Input((None, 6, 10, 4))
    merged = top_down_merge(coarser, finer, 8)
    assert tuple(merged.shape) == (None, None, 6, 10, 8)
    assert keras.Model([coarser, finer], merged).count_params() == 4 * 8 + 8


def test_own_block_of_the_wrong_shape_names_the_level():
    bb = BoundingBox((64, 64), c=[2, 3], anchor_shapes=[8, 16])
    with pytest.raises(ValueError, match=r"top_down returned shape .* at level c2; expected "
                                         r"\(None, None, 16, 16, 8\)"):
        build_retinanet(bb, top_down=concatenating_block, **TINY)


def test_own_block_is_not_asked_to_crop():
    bb = BoundingBox((40, 40), c=[1, 2], anchor_shapes=[8, 16])     # c3 5x5, c4 3x3
    with pytest.raises(ValueError, match=r"level c3: .*5x5, not twice the 3x3 .*divisible"):
        build_retinanet(bb, filters=(4, 4, 4, 4, 4), width=4, head_depth=1,
                        top_down=layers_block)
