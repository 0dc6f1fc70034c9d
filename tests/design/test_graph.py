# SPDX-License-Identifier: MIT
"""Adder graphs (nomul.design.graph) and the unrolled lowering (nomul.design.unrolled),
evaluated numerically: every node equals its definition and lies within its proven bounds,
shared pairs keep every sum, every plan's outputs equal the reference's accumulators and
activations."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.strategies import integer_models, random_raw
from nomul.design import LayerOptions
from nomul.design.graph import ConstLeaf, Graph, InputLeaf, LookupLeaf, csd, share_pairs, sum_terms
from nomul.design.lower import weighted_plan
from nomul.design.unrolled import UnrolledPlan
from nomul.models import reference
from nomul.models.spec import Activation, Conv, Dense


def _values(graph, leaf_values):
    """Every value of ``graph`` for one assignment of its leaves."""
    values = list(leaf_values)
    for a, b, shift, sign in graph.nodes:
        values.append(values[a] + sign * (values[b] << shift))
    return values


def _term(values, term):
    value, shift, sign = term
    return sign * (values[value] << shift)


@given(st.integers(-(1 << 40), 1 << 40))
def test_csd_digits_sum_to_the_number_and_are_never_adjacent(n):
    digits = csd(n)
    assert sum(sign << shift for shift, sign in digits) == n
    shifts = [shift for shift, _ in digits]
    assert all(b - a >= 2 for a, b in zip(shifts, shifts[1:]))
    assert all(sign in (1, -1) for _, sign in digits)
    assert len(digits) <= len(bin(abs(n))) // 2 + 1


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_shared_pairs_and_sums_keep_every_bag_and_stay_within_bounds(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    leaves = [InputLeaf(e, int(rng.integers(2, 9))) for e in range(int(rng.integers(2, 9)))]
    leaves.append(ConstLeaf(int(rng.integers(-20, 21))))
    bags = [[(int(rng.integers(0, len(leaves))), int(rng.integers(0, 4)),
              int(rng.choice([-1, 1]))) for _ in range(int(rng.integers(1, 9)))]
            for _ in range(int(rng.integers(1, 12)))]
    graph = Graph(leaves)
    rewritten = share_pairs(graph, bags)
    sums = [sum_terms(graph, bag) for bag in rewritten]
    for _ in range(20):
        leaf_values = [int(rng.integers(0, leaf.levels)) if isinstance(leaf, InputLeaf)
                       else leaf.value for leaf in leaves]
        values = _values(graph, leaf_values)
        for index, value in enumerate(values):
            assert graph.bounds[index].lo <= value <= graph.bounds[index].hi
        for bag, new, total in zip(bags, rewritten, sums, strict=True):
            expected = sum(_term(values, t) for t in bag)
            assert sum(_term(values, t) for t in new) == expected
            assert _term(values, total) == expected
    assert len(set(graph.nodes)) == len(graph.nodes)               # every node made once


def _reference_share_pairs(graph, bags, min_count=2):
    """The greedy pair sharing as first written (tuple keys, a pair count per bag, a heap of
    ``(-bags holding it, key)``; a shared pair is forgotten where a bag still holds it): the
    oracle of :func:`share_pairs`' packed-int form, which must choose the same pairs."""
    import heapq
    from collections import Counter, defaultdict

    def shape(first, second):
        (u, su, gu), (v, sv, gv) = first, second
        if (sv, v) < (su, u):
            (u, su, gu), (v, sv, gv) = (v, sv, gv), (u, su, gu)
        return (u, v, sv - su, gu * gv), su, gu

    bags = [list(bag) for bag in bags]
    counts = [Counter(shape(bag[a], bag[b])[0] for a in range(len(bag))
                      for b in range(a + 1, len(bag))) for bag in bags]
    where = defaultdict(set)
    for index, keys in enumerate(counts):
        for key in keys:
            where[key].add(index)
    heap = [(-len(members), key) for key, members in where.items()]
    heapq.heapify(heap)
    while heap:
        count, key = heapq.heappop(heap)
        members = where.get(key)
        if members is None or len(members) != -count:
            if members is not None and len(members) >= min_count:
                heapq.heappush(heap, (-len(members), key))
            continue
        if len(members) < min_count:
            break
        made = graph.node(*key)
        for index in sorted(members):
            bag, keys = bags[index], counts[index]
            found = next(((a, b, *shape(bag[a], bag[b])[1:]) for a in range(len(bag))
                          for b in range(len(bag)) if b != a and bag[a][0] == key[0]
                          and shape(bag[a], bag[b])[0] == key), None)
            if found is None:
                continue
            a, b, base, base_sign = found
            rest = [t for k, t in enumerate(bag) if k not in (a, b)]
            for old in [shape(out, other)[0] for out in (bag[a], bag[b]) for other in rest] \
                    + [key]:
                keys[old] -= 1
                if keys[old] <= 0:
                    del keys[old]
                    where[old].discard(index)
            term = (made, base, base_sign)
            for other in rest:
                new = shape(term, other)[0]
                keys[new] += 1
                if keys[new] == 1:
                    where[new].add(index)
                    heapq.heappush(heap, (-len(where[new]), new))
            bags[index] = rest + [term]
        where.pop(key, None)
    return bags


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_shared_pairs_choose_the_pairs_of_the_reference_greedy(data):
    """Repeated values, equal shifts and opposite signs in one bag are the cases where the
    packed pair keys and the pair search could part from the tuple form."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    leaves = [InputLeaf(e, 4) for e in range(int(rng.integers(1, 6)))] + [ConstLeaf(3)]
    bags = [[(int(rng.integers(0, len(leaves))), int(rng.integers(0, 4)),
              int(rng.choice([-1, 1]))) for _ in range(int(rng.integers(1, 14)))]
            for _ in range(int(rng.integers(1, 14)))]
    fast, reference_graph = Graph(leaves), Graph(leaves)
    assert share_pairs(fast, bags) == _reference_share_pairs(reference_graph, bags)
    assert fast.nodes == reference_graph.nodes


def _evaluate(plan, indices):
    """``(accumulators, activation outputs)`` of an :class:`UnrolledPlan` on input index
    vectors, straight from its graph (no hardware)."""
    graph = Graph(plan.leaves)
    for node in plan.nodes:
        graph.node(*node)
    rows = []
    for vector in indices:
        values = _values(graph, _leaf_values(plan, vector))
        rows.append([offset + (0 if term is None else _term(values, term))
                     for term, offset in zip(plan.outputs, plan.offsets, strict=True)])
    return np.array(rows)


def _leaf_values(plan, vector):
    """The plan's leaves on one input index vector."""
    leaf_values = []
    for leaf in plan.leaves:
        if isinstance(leaf, InputLeaf):
            leaf_values.append(int(vector[leaf.element]))
        elif isinstance(leaf, ConstLeaf):
            leaf_values.append(leaf.value)
        else:
            width = plan.in_port.element.width
            code = sum(int(vector[e]) << (width * j) for j, e in enumerate(leaf.members))
            leaf_values.append(leaf.values[code])
    return leaf_values


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=integer_models(), seed=st.integers(0, 1000),
       grouping=st.sampled_from(["auto", 1, 2, 3]))
