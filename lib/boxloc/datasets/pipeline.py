"""Feeding Keras: the dataset as a ``tf.data`` pipeline with augmentation and box targets.

This is the only dataset module that imports TensorFlow (lazily, inside the functions), so
``import boxloc.datasets`` stays TensorFlow-free.

``make_dataset(client_or_arrays, bb)`` yields the same ``(x, y, sample_weight)`` dicts as
``bb.generator(client generator, msk='tumor')``: ``x['dat']`` float32 (B, 1, H, W, C), ``y``
``cls-c{c}`` / ``reg-c{c}`` float32 targets, ``sample_weight`` the matching ``-msk`` loss masks
keyed by output name. Per batch:

1. NumPy (``tf.numpy_function``, parallel calls, kept in order): pick ``batch_size`` slices of
   the split (a fresh permutation per epoch, so every slice is seen once per epoch); augment
   image and label together (``augment=True``): left-right flip (p 0.5), up-down flip (p
   ``flip_ud``, default 0) and an integer shift of up to ``max_shift`` pixels per axis (the
   uncovered border is 0, as the skull-stripped background) in one copy per slice that moves
   whole pixels (float16 x 4 = one uint64); with ``crop=(h, w)`` a window of each slice
   (random offsets, multiples of ``crop_step``: training on crops as the benchmarked
   configuration does, with ``bb`` the ``BoundingBox`` of the window size); then the box
   targets of the augmented labels with the NumPy ``BoundingBox.convert_msk_to_box`` on the
   whole batch, so flipped, shifted or cropped lesions get their moved boxes (about 4 ms per
   batch of 16: computing them per batch is as fast as gathering precomputed ones, see
   ``benchmarks/bench_pipeline.py``);
2. TensorFlow (one XLA kernel): float16 -> float32 and the per-contrast intensity jitter
   ``x * gain + offset`` inside the brain (``x != 0``), gain in ``1 +- gain``, offset in
   ``+- offset``, drawn in step 1.

Everything is a function of ``seed`` and the batch index, so the dataset is deterministic for
a seed whatever the number of parallel calls. Data are held in memory as stored (float16
images, uint8 labels): 1/2 GB per 1000 slices of 240 x 240 x 4.

>>> bb = BoundingBox((240, 240), c=[3, 4], anchor_shapes=[32, 64])          # doctest: +SKIP
>>> dataset = make_dataset(client, bb, 'train', batch_size=16, seed=0)      # doctest: +SKIP
>>> model.fit(dataset, steps_per_epoch=500, epochs=16)                      # doctest: +SKIP

Known TensorFlow limitation (``tf.numpy_function``): an iterator still alive when the
interpreter shuts down (e.g. ``it = iter(dataset)`` at module level of a script) can hang the
exit, because its worker threads need Python to finish; ``del it`` before the end, or iterate
inside a function or through ``model.fit``.
"""

import numpy as np

__all__ = ["load_split", "crop_offsets", "take_windows", "augment_batch", "SliceBatches",
           "make_dataset"]


def load_split(client, split="train", msk="tumor"):
    """All slices of ``split`` of a ``Client`` in memory: ``(images, labels)``.

    Returns:
        images: (N, H, W, C) as stored (float16; float32 when the client's xs norms apply).
        labels: uint8 (N, H, W), after the client's ys norms (e.g. binarising ``clip``).
    """
    from .client import apply_norms

    specs = client.configs["specs"]
    if msk not in specs["ys"]:
        raise ValueError(f"msk={msk!r} is not a ys key of the client; keys are "
                         f"{sorted(specs['ys'])}")
    xs_keys = [k for k, spec in specs["xs"].items() if spec.get("input", True)]
    if len(xs_keys) != 1:
        raise ValueError(f"make_dataset needs exactly one input in the client's xs specs, "
                         f"got {xs_keys}")
    x_spec, y_spec = specs["xs"][xs_keys[0]], specs["ys"][msk]
    images, labels = [], []
    for volume in client.meta["volumes"]:
        if volume["split"] != split:
            continue
        image = client.volume_array(volume["id"], x_spec["loads"])
        label = client.volume_array(volume["id"], y_spec["loads"])
        if x_spec["norms"]:
            image = apply_norms(image, x_spec["norms"]).astype(np.float32)
        if y_spec["norms"]:
            label = apply_norms(label, y_spec["norms"]).astype(np.uint8)
        images.append(image)
        labels.append(label)
    if not images:
        raise ValueError(f"split {split!r} holds no volume; use more volumes")
    return np.concatenate(images), np.concatenate(labels)


