"""Readable checks for notebook exercises: a student running a test cell in Colab (where no
grading extension exists) sees one line per check, with what was expected when it fails.

The comparison is total: whatever a notebook returns (a number too large for a float, an array
where one letter is expected, text for a number, an object whose methods raise) gets an
explanation, never an exception, so the course's judge can use it on any answer."""

import math
import reprlib
from dataclasses import dataclass

import numpy as np

__all__ = ["check", "difference", "compare", "Mismatch", "brief"]

# Why an answer's very form cannot stand for the expected value. A grader flags these (the
# texts are fixed, never the student's); the student only sees the explanation.
HUGE_NUMBER = "a number too large for a float"
TEXT_FOR_NUMBER = "text where a number is expected"
MANY_FOR_ONE = "several values where one is expected"
UNCOMPARABLE = "a value that could not be compared"


@dataclass(frozen=True)
class Mismatch:
    """Why an answer is wrong: ``text`` explains it; ``odd`` is one of the fixed phrases above
    when the answer's form is odd rather than its value wrong ("" otherwise)."""
    text: str
    odd: str = ""


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
    ``np.int64(3)`` and 3.0 are equal, the text ``"3"`` is not a number); tuples and lists
    alike; dicts key by key. For arrays of more than a dozen elements the explanation names the
    first differing element, how many differ, the shapes and the tolerance, not the whole
    arrays. Never raises (see ``compare``)."""
    mismatch = compare(got, expected, tolerance)
    return mismatch.text if mismatch else None


def compare(got, expected, tolerance=1e-6):
    """``difference`` as a ``Mismatch`` (or None when equal), saying also whether the answer's
    form is odd. Total: an exception inside a comparison (a student's object whose ``==`` or
    ``__array__`` raises) makes the answer wrong, with the ``UNCOMPARABLE`` oddity."""
    try:
        return _compare(got, expected, tolerance)
    except Exception as error:
        return Mismatch(f"expected {brief(expected)}, got {brief(got)}, which could not be "
                        f"compared ({type(error).__name__})", UNCOMPARABLE)


def _compare(got, expected, tolerance):
    """By the expected value's form: a dict, a list of items, numbers, or one other value."""
    if isinstance(expected, dict):
        return _compare_dicts(got, expected, tolerance)
    numbers, _ = _as_numbers(expected)
    if isinstance(expected, (list, tuple)) and numbers is None:
        return _compare_items(got, expected, tolerance)
    if numbers is not None and isinstance(expected, (int, float, np.number, np.ndarray, list, tuple)) \
            and not isinstance(expected, bool):
        return _compare_numbers(got, expected, numbers, tolerance)
    return _compare_one(got, expected)


def _compare_dicts(got, expected, tolerance):
    if not isinstance(got, dict):
        return Mismatch(f"expected a dict, got {_describe(got)}")
    if set(got) != set(expected):
        return Mismatch(f"expected keys {brief(_sorted(expected))}, got {brief(_sorted(got))}")
    for key in expected:
        found = _compare(got[key], expected[key], tolerance)
        if found:
            return Mismatch(f"[{brief(key)}] {found.text}", found.odd)
    return None


def _compare_items(got, expected, tolerance):
    """Item by item: a list or tuple that is not one array of numbers (``(shape, count)``)."""
    if not isinstance(got, (list, tuple)) or len(got) != len(expected):
        return Mismatch(f"expected {len(expected)} items {brief(expected)}, got {brief(got)}")
    for index, (got_item, expected_item) in enumerate(zip(got, expected)):
        found = _compare(got_item, expected_item, tolerance)
        if found:
            return Mismatch(f"[{index}] {found.text}", found.odd)
    return None


def _compare_numbers(got, expected, expected_array, tolerance):
    if expected_array.ndim == 0 and _is_container(got):
        return Mismatch(f"expected one number {brief(expected)}, got {_describe(got)}",
                        MANY_FOR_ONE)
    got_array, why_not = _as_numbers(got)
    if got_array is None:
        reason, odd = why_not
        return Mismatch(f"expected {brief(expected)}, got {brief(got)}: {reason}", odd)
    if got_array.shape != expected_array.shape:
        return Mismatch(f"expected shape {expected_array.shape} ({_short(expected, expected_array)}), "
                        f"got shape {got_array.shape} ({_short(got, got_array)})")
    close = np.isclose(got_array, expected_array, atol=tolerance, rtol=0, equal_nan=True)
    if close.all():
        return None
    if expected_array.size <= SMALL:
        return Mismatch(f"expected {brief(expected)}, got {brief(got)}")
    wrong = np.argwhere(~close)
    first = tuple(int(i) for i in wrong[0])
    return Mismatch(f"{len(wrong)} of {close.size} elements differ by more than {tolerance:g}; "
                    f"the first at index {list(first)}: expected {expected_array[first].item()!r}, "
                    f"got {got_array[first].item()!r} (shape {expected_array.shape})")


