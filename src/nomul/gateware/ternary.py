# SPDX-License-Identifier: MIT
"""A three-input adder of Xilinx primitives: one ``LUT6_2`` and one ``CARRY4`` bit per result bit.

``x + y + z`` in two-input adders costs a LUT per bit per adder; here each bit's ``LUT6_2``
computes both the 3:2 compressor's carry out of its bit (``O5 = maj(x, y, z)``, wired to the
next bit's LUT) and the carry chain's propagate (``O6 = x ^ y ^ z ^ maj`` of the bit below),
whose generate is that lower majority: the carry chain then adds the compressor's sum and
carry vectors. A negative operand is inverted inside the LUTs and its ``+1`` enters as the
compressor's carry into bit 0 (the first) or the chain's ``CYINIT`` (the second).
Combinational (no latency); matches ``sum(sign * (value << shift))`` modulo ``2 ** width`` of
the result shape, which the caller proves wide enough (the bounds of
:class:`~nomul.design.unrolled.UnrolledPlan`). Xilinx 7-series and later only; simulators take
the primitives' models from :mod:`nomul.sim.primitives`.
"""

from amaranth.hdl import Cat, Const, Instance, Signal

__all__ = ["ternary_sum", "lut6_2_init"]


def lut6_2_init(inverted):
    """The ``LUT6_2`` INIT of one bit, inputs ``I0..I2`` the three operand bits (``inverted``:
    which to invert), ``I3`` the majority from the bit below, ``I5`` tied high: ``O6`` (INIT
    bits 32..63) the propagate, ``O5`` (bits 0..31) this bit's majority."""
    propagate = majority = 0
    for code in range(32):
        x, y, z, carry = ((code >> k & 1) ^ flip for k, flip in enumerate((*inverted, 0)))
        propagate |= (x ^ y ^ z ^ carry) << code
        majority |= (x + y + z >= 2) << code
    return propagate << 32 | majority


def ternary_sum(m, operands, shape, name):
    """``operands``: three ``(value, shift, sign)``, the first unshifted and positive (it alone
    gives the result's bits below the other two's lowest shift: wires); ``shape`` the result's.
    Returns the sum as a value of ``shape``."""
    (base, base_shift, base_sign), *others = operands
    assert base_shift == 0 and base_sign > 0 and len(others) == 2
    # the chain starts at the others' lowest shift, with at least one bit
    low = min(min(shift for _, shift, _ in others), shape.width - 1)
    width = shape.width - low
    lanes = []
    for k, (value, shift, _) in enumerate(operands):
        lane = Signal(width, name=f"{name}_{'xyz'[k]}")
        m.d.comb += lane.eq(value >> low if k == 0 else value << (shift - low))
        lanes.append(lane)
    negative = [sign < 0 for _, _, sign in operands]
    count = sum(negative)
    majority = Signal(width + 1, name=f"{name}_maj")
    propagate = Signal(width, name=f"{name}_p")
    m.d.comb += majority[0].eq(count >= 1)
    init = Const(lut6_2_init(negative), 64)
    for i in range(width):
        m.submodules[f"{name}_lut{i}"] = Instance(
            "LUT6_2", p_INIT=init, i_I0=lanes[0][i], i_I1=lanes[1][i], i_I2=lanes[2][i],
            i_I3=majority[i], i_I4=Const(0, 1), i_I5=Const(1, 1),
            o_O6=propagate[i], o_O5=majority[i + 1])
    blocks = (width + 3) // 4
    padded = 4 * blocks
    select = Cat(propagate, Const(0, padded - width))
    generate = Cat(majority[:width], Const(0, padded - width))
    out = Signal(padded, name=f"{name}_o")
    carries = Signal(padded, name=f"{name}_co")
    for j in range(blocks):
        m.submodules[f"{name}_carry{j}"] = Instance(
            "CARRY4", i_CI=Const(0, 1) if j == 0 else carries[4 * j - 1],
            i_CYINIT=Const(int(count == 2), 1) if j == 0 else Const(0, 1),
            i_DI=generate[4 * j:4 * j + 4], i_S=select[4 * j:4 * j + 4],
            o_O=out[4 * j:4 * j + 4], o_CO=carries[4 * j:4 * j + 4])
    if not low:
        total = out[:width]
    else:                                          # the base's own low bits: wires
        wired = Signal(low, name=f"{name}_low")
        m.d.comb += wired.eq(base)
        total = Cat(wired, out[:width])
    return total.as_signed() if shape.signed else total
