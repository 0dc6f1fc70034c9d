# SPDX-License-Identifier: MIT
"""Comparisons of two signals as unsigned numbers: one LUT level fewer after the carry chain.

Yosys maps ``a > b`` of signed values to a carry chain and then a LUT that combines the
chain's result with both sign bits (the overflow rule), so a compare-select (an argmax node,
the running maximum) is the chain, that LUT, then the select: two LUT levels on iCE40 and
ECP5. Flipping the sign bit of both values, extended to one width, maps signed order onto
unsigned order (``-2**(w-1) .. 2**(w-1) - 1`` onto ``0 .. 2**w - 1``); an unsigned compare is
the chain's carry alone, and the flips are inverted inputs of the chain's own LUTs. Same
result, same LUT count, one level fewer (``bench/RESULTS.md``). Unsigned values compare as
they are.
"""

from amaranth.hdl import Cat, Const

__all__ = ["as_ordered", "greater", "at_least",
           "at_least_in_halves", "greater_in_halves"]


def as_ordered(*values):
    """``values`` as unsigned values of one width, in the same order as the values (each
    extended to the width, its sign bit flipped, when any of them is signed)."""
    if not any(v.shape().signed for v in values):
        return values
    width = max(len(v) + (not v.shape().signed) for v in values)
    top = Const(1 << (width - 1), width)
    ordered = []
    for v in values:
        fill = v[-1] if v.shape().signed else Const(0, 1)
        ordered.append(Cat(v, fill.replicate(width - len(v))) ^ top)
    return tuple(ordered)


def greater(a, b):
    """``a > b`` as an unsigned compare (see the module docstring)."""
    a, b = as_ordered(a, b)
    return a > b


def at_least(a, b):
    """``a >= b`` as an unsigned compare (see the module docstring)."""
    a, b = as_ordered(a, b)
    return a >= b


def at_least_in_halves(a, b):
    """``a >= b`` as narrower compares, each to be registered: ``(high_above, high_at_least,
    low_at_least)``, where ``a >= b`` is ``high_above | (high_at_least & low_at_least)``; or
    ``(a >= b,)`` when what is compared fits one 4-input LUT. A constant ``b``'s low zero bits
    are dropped first (every ``a`` reaches them): a round threshold costs only its significant
    bits, and a half of four or fewer of them is one LUT rather than a carry chain."""
    signed_order = any(v.shape().signed for v in (a, b))
    constant = b.value if isinstance(b, Const) else None
    a, b = as_ordered(a, b)
    width = max(len(a), len(b))
    a = Cat(a, Const(0, width - len(a)))
    if constant is None:
        b, inputs = Cat(b, Const(0, width - len(b))), 2 * width
    else:
        value = constant + (1 << (width - 1)) if signed_order else constant
        if value == 0:
            return (Const(1, 1),)
        low_zeros = (value & -value).bit_length() - 1
        a, width = a[low_zeros:], width - low_zeros
        b, inputs = Const(value >> low_zeros, width), width
    if inputs <= 4:
        return (a >= b,)
    half = width // 2
    return a[half:] > b[half:], a[half:] >= b[half:], a[:half] >= b[:half]



def greater_in_halves(a, b):
    """``a > b`` as half-width compares, each to be registered: ``(high_greater, high_equal,
    low_greater)``, where ``a > b`` is ``high_greater | (high_equal & low_greater)`` (each
    half's carry chain half as long)."""
    a, b = as_ordered(a, b)
    width = max(len(a), len(b))
    a, b = (Cat(v, Const(0, width - len(v))) for v in (a, b))
    half = width // 2
    return a[half:] > b[half:], a[half:] == b[half:], a[:half] > b[:half]
