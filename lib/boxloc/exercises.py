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
    ``np.int64(3)`` and 3.0 are equal); tuples and lists alike; dicts key by key. For arrays of
    more than a dozen elements the explanation names the first differing element, how many
    differ, the shapes and the tolerance, not the whole arrays."""
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
            return (f"expected shape {expected_array.shape} ({_short(expected, expected_array)}), "
                    f"got shape {got_array.shape} ({_short(got, got_array)})")
        close = np.isclose(got_array, expected_array, atol=tolerance, rtol=0)
        if close.all():
            return None
        if expected_array.size <= SMALL:
            return f"expected {expected!r}, got {got!r}"
        wrong = np.argwhere(~close)
        first = tuple(int(i) for i in wrong[0])
        return (f"{len(wrong)} of {close.size} elements differ by more than {tolerance:g}; the "
                f"first at index {list(first)}: expected {expected_array[first].item()!r}, got "
                f"{got_array[first].item()!r} (shape {expected_array.shape})")
    return None if got == expected else f"expected {expected!r}, got {got!r}"


SMALL = 12          # arrays up to this many elements are shown whole in a message


def _short(value, array):
    """``value``'s repr when small, else only its shape and dtype (a 5-D target map would fill
    the screen)."""
    return repr(value) if array.size <= SMALL else f"an array of shape {array.shape}"


def _is_numeric_array(value):
    """Whether a list/tuple converts to a rectangular float array (numbers, nested evenly)."""
    try:
        np.asarray(value, dtype=float)
        return True
    except (TypeError, ValueError):
        return False
