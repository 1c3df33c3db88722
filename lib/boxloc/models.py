"""Keras 3 builders: the feature pyramid (contracting and expanding arms) and RetinaNet heads.

The network maps a stack of slices to one classification and one regression map per pyramid
level of a ``BoundingBox``::

    dat (B, Z, H, W, C) -> cls-c{c} (B, Z, gh, gw, A*K), reg-c{c} (B, Z, gh, gw, A*4)

All convolutions are ``Conv3D`` with ``(1, 3, 3)`` kernels (2D work on 3D tensors, as the seed
tutorial), and Z is left ``None``, so a model trained on single slices ``(B, 1, H, W, C)``
predicts a whole volume ``(1, Z, H, W, C)`` in one call.

Level ``c`` of the pyramid is the feature map after ``c`` stride-2 convolutions. Strided
``'same'`` convolutions round up (``ceil(H / 2**c)``) while ``BoundingBox`` grids round down
(``int(H / 2**c)``), so the builder checks every level's grid against ``bb.params``.

>>> from boxloc import BoundingBox                              # doctest: +SKIP
>>> model = build_retinanet(BoundingBox((240, 240), c=[3, 4], anchor_shapes=[32, 64]),
...                         channels=4, preset="seed")          # doctest: +SKIP
>>> model.count_params()                                        # doctest: +SKIP
456146
"""

import json
import math

from ._keras import keras
from .anchors import pyramid_grid        # NumPy-only, so the pyramid diagram can use it too

layers = keras.layers

__all__ = ["PRESETS", "pyramid_grid", "check_levels", "conv_block", "contracting_arm",
           "top_down_merge", "expanding_arm", "retinanet_heads", "build_retinanet", "prior_bias",
           "build_arguments"]

#: Named architectures. ``seed`` is the tutorial's network layer for layer (456,146
#: parameters for 240x240x4 inputs, c=[3, 4], 9 anchors, K=1); ``course`` is the same network
#: with the RetinaNet prior-probability bias on the classification logits.
PRESETS = {
    "seed": dict(filters=(8, 16, 24, 32, 48), blocks=1, width=64, head_depth=2,
                 prior_probability=None),
    "course": dict(filters=(8, 16, 24, 32, 48), blocks=1, width=64, head_depth=2,
                   prior_probability=0.01),
}

KERNEL = (1, 3, 3)


def _params(bb):
    """``bb.params`` of a BoundingBox, or the dict itself."""
    params = getattr(bb, "params", bb)
    if not isinstance(params, dict) or "anchor_gsizes" not in params:
        raise TypeError(f"expected a BoundingBox or its params dict, got {type(bb).__name__}")
    return params


def check_levels(bb, depth):
    """Raise ValueError unless a contracting arm with levels ``0..depth`` serves every level
    of ``bb``: the level must exist and its feature map must have the BoundingBox grid size.

    >>> check_levels({"c": [3, 4], "image_shape": [240, 240],
    ...               "anchor_gsizes": [[30, 30], [15, 15]]}, depth=3)
    Traceback (most recent call last):
    ...
    ValueError: the BoundingBox asks for level c4 (a 15x15 anchor grid) but the contracting arm stops at level c3: it needs at least 4 stride-2 steps, i.e. filters with at least 5 entries (levels c0..c4); got 4
    """
    params = _params(bb)
    deepest = max(params["c"])
    if deepest > depth:
        grid = params["anchor_gsizes"][params["c"].index(deepest)]
        raise ValueError(
            f"the BoundingBox asks for level c{deepest} (a {grid[0]}x{grid[1]} anchor grid) but "
            f"the contracting arm stops at level c{depth}: it needs at least {deepest} stride-2 "
            f"steps, i.e. filters with at least {deepest + 1} entries (levels c0..c{deepest}); "
            f"got {depth + 1}")
    for level, grid in zip(params["c"], params["anchor_gsizes"]):
        size = pyramid_grid(params["image_shape"], level)
        if list(size) != list(grid):
            raise ValueError(
                f"level c{level}: the network's feature map is {size[0]}x{size[1]} but the "
                f"BoundingBox anchor grid is {grid[0]}x{grid[1]} (strided convolutions round "
                f"up, anchor grids round down); use an image size divisible by 2**{level} = "
                f"{2 ** level}")


def prior_bias(prior_probability):
    """RetinaNet's classification bias ``-log((1 - pi) / pi)``: every anchor starts with
    foreground probability ``pi``, so the many easy negatives do not swamp the first steps.

    >>> round(prior_bias(0.01), 4)
    -4.5951
    """
    if not 0 < prior_probability < 1:
        raise ValueError(f"prior_probability must be in (0, 1), got {prior_probability}")
    return -math.log((1 - prior_probability) / prior_probability)


def conv_block(x, filters, strides=1, name=None):
    """Conv3D (1, 3, 3) -> BatchNormalization -> ReLU (the seed's ``conv1``/``conv2``)."""
    strides = (1, strides, strides) if isinstance(strides, int) else strides
    x = layers.Conv3D(filters, KERNEL, strides=strides, padding="same",
                      name=None if name is None else name + "-conv")(x)
    x = layers.BatchNormalization(name=None if name is None else name + "-bn")(x)
    return layers.ReLU(name=None if name is None else name + "-relu")(x)


