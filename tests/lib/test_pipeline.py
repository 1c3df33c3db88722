"""The tf.data pipeline of the datasets (``boxloc.datasets.pipeline``)."""

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("nibabel")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from boxloc import BoundingBox  # noqa: E402
from boxloc.datasets import Client  # noqa: E402
from boxloc.datasets.phantom import build_phantom  # noqa: E402
from boxloc.datasets.pipeline import (SliceBatches, augment_batch, crop_offsets,  # noqa: E402
                                      make_dataset, take_windows)

BB = dict(image_shape=(240, 240), c=[3, 4], anchor_shapes=[32, 64], iou_upper=0.5,
          iou_lower=0.2)
SMALL = dict(image_shape=(64, 64), c=[2, 3], anchor_shapes=[12, 24], anchor_scales=[0],
             anchor_ratios=[0.5, 1], iou_upper=0.5, iou_lower=0.2)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = build_phantom(4, root=tmp_path_factory.mktemp("boxloc_data"))
    return Client(root, configs={"batch": {"size": 4}}, seed=0)


def lesion_arrays(count=6, size=64, box=(10, 14, 24, 40)):
    """Slices with one bright rectangular lesion in a dimmer 'brain': images (N, s, s, 4),
    labels (N, s, s) (lesion label 2)."""
    images = np.zeros((count, size, size, 4), np.float16)
    labels = np.zeros((count, size, size), np.uint8)
    images[:, 4:-4, 4:-4] = 1.0
    y1, x1, y2, x2 = box
    images[:, y1:y2, x1:x2] = 5.0
    labels[:, y1:y2, x1:x2] = 2
    return images, labels


def test_same_keys_shapes_and_dtypes_as_bounding_box_generator(client):
    bb = BoundingBox(**BB)
    xs, ys, sw = next(bb.generator(client.create_generators()[0], msk="tumor"))
    dataset = make_dataset(client, bb, "train", batch_size=4, seed=0)
    x, y, w = next(iter(dataset))
    for expected, actual in ((xs, x), (ys, y), (sw, w)):
        assert list(actual) == list(expected)
        for key in expected:
            assert tuple(actual[key].shape) == expected[key].shape, key
            assert actual[key].dtype.as_numpy_dtype == expected[key].dtype, key
    spec = dataset.element_spec
    assert spec[0]["dat"].shape.as_list() == [4, 1, 240, 240, 4]
    assert list(make_dataset(client, bb, "valid", batch_size=2, augment=False)
                .element_spec[1]) == list(ys)


def test_without_augmentation_batches_are_the_stored_slices(client):
    bb = BoundingBox(**BB)
    source = SliceBatches(*_split(client), bb, batch_size=3, augment=False, seed=1)
    x, y, w = source.batch(0)
    images, labels = _split(client)
    index = source.indices(0)
    assert np.array_equal(x["dat"][:, 0], images[index].astype(np.float32))
    expected = bb.convert_msk_to_box(labels[index][:, None, ..., None])
    for key in y:
        np.testing.assert_array_equal(y[key], expected[key])
        np.testing.assert_array_equal(w[key], expected[key + "-msk"])


def _split(client):
    from boxloc.datasets.pipeline import load_split
    return load_split(client, "train")


def test_precomputed_targets_equal_per_batch_targets(client):
    bb = BoundingBox(**BB)
    images, labels = _split(client)
    plain = SliceBatches(images, labels, bb, batch_size=5, augment=False, seed=2)
    cached = SliceBatches(images, labels, bb, batch_size=5, augment=False, seed=2,
                          precompute_targets=True)
    for i in (0, 7):
        for one, two in zip(plain.batch(i), cached.batch(i)):
            assert list(one) == list(two)
            for key in one:
                assert one[key].dtype == two[key].dtype
                np.testing.assert_array_equal(one[key], two[key])
    dataset = make_dataset((images, labels), bb, batch_size=5, augment=False, seed=2,
                           precompute_targets=True)
    x, y, w = next(iter(dataset))
    np.testing.assert_array_equal(y["reg-c3"].numpy(), plain.batch(0)[1]["reg-c3"])
    with pytest.raises(ValueError, match="augment=False"):
        make_dataset((images, labels), bb, augment=True, precompute_targets=True)


def test_epochs_visit_every_slice_once():
    images, labels = lesion_arrays(count=10)
    source = SliceBatches(images, labels, BoundingBox(**SMALL), batch_size=5, seed=3)
    first_epoch = np.concatenate([source.indices(0), source.indices(1)])
    assert sorted(first_epoch.tolist()) == list(range(10))
    second = np.concatenate([source.indices(2), source.indices(3)])
    assert sorted(second.tolist()) == list(range(10)) and not np.array_equal(first_epoch, second)


