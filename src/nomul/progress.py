# SPDX-License-Identifier: MIT
"""Progress of long steps on stderr: a spinner (or a bar) with the elapsed time.

Every step that can take more than about two seconds (Verilog emission, harness and cocotb
builds, simulation, synthesis, place and route, bitstreams, training) runs inside
:func:`step`. Progress is shown only when stderr is a terminal and it has not been turned off
(:func:`configure`; the CLI turns it off for ``--json``), so logs, pipes and tests see nothing.
Nested steps show as one line each under the outermost; a finished step's line disappears.
"""

import threading
from contextlib import contextmanager

__all__ = ["configure", "enabled", "step"]

_enabled = None          # None: on when stderr is a terminal
_display = None          # the rich Progress shared by nested steps
_depth = 0
_lock = threading.Lock()  # steps may run in worker threads (stages synthesized in parallel)


def configure(enabled):
    """Turn progress display on (``True``), off (``False``) or back to automatic (``None``)."""
    global _enabled
    _enabled = enabled


def enabled():
    """Whether :func:`step` draws anything."""
    if _enabled is not None:
        return _enabled
    import sys

    return sys.stderr.isatty()


def _no_advance(n=1):
    return None


@contextmanager
def step(description, *, total=None):
    """Show ``description`` while the body runs; yields ``advance(n=1)``, which moves a bar of
    ``total`` units (a spinner with the elapsed time when ``total`` is None)."""
    global _display, _depth
    if not enabled():
        yield _no_advance
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with _lock:
        if _display is None:
            _display = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                TaskProgressColumn(), TimeElapsedColumn(),
                                TimeRemainingColumn(),
                                console=Console(stderr=True), transient=True)
            _display.start()
        _depth += 1
        display = _display
        task = display.add_task(description, total=total)
    try:
        yield lambda n=1: display.advance(task, n)
    finally:
        with _lock:
            display.remove_task(task)
            _depth -= 1
            if _depth == 0:
                display.stop()
                _display = None
