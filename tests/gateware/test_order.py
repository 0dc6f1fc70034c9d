# SPDX-License-Identifier: MIT
"""nomul.gateware.order: comparisons as unsigned compares agree with Python's on every pair of
values of two shapes (signed or not, different widths)."""

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st

from nomul.gateware.order import at_least, greater


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