def test_flip_moves_the_box_targets():
    bb = BoundingBox(**SMALL)
    images, labels = lesion_arrays(count=2, box=(10, 14, 24, 40))
    dataset = make_dataset((images, labels), bb, batch_size=2, seed=0, flip_lr=1.0,
                           max_shift=0, gain=0.0, offset=0.0)
    x, y, _ = next(iter(dataset))
    flipped = labels[:, :, ::-1]
    assert np.array_equal(x["dat"].numpy()[:, 0], images[:, :, ::-1].astype(np.float32))
    boxes, _ = bb.convert_box_to_anc({k: v.numpy() for k, v in y.items()})
    expected, _, _ = bb.find_boxes(flipped)
    original, _, _ = bb.find_boxes(labels)
    for decoded in boxes:
        assert len(decoded) >= 1
        assert np.allclose(decoded, expected[0], atol=0.5)           # every anchor -> the GT box
        assert not np.allclose(decoded[0], original[0], atol=0.5)    # and it moved


def test_random_augmentation_keeps_image_and_label_aligned():
    bb = BoundingBox(**SMALL)
    images, labels = lesion_arrays(count=8, box=(10, 14, 24, 40))
    source = SliceBatches(images, labels, bb, batch_size=8, seed=2, max_shift=8, flip_lr=0.5,
                          flip_ud=0.5, gain=0.1, offset=0.1)
    moved = set()
    for i in range(3):
        x, y, _ = source.batch(i)
        lesion = x["dat"][:, 0, ..., 0] > 3                           # 5 +- 10% +- 0.1
        assert np.array_equal(source.arrays(i)[0], x["dat"])            # deterministic
        rng = np.random.default_rng(np.random.SeedSequence([2, 1, i]))
        xa, ya, params = augment_batch(images, labels, source.indices(i), rng,
                                       **source.options)
        assert np.array_equal(xa, x["dat"])
        assert not np.array_equal(xa[:, 0], images[source.indices(i)])   # really jittered
        assert np.array_equal(lesion, ya[:, 0, ..., 0] == 2)          # image and label together
        decoded, _ = bb.convert_box_to_anc(y)
        truth, _, where = bb.find_boxes(ya)
        for s, boxes in enumerate(decoded):
            assert np.allclose(boxes, truth[where == s][0], atol=0.5)
        moved |= {tuple(b) for b in truth.round().astype(int).tolist()}
        assert params["shift"].min() >= -8 and params["shift"].max() <= 8
    assert len(moved) > 5                                             # boxes really moved


def test_tf_pipeline_equals_the_numpy_reference():
    bb = BoundingBox(**SMALL)
    images, labels = lesion_arrays(count=7)
    source = SliceBatches(images, labels, bb, batch_size=3, seed=6, max_shift=5, flip_ud=0.5)
    dataset = make_dataset((images, labels), bb, batch_size=3, seed=6, max_shift=5,
                           flip_ud=0.5)
    for i, (x, y, w) in enumerate(dataset.take(3)):
        xs, ys, ws = source.batch(i)
        np.testing.assert_allclose(x["dat"].numpy(), xs["dat"], rtol=1e-6)  # XLA fuses mul-add
        for key in ys:
            np.testing.assert_array_equal(y[key].numpy(), ys[key])
            np.testing.assert_array_equal(w[key].numpy(), ws[key])


def test_same_seed_same_batches():
    bb = BoundingBox(**SMALL)
    images, labels = lesion_arrays(count=7)

    def first_two(seed, parallel=None):
        batches = make_dataset((images, labels), bb, batch_size=3, seed=seed,
                               num_parallel_calls=parallel).take(3)
        return [tf.nest.map_structure(lambda t: t.numpy(), b) for b in batches]

    a, b, c = first_two(4), first_two(4, parallel=1), first_two(5)
    for one, two in zip(a, b):
        tf.nest.map_structure(np.testing.assert_array_equal, one, two)
    assert not np.array_equal(a[0][0]["dat"], c[0][0]["dat"])


def test_model_fit_accepts_it():
    from boxloc.models import build_retinanet
    from boxloc.training import compile_retinanet

    bb = BoundingBox(**SMALL)
    images, labels = lesion_arrays(count=8)
    keras.utils.set_random_seed(0)
    model = build_retinanet(bb, channels=4, filters=(4, 8, 8, 8), width=8, head_depth=1,
                            prior_probability=0.01)
    compile_retinanet(model)
    history = model.fit(make_dataset((images, labels), bb, batch_size=4, seed=0),
                        steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])


