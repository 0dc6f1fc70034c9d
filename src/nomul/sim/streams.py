# SPDX-License-Identifier: MIT
"""Amaranth-simulator helpers: drive one input stream, drain one output stream, time both.

:func:`run_stream` pushes payloads into a component's input stream with random idle cycles,
takes results from its output stream with random back-pressure, and records the cycle of every
transfer, so one call checks values (against the reference, by the caller), ``latency`` (the
cycles from an input transfer to the matching output becoming valid, measured without stalls)
and ``ii`` (the cycles between accepted inputs at full throughput).

Payloads are plain integers at the port (element 0 in the least significant bits);
:func:`pack` and :func:`unpack` convert lists of elements.
"""

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Value
from amaranth.sim import Simulator

__all__ = ["pack", "unpack", "StreamRun", "run_stream"]


def pack(values, width):
    """Integers (two's complement when negative) of ``width`` bits each into one integer."""
    mask = (1 << width) - 1
    word = 0
    for position, value in enumerate(values):
        word |= (int(value) & mask) << (position * width)
    return word


def unpack(word, width, count, *, signed=False):
    """The inverse of :func:`pack`: ``count`` elements of ``width`` bits."""
    mask = (1 << width) - 1
    out = []
    for position in range(count):
        value = (int(word) >> (position * width)) & mask
        if signed and value >> (width - 1):
            value -= 1 << width
        out.append(value)
    return out


@dataclass
class StreamRun:
    """What came out, and when: ``outputs`` in order, cycles of each input and output transfer."""

    outputs: list
    input_cycles: list
    output_cycles: list

    @property
    def latencies(self):
        return [o - i for i, o in zip(self.input_cycles, self.output_cycles, strict=False)]

    @property
    def intervals(self):
        return list(np.diff(self.input_cycles))


def run_stream(dut, payloads, *, i=None, o=None, idle=0.0, stall=0.0, seed=0,
               max_cycles=None, count=None, vcd=None):
    """Simulate ``dut`` with ``payloads`` pushed into ``i`` and results drained from ``o``.

    ``idle``: probability of an idle cycle before each input (valid low); ``stall``: probability
    that ``o.ready`` is low on a cycle. ``count`` results are expected (default: one per
    payload); the cycle limit defaults to a margin over ``dut.ii`` per item. The input cycle
    is the clock edge at which the transfer happened; the output cycle the edge at which the
    result was taken, so with ``stall=0`` the difference is the component's latency in cycles.
    """
    i = dut.i if i is None else i
    o = dut.o if o is None else o
    payloads = [int(p) for p in payloads]
    expected = len(payloads) if count is None else count
    per_item = 50 * (1 + int(10 * (idle + stall))) * max(1, int(getattr(dut, "ii", 1)))
    limit = max_cycles or 200 + (len(payloads) + expected) * per_item
    rng = np.random.default_rng(seed)
    run = StreamRun([], [], [])
    cycle = [0]

    async def clock(ctx):
        while True:
            await ctx.tick()
            cycle[0] += 1

    async def source(ctx):
        for payload in payloads:
            while rng.random() < idle:
                await ctx.tick()
            ctx.set(Value.cast(i.payload), payload)
            ctx.set(i.valid, 1)
            await ctx.tick().until(i.ready)
            run.input_cycles.append(cycle[0])
            ctx.set(i.valid, 0)

    async def sink(ctx):
        sink_rng = np.random.default_rng(seed + 1)
        while len(run.outputs) < expected:
            ready = sink_rng.random() >= stall
            ctx.set(o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(o.valid, Value.cast(o.payload))
            if ready and valid:
                run.outputs.append(int(payload))
                run.output_cycles.append(cycle[0])
            if cycle[0] > limit:
                raise AssertionError(f"no result after {limit} cycles: got {len(run.outputs)} "
                                     f"of {expected}")
        ctx.set(o.ready, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_process(clock)
    sim.add_testbench(source, background=True)
    sim.add_testbench(sink)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return run