def contracting_arm(x, filters=(8, 16, 24, 32, 48), blocks=1):
    """Backbone: level 0 is ``blocks`` stride-1 blocks; each further level is one stride-2
    block followed by ``blocks`` stride-1 blocks, with ``filters[level]`` channels.

    Returns the feature map of every level, ``[l0, l1, ..., l{len(filters)-1}]``.
    """
    if len(filters) < 1 or blocks < 1:
        raise ValueError(f"need at least one level and one block, got filters={filters}, "
                         f"blocks={blocks}")
    features = []
    for level, width in enumerate(filters):
        if level > 0:
            x = conv_block(x, width, strides=2, name=f"c{level}-down")
        for block in range(blocks):
            x = conv_block(x, width, name=f"c{level}-block{block}")
        features.append(x)
    return features


def _project(x, width, name):
    """1x1x1 projection to the pyramid width (the seed's ``proj``)."""
    return layers.Conv3D(width, (1, 1, 1), padding="same", kernel_initializer="he_normal",
                         name=name)(x)


def top_down_merge(coarser, finer, width, name=None):
    """One step of the top-down path: ``up(coarser) + proj(finer)`` (the seed's
    ``zoom(l6) + proj(64, l4)``).

    Args:
        coarser: (B, Z, h, w, width) pyramid map of level c + 1.
        finer: (B, Z, H, W, C) contracting-arm map of level c, with H = 2h or 2h - 1 (likewise
            W): a strided 'same' convolution rounds odd sizes up, so the upsampled map is
            cropped by one row or column there.
        width: channels of the pyramid.
        name: layer-name prefix (``"p3"`` gives ``p3-up``, ``p3-proj``, ``p3-add``), or None.

    Returns:
        (B, Z, H, W, width): the coarser map upsampled 2x in y and x by nearest neighbour (no
        parameters; Z is never upsampled) plus the finer map projected to ``width`` channels by
        a 1x1x1 convolution (``C * width + width`` parameters).
    """
    def label(part):
        return None if name is None else f"{name}-{part}"

    up = layers.UpSampling3D((1, 2, 2), name=label("up"))(coarser)
    lateral = _project(finer, width, label("proj"))
    extra_h = up.shape[2] - lateral.shape[2]
    extra_w = up.shape[3] - lateral.shape[3]
    if extra_h or extra_w:
        up = layers.Cropping3D(((0, 0), (0, extra_h), (0, extra_w)), name=label("crop"))(up)
    return layers.Add(name=label("add"))([up, lateral])


def expanding_arm(features, levels, width=64, top_down=None):
    """Top-down pathway from the deepest feature map to level ``min(levels)``.

    ``p_top = proj(l_top)``; below it ``p_c = conv_block(top_down(p_{c+1}, l_c, width))``.

    Args:
        features: contracting-arm maps ``[l0, l1, ...]`` (``contracting_arm``).
        levels: pyramid levels to return (each at most ``len(features) - 1``).
        width: channels of every pyramid map.
        top_down: None for ``top_down_merge``, or a callable ``(coarser, finer, width) ->
            merged`` with its contract: ``merged`` has the finer map's size and ``width``
            channels. A custom block gets finer maps of exactly twice the coarser size.

    Returns:
        ``{c: p_c}`` for the requested ``levels``, each (B, Z, h_c, w_c, width).
    """
    top = len(features) - 1
    pyramid = {top: _project(features[top], width, f"p{top}-proj")}
    for level in range(top - 1, min(levels) - 1, -1):
        coarser, finer = pyramid[level + 1], features[level]
        if top_down is None:
            merged = top_down_merge(coarser, finer, width, name=f"p{level}")
        else:
            _check_doubled(coarser, finer, level)
            merged = top_down(coarser, finer, width)
            _check_merged(merged, finer, width, level)
        pyramid[level] = conv_block(merged, width, name=f"p{level}")
    return {level: pyramid[level] for level in levels}


def _check_doubled(coarser, finer, level):
    """A custom top-down block is not asked to crop: refuse odd sizes up front."""
    if tuple(finer.shape[2:4]) != (2 * coarser.shape[2], 2 * coarser.shape[3]):
        raise ValueError(
            f"level c{level}: the contracting map is {finer.shape[2]}x{finer.shape[3]}, not "
            f"twice the {coarser.shape[2]}x{coarser.shape[3]} map above it; a custom top_down "
            f"block needs an image size divisible by 2**{level + 1} (or top_down=None, "
            f"which crops)")


def _check_merged(merged, finer, width, level):
    """The custom block's output must be a map the size of ``finer`` with ``width`` channels."""
    wanted = (*finer.shape[:4], width)
    got = tuple(getattr(merged, "shape", ()))
    if got[1:] != wanted[1:]:
        raise ValueError(
            f"top_down returned shape {got} at level c{level}; expected {wanted}: the coarser "
            f"map upsampled to {finer.shape[2]}x{finer.shape[3]} plus the contracting map "
            f"projected to {width} channels")


