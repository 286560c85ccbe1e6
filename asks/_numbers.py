"""Numbers a caller passes: an int (or a float where a fraction makes sense), never a bool.

``bool`` is a subclass of ``int``, so ``isinstance(True, int)`` holds; but
``retries=True`` or ``timeout=False`` is a mistake, never a count or a
duration, and is refused like any other value that is not a number.
"""

from __future__ import annotations

from typing import TypeGuard

__all__ = ["check_int", "check_number", "is_int", "is_number"]


def is_number(value: object) -> TypeGuard[int | float]:
    """Whether *value* is an int or a float, and not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_int(value: object) -> TypeGuard[int]:
    """Whether *value* is an int, and not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_number(value: object, name: str, expected: str = "a number") -> float:
    """*value*, when :func:`is_number`.

    Raises:
        TypeError: ``"{name} must be {expected}, not {type}"``.
    """
    # (is_number's test, not a call of it: kernel_seconds runs this for
    # every request given a timeout.)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be {expected}, not {type(value).__name__}")
    return value


def check_int(value: object, name: str, expected: str = "an int") -> int:
    """*value*, when :func:`is_int`.

    Raises:
        TypeError: ``"{name} must be {expected}, not {type}"``.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be {expected}, not {type(value).__name__}")
    return value
