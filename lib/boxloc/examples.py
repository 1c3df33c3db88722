"""Toy lesion masks for demos, tests and benchmarks (no data needed).

Each lesion is a blob with an irregular outline: an ellipse whose radius is modulated by a
few random low-frequency harmonics, placed inside an elliptical "brain" region. Radii are
drawn log-uniformly, so small lesions (the hard case for anchors) are common. These are
stand-ins until the dataset module provides anatomy-based volumes.
"""

import numpy as np

__all__ = ["lesion_masks"]


def lesion_masks(num_slices, image_shape=(240, 240), lesions=(1, 4), radius=(3.0, 30.0),
                 tumour_labels=False, seed=0):
    """Random lesion masks.

    Args:
        num_slices: S.
        image_shape: (H, W).
        lesions: (min, max) lesions per slice, inclusive; (0, k) allows empty slices.
        radius: (min, max) mean lesion radius in pixels, drawn log-uniformly.
        tumour_labels: False -> binary masks (1 = lesion). True -> the seed's BraTS labels:
            1 necrotic core, 3 enhancing rim, 2 surrounding oedema.
        seed: seed of the random generator (same seed, same masks).

    Returns:
        uint8 (S, H, W).
    """
    rng = np.random.default_rng(seed)
    height, width = image_shape
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    masks = np.zeros((num_slices, height, width), dtype=np.uint8)
    for s in range(num_slices):
        for _ in range(rng.integers(lesions[0], lesions[1] + 1)):
            r_mean = np.exp(rng.uniform(np.log(radius[0]), np.log(radius[1])))
            # centre inside the central ellipse covering ~70% of the field of view
            angle, dist = rng.uniform(0, 2 * np.pi), np.sqrt(rng.uniform(0, 1)) * 0.35
            cy, cx = height * (0.5 + dist * np.sin(angle)), width * (0.5 + dist * np.cos(angle))
            aspect = rng.uniform(0.6, 1.6)
            dy, dx = (rows - cy) / aspect, (cols - cx) * aspect
            theta, rho = np.arctan2(dy, dx), np.hypot(dy, dx)
            outline = np.ones_like(theta)
            for k in (2, 3, 5):
                outline += rng.uniform(0, 0.12) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
            inside = rho <= r_mean * outline
            if not tumour_labels:
                masks[s][inside] = 1
                continue
            masks[s][inside & (masks[s] == 0)] = 2                       # oedema
            masks[s][rho <= 0.6 * r_mean * outline] = 3                  # enhancing rim
            masks[s][rho <= 0.35 * r_mean * outline] = 1                 # necrotic core
    return masks
