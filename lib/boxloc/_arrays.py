"""Small vectorised helpers shared by the encoders."""

import numpy as np


def ranks(counts):
    """``[0, 1, ..., counts[0] - 1, 0, 1, ..., counts[1] - 1, ...]`` as int32: the position of
    every element inside its group, for groups of ``counts`` consecutive elements."""
    counts = np.asarray(counts)
    result = np.arange(int(np.sum(counts)), dtype=np.int32)
    result -= np.repeat((np.cumsum(counts) - counts).astype(np.int32), counts)
    return result
