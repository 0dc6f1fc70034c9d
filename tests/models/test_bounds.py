# SPDX-License-Identifier: MIT
"""Accumulator bounds are proven (never exceeded) and tight (attained by some input)."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.strategies import integer_models, random_raw
from nomul.models import reference
from nomul.models.bounds import accumulator_bounds, output_bounds
from nomul.models.spec import Conv, Dense
from nomul.numeric import Bounds, signed_width, unsigned_width


def _fits(value, bounds):
    width = bounds.width
    if bounds.signed:
        return -(1 << (width - 1)) <= value < (1 << (width - 1))
    return 0 <= value < (1 << width)


@given(lo=st.integers(-5000, 5000), span=st.integers(0, 5000))
def test_signed_width_is_the_smallest_that_holds_the_range(lo, span):
    hi = lo + span
    width = signed_width(lo, hi)
    assert -(1 << (width - 1)) <= lo and hi < (1 << (width - 1))
    if width > 1:
        narrower = width - 1
        assert lo < -(1 << (narrower - 1)) or hi >= (1 << (narrower - 1))


@given(hi=st.integers(0, 1 << 40))
def test_unsigned_width(hi):
    width = unsigned_width(hi)
    assert hi < (1 << width) and (width == 1 or hi >= (1 << (width - 1)))


def _worst_case_input(layer, output, pick):
    """Input indices that drive one dense output to its bound (per-group best address)."""
    column = layer.table[:, layer.weight_index[output]]            # (rows, G)
    addresses = pick(column, axis=0)
    digits = (addresses[:, None] // layer.in_levels ** np.arange(layer.group)) % layer.in_levels
    return digits.reshape(-1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=integer_models(kinds=("mlp",)))
def test_dense_bounds_are_attained_at_worst_case_inputs(model):
    layer = model.layers[0]
    for output, bounds in enumerate(output_bounds(layer)):
        for pick, target in ((np.argmax, bounds.hi), (np.argmin, bounds.lo)):
            x = _worst_case_input(layer, output, pick)
            acc = reference.weighted(x[None, :], layer)[0]
            assert acc[output] == target
            assert _fits(int(acc[output]), accumulator_bounds(layer))
            assert accumulator_bounds(layer).contains(acc[output])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=integer_models())
def test_every_accumulator_stays_within_its_proven_width(model):
    raw = random_raw(model, np.random.default_rng(3), 20)
    _, _, traces = reference.run(model, raw, trace=True)
    for layer, trace in zip(model.layers, traces, strict=True):
        if isinstance(layer, (Dense, Conv)):
            bounds = accumulator_bounds(layer)
            assert bounds.lo <= trace.acc.min() and trace.acc.max() <= bounds.hi
            assert _fits(int(trace.acc.min()), bounds) and _fits(int(trace.acc.max()), bounds)


def test_bounds_arithmetic():
    assert Bounds(-3, 4) + Bounds(1, 2) == Bounds(-2, 6)
    assert Bounds(0, 255).width == 8 and not Bounds(0, 255).signed
    assert Bounds(-128, 127).width == 8 and Bounds(-129, 0).width == 9
