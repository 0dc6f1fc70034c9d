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


def share_pairs(graph, bags, *, min_count=2):
    """Replace pairs of terms that several bags share by one node each, the most frequent pair
    first (ties: the smallest ``(u, v, shift, sign)``), until no pair occurs in ``min_count``
    bags. Returns the bags, rewritten.

    A pair's shape, ``u + sign * (v << shift)`` with the lower-shifted term (then the lower
    value) as ``u``, is packed into one int ordered as that tuple (:class:`_PairCodes`): ints
    hash and compare faster than tuples, and this loop is most of an unrolled layer's lowering.
    Each bag keeps a count of its pair shapes, updated as pairs are replaced (the pairs of the
    two terms taken out go, the pairs of the new term with the rest come), so one replacement
    costs the bag's size, not its square."""
    bags = [list(bag) for bag in bags]
    codes = _PairCodes(graph, bags)
    key_bits = codes.key_bits
    counts, where = [], {}
    for index, bag in enumerate(bags):
        keys = dict(Counter(key for n, term in enumerate(bag)
                            for key in codes.keys(term, bag[n + 1:])))
        counts.append(keys)
        for key in keys:
            where.setdefault(key, set()).add(index)
    # heap entries: (-bags holding the pair, pair key) packed as one int; a pair held by
    # fewer than min_count bags is pushed only once it reaches min_count
    heap = [(-len(members) << key_bits) | key for key, members in where.items()
            if len(members) >= min_count]
    heapq.heapify(heap)
    key_mask = (1 << key_bits) - 1
    while heap:
        entry = heapq.heappop(heap)
        key, count = entry & key_mask, -(entry >> key_bits)
        members = where.get(key)
        if members is None or len(members) != count:     # a stale entry
            if members is not None and len(members) >= min_count:
                heapq.heappush(heap, (-len(members) << key_bits) | key)
            continue
        if count < min_count:
            break
        u, v, shift, sign = codes.unpack(key)
        made = graph.node(u, v, shift, sign)
        for index in sorted(members):
            bag, keys = bags[index], counts[index]
            found = _find_pair(bag, u, v, shift, sign)
            if found is None:
                continue
            a, b, base, base_sign = found
            rest = [t for k, t in enumerate(bag) if k != a and k != b]
            # the pairs of the two terms taken out go
            for old in [key, *codes.keys(bag[a], rest), *codes.keys(bag[b], rest)]:
                left = keys[old] - 1
                if left:
                    keys[old] = left
                else:
                    del keys[old]
                    held_by = where.get(old)      # None once the pair was shared: forgotten
                    if held_by is not None:
                        held_by.discard(index)
            term = (made, base, base_sign)
            for new in codes.keys(term, rest):            # the pairs of the new term come
                held = keys.get(new, 0) + 1
                keys[new] = held
                if held == 1:
                    members_of_new = where.get(new)
                    if members_of_new is None:
                        members_of_new = where[new] = set()
                    members_of_new.add(index)
                    if len(members_of_new) >= min_count:
                        heapq.heappush(heap, (-len(members_of_new) << key_bits) | new)
            rest.append(term)
            bags[index] = rest
        where.pop(key, None)
    return bags


class _PairCodes:
    """Pair shapes ``(u, v, shift, sign)`` as ints ordered as the tuples: ``u`` and ``v`` in
    ``value_bits`` each (every value the graph can reach while pairs are shared), ``shift`` in
    ``shift_bits``, then one bit for a positive sign. ``key_bits`` bits in all."""

    def __init__(self, graph, bags):
        values = len(graph.bounds) + sum(len(bag) for bag in bags)
        shifts = 1 + max((term[1] for bag in bags for term in bag), default=0)
        self.value_bits, self.shift_bits = values.bit_length(), shifts.bit_length()
        self.key_bits = 2 * self.value_bits + self.shift_bits + 1

    def keys(self, term, others):
        """The packed shapes of the pairs of ``term`` with each of ``others``."""
        x, sx, gx = term
        value_bits, shift_bits = self.value_bits, self.shift_bits
        return [(((y << value_bits | x) << shift_bits | (sx - sy)) << 1) | (gx == gy)
                if (sy, y) < (sx, x) else
                (((x << value_bits | y) << shift_bits | (sy - sx)) << 1) | (gx == gy)
                for y, sy, gy in others]

    def unpack(self, key):
        shift_mask, value_mask = (1 << self.shift_bits) - 1, (1 << self.value_bits) - 1
        sign = 1 if key & 1 else -1
        key >>= 1
        shift = key & shift_mask
        key >>= self.shift_bits
        return key >> self.value_bits, key & value_mask, shift, sign


def _find_pair(terms, u, v, shift, sign):
    """``(a, b, base shift, base sign)``: the first two terms of ``terms`` (by ``a``, then
    ``b``) whose pair has the shape ``(u, v, shift, sign)``, the base that of the
    lower-shifted one; or None."""
    for a, (x, sx, gx) in enumerate(terms):
        if x != u:
            continue
        for b, (y, sy, gy) in enumerate(terms):
            if b == a or y != v or gx * gy != sign:
                continue
            if (sy, y) < (sx, x):              # term b the lower one: shape (v, u, ...)
                if u == v and sx - sy == shift:
                    return a, b, sy, gy
            elif sy - sx == shift:
                return a, b, sx, gx
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
