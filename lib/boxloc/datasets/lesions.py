"""Glioma-like lesions for the phantom: where they grow, their shape and their compartments.

A lesion is a lobulated ellipsoid (random axes and orientation, radius modulated by smooth
noise) with three compartments, as BraTS annotates gliomas:

* high-grade (about 3 in 4): a necrotic core (label 1) inside an irregular enhancing rim
  (label 3); small ones are solid enhancing;
* low-grade: a non-enhancing core (label 1, BraTS' NCR/NET), no enhancement;
* both: surrounding oedema (label 2) that spreads along white matter (finger-like), never into
  CSF.

Memberships are soft (partial volume at the edges, used for intensities); labels are the 0.5
level sets, restricted to the connected region around each lesion (no detached specks).
Positions are in voxels of the reduced grid with spacing ``SPACING`` mm.
"""

import numpy as np
from scipy import ndimage
from scipy.special import expit

__all__ = ["SPACING", "Lesion", "sample_lesions", "render_lesions"]

SPACING = np.array([3.0, 1.0, 1.0])          # mm per voxel (z after 3-slice reduction, y, x)
RADIUS_MM = (5.0, 24.0)                      # tumour-core radius, drawn log-uniformly


class Lesion:
    """One lesion: centre (voxels), core radius (mm), oedema radius (mm), grade, shape."""

    def __init__(self, centre, radius, oedema, high_grade, rim, axes, rotation):
        self.centre, self.radius, self.oedema = np.asarray(centre), radius, oedema
        self.high_grade, self.rim, self.axes, self.rotation = high_grade, rim, axes, rotation

    def __repr__(self):
        kind = "HGG" if self.high_grade else "LGG"
        return (f"Lesion({kind}, centre={self.centre.tolist()}, radius={self.radius:.1f} mm, "
                f"oedema={self.oedema:.1f} mm)")


