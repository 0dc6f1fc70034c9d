# SPDX-License-Identifier: MIT
"""Garbage-collector thresholds for nomul's allocation-heavy phases.

Lowering an unrolled network and Amaranth's netlist of its design allocate millions of small
objects that all live until the phase ends. Under CPython's default thresholds (a collection
of the youngest generation every 700 net allocations) the collector runs thousands of times
over them, and the full collections it escalates to walk every live object: on the demo's
unrolled MLP a quarter of the Verilog emission's CPU time (``bench/RESULTS.md``). mypy raises
the threshold the same way for the same reason. Nothing is leaked: the collector still runs,
every 100 000 allocations, and the old thresholds return when the phase ends.
"""

import gc
from contextlib import contextmanager

__all__ = ["few_collections"]

YOUNG_THRESHOLD = 100_000      # net allocations between collections of the youngest generation


@contextmanager
def few_collections():
    """Run the body (or, as a decorator, the function) with the youngest generation collected
    every :data:`YOUNG_THRESHOLD` allocations instead of CPython's 700; the previous thresholds
    are restored afterwards (also on an exception), so nested uses are harmless."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], YOUNG_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
