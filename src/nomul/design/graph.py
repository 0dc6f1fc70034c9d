# SPDX-License-Identifier: MIT
"""Multi-output adder graphs: every output of an unrolled layer summed through one shared graph.

A graph's values are its *leaves* (an input index, a product-table lookup on a group of inputs,
or a constant) and its *nodes*, each ``a + sign * (b << shift)`` of two earlier values. An
output is a *term* ``sign * (value << shift)``. Every value's bounds are proven by interval
arithmetic from the leaves', so every node is exactly as wide as it needs to be.

:func:`nomul.design.unrolled.lower_unrolled` makes a layer's graph from *bags* (sums of
terms) in two stages:

1. common pairs of terms are shared across bags (:func:`share_pairs`: greedy, the most
   frequent pair first, as in common-subexpression elimination of constant multiplications);
2. what is left of each bag is summed by :func:`sum_terms`, always the pair whose adder is
   narrowest first (narrow, unshifted sums before wide, shifted ones).

Bags then combine into outputs (:func:`sum_terms` again): an output may take several bags, each
multiplied by a constant through its signed digits (canonical signed digits, :func:`csd`), so a
layer whose product table is linear in the activation level costs one sum of inputs per
codeword and per output, and one shift-add per signed digit of the codeword.
"""

import heapq
from collections import Counter, defaultdict
from dataclasses import dataclass

from ..numeric import Bounds

__all__ = ["InputLeaf", "LookupLeaf", "ConstLeaf", "Graph", "csd", "share_pairs", "sum_terms",
           "adder_width", "adder_cost"]


def csd(n):
    """The canonical signed digits of ``n``: ``[(shift, +1 or -1), ...]``, lowest first, no
    two adjacent (``7 = 8 - 1``: ``[(0, -1), (3, +1)]``)."""
    digits, shift, n = [], 0, int(n)
    while n:
        if n & 1:
            digit = 2 - (n & 3)
            digits.append((shift, digit))
            n -= digit
        n >>= 1
        shift += 1
    return digits


@dataclass(frozen=True)
class InputLeaf:
    """Input element ``element``'s activation index, ``0 .. levels - 1``."""

    element: int
    levels: int

    @property
    def bounds(self):
        return Bounds(0, self.levels - 1)


@dataclass(frozen=True)
class LookupLeaf:
    """A constant function of a group of inputs: ``values[code]``, ``code`` the concatenation
    of the index fields of ``members`` (member 0 in the low bits); ``reachable`` the codes that
    occur (the others read 0 and never arrive)."""

    members: tuple
    values: tuple
    reachable: tuple

    @property
    def bounds(self):
        return Bounds.of([self.values[c] for c in self.reachable])


@dataclass(frozen=True)
class ConstLeaf:
    """A constant."""

    value: int

    @property
    def bounds(self):
        return Bounds(self.value, self.value)


def shifted(bounds, shift, sign):
    """The bounds of ``sign * (value << shift)`` for a value within ``bounds``."""
    lo, hi = bounds.lo << shift, bounds.hi << shift
    return Bounds(lo, hi) if sign > 0 else Bounds(-hi, -lo)


def adder_cost(graph, index, node):
    """The bits node ``index`` (``a + sign * (b << shift)``) computes: none when ``a`` is the
    constant 0 and the sign positive (a shift is wiring), else :func:`adder_width`."""
    a, _, shift, sign = node
    leaf = graph.leaves[a] if a < len(graph.leaves) else None
    if isinstance(leaf, ConstLeaf) and leaf.value == 0 and sign > 0:
        return 0
    return adder_width(graph.bounds[index], shift)


def adder_width(result, shift):
    """The bits an adder ``a + (b << shift)`` computes: its result's width above the ``shift``
    low bits, which are ``a``'s own (wires)."""
    return max(1, result.width - shift)


class Graph:
    """A growing adder graph: leaves, then nodes ``(a, b, shift, sign)``, each value's bounds.

    Identical nodes are made once (:meth:`node`)."""

    def __init__(self, leaves):
        self.leaves = list(leaves)
        self.nodes = []
        self.bounds = [leaf.bounds for leaf in self.leaves]
        self._made = {}

    def node(self, a, b, shift, sign):
        """The id of ``a + sign * (b << shift)`` (made once)."""
        key = (a, b, shift, sign)
        if key not in self._made:
            self._made[key] = len(self.bounds)
            self.nodes.append(key)
            self.bounds.append(self.bounds[a] + shifted(self.bounds[b], shift, sign))
        return self._made[key]

    def term_bounds(self, term):
        value, shift, sign = term
        return shifted(self.bounds[value], shift, sign)

    def pair(self, first, second):
        """``(node key, result term, adder bits)`` of adding two terms: the one with the lower
        shift is the node's left operand and sets the result's shift and sign."""
        (u, su, gu), (v, sv, gv) = first, second
        if (sv, v) < (su, u):
            (u, su, gu), (v, sv, gv) = (v, sv, gv), (u, su, gu)
        key = (u, v, sv - su, gu * gv)
        result = self.bounds[u] + shifted(self.bounds[v], sv - su, gu * gv)
        return key, (su, gu), adder_width(result, sv - su)


