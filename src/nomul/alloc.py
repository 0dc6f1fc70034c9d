# SPDX-License-Identifier: MIT
"""Garbage-collector thresholds for nomul's allocation-heavy phases.

Lowering an unrolled network and Amaranth's netlist of its design allocate millions of small
objects that all live until the phase ends. Under CPython's default thresholds (a collection
of the youngest generation every 700 net allocations) the collector runs thousands of times
over them, and the full collections it escalates to walk every live object: on the demo's
unrolled MLP a quarter of the Verilog emission's CPU time (``bench/RESULTS.md``). mypy raises
the threshold the same way for the same reason. Nothing is leaked: the collector still runs,
every 100 000 allocations, and the old thresholds return when the phase ends.

At the end of a ``nomul`` command (:func:`leave_to_exit`) the objects left are frozen, so the
interpreter's last collection at shutdown does not walk them: a build ends with millions of
them in reference cycles (Amaranth's netlist), and that walk cost 0.4 of the demo's 4.9
CPU-seconds of ``nomul build``, only to free memory the operating system takes back anyway.
"""

import gc
from contextlib import contextmanager

__all__ = ["few_collections", "leave_to_exit"]

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


def leave_to_exit():
    """Freeze every object the process holds (:func:`gc.freeze`): the collection at shutdown
    then skips them. Only for a process about to end (the ``nomul`` command): nothing frozen is
    ever collected. Files are written and closed before (``with`` blocks), and ``atexit``
    handlers still run."""
    gc.freeze()
