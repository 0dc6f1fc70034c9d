# SPDX-License-Identifier: MIT
"""nomul.gateware.ternary: the three-input adder of Xilinx primitives equals Python's sum on
every input of small operands of every sign, shift and signedness, simulated by Icarus with
Yosys's own models of LUT6_2 and CARRY4 (nomul.sim.primitives)."""

import itertools
import shutil
import subprocess

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, Signal, signed, unsigned

from nomul.gateware.ternary import lut6_2_init, ternary_sum
from nomul.sim.primitives import models_for


def test_the_lut_computes_the_propagate_and_the_majority():
    # O6 (INIT[63:32]) = I0 ^ I1 ^ I2 ^ I3, 0x6996 over four inputs, repeated over I4;
    # O5 (INIT[31:0]) = majority(I0, I1, I2), 0xE8 over three inputs, repeated
    assert lut6_2_init((False, False, False)) == 0x69966996_E8E8E8E8
    # the first operand inverted: the propagate inverted, the majority of (~x, y, z)
    assert lut6_2_init((True, False, False)) == 0x96699669_D4D4D4D4


def _range(shape):
    if shape.signed:
        return range(-(1 << (shape.width - 1)), 1 << (shape.width - 1))
    return range(1 << shape.width)


CASES = [  # (widths, signed, shifts of the 2nd and 3rd, their signs)
    (widths, is_signed, shifts, signs)
    for widths in ((3, 2, 2), (2, 3, 1))
    for is_signed in (False, True)
    for shifts in ((0, 0), (1, 0), (0, 2), (2, 3))
    for signs in ((1, 1), (1, -1), (-1, 1), (-1, -1))
]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog is not installed "
                    "(CI installs it: apt-get install iverilog)")
def test_the_sum_is_exact_on_every_input(tmp_path):
    m, checks, ports = Module(), [], []
    for n, (widths, is_signed, shifts, signs) in enumerate(CASES):
        shapes = [signed(w) if is_signed else unsigned(w) for w in widths]
        a, b, c = (Signal(s, name=f"{v}{n}") for s, v in zip(shapes, "abc"))
        vectors = list(itertools.product(*(_range(s) for s in shapes)))
        sums = [x + signs[0] * (y << shifts[0]) + signs[1] * (z << shifts[1])
                for x, y, z in vectors]
        shape = signed(max(max(sums).bit_length(), (-min(sums) - 1).bit_length()) + 1)
        out = Signal(shape, name=f"o{n}")
        m.d.comb += out.eq(ternary_sum(m, [(a, 0, 1), (b, shifts[0], signs[0]),
                                           (c, shifts[1], signs[1])], shape, f"t{n}"))
        ports += [a, b, c, out]
        for (x, y, z), total in zip(vectors, sums):
            checks.append(f"a{n} = {x & (1 << len(a)) - 1}; b{n} = {y & (1 << len(b)) - 1}; "
                          f"c{n} = {z & (1 << len(c)) - 1}; #1; "
                          f"if ($signed(o{n}) !== {total}) $display(\"WRONG {n} {x} {y} {z}\");")
    dut = verilog.convert(m, ports=ports, name="dut")
    assert "LUT6_2" in dut and "CARRY4" in dut
    declare = [f"reg [{len(p) - 1}:0] {p.name};" if p.name[0] != "o" else
               f"wire [{len(p) - 1}:0] {p.name};" for p in ports]
    bench = "\n".join(["module bench;", *declare,
                       "dut d(" + ", ".join(f".{p.name}({p.name})" for p in ports) + ");",
                       "initial begin", *checks, '$display("DONE"); $finish;', "end",
                       "endmodule"])
    (tmp_path / "dut.v").write_text(dut + models_for(dut))
    (tmp_path / "bench.v").write_text(bench)
    subprocess.run(["iverilog", "-g2005", "-o", "sim", "dut.v", "bench.v"], cwd=tmp_path,
                   check=True)
    out = subprocess.run(["vvp", "sim"], cwd=tmp_path, check=True, capture_output=True,
                         text=True).stdout
    assert "DONE" in out and "WRONG" not in out, out[:2000]