def _shift_slices(shift, size):
    """(destination, source) slices of one axis for an integer shift (content moves +shift)."""
    if shift >= 0:
        return slice(shift, size), slice(0, size - shift)
    return slice(0, size + shift), slice(-shift, size)


_PIXEL_TYPES = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64, 16: np.complex128}


def _pixels(array):
    """A view of (..., H, W, C) with one element per pixel (e.g. float16 x 4 -> uint64), so
    that flipped or shifted copies move whole pixels instead of 4 values at a time; the array
    itself when no such view exists."""
    kind = _PIXEL_TYPES.get(array.shape[-1] * array.itemsize)
    if kind is None or not array.flags.c_contiguous:
        return array
    return array.view(kind)[..., 0]


def _jitter_numpy(x, gains, offsets):
    """``x * gain + offset`` inside the brain (``x != 0``), per slice and contrast (NumPy)."""
    g, o = gains[:, None, None, None, :], offsets[:, None, None, None, :]
    return np.where(x != 0, x * g + o, x).astype(np.float32)


def crop_offsets(rng, count, shape, crop, step=1):
    """Random window positions: ``(top, left)`` int arrays (count,) for windows of ``crop``
    (h, w) in slices of ``shape`` (H, W), each offset a multiple of ``step`` (e.g. the coarsest
    pyramid stride, so that the window's anchor grids are the full slice's). ``rng`` None: the
    centred window (rounded down to a multiple of ``step``)."""
    (height, width), (crop_h, crop_w) = shape, crop
    if not (0 < crop_h <= height and 0 < crop_w <= width):
        raise ValueError(f"crop must fit in the {height} x {width} slices, got {crop}")
    if not isinstance(step, (int, np.integer)) or step < 1:
        raise ValueError(f"crop_step must be an integer >= 1, got {step!r}")
    if rng is None:
        top, left = ((height - crop_h) // 2 // step * step, (width - crop_w) // 2 // step * step)
        return np.full(count, top), np.full(count, left)
    return (rng.choice(np.arange(0, height - crop_h + 1, step), count),
            rng.choice(np.arange(0, width - crop_w + 1, step), count))


def take_windows(array, index, top, left, crop):
    """``array[index[b], top[b]:top[b] + h, left[b]:left[b] + w]`` for every b, in one gather:
    (N, H, W, ...) -> (B, h, w, ...)."""
    crop_h, crop_w = crop
    rows = (np.asarray(top)[:, None] + np.arange(crop_h))[:, :, None]
    cols = (np.asarray(left)[:, None] + np.arange(crop_w))[:, None, :]
    return array[np.asarray(index)[:, None, None], rows, cols]


def augment_batch(images, labels, index, rng=None, max_shift=0, flip_lr=0.0, flip_ud=0.0,
                  gain=0.0, offset=0.0, jitter=True, crop=None, crop_step=1):
    """Gather slices ``index`` and augment image and label together (NumPy).

    Args:
        images: (N, H, W, C) float; labels: (N, H, W) integer.
        index: int (B,) slices to take.
        rng: numpy Generator; None: no augmentation.
        max_shift: largest integer shift in pixels, per axis (uniform in [-s, s]); the
            uncovered border is 0.
        flip_lr, flip_ud: probabilities of a left-right (columns) / up-down (rows) flip.
        gain, offset: per-contrast intensity jitter ``x * U(1-gain, 1+gain) + U(-offset,
            offset)`` inside the brain (``x != 0``); the background stays 0.
        jitter: apply the intensity jitter here (float32 result); False returns the slices in
            the dtype of ``images`` and leaves the jitter to the caller (the tf.data pipeline
            does it in one XLA kernel).
        crop: None, or (h, w): after flips and shift, each slice is cut to a window of that
            size at offsets that are multiples of ``crop_step`` (``crop_offsets``; random with
            ``rng``, centred without).

    Returns:
        x (B, 1, H, W, C) float32 (``images.dtype`` if not ``jitter``), y (B, 1, H, W, 1) in
        the labels' dtype ((h, w) instead of (H, W) with ``crop``), and the parameters per
        slice ``{'flip_lr', 'flip_ud': bool (B,), 'shift': int (B, 2) (rows, cols), 'gain',
        'offset': float32 (B, C), 'window': int (B, 2) (top, left) of the crop or 0}``.
    """
    images, labels, index = np.asarray(images), np.asarray(labels), np.asarray(index)
    count = len(index)
    _, height, width, channels = images.shape
    x = np.empty((count, 1, height, width, channels), images.dtype)
    y = np.empty((count, 1, height, width, 1), labels.dtype)
    on = rng is not None
    lr = rng.uniform(size=count) < flip_lr if on else np.zeros(count, bool)
    ud = rng.uniform(size=count) < flip_ud if on else np.zeros(count, bool)
    shift = (rng.integers(-max_shift, max_shift + 1, size=(count, 2)) if on and max_shift
             else np.zeros((count, 2), int))
    gains = (rng.uniform(1 - gain, 1 + gain, size=(count, channels)) if on and gain
             else np.ones((count, channels))).astype(np.float32)
    offsets = (rng.uniform(-offset, offset, size=(count, channels)) if on and offset
               else np.zeros((count, channels))).astype(np.float32)
    source_pixels, target_pixels = _pixels(images), _pixels(x)[:, 0]
    for b, z in enumerate(index):
        image, label = source_pixels[z], labels[z]
        if lr[b]:
            image, label = image[:, ::-1], label[:, ::-1]
        if ud[b]:
            image, label = image[::-1], label[::-1]
        rows_to, rows_from = _shift_slices(shift[b, 0], height)
        cols_to, cols_from = _shift_slices(shift[b, 1], width)
        target_pixels[b, rows_to, cols_to] = image[rows_from, cols_from]
        y[b, 0, rows_to, cols_to, 0] = label[rows_from, cols_from]
        for out in (target_pixels[b], y[b, 0]):                   # uncovered border -> 0
            out[:rows_to.start] = 0
            out[rows_to.stop:] = 0
            out[:, :cols_to.start] = 0
            out[:, cols_to.stop:] = 0
    window = np.zeros((count, 2), int)
    if crop is not None:
        window[:, 0], window[:, 1] = crop_offsets(rng, count, (height, width), crop, crop_step)
        every = np.arange(count)
        x = take_windows(x[:, 0], every, window[:, 0], window[:, 1], crop)[:, None]
        y = take_windows(y[:, 0], every, window[:, 0], window[:, 1], crop)[:, None]
    if jitter:
        x = (_jitter_numpy(x, gains, offsets) if on and (gain or offset)
             else x.astype(np.float32))
    return x, y, {"flip_lr": lr, "flip_ud": ud, "shift": shift, "gain": gains,
                  "offset": offsets, "window": window}


class SliceBatches:
    """Batch ``i`` of a seeded, augmented stream of slices with box targets (NumPy only).

    ``batch(i)`` returns ``(x, y, sw)`` dicts as ``bb.generator``; it depends only on the seed
    and ``i`` (epoch ``e = i * batch_size // N`` draws its own permutation of the N slices).
    ``precompute_targets=True`` (only without augmentation) computes the box targets of every
    slice once and gathers them per batch (0/1 maps kept as uint8: about 0.22 MB per slice
    for the course ``BoundingBox``).
    """

    def __init__(self, images, labels, bb, batch_size=16, augment=True, seed=0, shuffle=True,
                 max_shift=16, flip_lr=0.5, flip_ud=0.0, gain=0.1, offset=0.1, x_key="dat",
                 precompute_targets=False, crop=None, crop_step=1):
        images, labels = np.asarray(images), np.asarray(labels)
        if labels.ndim == 4 and labels.shape[-1] == 1:
            labels = labels[..., 0]
        if images.ndim != 4 or labels.shape != images.shape[:3]:
            raise ValueError(f"images must be (N, H, W, C) and labels (N, H, W) with the same "
                             f"N, H, W; got {images.shape} and {labels.shape}")
        out_shape = tuple(images.shape[1:3]) if crop is None else tuple(crop)
        if out_shape != tuple(bb.params["image_shape"]):
            what = "slices are" if crop is None else "crops are"
            raise ValueError(f"{what} {out_shape} but bb.params['image_shape'] is "
                             f"{tuple(bb.params['image_shape'])}")
        if crop is not None:
            crop_offsets(None, 1, images.shape[1:3], crop, crop_step)   # checks crop, step
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        self.images, self.labels, self.bb = images, labels, bb
        self.batch_size, self.augment, self.seed, self.shuffle = batch_size, augment, seed, shuffle
        self.options = dict(max_shift=int(max_shift), flip_lr=flip_lr, flip_ud=flip_ud,
                            gain=gain, offset=offset, crop=crop, crop_step=crop_step)
        self.x_key = x_key
        self._orders = {}
        probe = bb.convert_msk_to_box(np.zeros((1, 1, *out_shape, 1), np.uint8))
        self.keys = list(probe)                                   # seed order per level
        self.specs = {k: (v.shape[1:], v.dtype) for k, v in probe.items()}
        self.targets = None
        if precompute_targets:
            if augment or crop is not None:
                raise ValueError("precompute_targets=True needs augment=False and no crop "
                                 "(both move the boxes, so their targets change per batch)")
            self.targets = self._all_targets()

    def _all_targets(self, chunk=64):
        """Box maps of every slice (N, 1, gh, gw, D); exact 0/1 maps stored as uint8."""
        parts = {k: [] for k in self.keys}
        for start in range(0, len(self.labels), chunk):
            box = self.bb.convert_msk_to_box(self.labels[start:start + chunk][:, None, ..., None])
            for k in self.keys:
                parts[k].append(box[k])
        targets = {}
        for k in self.keys:
            value = np.concatenate(parts[k])
            if np.array_equal(value, value.astype(np.uint8)):
                value = value.astype(np.uint8)
            targets[k] = value
        return targets

    def _maps(self, index, y):
        """Box maps of a batch in ``self.keys`` order (targets float32, masks as produced)."""
        if self.targets is not None:
            return tuple(self.targets[k][index].astype(np.float32 if not k.endswith("-msk")
                                                      else self.specs[k][1])
                         for k in self.keys)
        box = self.bb.convert_msk_to_box(y)
        return tuple(box[k] if k.endswith("-msk") else box[k].astype(np.float32)
                     for k in self.keys)

    def __len__(self):
        return len(self.images)

    def _order(self, epoch):
        order = self._orders.get(epoch)
        if order is None:
            if self.shuffle:
                rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0, epoch]))
                order = rng.permutation(len(self))
            else:
                order = np.arange(len(self))
            self._orders = {epoch: order}                          # keep one (threads: ok)
        return order

    def indices(self, i):
        """Slice indices of batch ``i``."""
        positions = np.arange(i * self.batch_size, (i + 1) * self.batch_size)
        epochs, within = np.divmod(positions, len(self))
        return np.array([self._order(e)[w] for e, w in zip(epochs, within)])

    def arrays(self, i, jitter=True):
        """Batch ``i`` as a flat tuple: x, then the box maps in ``self.keys`` order. With
        ``jitter=False``: x in the stored dtype, gains and offsets (B, C), then the maps."""
        i = int(i)
        rng = (np.random.default_rng(np.random.SeedSequence([self.seed, 1, i]))
               if self.augment else None)
        index = self.indices(i)
        x, y, params = augment_batch(self.images, self.labels, index, rng, jitter=jitter,
                                     **self.options)
        maps = self._maps(index, y)
        return (x,) + maps if jitter else (x, params["gain"], params["offset"]) + maps

    def pack(self, flat):
        """Flat tuple -> ``(x, y, sw)`` dicts keyed like ``BoundingBox.generator``."""
        maps = dict(zip(self.keys, flat[1:]))
        y = {k: v for k, v in maps.items() if not k.endswith("-msk")}
        sw = {k[:-len("-msk")]: v for k, v in maps.items() if k.endswith("-msk")}
        return {self.x_key: flat[0]}, y, sw

    def batch(self, i):
        """Batch ``i`` as ``(x, y, sw)`` dicts, all in NumPy (the pipeline's reference; its
        intensity jitter may differ from the tf.data one in the last bit: XLA fuses
        multiply-add)."""
        return self.pack(self.arrays(i))