def test_crop_offsets_and_windows():
    """Offsets are multiples of the step and keep the window inside the slice (every allowed
    one drawn); without a generator the window is centred; windows gather exactly."""
    rng = np.random.default_rng(0)
    top, left = crop_offsets(rng, 400, (64, 48), (32, 16), step=8)
    assert set(top.tolist()) == {0, 8, 16, 24, 32} and set(left.tolist()) == {0, 8, 16, 24, 32}
    top0, left0 = crop_offsets(None, 3, (64, 48), (32, 16), step=8)
    assert top0.tolist() == [16] * 3 and left0.tolist() == [16] * 3
    assert crop_offsets(None, 1, (65, 48), (32, 16), step=8)[0].tolist() == [16]  # 16.5 -> 16
    array = np.arange(5 * 64 * 48).reshape(5, 64, 48)
    windows = take_windows(array, [4, 0], [8, 24], [0, 32], (32, 16))
    np.testing.assert_array_equal(windows[0], array[4, 8:40, 0:16])
    np.testing.assert_array_equal(windows[1], array[0, 24:56, 32:48])
    for crop, step, match in (((65, 16), 1, "crop must fit"), ((0, 16), 1, "crop must fit"),
                              ((32, 16), 0, "crop_step"), ((32, 16), 2.5, "crop_step")):
        with pytest.raises(ValueError, match=match):
            crop_offsets(rng, 1, (64, 48), crop, step)


def test_crops_carry_their_boxes():
    """Training on windows: the pipeline's x and targets are the window of the augmented
    slice, with the targets of the window's own boxes (BoundingBox of the crop size); the
    tf.data pipeline equals the NumPy reference."""
    images, labels = lesion_arrays(count=6, box=(20, 20, 34, 40))
    crop = (48, 48)
    bb = BoundingBox(**{**SMALL, "image_shape": crop})
    options = dict(max_shift=0, flip_lr=0.5, gain=0.0, offset=0.0, crop=crop, crop_step=8)
    source = SliceBatches(images, labels, bb, batch_size=6, seed=3, **options)
    dataset = make_dataset((images, labels), bb, batch_size=6, seed=3, **options)
    seen = set()
    for i, (x, y, w) in enumerate(dataset.take(3)):
        xs, ys, ws = source.batch(i)
        assert xs["dat"].shape == (6, 1, 48, 48, 4)
        np.testing.assert_allclose(x["dat"].numpy(), xs["dat"], rtol=1e-6)
        for key in ys:
            np.testing.assert_array_equal(y[key].numpy(), ys[key])
            np.testing.assert_array_equal(w[key].numpy(), ws[key])
        rng = np.random.default_rng(np.random.SeedSequence([3, 1, i]))
        xa, ya, params = augment_batch(images, labels, source.indices(i), rng, **options)
        for b, (top, left) in enumerate(params["window"]):
            seen.add((int(top), int(left)))
            full = labels[source.indices(i)[b]]
            full = full[:, ::-1] if params["flip_lr"][b] else full
            np.testing.assert_array_equal(ya[b, 0, ..., 0], full[top:top + 48, left:left + 48])
        decoded, _ = bb.convert_box_to_anc(ys)
        truth, _, where = bb.find_boxes(ya)
        for s_, boxes in enumerate(decoded):
            if (where == s_).any():
                assert np.allclose(boxes, truth[where == s_][0], atol=0.5)
    assert len(seen) > 3
    with pytest.raises(ValueError, match="crops are"):
        SliceBatches(images, labels, BoundingBox(**SMALL), crop=crop)
    with pytest.raises(ValueError, match="no crop"):
        SliceBatches(images, labels, bb, augment=False, crop=crop, precompute_targets=True)


def test_bad_arguments_raise():
    bb = BoundingBox(**SMALL)
    images, labels = lesion_arrays(count=2)
    with pytest.raises(ValueError, match="unknown augmentation options"):
        make_dataset((images, labels), bb, rotate=10)
    with pytest.raises(ValueError, match="image_shape"):
        make_dataset((images, labels), BoundingBox(**BB))
    with pytest.raises(ValueError, match="same"):
        make_dataset((images, labels[:1]), bb)


def test_importing_the_datasets_does_not_import_tensorflow():
    code = ("import sys, boxloc.datasets, boxloc.datasets.pipeline; "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
