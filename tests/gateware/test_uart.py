# SPDX-License-Identifier: MIT
"""The UART shell in simulation: samples sent as bytes on rx, class indices read back on tx,
equal to the reference; and the bare receiver and transmitter."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from nomul.design import BuildOptions, LayerOptions, lower
from nomul.gateware.network import NetworkTop
from nomul.gateware.uart import UartRx, UartShell, UartTx
from nomul.models import reference
from nomul.models.spec import InputSpec
from nomul.models.synthetic import random_model
from nomul.numeric import Bounds

DIVISOR = 6


async def send_byte(ctx, line, value, divisor=DIVISOR):
    for bit in [0, *((value >> n) & 1 for n in range(8)), 1]:
        ctx.set(line, bit)
        await ctx.tick().repeat(divisor)


async def receive_byte(ctx, line, divisor=DIVISOR):
    """Wait for a start bit on ``line``, sample every bit in its middle, return the byte."""
    while ctx.get(line):
        await ctx.tick()
    await ctx.tick().repeat(divisor + divisor // 2)
    value = 0
    for n in range(8):
        value |= ctx.get(line) << n
        await ctx.tick().repeat(divisor)
    assert ctx.get(line) == 1, "stop bit"
    return value


@pytest.mark.parametrize("options", [BuildOptions(input_lanes=3),
                                     BuildOptions(default=LayerOptions(arch="folded", pe=2))],
                         ids=["unrolled-3-lanes", "folded"])
def test_shell_answers_each_sample_with_its_class(options):
    spec = InputSpec(shape=(8,), raw_min=-5, raw_max=9)
    model = random_model("8-6-4", spec, act_levels=3, weight_levels=4, seed=2)
    top = NetworkTop(lower(model, options))
    shell = UartShell(top, elements=8, raw_bits=Bounds(-5, 9).width, divisor=DIVISOR)
    raw = np.random.default_rng(4).integers(-5, 10, size=(5, 8))
    got = []

    async def host(ctx):
        for sample in raw:
            for value in sample:
                await send_byte(ctx, shell.rx, int(value) & 0xFF)

    async def listener(ctx):
        while len(got) < len(raw):
            got.append(await receive_byte(ctx, shell.tx))

    sim = Simulator(shell)
    sim.add_clock(1e-8)
    sim.add_testbench(host, background=True)
    sim.add_testbench(listener)
    sim.run()
    assert got == reference.run(model, raw).tolist()


def test_receiver_and_transmitter_loop_back():
    rx, tx = UartRx(DIVISOR), UartTx(DIVISOR)
    data = [0x00, 0xFF, 0x55, 0xA3, 0x01, 0x80]
    got = []

    async def sender(ctx):
        for value in data:
            ctx.set(tx.i.payload, value)
            ctx.set(tx.i.valid, 1)
            await ctx.tick().until(tx.i.ready)
            ctx.set(tx.i.valid, 0)

    async def collector(ctx):
        while len(got) < len(data):
            await ctx.tick()
            if ctx.get(rx.o.valid):
                got.append(ctx.get(rx.o.payload))

    from amaranth.hdl import Module

    m = Module()
    m.submodules.rx, m.submodules.tx = rx, tx
    m.d.comb += rx.rx.eq(tx.tx)                     # the wire between them
    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(sender, background=True)
    sim.add_testbench(collector)
    sim.run()
    assert got == data


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="divisor"):
        UartRx(2)
    spec = InputSpec(shape=(4,), raw_min=-300, raw_max=300)
    model = random_model("4-3", spec, act_levels=3, weight_levels=4, seed=0)
    top = NetworkTop(lower(model, BuildOptions()))
    with pytest.raises(ValueError, match="do not fit"):
        UartShell(top, elements=4, raw_bits=Bounds(-300, 300).width, divisor=8)
