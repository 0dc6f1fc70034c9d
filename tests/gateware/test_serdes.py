# SPDX-License-Identifier: MIT
"""The input deserializer: lanes per transfer into one vector, no bubbles."""

import math

import numpy as np
import pytest

from nomul.design.plans import DeserializerPlan
from nomul.design.ports import Field
from nomul.gateware.serdes import Deserializer
from nomul.sim.streams import pack, run_stream, unpack


def _beats(sample, lanes):
    padded = list(sample) + [0] * (-len(sample) % lanes)
    return [pack(padded[b:b + lanes], 4) for b in range(0, len(padded), lanes)]


@pytest.mark.parametrize("elements, lanes", [(7, 3), (6, 6), (5, 1), (8, 4)])
@pytest.mark.parametrize("idle, stall", [(0.0, 0.0), (0.3, 0.4)])
def test_vectors_reassemble_in_element_order(elements, lanes, idle, stall):
    rng = np.random.default_rng(elements + lanes)
    samples = rng.integers(-8, 8, size=(6, elements))
    dut = Deserializer(DeserializerPlan(elements, lanes, Field(4, signed=True)))
    words = [word for sample in samples for word in _beats(sample, lanes)]
    run = run_stream(dut, words, count=len(samples), idle=idle, stall=stall, seed=3)
    assert [unpack(w, 4, elements, signed=True) for w in run.outputs] == samples.tolist()
    if idle == stall == 0:
        assert dut.ii == math.ceil(elements / lanes)
        assert set(np.diff(run.output_cycles)) == {dut.ii}       # one vector per ii, no bubble
        assert run.output_cycles[0] - run.input_cycles[dut.ii - 1] == dut.latency
