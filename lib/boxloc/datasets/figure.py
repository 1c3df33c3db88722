"""Pictures of a volume: the four contrasts and the label overlay (the README figure).

``python -m boxloc.datasets.figure docs/images/phantom_contrasts.png`` redraws the README figure
from phantom subjects (seeds 0 and 1 of ``synthesise_volume``).
"""

import sys

import numpy as np

from .preprocess import CHANNELS

__all__ = ["LABEL_COLOURS", "plot_contrasts", "save_phantom_figure"]

TITLES = {"flair": "FLAIR", "t1": "T1", "t1ce": "T1 post-contrast", "t2": "T2"}
LABEL_COLOURS = {1: ("necrosis (1)", "#d62728"), 2: ("oedema (2)", "#ffdd00"),
                 3: ("enhancing (3)", "#17becf")}


def _window(channel, brain):
    """Grey levels from the 1st to the 99.5th percentile inside the brain; black outside."""
    lo, hi = np.percentile(channel[brain], [1, 99.5])
    shown = np.clip((channel - lo) / (hi - lo + 1e-6), 0, 1)
    return np.where(brain, shown, 0)


def plot_contrasts(axes, image, labels, brain, z=None, titles=True):
    """Draw slice ``z`` (default: the one with the most tumour) on five axes.

    Args:
        axes: 5 matplotlib axes: FLAIR, T1, T1ce, T2, FLAIR with the labels.
        image: float (Z, H, W, 4); labels: uint8 (Z, H, W); brain: bool (Z, H, W).
    """
    from matplotlib.colors import ListedColormap

    if z is None:
        z = int(np.argmax((labels > 0).sum(axis=(1, 2))))
    for ax, c in zip(axes, range(len(CHANNELS))):
        ax.imshow(_window(image[z, ..., c], brain[z]), cmap="gray", vmin=0, vmax=1)
        ax.set_title(TITLES[CHANNELS[c]] if titles else "")
    axes[4].imshow(_window(image[z, ..., 0], brain[z]), cmap="gray", vmin=0, vmax=1)
    colours = ListedColormap([LABEL_COLOURS[k][1] for k in (1, 2, 3)])
    axes[4].imshow(np.ma.masked_equal(labels[z], 0), cmap=colours, vmin=0.5, vmax=3.5,
                   alpha=0.55, interpolation="nearest")
    axes[4].set_title("labels on FLAIR" if titles else "")
    for ax in axes:
        ax.set_axis_off()
    return z


def save_phantom_figure(path, seeds=(0, 1)):
    """Save the README figure: one row per phantom subject."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from .phantom import synthesise_volume

    fig, rows = plt.subplots(len(seeds), 5, figsize=(15, 3.0 * len(seeds) + 0.9), squeeze=False)
    for row, (axes, seed) in enumerate(zip(rows, seeds)):
        image, labels, brain = synthesise_volume(seed)
        z = plot_contrasts(axes, image, labels, brain, titles=row == 0)
        axes[0].text(-8, 120, f"subject {seed}, slice {z}", rotation=90, va="center",
                     ha="right", fontsize=9)
    fig.legend(handles=[Patch(color=c, label=n) for n, c in LABEL_COLOURS.values()],
               loc="lower center", ncol=3, frameon=False)
    fig.suptitle("phantom/brats-mip: MNI ICBM152 anatomy with synthetic gliomas "
                 "(z-scored, 3-slice mean projection)")
    fig.subplots_adjust(left=0.03, right=0.99, bottom=0.08, top=0.86, wspace=0.03, hspace=0.03)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


if __name__ == "__main__":
    save_phantom_figure(sys.argv[1] if len(sys.argv) > 1 else "phantom_contrasts.png")