def _pair_key(first, second):
    """The shape of a pair of terms, independent of where it stands: ``(u, v, relative shift,
    relative sign)``, the lower-shifted term first."""
    (u, su, gu), (v, sv, gv) = first, second
    if (sv, v) < (su, u):
        (u, su, gu), (v, sv, gv) = (v, sv, gv), (u, su, gu)
    return (u, v, sv - su, gu * gv), su, gu


def _pair_shape(first, second):
    """``_pair_key(first, second)[0]``, the key alone (the hot loop of :func:`share_pairs`)."""
    u, su, gu = first
    v, sv, gv = second
    if (sv, v) < (su, u):
        return (v, u, su - sv, gu * gv)
    return (u, v, sv - su, gu * gv)


def share_pairs(graph, bags, *, min_count=2):
    """Replace pairs of terms that several bags share by one node each, the most frequent pair
    first, until no pair occurs in ``min_count`` bags. Returns the bags, rewritten.

    Each bag keeps a count of its pair keys, updated as pairs are replaced (the pairs of the
    two terms taken out go, the pairs of the new term with the rest come), so one replacement
    costs the bag's size, not its square."""
    bags = [list(bag) for bag in bags]
    counts = [Counter(_pair_shape(bag[a], bag[b]) for a in range(len(bag))
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
        u, v, shift, sign = key
        made = graph.node(u, v, shift, sign)
        for index in sorted(members):
            bag, keys = bags[index], counts[index]
            found = _find_pair(bag, key)
            if found is None:
                continue
            a, b, base, base_sign = found
            rest = [t for k, t in enumerate(bag) if k not in (a, b)]
            gone = [_pair_shape(out, other) for out in (bag[a], bag[b]) for other in rest]
            for old in gone + [key]:           # the pairs of the two terms taken out go
                keys[old] -= 1
                if keys[old] <= 0:
                    del keys[old]
                    where[old].discard(index)
            term = (made, base, base_sign)
            for other in rest:                 # the pairs of the new term come
                new = _pair_shape(term, other)
                keys[new] += 1
                if keys[new] == 1:
                    where[new].add(index)
                    heapq.heappush(heap, (-len(where[new]), new))
            bags[index] = rest + [term]
        where.pop(key, None)
    return bags


def _find_pair(terms, key):
    for a, first in enumerate(terms):
        if first[0] != key[0]:
            continue
        for b, second in enumerate(terms):
            if b != a and second[0] == key[1]:
                found, base, base_sign = _pair_key(first, second)
                if found == key:
                    return a, b, base, base_sign
    return None


EXACT_PAIRING = 12       # sums of up to this many terms try every pair; larger ones bucket


def sum_terms(graph, terms):
    """One term equal to the sum of ``terms``: pairs added, the narrowest adder first (every
    pair is tried for up to :data:`EXACT_PAIRING` terms; a larger sum adds terms of equal shift
    first, the two narrowest at a time, then the buckets from the lowest shift up). An empty
    sum is None."""
    terms = list(terms)
    if not terms:
        return None
    if len(terms) > EXACT_PAIRING:
        by_shift = defaultdict(list)
        for term in terms:
            by_shift[term[1]].append(term)
        terms = [_huffman(graph, bucket) for _, bucket in sorted(by_shift.items())]
    while len(terms) > 1:
        best = None
        for a in range(len(terms)):
            for b in range(a + 1, len(terms)):
                key, (shift, sign), bits = graph.pair(terms[a], terms[b])
                if best is None or bits < best[0]:
                    best = (bits, a, b, key, shift, sign)
        _, a, b, key, shift, sign = best
        made = graph.node(*key)
        terms = [t for k, t in enumerate(terms) if k not in (a, b)] + [(made, shift, sign)]
    return terms[0]


def _huffman(graph, terms):
    """The sum of terms of one shift: the two narrowest first."""
    heap = [(graph.term_bounds(t).width, n, t) for n, t in enumerate(terms)]
    heapq.heapify(heap)
    count = len(heap)
    while len(heap) > 1:
        _, _, first = heapq.heappop(heap)
        _, _, second = heapq.heappop(heap)
        key, (shift, sign), _ = graph.pair(first, second)
        term = (graph.node(*key), shift, sign)
        heapq.heappush(heap, (graph.term_bounds(term).width, count, term))
        count += 1
    return heap[0][2]
