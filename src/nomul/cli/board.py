# SPDX-License-Identifier: MIT
"""``nomul board MODEL --board B -o DIR``: a bitstream of the network behind the board's UART."""

from ._common import add_model_command, build_options, output_dir, print_json

__all__ = ["add_parser", "run"]


def add_parser(commands):
    from ..hw.families import boards

    parser = add_model_command(
        commands, "board", "a bitstream: the network behind the board's UART (protocol in "
        "README)", output="build directory", run=run)
    parser.add_argument("--board", required=True, choices=tuple(boards()))


def run(args):
    from .. import api
    from ..hw.board import build_board

    output_dir(args.output, "-o")
    model = api.load(args.model)
    report = build_board(model, build_options(args, model), args.board, args.output)
    if args.json:
        print_json(report)
        return 0
    print(f"wrote {report['bitstream']} for {args.board}: UART {report['baud']} baud 8N1 "
          f"({report['clock_hz'] / 1e6:g} MHz / {report['divisor']}); send "
          f"{model.input.elements} bytes per sample, read one byte back: the class")
    used = ", ".join(f"{cell} {u}/{n} ({100 * u / n:.0f} %)"
                     for cell, (u, n) in report["utilization"].items())
    clock, fmax = report["clock_hz"] / 1e6, report["fmax_mhz"]
    timing = "no clock constraint reported" if fmax is None else \
        f"Fmax {fmax:.1f} MHz, {'meets' if fmax >= clock else 'MISSES'} the board's " \
        f"{clock:g} MHz clock"
    print(f"placed: {used}; {timing}")
    return 0
