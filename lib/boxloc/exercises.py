"""Readable checks for notebook exercises: a student running a test cell in Colab (where no
grading extension exists) sees one line per check, with what was expected when it fails."""

import numpy as np

__all__ = ["check", "difference"]


def check(name, got, expected, tolerance=1e-6):
    """Compare ``got`` with ``expected`` and print ``✓ name`` or raise a readable AssertionError.

    Numbers and arrays are compared with an absolute ``tolerance``; dicts key by key; other
    values with ``==``.
    """
    problem = difference(got, expected, tolerance)
    if problem:
        raise AssertionError(f"✗ {name}: {problem}")
    print(f"✓ {name}")


def difference(got, expected, tolerance=1e-6):
    """None when ``got`` equals ``expected`` as a teaching assistant reads it, else a short
    explanation. Numbers compare with an absolute ``tolerance`` whatever their type (3,
    ``np.int64(3)`` and 3.0 are equal); tuples and lists alike; dicts key by key."""
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"expected a dict, got {type(got).__name__}"
        if set(got) != set(expected):
            return f"expected keys {sorted(expected)}, got {sorted(got)}"
        for key in expected:
            problem = difference(got[key], expected[key], tolerance)
            if problem:
                return f"[{key!r}] {problem}"
        return None
    if isinstance(expected, (list, tuple)) and not _is_numeric_array(expected):
        if not isinstance(got, (list, tuple)) or len(got) != len(expected):
            return f"expected {len(expected)} items {expected!r}, got {got!r}"
        for index, (got_item, expected_item) in enumerate(zip(got, expected)):
            problem = difference(got_item, expected_item, tolerance)
            if problem:
                return f"[{index}] {problem}"
        return None
    if isinstance(expected, (int, float, np.number, np.ndarray, list, tuple)) and not isinstance(expected, bool):
        try:
            got_array = np.asarray(got, dtype=float)
            expected_array = np.asarray(expected, dtype=float)
        except (TypeError, ValueError):
            return f"expected {expected!r}, got {got!r}"
        if got_array.shape != expected_array.shape:
            return f"expected shape {expected_array.shape} ({expected!r}), got {got!r}"
        if not np.allclose(got_array, expected_array, atol=tolerance, rtol=0):
            return f"expected {expected!r}, got {got!r}"
        return None
    return None if got == expected else f"expected {expected!r}, got {got!r}"


def _is_numeric_array(value):
    """Whether a list/tuple converts to a rectangular float array (numbers, nested evenly)."""
    try:
        np.asarray(value, dtype=float)
        return True
    except (TypeError, ValueError):
        return False
