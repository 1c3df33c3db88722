"""boxloc: anchor-based box localisation (RetinaNet with a feature pyramid) for teaching.

The NumPy core imports no deep-learning framework.
"""

from .anchors import CENTRE_OFFSET, Anchors, anchor_templates, grid_shapes, make_anchors
from .bounding_box import BoundingBox
from .boxes import box_area, centres_to_corners, clip_boxes, corners_to_centres, iou_matrix
from .deltas import decode_deltas, encode_deltas
from .masks import draw_boxes, masks_to_boxes
from .matching import BACKGROUND, IGNORE, MATCH_RULES, match_anchors
from .nms import batched_nms, nms
from .targets import encode_targets, maps_to_vectors, vectors_to_maps

__version__ = "0.1.0"

__all__ = ["BoundingBox", "Anchors", "CENTRE_OFFSET", "anchor_templates", "grid_shapes",
           "make_anchors", "box_area", "centres_to_corners", "clip_boxes",
           "corners_to_centres", "iou_matrix", "decode_deltas", "encode_deltas", "draw_boxes",
           "masks_to_boxes", "BACKGROUND", "IGNORE", "MATCH_RULES", "match_anchors",
           "batched_nms", "nms", "encode_targets", "maps_to_vectors", "vectors_to_maps"]
