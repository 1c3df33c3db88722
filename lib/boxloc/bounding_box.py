"""``BoundingBox``: the seed library's class, rebuilt as a thin facade over the pure
functions of ``anchors``, ``masks``, ``targets``, ``deltas`` and ``nms``.

It keeps the seed's constructor, ``params`` keys, method names, argument order and tensor
layout, so the seed tutorial's code runs unchanged; README "Differences from the seed" lists
every behaviour that changed and why.

Shapes accepted by the mask and box methods (H, W = ``image_shape``):

* one slice: ``(H, W)``, ``(H, W, 1)``, ``(1, H, W)`` or ``(1, H, W, 1)``;
* a stack of Z slices: ``(Z, H, W)`` or ``(Z, H, W, 1)``;
* a batch: ``(B, Z, H, W, 1)``: B items of Z slices (training batches are ``(B, 1, ...)``,
  test volumes ``(1, Z, ...)``; both B > 1 and Z > 1 also work).

Box dictionaries hold ``cls-c{c}`` (..., gh, gw, A*K) and ``reg-c{c}`` (..., gh, gw, A*4)
with the same leading axes as the mask, and ``cls-c{c}-msk`` / ``reg-c{c}-msk`` loss masks.
"""

import numpy as np
from scipy.special import expit

from . import _checks
from .anchors import make_anchors
from .boxes import iou_one_to_many
from .deltas import decode_deltas
from .masks import check_label_masks, draw_boxes, masks_to_boxes
from .matching import dense_matches, find_rule, pair_cells
from .nms import nms
from .targets import encode_targets, map_key, maps_to_vectors, match_batch

__all__ = ["BoundingBox"]