def retinanet_heads(pyramid, num_anchors, num_classes=1, depth=2, width=64,
                    prior_probability=None):
    """Per-level classification and regression subnets (not shared between levels).

    Each is ``depth`` conv blocks of ``width`` channels and a final Conv3D (1, 3, 3) named
    ``cls-c{c}`` (A*K logits) or ``reg-c{c}`` (A*4 deltas), kept in float32 under mixed
    precision. ``prior_probability`` (e.g. 0.01) sets the cls bias to ``prior_bias(pi)``;
    None keeps the seed's zero bias.
    """
    cls_bias = "zeros" if prior_probability is None else \
        keras.initializers.Constant(prior_bias(prior_probability))
    outputs = {}
    for level, x in pyramid.items():
        for kind, channels, bias in (("cls", num_anchors * num_classes, cls_bias),
                                     ("reg", num_anchors * 4, "zeros")):
            y = x
            for block in range(depth):
                y = conv_block(y, width, name=f"{kind}-c{level}-head{block}")
            outputs[f"{kind}-c{level}"] = layers.Conv3D(
                channels, KERNEL, padding="same", bias_initializer=bias, dtype="float32",
                name=f"{kind}-c{level}")(y)
    return outputs


def build_retinanet(bb, channels=1, preset=None, filters=None, blocks=None, width=None,
                    head_depth=None, prior_probability="preset", top_down=None,
                    input_name="dat", name="retinanet"):
    """RetinaNet with a feature pyramid for the levels, anchors and classes of ``bb``.

    Args:
        bb: a ``BoundingBox`` or its ``params``.
        channels: C, channels of the input slices (the seed's BraTS data has 4).
        preset: None or a key of ``PRESETS`` (``"seed"``, ``"course"``); explicit arguments
            override it. Without a preset the defaults are the seed's.
        filters: channels of each contracting level; ``len(filters) - 1`` stride-2 steps.
        blocks: stride-1 conv blocks per contracting level.
        width: channels of the pyramid (projections) and of the head blocks.
        head_depth: conv blocks per head before its output convolution.
        prior_probability: None (zero bias, the seed) or pi in (0, 1) for the cls bias.
        top_down: None (``top_down_merge``) or your own block ``(coarser, finer, width) ->
            merged`` for every step of the top-down path (see ``expanding_arm``); a correct
            block gives the same outputs and parameter count.
        input_name: name of the data input (the seed's ``dat``).

    Returns:
        A ``keras.Model`` with input ``{input_name: (None, H, W, C)}`` and outputs
        ``{'cls-c{c}': (None, gh, gw, A*K), 'reg-c{c}': (None, gh, gw, A*4)}`` (Z = None).
    """
    params = _params(bb)
    config = dict(PRESETS["seed"] if preset is None else _preset(preset))
    for key, value in (("filters", filters), ("blocks", blocks), ("width", width),
                       ("head_depth", head_depth)):
        if value is not None:
            config[key] = value
    if prior_probability != "preset":
        config["prior_probability"] = prior_probability
    check_levels(params, len(config["filters"]) - 1)
    num_anchors = len(params["anchor_scales"]) * len(params["anchor_ratios"])
    height, width_px = params["image_shape"]
    data = keras.Input(shape=(None, height, width_px, channels), name=input_name)
    features = contracting_arm(data, config["filters"], config["blocks"])
    pyramid = expanding_arm(features, sorted(params["c"]), config["width"], top_down)
    outputs = retinanet_heads({c: pyramid[c] for c in params["c"]}, num_anchors,
                              params["classes"], config["head_depth"], config["width"],
                              config["prior_probability"])
    model = keras.Model(inputs={input_name: data}, outputs=outputs, name=name)
    if top_down is None:       # a block of one's own is code, not data: nothing to record
        resolved = {"channels": channels, "filters": list(config["filters"]),
                    "blocks": config["blocks"], "width": config["width"],
                    "head_depth": config["head_depth"],
                    "prior_probability": config["prior_probability"],
                    "input_name": input_name, "name": name}
        # a JSON string: Keras tracks (wraps) dicts and lists set on a layer, not strings
        setattr(model, _BUILD_ARGUMENTS, json.dumps(resolved))
    return model


#: The attribute ``build_retinanet`` leaves on its model (see ``build_arguments``).
_BUILD_ARGUMENTS = "_boxloc_build_arguments"


def build_arguments(model):
    """The ``build_retinanet`` keyword arguments (plain data, presets resolved) that build
    ``model``'s architecture again, or None for a model ``build_retinanet`` did not build or
    built with a ``top_down`` block of your own. ``boxloc.saving`` stores them so that a
    detector loads on every Keras 3 release: the architecture comes from this code, only the
    weights from the file."""
    text = getattr(model, _BUILD_ARGUMENTS, None)
    return None if text is None else json.loads(text)


def _preset(preset):
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    return PRESETS[preset]
