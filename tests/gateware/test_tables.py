# amaranth: UnusedElaboratable=no
# SPDX-License-Identifier: MIT
"""Unrolled product lookups against the model's table semantics (mixed-radix addresses)."""

import numpy as np
import pytest

from nomul.design.plans import LookupPlan
from nomul.design.tables import dense_groups, group_code_table
from nomul.gateware.tables import ProductLookup
from nomul.models.reference import group_addresses
from nomul.sim.streams import pack, run_stream, unpack


@pytest.mark.parametrize("levels, group, inputs, codewords", [(3, 2, 6, 4), (4, 1, 5, 3),
                                                               (2, 3, 6, 2), (17, 1, 3, 8)])
def test_lookup_terms_equal_table_entries_at_model_addresses(levels, group, inputs, codewords):
    rng = np.random.default_rng(levels * 10 + group)
    table = rng.integers(-300, 300, size=(levels ** group, codewords))
    groups = dense_groups(inputs, group)
    pairs = [(g, k) for g in range(len(groups)) for k in range(codewords)]
    dut = ProductLookup(LookupPlan(table.tolist(), groups, pairs, levels, inputs))
    xs = rng.integers(0, levels, size=(25, inputs))
    index, term = dut.plan.index, dut.plan.term
    assert dut.i.payload.shape().elem_shape.width == index.width
    assert dut.o.payload.shape().elem_shape.width == term.width
    run = run_stream(dut, [pack(x, index.width) for x in xs], idle=0.3, stall=0.3, seed=2)
    addresses = group_addresses(xs, levels, group)             # the reference's addressing
    for address, word in zip(addresses, run.outputs, strict=True):
        terms = unpack(word, term.width, len(pairs), signed=term.signed)
        assert terms == [int(table[address[g], k]) for g, k in pairs]


def test_lookup_latency_and_throughput():
    table = [[1, -2], [3, 4], [5, -6]]
    dut = ProductLookup(LookupPlan(table, dense_groups(2, 1), [(0, 0), (1, 1)], 3, 2))
    run = run_stream(dut, [pack([i % 3, (i + 1) % 3], 2) for i in range(12)])
    assert set(run.latencies) == {dut.latency} and set(run.intervals) == {1}


def test_group_codes_concatenate_fields_and_cover_every_row():
    codes = group_code_table([[0]] * 9, 3, 2)                  # 2-bit fields
    assert codes[0b0110] == 2 + 3 * 1                          # digits (2, 1): row 2 + 3*1
    assert sorted(codes.values()) == list(range(9))


def test_an_unreachable_code_of_an_unrolled_lookup_holds_its_clamped_row_entry():
    """With 3 levels in 2-bit fields, code field 3 never occurs: an unrolled lookup's entry
    there is the one of level 2 (a don't-care chosen so the high field bit alone decides),
    reachable codes unchanged; the folded product table keeps 0."""
    from nomul.design.tables import clamped_row, code_columns
    from nomul.design.unrolled import _column_values

    table = [[10 * r + k + 1 for k in range(2)] for r in range(9)]   # 3 levels, group of 2
    codes = group_code_table(table, 3, 2)
    for k in range(2):
        values, reachable = _column_values(table, 3, 2, k)
        assert reachable == tuple(sorted(codes))
        for code in range(16):
            row = min(code & 3, 2) + 3 * min(code >> 2, 2)
            assert clamped_row(code, 3, 2) == row
            assert values[code] == table[row][k]
            assert code_columns(table, 3, 2)[k][code] == (values[code] if code in codes else 0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(table=[[1], [2]], groups=((0,),), pairs=((0, 1),)), "outside"),
    (dict(table=[[1], [2], [3]], groups=((0,),), pairs=((0, 0),)), "rows"),
    (dict(table=[[1], [2]], groups=((0, 1),), pairs=((0, 0),)), "rows"),
    (dict(table=[[1], [2]], groups=((5,),), pairs=((0, 0),)), "positions"),
    (dict(table=[[1], [2]], groups=((0,),), pairs=()), "at least one"),
])
def test_bad_lookups_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LookupPlan(**kwargs, in_levels=2, n_inputs=2)