def test_unrolled_plans_compute_the_reference_accumulators(model, seed, grouping):
    raw = random_raw(model, np.random.default_rng(seed), 12)
    _, inputs, traces = reference.run(model, raw, trace=True)
    for position, (layer, trace) in enumerate(zip(model.layers, traces, strict=True)):
        if isinstance(layer, (Dense, Conv)):
            plan = weighted_plan(layer, model.shapes[position],
                                 LayerOptions(group_inputs=grouping))
            assert isinstance(plan, UnrolledPlan)
            got = _evaluate(plan, inputs.reshape(len(raw), -1))
            if layer.activation.kind == "raw":
                assert np.array_equal(got, trace.acc.reshape(len(raw), -1))
            elif layer.activation.kind == "argmax":     # the graph's outputs less one constant
                acc = trace.acc.reshape(len(raw), -1)
                assert len({int(d) for d in np.unique(got - acc)}) == 1
            else:                                      # thresholds moved by the offsets
                acc = trace.acc.reshape(len(raw), -1)
                assert np.array_equal(got, acc)
        inputs = trace.out


def _dense(table, weight_index, activation=None):
    outputs = len(weight_index)
    return Dense(in_levels=len(table), group=1, table=np.array(table),
                 weight_index=np.array(weight_index), bias=np.zeros(outputs, dtype=np.int64),
                 activation=activation or Activation("raw"))


