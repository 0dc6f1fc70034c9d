# SPDX-License-Identifier: MIT
"""nomul.gateware.order: comparisons as unsigned compares agree with Python's on every pair of
values of two shapes (signed or not, different widths), and so do the compares in halves:
``a >= b`` with a signal or with each constant of a shape, ``a > b`` with a signal."""

from amaranth.hdl import Const, Module, Signal, signed, unsigned
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st

from nomul.gateware.order import at_least, at_least_in_halves, greater, greater_in_halves


def _values(shape):
    if shape.signed:
        return range(-(1 << (shape.width - 1)), 1 << (shape.width - 1))
    return range(1 << shape.width)


@settings(max_examples=25, deadline=None)
@given(st.booleans(), st.integers(1, 4), st.booleans(), st.integers(1, 4))
def test_greater_and_at_least_agree_with_python_on_every_pair(a_signed, a_width, b_signed,
                                                             b_width):
    a_shape = signed(a_width) if a_signed else unsigned(a_width)
    b_shape = signed(b_width) if b_signed else unsigned(b_width)
    a, b, gt, ge = Signal(a_shape), Signal(b_shape), Signal(), Signal()
    m = Module()
    m.d.comb += [gt.eq(greater(a, b)), ge.eq(at_least(a, b))]
    wrong = []

    async def testbench(ctx):
        for x in _values(a_shape):
            for y in _values(b_shape):
                ctx.set(a, x)
                ctx.set(b, y)
                if (ctx.get(gt), ctx.get(ge)) != (x > y, x >= y):
                    wrong.append((x, y))

    simulator = Simulator(m)
    simulator.add_testbench(testbench)
    simulator.run()
    assert wrong == []


def _joined(parts):
    return parts[0] if len(parts) == 1 else parts[0] | (parts[1] & parts[2])


@settings(max_examples=25, deadline=None)
@given(st.booleans(), st.integers(1, 7), st.booleans(), st.integers(1, 7), st.booleans())
def test_at_least_in_halves_agrees_with_python(a_signed, a_width, b_signed, b_width, constant):
    """Against a signal (every pair) or against every constant of ``b``'s shape, with the
    halves split or not (widths up to 7: round constants keep one LUT's bits, others split)."""
    a_shape = signed(a_width) if a_signed else unsigned(a_width)
    b_shape = signed(b_width) if b_signed else unsigned(b_width)
    a, b = Signal(a_shape), Signal(b_shape)
    m = Module()
    if constant:
        bs = list(_values(b_shape))
        results = [Signal(name=f"ge_{i}") for i in range(len(bs))]
        m.d.comb += [r.eq(_joined(at_least_in_halves(a, Const(y, b_shape))))
                     for r, y in zip(results, bs)]
    else:
        ge = Signal()
        m.d.comb += ge.eq(_joined(at_least_in_halves(a, b)))
    wrong = []

    async def testbench(ctx):
        for x in _values(a_shape):
            ctx.set(a, x)
            if constant:
                wrong.extend((x, y) for r, y in zip(results, bs) if ctx.get(r) != (x >= y))
                continue
            for y in _values(b_shape):
                ctx.set(b, y)
                if ctx.get(ge) != (x >= y):
                    wrong.append((x, y))

    simulator = Simulator(m)
    simulator.add_testbench(testbench)
    simulator.run()
    assert wrong == []


@settings(max_examples=25, deadline=None)
@given(st.booleans(), st.integers(1, 6), st.booleans(), st.integers(1, 6))
def test_greater_in_halves_agrees_with_python_on_every_pair(a_signed, a_width, b_signed,
                                                           b_width):
    """``high_greater | (high_equal & low_greater)`` is ``a > b`` (the running maximum's
    compare, ties keeping the earlier)."""
    a_shape = signed(a_width) if a_signed else unsigned(a_width)
    b_shape = signed(b_width) if b_signed else unsigned(b_width)
    a, b, gt = Signal(a_shape), Signal(b_shape), Signal()
    high_greater, high_equal, low_greater = greater_in_halves(a, b)
    m = Module()
    m.d.comb += gt.eq(high_greater | (high_equal & low_greater))
    wrong = []

    async def testbench(ctx):
        for x in _values(a_shape):
            ctx.set(a, x)
            for y in _values(b_shape):
                ctx.set(b, y)
                if ctx.get(gt) != (x > y):
                    wrong.append((x, y))

    simulator = Simulator(m)
    simulator.add_testbench(testbench)
    simulator.run()
    assert wrong == []