def _compare_one(got, expected):
    """A single value (a letter, a bool, None) compared with ``==``."""
    if _is_container(got) and not _is_container(expected):
        return Mismatch(f"expected one value {brief(expected)}, got {_describe(got)}",
                        MANY_FOR_ONE)
    return None if _equal(got, expected) else Mismatch(f"expected {brief(expected)}, got {brief(got)}")


def _equal(got, expected):
    """``got == expected`` read as one yes or no (NumPy answers element-wise)."""
    result = got == expected
    if isinstance(result, (bool, np.bool_)):
        return bool(result)
    if isinstance(result, np.ndarray) and np.shape(got) == np.shape(expected):
        return bool(result.all())
    return False


def _as_numbers(value):
    """(float array, None) when ``value`` is numbers (nested evenly), else (None, (reason,
    oddity)). Text is never a number, even "3"; bools are (as in Python)."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError, OverflowError, RecursionError):
        return None, ("not an array of numbers (ragged or mixed)", "")
    if array.dtype.kind in "US":
        return None, ("text is not a number", TEXT_FOR_NUMBER)
    if array.dtype.kind == "O":
        return _objects_as_numbers(array)
    if array.dtype.kind not in "biuf":
        return None, (f"{array.dtype} values are not real numbers", "")
    return array.astype(float), None


def _objects_as_numbers(array):
    """An object array (Python ints beyond 64 bits, None, text mixed with numbers) as floats."""
    floats = []
    for item in array.ravel():
        if isinstance(item, (str, bytes)):
            return None, ("text is not a number", TEXT_FOR_NUMBER)
        if not isinstance(item, (int, float, np.number)):
            return None, (f"{'None' if item is None else type(item).__name__} is not a number", "")
        try:
            floats.append(float(item))
        except OverflowError:
            return None, ("too large for a float", HUGE_NUMBER)
    return np.array(floats, dtype=float).reshape(array.shape), None


def _is_container(value):
    return isinstance(value, (list, tuple, dict, set, frozenset)) or \
        (isinstance(value, np.ndarray) and value.ndim > 0)


def _describe(value):
    """What kind of value ``value`` is, in a few words (not its contents)."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return f"a {type(value).__name__} of {len(value)} item{'' if len(value) == 1 else 's'}"
    return brief(value)


def _sorted(keys):
    try:
        return sorted(keys)
    except TypeError:                  # keys of several types
        return sorted(keys, key=repr)


SMALL = 12          # arrays up to this many elements are shown whole in a message


def _short(value, array):
    """``value``'s repr when small, else only its shape and dtype (a 5-D target map would fill
    the screen)."""
    return brief(value) if array.size <= SMALL else f"an array of shape {array.shape}"


class _Brief(reprlib.Repr):
    """reprlib with room for a dozen items, and integers too long to print (Python refuses
    ``repr(10**5000)``) told by their length."""

    def __init__(self):
        super().__init__()
        self.maxlist = self.maxtuple = self.maxset = self.maxdict = self.maxarray = SMALL
        self.maxstring, self.maxlong, self.maxother, self.maxlevel = 80, 60, 200, 4

    def repr_int(self, value, level):
        if value.bit_length() <= 200:
            return repr(value)
        digits = math.floor(value.bit_length() * math.log10(2)) + 1
        return f"<an integer of about {digits} digits>"

    def repr_dict(self, value, level):  # in the dict's own order (reprlib sorts the keys)
        if level <= 0:
            return "{...}"
        items = [f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}"
                 for k, v in list(value.items())[:self.maxdict]]
        return "{" + ", ".join(items) + (", ...}" if len(value) > self.maxdict else "}")


_BRIEF = _Brief()


def brief(value, limit=200):
    """A short repr of any value (at most ``limit`` characters); never raises."""
    try:
        text = _BRIEF.repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + " ..."
