"""boxloc.exercises.check: what a student sees."""

import numpy as np
import pytest

from boxloc.exercises import check


@pytest.mark.parametrize("got, expected", [
    (10125, 10125), (np.int64(3), 3), ((32.0, 32.0), (32, 32)), ([1, 2], np.array([1, 2])),
    ({"cls-c3": (1, 30, 30, 9)}, {"cls-c3": [1, 30, 30, 9]}), ("b", "b"), (True, True),
    (([(1, 2), (3, 4, 5)], 7), ([(1, 2), (3, 4, 5)], 7)), (0.1 + 0.2, 0.3),
])
def test_equal_values_pass_and_print_a_tick(got, expected, capsys):
    check("name", got, expected)
    assert capsys.readouterr().out == "✓ name\n"


@pytest.mark.parametrize("got, expected, message", [
    (3, 4, "expected 4, got 3"),
    (None, 4, "expected 4, got None"),
    ((1, 2), (1, 2, 3), "expected shape (3,) ((1, 2, 3)), got shape (2,) ((1, 2))"),
    ({"a": 1}, {"a": 1, "b": 2}, "expected keys ['a', 'b']"),
    ({"a": (1, 3)}, {"a": (1, 2)}, "['a'] expected (1, 2), got (1, 3)"),
    (([(1, 2)], 7), ([(1, 3)], 7), "[0] expected [(1, 3)], got [(1, 2)]"),
    (([(1, 2), (3,)], 7), ([(1, 2), (4,)], 7), "[0] [1] expected (4,), got (3,)"),
    ("a", "b", "expected 'b', got 'a'"),
    (1.001, 1.0, "expected 1.0, got 1.001"),
])
def test_differences_raise_a_readable_assertion(got, expected, message):
    with pytest.raises(AssertionError, match="✗ name: ") as error:
        check("name", got, expected)
    assert message in str(error.value)


def test_a_large_array_difference_names_the_first_element_not_the_arrays():
    expected = np.zeros((1, 1, 30, 30, 9))
    got = expected.copy()
    got[0, 0, 4, 7, 2], got[0, 0, 9, 1, 0] = 0.5, np.nan
    with pytest.raises(AssertionError) as error:
        check("targets", got, expected, tolerance=1e-6)
    message = str(error.value)
    assert "2 of 8100 elements differ by more than 1e-06" in message
    assert "first at index [0, 0, 4, 7, 2]: expected 0.0, got 0.5" in message
    assert "(shape (1, 1, 30, 30, 9))" in message and len(message) < 300


def test_a_large_shape_mismatch_shows_shapes_only():
    with pytest.raises(AssertionError) as error:
        check("map", np.zeros((30, 30)), np.zeros((1, 30, 30)))
    message = str(error.value)
    assert "expected shape (1, 30, 30) (an array of shape (1, 30, 30)), got shape (30, 30)" in message
    assert len(message) < 200
