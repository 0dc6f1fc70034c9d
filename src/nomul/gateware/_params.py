# SPDX-License-Identifier: MIT
"""Parameter checks shared by gateware constructors: plain ints and tuples, never numpy."""

import operator

__all__ = ["as_int", "as_ints"]


def as_int(value, name, *, minimum):
    """A plain ``int`` >= ``minimum`` from an int or numpy integer."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, not {value!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, not {value}")
    return value


def as_ints(values, name, *, minimum, length=None):
    """A tuple of plain ints from a sequence (not a bare int, not a string)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a tuple of integers, not {values!r}")
    values = tuple(as_int(v, f"{name}[{n}]", minimum=minimum) for n, v in enumerate(values))
    if length is not None and len(values) != length:
        raise ValueError(f"{name} must have {length} entries, not {values!r}")
    return values