def _rotation(rng):
    """A random 3-D rotation matrix (QR of a Gaussian matrix)."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    return q * np.sign(np.diag(r))


def sample_lesions(rng, wm, depth, count):
    """Draw ``count`` lesions at plausible places: deep white matter of the cerebrum.

    Args:
        rng: numpy Generator.
        wm: float (Z, H, W) white-matter fraction of this subject.
        depth: float (Z, H, W) distance to the brain surface in mm.
        count: number of lesions (1 to 3 in the phantom).

    Returns:
        list of ``Lesion``.
    """
    num_slices = wm.shape[0]
    supratentorial = np.zeros(wm.shape, bool)
    supratentorial[int(0.35 * num_slices):int(0.9 * num_slices)] = True
    lesions = []
    for _ in range(count):
        radius = float(np.exp(rng.uniform(*np.log(RADIUS_MM))))
        if lesions:                                   # satellites tend to be smaller
            radius *= rng.uniform(0.4, 0.8)
        ok = supratentorial & (wm > 0.5) & (depth > 0.6 * radius + 4)
        for other in lesions:                         # keep lesions apart
            ok &= _distance_mm(wm.shape, other.centre) > other.radius + radius + 8
        candidates = np.flatnonzero(ok)
        if len(candidates) == 0:
            break
        centre = np.unravel_index(rng.choice(candidates), wm.shape)
        high_grade = bool(rng.uniform() < 0.75)
        lesions.append(Lesion(centre, radius, radius * rng.uniform(1.4, 2.4), high_grade,
                              rim=rng.uniform(0.25, 0.55) if radius > 7 else 1.0,
                              axes=rng.uniform(0.75, 1.3, size=3), rotation=_rotation(rng)))
    return lesions


def _distance_mm(shape, centre):
    grid = np.ogrid[tuple(slice(0, n) for n in shape)]
    return np.sqrt(sum(((g - c) * s) ** 2 for g, c, s in zip(grid, centre, SPACING)))


def _sigmoid(x):
    return expit(x)                     # no overflow warning for float32 inputs


def render_lesions(rng, lesions, wm, csf, brain):
    """Soft compartments and labels of all lesions on the subject's grid.

    Args:
        rng: numpy Generator (shape noise).
        lesions: list of ``Lesion``.
        wm, csf, brain: float (Z, H, W) tissue fractions of this subject.

    Returns:
        weights: dict of float32 (Z, H, W) memberships ``necrosis``, ``core`` (non-enhancing),
            ``enhancing``, ``oedema``; they sum to <= 1 with the remaining tissue.
        labels: uint8 (Z, H, W), 0 background, 1 necrosis/core, 2 oedema, 3 enhancing.
    """
    shape = wm.shape
    keys = ("necrosis", "core", "enhancing", "oedema")
    weights = {k: np.zeros(shape, np.float32) for k in keys}
    for lesion in lesions:
        reach = lesion.oedema / 0.6 + 6            # mm; lobes shrink radii by <= 40%
        half = np.ceil(reach / SPACING).astype(int)
        lo = np.maximum(lesion.centre - half, 0)
        hi = np.minimum(lesion.centre + half + 1, shape)
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        grid = np.stack(np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi)], indexing="ij"))
        offset = (grid - lesion.centre[:, None, None, None]) * SPACING[:, None, None, None]
        local = np.einsum("ij,j...->i...", lesion.rotation, offset) / lesion.axes[:, None, None, None]
        r = np.sqrt((local ** 2).sum(axis=0)).astype(np.float32)        # (z, y, x) mm
        noise = ndimage.gaussian_filter(rng.standard_normal(r.shape, np.float32),
                                        (1.5, 5, 5))
        noise = np.clip(noise / (noise.std() + 1e-6), -2.2, 2.2)
        lobes = r * (1 + 0.18 * noise)                                     # lobulated radius
        fine = ndimage.gaussian_filter(rng.standard_normal(r.shape, np.float32),
                                       (0.5, 1.5, 1.5))
        fine /= fine.std() + 1e-6

        tumour = _sigmoid((lesion.radius - lobes) / 0.8)
        inner = _sigmoid((lesion.radius * (1 - lesion.rim) + 1.5 * fine - lobes) / 0.8)
        if lesion.rim >= 1.0:
            inner = np.zeros_like(inner)
        spread = np.clip(1.3 * wm[box], 0.2, 1.0)                          # oedema follows WM
        reach_wm = lesion.radius + (lesion.oedema - lesion.radius) * spread
        oedema = _sigmoid((reach_wm + 2 * fine - lobes) / 1.5) * (1 - csf[box]) * (1 - tumour)
        inside = brain[box]
        if lesion.high_grade:
            parts = {"necrosis": inner * tumour, "enhancing": tumour * (1 - inner)}
        else:
            parts = {"core": tumour}
        parts["oedema"] = oedema
        for key, value in parts.items():
            np.maximum(weights[key][box], (value * inside).astype(np.float32),
                       out=weights[key][box])

    tumour = weights["necrosis"] + weights["core"] + weights["enhancing"]
    weights["oedema"] = np.minimum(weights["oedema"], 1 - np.minimum(tumour, 1))
    labels = np.zeros(shape, np.uint8)
    labels[(weights["oedema"] + tumour > 0.5) & (brain > 0.5)] = 2
    labels[(tumour > 0.5) & (brain > 0.5)] = 1
    labels[(weights["enhancing"] > 0.5 * tumour) & (tumour > 0.5) & (brain > 0.5)] = 3

    # An annotator outlines each lesion as one region: oedema islands that the level sets cut
    # off (by CSF, the brain edge or the fringe's noise) become healthy tissue, in the labels
    # and in the image, so every 3D lesion of the labels is one connected region.
    regions, _ = ndimage.label(labels > 0)
    lesion_regions = {int(regions[tuple(lesion.centre)]) for lesion in lesions} - {0}
    islands = (regions > 0) & ~np.isin(regions, sorted(lesion_regions))
    labels[islands] = 0
    for value in weights.values():
        value[islands] = 0
    return weights, labels
