"""masks.mask_lesions (run-based connected components) against the pixel-loop reference."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from reference import seed_boxes_loop

from boxloc.masks import mask_lesions, masks_to_boxes


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 23), st.integers(1, 29)),
       density=st.floats(0.02, 0.8), seed=st.integers(0, 2 ** 16),
       dtype=st.sampled_from([np.uint8, bool, np.int32, np.float64]),
       min_size_blob=st.sampled_from([0.0, 0.1, 0.5]), box_padding=st.integers(0, 2))
def test_lesions_equal_the_pixel_loop(shape, density, seed, dtype, min_size_blob, box_padding):
    """Any width (row bytes a multiple of 8 or not), any label dtype, any lesion shape: the
    boxes, classes and slices of every lesion equal the per-pixel reference, and pixel counts
    and first pixels are those of ndimage.label's components."""
    rng = np.random.default_rng(seed)
    masks = (rng.random(shape) < density) * rng.integers(1, 4, shape)
    masks = masks.astype(dtype)
    got = mask_lesions(masks, min_size_blob, box_padding)
    expected_boxes, expected_classes, expected_slices, expected_pixels = [], [], [], []
    for s, mask in enumerate(masks):
        boxes, classes = seed_boxes_loop(mask, min_size_blob, box_padding)
        expected_boxes += boxes
        expected_classes += classes
        expected_slices += [s] * len(boxes)
        labels, count = ndimage.label(mask > 0)
        sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
        firsts = [np.argmax(labels.ravel() == k) for k in range(1, count + 1)]
        ranked = sorted(range(count), key=lambda k: firsts[k])
        expected_pixels += [int(sizes[k]) for k in ranked if sizes[k] >= min_size_blob * sizes.max()]
    np.testing.assert_array_equal(got["boxes"], np.reshape(expected_boxes, (-1, 4)))
    np.testing.assert_array_equal(got["classes"], expected_classes)
    np.testing.assert_array_equal(got["slice_index"], expected_slices)
    np.testing.assert_array_equal(got["pixels"], expected_pixels)
    rows, cols = got["first_pixel"].T
    assert np.all(masks[got["slice_index"], rows, cols] > 0)


def test_negative_zero_rows_and_views_are_background():
    """-0.0 is background; a non-contiguous view gives the same lesions as its copy."""
    masks = np.zeros((2, 6, 10))
    masks[0, 1] = -0.0
    assert masks_to_boxes(masks)[0].shape == (0, 4)             # only -0.0: no lesion
    masks[1, 2:4, 3:5] = 2.0
    boxes, classes, slices = masks_to_boxes(masks)
    assert boxes.tolist() == [[2, 3, 4, 5]] and classes.tolist() == [2] and slices.tolist() == [1]
    wide = np.zeros((2, 6, 20))
    wide[:, :, ::2] = masks
    view = wide[:, :, ::2]
    for key, value in mask_lesions(view).items():
        np.testing.assert_array_equal(value, mask_lesions(masks)[key])
