"""Answers as plain data: the only thing that crosses from a student's kernel to the judge.

``encode`` runs inside the sandbox (in the student's kernel, so it is untrusted: whatever it
writes is just "the student's answer"); ``decode`` runs in the trusted grader and accepts only
JSON made of the forms below, so no object of the student's (a subclass with its own ``__eq__``,
a proxy, a lazy tensor) can reach the comparison.

Plain values: None, bool, int (up to 4,000 digits: JSON cannot carry more in Python), float
(NaN and infinities included), str, lists, dicts with string keys, and the tagged forms
``{"$tuple": [...]}``, ``{"$float": "nan"}`` and ``{"$array": {"dtype": ..., "shape": [...],
"data": [...]}}`` (bool, int64, uint64 or float64 arrays; unsigned arrays keep their values, so
a uint64 array holding 2**64 - 1 is never read as -1). Exact types are required: ``True`` is a
bool, an ``int`` subclass is rejected.
This file is self-contained (standard library + NumPy) because the sandbox runs it as it is.
"""

import json
import math

import numpy as np

MAX_ELEMENTS = 2_000_000          # numbers in one answer (a 5-D target map is ~100k)
MAX_DEPTH = 32
_SCALARS = (bool, int, float, str, type(None))
_ARRAY_KINDS = {"b": "bool", "i": "int64", "u": "uint64", "f": "float64"}
MAX_INT_BITS = 13_000             # about 3,900 digits (Python prints at most 4,300)
_INT_RANGES = {"int64": (-2**63, 2**63 - 1), "uint64": (0, 2**64 - 1)}


class NotPlain(TypeError):
    """An answer that is not plain data (the message names its type)."""


def to_plain(value, _depth=0, _budget=None):
    """A JSON-ready form of ``value``; raises NotPlain for anything that is not plain data.

    NumPy scalars and arrays of exact NumPy types are accepted (a student's ``np.int64(3)`` is
    the number 3); tensors of TensorFlow, JAX or PyTorch are converted through ``.numpy()`` or
    ``np.asarray`` first by the caller (``answer_value``)."""
    budget = _budget if _budget is not None else [MAX_ELEMENTS]
    if _depth > MAX_DEPTH:
        raise NotPlain("nested deeper than 32 levels")
    kind = type(value)
    if kind is float and not math.isfinite(value):
        return {"$float": repr(value)}
    if kind is int and value.bit_length() > MAX_INT_BITS:
        raise NotPlain(f"an integer of more than {MAX_INT_BITS:,} bits")
    if kind in _SCALARS:
        _spend(budget, len(value) // 64 + 1 if kind is str else 1)
        return value
    if kind in (list, tuple):
        items = [to_plain(v, _depth + 1, budget) for v in value]
        return items if kind is list else {"$tuple": items}
    if kind is dict:
        if not all(type(k) is str for k in value):
            raise NotPlain("a dict whose keys are not all strings")
        return {k: to_plain(v, _depth + 1, budget) for k, v in value.items()}
    if isinstance(value, np.generic) and kind.__module__ == "numpy" and value.dtype.kind in _ARRAY_KINDS:
        return to_plain(value.item(), _depth, budget)
    if kind is np.ndarray and value.dtype.kind in _ARRAY_KINDS:
        _spend(budget, value.size)
        array = value.astype(_ARRAY_KINDS[value.dtype.kind])
        data = [x if math.isfinite(x) else repr(x) for x in array.ravel().tolist()] \
            if array.dtype.kind == "f" else array.ravel().tolist()
        return {"$array": {"dtype": str(array.dtype), "shape": list(array.shape), "data": data}}
    raise NotPlain(f"{kind.__module__}.{kind.__qualname__} is not plain data")


def _spend(budget, n):
    budget[0] -= n
    if budget[0] < 0:
        raise NotPlain(f"more than {MAX_ELEMENTS:,} numbers")


def answer_value(value):
    """``value`` with framework tensors turned into NumPy arrays (exact types only)."""
    kind = type(value)
    module = kind.__module__.split(".")[0]
    if module in ("tensorflow", "jax", "jaxlib", "torch", "keras") and hasattr(value, "shape"):
        value = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
        if type(value) is not np.ndarray and not isinstance(value, np.generic):
            raise NotPlain(f"{kind.__qualname__} did not convert to a NumPy array")
    if kind in (list, tuple):
        return kind(answer_value(v) for v in value)
    if kind is dict:
        return {k: answer_value(v) for k, v in value.items()}
    return value


def dumps(value):
    """JSON text of a plain value (``to_plain`` first)."""
    return json.dumps(to_plain(value), allow_nan=False, separators=(",", ":"))


def from_plain(data, _depth=0):
    """Python values from the JSON form, strictly: anything unexpected raises NotPlain."""
    if _depth > MAX_DEPTH + 2:
        raise NotPlain("nested too deep")
    kind = type(data)
    if kind in _SCALARS:
        return data
    if kind is list:
        return [from_plain(v, _depth + 1) for v in data]
    if kind is not dict:
        raise NotPlain(f"unexpected JSON value {kind.__name__}")
    if len(data) == 1 and next(iter(data)).startswith("$"):
        tag, body = next(iter(data.items()))
        if tag == "$tuple" and type(body) is list:
            return tuple(from_plain(v, _depth + 1) for v in body)
        if tag == "$float" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag == "$array" and type(body) is dict:
            return _array(body)
        raise NotPlain(f"unknown tag {tag}")
    return {str(k): from_plain(v, _depth + 1) for k, v in data.items()}


def _array(body):
    dtype, shape, data = body.get("dtype"), body.get("shape"), body.get("data")
    if dtype not in ("bool", "int64", "uint64", "float64") or type(shape) is not list \
            or type(data) is not list or len(shape) > MAX_DEPTH:
        raise NotPlain("malformed array")
    if not all(type(n) is int and n >= 0 for n in shape) or math.prod(shape) != len(data):
        raise NotPlain("array shape does not match its data")
    allowed = {"bool": (bool,), "int64": (int,), "uint64": (int,), "float64": (int, float, str)}[dtype]
    if not all(type(x) in allowed and (type(x) is not str or x in ("nan", "inf", "-inf"))
               for x in data):
        raise NotPlain("array data of the wrong type")
    low, high = _INT_RANGES.get(dtype, (-2**1023, 2**1023))    # float64: what float() takes
    if dtype != "bool" and not all(low <= x <= high for x in data if type(x) is int):
        raise NotPlain(f"array data out of the range of {dtype}")
    values = [float(x) if type(x) is str else x for x in data] if dtype == "float64" else data
    return np.array(values, dtype=dtype).reshape(shape)


def loads(text):
    """A plain value from JSON text (NaN/Infinity literals refused)."""
    def refuse(constant):
        raise NotPlain(f"bare {constant} in JSON")
    return from_plain(json.loads(text, parse_constant=refuse))