def make_dataset(client_or_arrays, bb, split="train", batch_size=16, augment=True, seed=0,
                 msk="tumor", shuffle=True, num_parallel_calls=None, prefetch=True,
                 jit_compile=True, precompute_targets=False, **augmentation):
    """A ``tf.data.Dataset`` of ``(x, y, sample_weight)`` batches with box targets.

    Args:
        client_or_arrays: a ``boxloc.datasets.Client`` (its ``split`` is read into memory) or
            ``(images (N, H, W, C), labels (N, H, W) or (N, H, W, 1))`` arrays.
        bb: the ``BoundingBox`` whose targets to compute.
        split: 'train', 'valid' or 'test' (a Client only).
        batch_size: slices per batch.
        augment: flips, shifts and intensity jitter (see ``augment_batch``); options
            ``max_shift`` (16), ``flip_lr`` (0.5), ``flip_ud`` (0.0), ``gain`` (0.1),
            ``offset`` (0.1) as keyword arguments. ``crop=(h, w)`` (and ``crop_step``) trains
            on windows (random with ``augment``, centred without); ``bb`` must then be the
            ``BoundingBox`` of the window size, e.g. ``configs.bounding_box(config,
            image_shape=crop)``.
        seed: same seed, same batches (slices, augmentation) in the same order.
        msk: the label key of the client's ys (``'tumor'``).
        shuffle: a fresh permutation per epoch (False: slices in stored order).
        num_parallel_calls: batches prepared at once (default ``tf.data.AUTOTUNE``; on 2
            busy cores it measured within noise of 2); the order stays deterministic.
        prefetch: add ``prefetch(AUTOTUNE)``.
        precompute_targets: with ``augment=False`` (e.g. validation): compute the box
            targets of every slice once and gather them per batch (about 1.8x the slices/s,
            0.22 MB of memory per slice for the course ``BoundingBox``).
        jit_compile: the float16 -> float32 cast and intensity jitter as one XLA kernel
            (about 20x faster on a CPU than separate TensorFlow ops; False: plain ops).

    Returns:
        An infinite ``tf.data.Dataset`` (use ``steps_per_epoch``): ``x {'dat': float32 (B, 1,
        H, W, C)}``, ``y {'cls-c{c}', 'reg-c{c}': float32 (B, 1, gh, gw, A*K or A*4)}``,
        ``sample_weight {'cls-c{c}', 'reg-c{c}': the -msk maps}``. Needs TensorFlow
        (whatever the Keras backend).
    """
    from .._tensorflow import import_tensorflow
    tf = import_tensorflow("boxloc.datasets.make_dataset")

    if isinstance(client_or_arrays, (tuple, list)):
        images, labels = client_or_arrays
        x_key = "dat"
    else:
        images, labels = load_split(client_or_arrays, split, msk)
        x_key = next(k for k, spec in client_or_arrays.configs["specs"]["xs"].items()
                     if spec.get("input", True))
    known = {"max_shift", "flip_lr", "flip_ud", "gain", "offset", "crop", "crop_step"}
    unknown = set(augmentation) - known
    if unknown:
        raise ValueError(f"unknown augmentation options {sorted(unknown)}; use "
                         f"{', '.join(sorted(known))}")
    source = SliceBatches(images, labels, bb, batch_size, augment, seed, shuffle,
                          x_key=x_key, precompute_targets=precompute_targets, **augmentation)
    height, width = source.bb.params["image_shape"]                   # of the crops, if any
    channels = source.images.shape[-1]
    map_shapes = [(batch_size,) + source.specs[k][0] for k in source.keys]
    map_dtypes = [tf.float32 if not k.endswith("-msk") else tf.as_dtype(source.specs[k][1])
                  for k in source.keys]
    shapes = [(batch_size, 1, height, width, channels), (batch_size, channels),
              (batch_size, channels)] + map_shapes
    dtypes = [tf.as_dtype(source.images.dtype), tf.float32, tf.float32] + map_dtypes
    jitter = augment and bool(source.options["gain"] or source.options["offset"])

    def stored_to_float(x, gains, offsets):
        x = tf.cast(x, tf.float32)
        if not jitter:
            return x
        gains, offsets = gains[:, None, None, None, :], offsets[:, None, None, None, :]
        return tf.where(x != 0, x * gains + offsets, x)        # jitter inside the brain

    to_float = tf.function(stored_to_float, jit_compile=jit_compile, autograph=False)

    def load(i):
        flat = tf.numpy_function(lambda i: source.arrays(i, jitter=False), [i], dtypes,
                                 stateful=False)
        for tensor, shape in zip(flat, shapes):
            tensor.set_shape(shape)
        return source.pack([to_float(*flat[:3])] + list(flat[3:]))

    parallel = tf.data.AUTOTUNE if num_parallel_calls is None else num_parallel_calls
    dataset = tf.data.Dataset.counter().map(load, num_parallel_calls=parallel,
                                            deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE) if prefetch else dataset
