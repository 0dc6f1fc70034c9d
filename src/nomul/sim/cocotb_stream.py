# SPDX-License-Identifier: MIT
"""cocotb testbench (runs inside the simulator): drive the top's streams, record what comes out.

Reads ``NOMUL_VECTORS`` (JSON: ``inputs`` words, ``count`` expected results, ``idle`` and
``stall`` probabilities, ``seed``), drives ``clk``/``rst``, pushes the words into
``i__payload``/``i__valid``/``i__ready`` with random idle cycles, drains
``o__payload``/``o__valid``/``o__ready`` with random back-pressure, and writes the outputs,
the cycle of every transfer and the seconds the loop took to ``NOMUL_RESULTS``. Comparison
happens on the pytest side.
"""

import json
import os
import random
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

__all__ = ["stream_test"]


@cocotb.test()
async def stream_test(dut):
    vectors = json.loads(open(os.environ["NOMUL_VECTORS"]).read())
    rng = random.Random(vectors.get("seed", 0))
    idle, stall = vectors.get("idle", 0.0), vectors.get("stall", 0.0)
    inputs, count = [int(w) for w in vectors["inputs"]], int(vectors["count"])
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    outputs, input_cycles, output_cycles = [], [], []
    cycle, position, limit = 0, 0, vectors.get("max_cycles", 100000)
    offering = False
    start = time.perf_counter()
    while len(outputs) < count and cycle < limit:
        if not offering and position < len(inputs) and rng.random() >= idle:
            dut.i__payload.value = inputs[position]
            offering = True
        dut.i__valid.value = 1 if offering else 0
        ready = rng.random() >= stall
        dut.o__ready.value = 1 if ready else 0
        await ReadOnly()                          # this cycle's handshake, settled
        taken = offering and int(dut.i__ready.value) == 1
        result = int(dut.o__payload.value) if ready and int(dut.o__valid.value) else None
        await RisingEdge(dut.clk)                 # the transfers happen on this edge
        cycle += 1
        if taken:
            input_cycles.append(cycle)
            position += 1
            offering = False
        if result is not None:
            outputs.append(result)
            output_cycles.append(cycle)
    seconds = time.perf_counter() - start
    with open(os.environ["NOMUL_RESULTS"], "w") as handle:
        json.dump({"outputs": [str(o) for o in outputs], "input_cycles": input_cycles,
                   "output_cycles": output_cycles, "cycles": cycle,
                   "seconds": seconds}, handle)
