"""``asks._numbers``: the one test of "a number, not a bool" every argument check uses."""

from __future__ import annotations

import pytest

from asks._numbers import check_int, check_number, is_int, is_number


@pytest.mark.parametrize("value", [0, 3, -1, 2.5, float("inf"), float("nan")])
def test_ints_and_floats_are_numbers(value: object) -> None:
    assert is_number(value)
    assert check_number(value, "x") is value


@pytest.mark.parametrize("value", [True, False, "1", None, [1], 1j])
def test_a_bool_or_a_non_number_is_refused_naming_the_argument(value: object) -> None:
    assert not is_number(value)
    with pytest.raises(TypeError) as raised:
        check_number(value, "keepalive_expiry", "seconds")
    assert str(raised.value) == f"keepalive_expiry must be seconds, not {type(value).__name__}"


def test_only_an_int_that_is_not_a_bool_is_an_int() -> None:
    assert is_int(7)
    assert check_int(7, "burst") == 7
    for value in (True, 7.0, "7", None):
        assert not is_int(value)
        message = rf"^burst must be an int, not {type(value).__name__}$"
        with pytest.raises(TypeError, match=message):
            check_int(value, "burst")


def test_the_expected_kind_is_said_as_given() -> None:
    with pytest.raises(TypeError, match=r"^retries must be an int or an asks\.Retry, not bool$"):
        check_int(True, "retries", "an int or an asks.Retry")