class BoundingBox:
    """Anchors of a feature pyramid and the conversions between masks, boxes and targets.

    The arguments are the seed's, in the same order and with the same defaults.

    Args:
        image_shape: (H, W) of a slice.
        classes: K, the number of foreground classes.
        c: pyramid levels; level c has a grid of ``int(H / 2**c) x int(W / 2**c)``.
        anchor_shapes: base anchor size per level (one per entry of ``c``).
        anchor_scales: exponents s of the scale factors ``2**(s/3)``.
        anchor_ratios: aspect ratios w/h (0.5 is tall).
        iou_upper, iou_lower: matching thresholds (see ``matching``).
        iou_nms: default NMS threshold for decoding.
        box_padding: pixels added around each ground-truth box.
        min_size_blob: lesions smaller than this fraction of the largest lesion of the slice
            are dropped.
        cls_threshold: default score threshold for decoding (on sigmoid scores).
        separate_maps: must be True (one map per level); the seed's flat layout could not be
            decoded and is not offered.
        match_rule: a name in ``matching.MATCH_RULES``: ``"seed"`` (default), ``"torchvision"``
            or ``"threshold"`` (new).

    >>> bb = BoundingBox((240, 240), c=[3, 4], anchor_shapes=[32, 64])
    >>> bb.params['anchor_gsizes'], bb.params['anchor_levels']
    ([[30, 30], [15, 15]], [8100, 10125])
    """

    def __init__(self, image_shape, classes=1, c=(3, 4, 5), anchor_shapes=(16, 32, 64),
                 anchor_scales=(0, 1, 2), anchor_ratios=(0.5, 1, 2), iou_upper=0.7,
                 iou_lower=0.3, iou_nms=0.7, box_padding=0, min_size_blob=0.1,
                 cls_threshold=0.5, separate_maps=True, match_rule="seed"):
        image_shape = _checks.check_image_shape(image_shape)
        c = _checks.check_list("c", c, lambda n, v: _checks.check_int(n, v, minimum=0))
        if len(set(c)) != len(c):
            raise ValueError(f"c must not repeat a level, got {c}")
        for level in c:
            grid = (int(image_shape[0] / 2 ** level), int(image_shape[1] / 2 ** level))
            if min(grid) < 1:
                raise ValueError(f"c={level} gives a {grid[0]}x{grid[1]} anchor grid for "
                                 f"image_shape {tuple(image_shape)}; every level needs at least "
                                 f"one cell, so c must be <= {int(np.log2(min(image_shape)))}")
        positive = lambda n, v: _checks.check_number(n, v, positive=True)  # noqa: E731
        iou_upper = _checks.check_fraction("iou_upper", iou_upper)
        iou_lower = _checks.check_fraction("iou_lower", iou_lower)
        if iou_lower > iou_upper:
            raise ValueError(f"iou_lower ({iou_lower}) must not exceed iou_upper ({iou_upper})")
        if separate_maps is not True:
            raise ValueError(f"separate_maps must be True (one map per level), got "
                             f"{separate_maps!r}; the seed's flat layout is not supported")
        find_rule(match_rule, "match_rule")             # a name in matching.MATCH_RULES

        self.params = {
            "image_shape": image_shape,
            "classes": _checks.check_int("classes", classes, minimum=1),
            "c": c,
            "anchor_shapes": _checks.check_list("anchor_shapes", anchor_shapes, positive,
                                                length=len(c)),
            "anchor_scales": _checks.check_list("anchor_scales", anchor_scales,
                                                _checks.check_number),
            "anchor_ratios": _checks.check_list("anchor_ratios", anchor_ratios, positive),
            "iou_upper": iou_upper,
            "iou_lower": iou_lower,
            "iou_nms": _checks.check_fraction("iou_nms", iou_nms),
            "box_padding": _checks.check_int("box_padding", box_padding, minimum=0),
            "min_size_blob": _checks.check_fraction("min_size_blob", min_size_blob),
            "cls_threshold": _checks.check_fraction("cls_threshold", cls_threshold),
            "separate_maps": True,
            "match_rule": match_rule,
        }
        self.anchor_set = make_anchors(image_shape, c, self.params["anchor_shapes"],
                                       self.params["anchor_scales"],
                                       self.params["anchor_ratios"])
        num_anchors, num_classes = self.anchor_set.num_per_location, self.params["classes"]
        self.params["anchor_gsizes"] = [list(g) for g in self.anchor_set.grid_shapes]
        self.params["anchor_levels"] = np.cumsum(self.anchor_set.level_sizes).tolist()
        self.params["inputs_shapes"] = {}
        for level, (grid_h, grid_w) in zip(c, self.anchor_set.grid_shapes):
            for kind, depth in (("cls", num_classes), ("reg", 4)):
                for mask in (False, True):
                    self.params["inputs_shapes"][map_key(kind, level, mask)] = \
                        [1, grid_h, grid_w, num_anchors * depth]

    # --- anchors (seed attribute names) ---------------------------------------------------
    @property
    def anchors(self):
        """float64 (N, 4) ``[y1, x1, y2, x2]`` anchor corners, clipped to the image."""
        return self.anchor_set.corners

    @property
    def offsets(self):
        """float64 (N, 4) ``[cy, cx, h, w]``, unclipped; deltas are relative to these."""
        return self.anchor_set.offsets

    @property
    def anchor_areas(self):
        """float64 (N,) areas of the clipped anchors."""
        return self.anchor_set.areas

    def __repr__(self):
        p = self.params
        lines = [f"BoundingBox(image_shape={tuple(p['image_shape'])}, classes={p['classes']}, "
                 f"A={self.anchor_set.num_per_location} anchors per cell, "
                 f"match_rule={p['match_rule']!r})"]
        for level, (gh, gw), base, size in zip(p["c"], self.anchor_set.grid_shapes,
                                               p["anchor_shapes"], self.anchor_set.level_sizes):
            lines.append(f"  c{level}: grid {gh}x{gw}, stride {p['image_shape'][0] / gh:.4g}, "
                         f"base {base} px, {size} anchors")
        lines.append(f"  total: {p['anchor_levels'][-1]} anchors")
        return "\n".join(lines)

    # --- masks -> targets -----------------------------------------------------------------
    def _as_slices(self, array, name):
        """Reshape a mask-like array to (S, H, W); return it with its leading shape."""
        array = np.asarray(array)
        height, width = self.params["image_shape"]
        shape = array.shape
        if array.ndim == 2 and shape == (height, width):
            return array[None], (1,)
        if array.ndim == 3 and shape == (height, width, 1):
            return array[None, ..., 0], (1,)
        if array.ndim == 3 and shape[1:] == (height, width):
            return array, shape[:1]
        if array.ndim in (4, 5) and shape[-3:] == (height, width, 1):
            return array.reshape(-1, height, width), shape[:-3]
        raise ValueError(
            f"{name} must have shape (H, W), (H, W, 1), (Z, H, W), (Z, H, W, 1) or "
            f"(B, Z, H, W, 1) with (H, W) = image_shape {(height, width)}, got {shape}")

    def _encode(self, boxes, classes, slice_index, lead):
        """Targets of S slices from their boxes -> box dict with leading shape ``lead``."""
        num_slices = int(np.prod(lead))
        num_classes = self.params["classes"]
        if num_classes == 1:
            classes = np.ones_like(classes)    # any label > 0 is foreground
        elif len(classes) and classes.max() > num_classes:
            raise ValueError(f"msk holds label {classes.max()}, which exceeds classes={num_classes}; "
                             f"labels must be 0 (background) or 1..{num_classes}")
        maps = encode_targets(boxes, classes, slice_index, num_slices, self.anchor_set,
                              num_classes, self.params["iou_upper"], self.params["iou_lower"],
                              self.params["match_rule"], levels=self.params["c"])
        # seed key order: per level cls, reg, cls-msk, reg-msk
        return {key: maps[key].reshape(*lead, *maps[key].shape[1:])
                for level in self.params["c"]
                for key in (map_key("cls", level), map_key("reg", level),
                            map_key("cls", level, True), map_key("reg", level, True))}

    def find_boxes(self, msk):
        """Ground-truth boxes of a mask (any accepted shape) -> ``(boxes, classes, slice)``:
        float64 (M, 4), int64 (M,) labels, int64 (M,) flat slice index."""
        slices, _ = self._as_slices(msk, "msk")
        check_label_masks(slices, "msk")
        return masks_to_boxes(slices, self.params["min_size_blob"], self.params["box_padding"])

    def match_anchors(self, msk):
        """Which ground-truth box each anchor is matched to (for diagnostics).

        Returns ``(boxes, classes, slice_index, matched)``: float64 (M, 4), int64 (M,),
        int64 (M,) flat slice index, and int32 (S, N) with the matched box index per slice and
        anchor, or ``matching.BACKGROUND`` (-1) / ``matching.IGNORE`` (-2).
        """
        boxes, classes, slice_index = self.find_boxes(msk)
        num_slices = len(self._as_slices(msk, "msk")[0])
        num_anchors = len(self.anchors)
        pair_box, pair_anchor, matches = match_batch(
            boxes, slice_index, num_slices, self.anchor_set, self.params["iou_upper"],
            self.params["iou_lower"], self.params["match_rule"])
        band_cells = pair_cells(pair_box, pair_anchor, slice_index, num_anchors)[matches.band]
        return boxes, classes, slice_index, dense_matches(matches, band_cells, num_slices,
                                                          num_anchors)

    def convert_msk_to_box(self, msk):
        """Label mask -> box dict (``cls-c{c}``, ``reg-c{c}``, ``cls-c{c}-msk``, ``reg-c{c}-msk``).

        One connected-components call and one sparse list of IoU pairs for the whole batch.
        """
        _, lead = self._as_slices(msk, "msk")
        boxes, classes, slice_index = self.find_boxes(msk)
        return self._encode(boxes, classes, slice_index, lead)

    def convert_anc_to_box(self, anchors, classes):
        """Boxes ``[[y1, x1, y2, x2], ...]`` of one slice and their classes -> box dict (1, ...)."""
        boxes = np.asarray(anchors, dtype=np.float64)
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.ndim != 2 or boxes.shape[1] != 4 or not np.all(np.isfinite(boxes)):
            raise ValueError(f"anchors must be finite boxes of shape (M, 4) [y1, x1, y2, x2], "
                             f"got shape {boxes.shape}")
        classes = np.asarray(classes, dtype=np.int64).reshape(-1)
        if len(classes) != len(boxes) or (len(classes) and classes.min() < 1):
            raise ValueError(f"classes must hold one label >= 1 per box ({len(boxes)} boxes), "
                             f"got {classes.tolist()}")
        return self._encode(boxes, classes, np.zeros(len(boxes), np.int64), (1,))

    # --- targets / logits -> boxes --------------------------------------------------------
    def _box_vectors(self, box):
        """Box dict -> leading shape and (S, N, K) cls, (S, N, 4) reg vectors."""
        if not isinstance(box, dict):
            raise ValueError(f"box must be a dict of cls-c*/reg-c* maps, got {type(box).__name__}")
        levels, anchors = self.params["c"], self.anchor_set
        keys = [map_key(kind, c) for kind in ("cls", "reg") for c in levels]
        missing = [key for key in keys if key not in box]
        if missing:
            raise ValueError(f"box dict has no key {missing[0]!r}; expected keys {keys} "
                             f"(plus optional -msk keys), got {sorted(box)}")
        lead = np.shape(box[keys[0]])[:-3]
        for key in keys:
            if np.shape(box[key])[:-3] != lead:
                raise ValueError(f"box[{key!r}] has leading axes {np.shape(box[key])[:-3]} but "
                                 f"box[{keys[0]!r}] has {lead}; all maps must cover the same slices")
        cls = maps_to_vectors(box, anchors, levels, "cls", self.params["classes"])
        reg = maps_to_vectors(box, anchors, levels, "reg", 4)
        return lead, cls, reg

    def convert_box_to_anc(self, box, apply_deltas=True, iou_nms=None, cls_threshold=None,
                           return_scores=False):
        """Decode a box dict (ground truth or logits) into boxes, per slice.

        Scores are ``sigmoid(cls)``; anchors with any class score > ``cls_threshold`` are kept,
        refined by their deltas when ``apply_deltas`` and then NMS'd at ``iou_nms`` on their
        best class score. ``None`` means the value in ``params``; 0 means 0.

        Returns per slice ``anchors`` float32 (n, 4) ``[y1, x1, y2, x2]`` (unclipped) and
        ``classes`` bool (n, K), rows in ascending anchor index, plus ``scores`` float32 (n, K)
        when ``return_scores``. A single slice (leading shape (1,)) gives one tuple; a
        stack or batch gives lists, one entry per slice in (B, Z) order.
        """
        iou_nms = self.params["iou_nms"] if iou_nms is None else \
            _checks.check_fraction("iou_nms", iou_nms)
        cls_threshold = self.params["cls_threshold"] if cls_threshold is None else \
            _checks.check_fraction("cls_threshold", cls_threshold)
        lead, cls, reg = self._box_vectors(box)
        scores = expit(cls.astype(np.float64))                    # (S, N, K); NaN stays NaN
        on = scores > cls_threshold                               # NaN compares False
        results = []
        for slice_scores, slice_on, slice_reg in zip(scores, on, reg):
            index = np.flatnonzero(slice_on.any(axis=1))
            if apply_deltas:
                boxes, _ = decode_deltas(slice_reg[index], self.offsets[index])
                finite = np.isfinite(boxes).all(axis=1)
                index, boxes = index[finite], boxes[finite]
                keep = np.sort(nms(boxes, slice_scores[index].max(axis=1), iou_nms))
                index, boxes = index[keep], boxes[keep]
            else:
                boxes = self.anchors[index].astype(np.float32)
            result = (boxes, slice_on[index], slice_scores[index].astype(np.float32))
            results.append(result if return_scores else result[:2])
        if lead == (1,):
            return results[0]
        return tuple(list(column) for column in zip(*results)) if results else \
            tuple([] for _ in range(3 if return_scores else 2))

    def convert_box_to_msk(self, box, apply_deltas=True, iou_nms=None, cls_threshold=None,
                           random_values=True, rng=None):
        """Draw decoded boxes -> uint8 masks ``(*lead, H, W, 1)``, e.g. (1, H, W, 1) for a slice.

        Pixel values are random in 1..9 per box (``random_values``, as the seed; pass ``rng``
        for repeatable colours) or the box's class index + 1.
        """
        lead, _, _ = self._box_vectors(box)
        decoded = self.convert_box_to_anc(box, apply_deltas, iou_nms, cls_threshold)
        per_slice = [decoded] if lead == (1,) else list(zip(*decoded))
        rng = np.random.default_rng(rng)
        canvases = []
        for boxes, classes in per_slice:
            values = (rng.integers(1, 10, len(boxes)) if random_values
                      else np.argmax(classes, axis=1) + 1) if len(boxes) else []
            canvases.append(draw_boxes(boxes, self.params["image_shape"], values))
        return np.stack(canvases).reshape(*lead, *self.params["image_shape"], 1)

    # --- seed helpers -----------------------------------------------------------------------
    def calculate_ious(self, box, anchors=None, anchor_areas=None):
        """IoU of one box ``[y1, x1, y2, x2]`` with anchors (M, 4) (default: all anchors)."""
        if anchors is None:
            anchors, anchor_areas = self.anchors, self.anchor_areas
        return iou_one_to_many(box, anchors, anchor_areas)

    def apply_deltas(self, deltas, offsets=None):
        """Deltas (N, 4) applied to offsets (default: all anchors) -> (corners, centres) float32."""
        return decode_deltas(deltas, self.offsets if offsets is None else offsets)

    def apply_nms(self, anchors, scores, iou_nms=None):
        """Seed NMS: indices of the kept boxes among those with score > 0, ascending."""
        iou_nms = self.params["iou_nms"] if iou_nms is None else \
            _checks.check_fraction("iou_nms", iou_nms)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        candidates = np.flatnonzero(scores > 0)
        boxes = np.asarray(anchors, dtype=np.float64).reshape(-1, 4)
        return np.sort(candidates[nms(boxes[candidates], scores[candidates], iou_nms)])

    # --- generators ---------------------------------------------------------------------------
    def generator(self, G, msk="lbl", sample_weights=True):
        """Wrap a generator of ``(xs, ys)`` dicts whose ``ys[msk]`` is a label mask.

        Yields ``(xs, ys, sw)`` ready for Keras 3 ``model.fit``: ``ys`` without ``msk`` plus
        float32 ``cls-c{c}``/``reg-c{c}`` targets, ``sw`` the matching ``-msk`` arrays keyed by
        output name. ``sample_weights=False`` yields the seed's ``(xs, ys)`` with the masks in
        ``xs``. The dicts of ``G`` are copied, never modified.
        """
        for batch in G:
            xs, ys = batch[0], batch[1]
            if msk not in ys:
                raise ValueError(f"msk={msk!r} is not a key of ys; keys are {sorted(ys)}")
            ys = dict(ys)
            box = self.convert_msk_to_box(ys.pop(msk))
            targets = {k: v.astype(np.float32) for k, v in box.items() if not k.endswith("-msk")}
            masks = {k: v for k, v in box.items() if k.endswith("-msk")}
            if sample_weights:
                yield dict(xs), {**ys, **targets}, {k[:-len("-msk")]: v for k, v in masks.items()}
            else:
                yield {**xs, **masks}, {**ys, **targets}

    def create_generators(self, train, valid, msk="lbl", sample_weights=True):
        """``(generator(train, msk), generator(valid, msk))``."""
        return (self.generator(train, msk, sample_weights),
                self.generator(valid, msk, sample_weights))