def test_a_linear_table_is_factored_and_zero_columns_cost_nothing():
    """T[a][k] = a * (0, 3, -2): codeword 0 is no term; each output sums its inputs per slope,
    then shift-adds the slopes' digits (3 = 4 - 1, -2 = -(2)). Output 0: x1 + x2 + x5 (2
    adders), then 4 S - S - 2 x3 (2); output 1: x0 + x1 and x4 + x5 (2), then 4 S - S - 2 T
    (2): 8 adders, no product lookups."""
    table = [[0, 3 * a, -2 * a] for a in range(16)]          # 4-bit inputs: no grouping
    layer = _dense(table, [[0, 1, 1, 2, 0, 1], [1, 1, 0, 0, 2, 2]],
                   Activation("thresholds", np.array([-9, 0, 40])))
    plan = weighted_plan(layer, (6,), LayerOptions())
    assert plan.form == "factored"
    assert not any(isinstance(leaf, LookupLeaf) for leaf in plan.leaves)
    assert len(plan.nodes) == 8
    indices = np.random.default_rng(0).integers(0, 16, size=(200, 6))
    assert np.array_equal(_evaluate(plan, indices), reference.weighted(indices, layer))
    forced = weighted_plan(layer, (6,), LayerOptions(group_inputs=1))
    assert forced.form == "table"
    assert all(isinstance(leaf, LookupLeaf) for leaf in forced.leaves)
    # the non-zero (input, codeword) pairs: (1,1) (2,1) (3,2) (5,1) (0,1) (4,2) (5,2); the
    # four of codeword 0 are no leaf
    assert len(forced.leaves) == 7


def test_ragged_groups_cover_every_input_once():
    table = [[1, -2], [3, 4], [-5, 6]]                      # 3 levels: 2-bit indices
    layer = _dense(table, [[0, 1, 1, 0, 1, 0, 0], [1, 1, 1, 1, 0, 0, 1]])
    plan = weighted_plan(layer, (7,), LayerOptions(group_inputs=3))
    assert plan.form == "grouped 3"
    members = {leaf.members for leaf in plan.leaves if isinstance(leaf, LookupLeaf)}
    assert members == {(0, 1, 2), (3, 4, 5), (6,)}
    indices = np.array([[a, b, c, d, e, f, g] for a in range(3) for b in range(3)
                        for c in range(3) for d in (0, 2) for e in (1,) for f in (0, 2)
                        for g in range(3)])
    assert np.array_equal(_evaluate(plan, indices), reference.weighted(indices, layer))


def test_single_use_nodes_are_those_read_once_in_their_own_stage():
    from nomul.design.activation import Raw
    leaves = (InputLeaf(0, 4), InputLeaf(1, 4), InputLeaf(2, 4))
    # 3 = x0 + x1, read by 4 only; 4 = 3 + x2, read by 5 and 6; 5 = 4 + x0 (an output);
    # 6 = 4 - x1 (an output)
    nodes = ((0, 1, 0, 1), (3, 2, 0, 1), (4, 0, 1, 1), (4, 1, 0, -1))
    outputs = ((5, 0, 1), (6, 0, 1))

    def plan(register_every):
        return UnrolledPlan(leaves, nodes, outputs, (0, 0), Raw(), 3, 4,
                            register_every=register_every)

    assert plan(0).single_use_nodes() == {3}       # one stage: 3 is read by 4 alone
    assert plan(1).single_use_nodes() == set()     # every level a stage: 3 reaches 4 by register
    assert plan(2).single_use_nodes() == {3}       # 3 and 4 in stage 0, 5 and 6 in stage 1


def test_ternary_fusion_takes_an_operand_read_once_that_takes_none():
    from nomul.design.activation import Raw
    leaves = tuple(InputLeaf(e, 4) for e in range(4))
    # 4 = x0 + x1 (read by 5 alone, [0, 6]: 3 bits); 5 = 4 + x2 (read by 6 alone, [0, 9]: 4
    # bits); 6 = 5 + x3 (the output, [0, 12]: 4 bits). One fusion only (5 cannot both take 4
    # and be taken): 5 taking 4 saves 3 + 4 - 4 = 3 bits, 6 taking 5 saves 4 + 4 - 4 = 4
    chain = UnrolledPlan(leaves, ((0, 1, 0, 1), (4, 2, 0, 1), (5, 3, 0, 1)), ((6, 0, 1),),
                         (0,), Raw(), 4, 4, register_every=0, adders="ternary")
    assert chain.fused == {6: 5}
    assert chain.fused_terms(6) == [(4, 0, 1), (2, 0, 1), (3, 0, 1)]
    assert chain.describe()["adders"] == 2 and chain.describe()["adders_ternary"] == 1
    # 4 = x0 + x1; 5 = x2 - (4 << 1) = x2 - (x0 << 1) - (x1 << 1): the taken node on the right
    right = UnrolledPlan(leaves, ((0, 1, 0, 1), (2, 4, 1, -1)), ((5, 0, 1),), (0,), Raw(), 4, 4,
                         register_every=0, adders="ternary")
    assert right.fused_terms(5) == [(2, 0, 1), (0, 1, -1), (1, 1, -1)]
    # x2 - 2 (x0 + x1) in [-12, 3] (5 bits), above the 1 wired low bit of x2: 4 bits
    assert right.fused_bits(5) == 4
    # registered every level, 4 reaches 5 through a register: nothing to fuse
    assert UnrolledPlan(leaves, ((0, 1, 0, 1), (2, 4, 1, -1)), ((5, 0, 1),), (0,), Raw(), 4, 4,
                        register_every=1, adders="ternary").fused == {}
    assert UnrolledPlan(leaves, ((0, 1, 0, 1), (2, 4, 1, -1)), ((5, 0, 1),), (0,), Raw(), 4, 4,
                        register_every=0).fused == {}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=integer_models(), seed=st.integers(0, 1000), register_every=st.integers(0, 2))
