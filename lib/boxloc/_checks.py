"""Argument validation shared by the public API: each check names the argument, the value
it got and what it expected."""

import numbers

import numpy as np

__all__ = ["check_int", "check_number", "check_fraction", "check_list", "check_image_shape"]


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(name, value, minimum=None):
    """A plain int (numpy ints accepted), optionally ``>= minimum``."""
    if not _is_int(value) or (minimum is not None and value < minimum):
        need = "an integer" + ("" if minimum is None else f" >= {minimum}")
        raise ValueError(f"{name} must be {need}, got {value!r}")
    return int(value)


def check_number(name, value, positive=False):
    """A finite real number, optionally > 0; returned as a plain int or float."""
    if (not isinstance(value, numbers.Real) or isinstance(value, bool)
            or not np.isfinite(value) or (positive and value <= 0)):
        need = "a positive finite number" if positive else "a finite number"
        raise ValueError(f"{name} must be {need}, got {value!r}")
    return int(value) if _is_int(value) else float(value)


def check_fraction(name, value):
    """A number in [0, 1]."""
    if (not isinstance(value, numbers.Real) or isinstance(value, bool)
            or not 0 <= value <= 1):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def check_list(name, value, item_check, length=None):
    """A non-empty sequence whose items pass ``item_check(f'{name}[i]', item)``."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) == 0:
        raise ValueError(f"{name} must be a non-empty list, got {value!r}")
    if length is not None and len(value) != length:
        raise ValueError(f"{name} must have {length} entries (one per level), got "
                         f"{len(value)}: {list(value)!r}")
    return [item_check(f"{name}[{i}]", item) for i, item in enumerate(value)]


def check_image_shape(value):
    """Two positive ints ``(H, W)``, returned as a list."""
    if (isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2
            or not all(_is_int(v) and v > 0 for v in value)):
        raise ValueError(f"image_shape must be two positive integers (H, W), got {value!r}")
    return [int(v) for v in value]