def test_ternary_fusions_sum_what_the_two_adders_sum(model, seed, register_every):
    """Every fused node: its operand is read by it alone, in its stage, and takes none itself;
    its three terms add up to the node's value on every sample's inputs, within the node's
    proven bounds; the graph stays the binary plan's."""
    raw = random_raw(model, np.random.default_rng(seed), 6)
    _, inputs, traces = reference.run(model, raw, trace=True)
    for position, (layer, trace) in enumerate(zip(model.layers, traces, strict=True)):
        if isinstance(layer, (Dense, Conv)):
            options = LayerOptions(register_every=register_every, adders="ternary")
            plan = weighted_plan(layer, model.shapes[position], options)
            binary = weighted_plan(layer, model.shapes[position],
                                   LayerOptions(register_every=register_every))
            assert (plan.nodes, plan.outputs) == (binary.nodes, binary.outputs)
            single = plan.single_use_nodes()
            assert set(plan.fused.values()) <= single
            assert not set(plan.fused.values()) & set(plan.fused)
            first = len(plan.leaves)
            graph = Graph(plan.leaves)
            for node in plan.nodes:
                graph.node(*node)
            for index in plan.fused:
                assert plan.stage[index] == plan.stage[plan.fused[index]]
                a, b, shift, sign = plan.nodes[index - first]
                assert plan.fused[index] in (a, b)
                terms = plan.fused_terms(index)
                assert terms[0][1:] == (0, 1)
                # the terms' bounds add up within the node's proven bounds
                total = sum((graph.term_bounds(t) for t in terms[1:]),
                            graph.term_bounds(terms[0]))
                assert plan.bounds[index].lo <= total.lo and total.hi <= plan.bounds[index].hi
            for vector in inputs.reshape(len(raw), -1):
                values = _values(graph, _leaf_values(plan, vector))
                for index in plan.fused:
                    assert sum(_term(values, t) for t in plan.fused_terms(index)) == \
                        values[index]
        inputs = trace.out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=integer_models(), register_every=st.integers(0, 2))
def test_ternary_fusions_save_the_most_bits_any_matching_can(model, register_every):
    """Against every valid set of fusions (a node takes at most one operand read by it
    alone in its stage; no node both takes and is taken), on layers with at most 12
    candidate pairs: the plan's saves the most adder bits."""
    from itertools import combinations

    from nomul.design.graph import adder_cost

    for position, layer in enumerate(model.layers):
        if not isinstance(layer, (Dense, Conv)):
            continue
        plan = weighted_plan(layer, model.shapes[position],
                             LayerOptions(register_every=register_every, adders="ternary"))
        first = len(plan.leaves)
        graph = Graph(plan.leaves)
        for node in plan.nodes:
            graph.node(*node)
        cost = {i: adder_cost(graph, i, n) for i, n in enumerate(plan.nodes, start=first)}
        single = plan.single_use_nodes()
        pairs = [(i, c) for i, (a, b, _, _) in enumerate(plan.nodes, start=first) if cost[i]
                 for c in (a, b) if c in single and cost.get(c)]
        if len(pairs) > 12:
            continue

        saved = {(i, c): cost[i] + cost[c] - plan._fused_width(i, c) for i, c in pairs}
        best = 0
        for size in range(1, len(pairs) + 1):
            for chosen in combinations(pairs, size):
                parents = [i for i, _ in chosen]
                children = {c for _, c in chosen}
                if len(set(parents)) == len(parents) and not children & set(parents):
                    best = max(best, sum(saved[pair] for pair in chosen))
        assert sum(saved[pair] for pair in plan.fused.items()) == best
