# SPDX-License-Identifier: MIT
"""``nomul info MODEL``: per layer the tables, widths and thresholds; memory and operations."""

from ._common import add_model_command, fmt_bits, print_json

__all__ = ["add_parser", "run"]


def add_parser(commands):
    add_model_command(commands, "info", "tables, widths, memory and operation counts",
                      build=False, run=run)


def run(args):
    from .. import api
    from ..models.info import model_info

    info = model_info(api.load(args.model))
    if args.json:
        print_json(info)
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{args.model}", title_justify="left")
    for column in ("#", "kind", "in", "out", "A_in", "K", "d", "entries", "entry b", "acc b",
                   "F", "activation"):
        table.add_column(column, justify="left" if column in ("kind", "activation") else "right",
                         overflow="fold")
    for layer in info["layers"]:
        if "table_entries" in layer and "codewords" in layer:
            thresholds = layer["thresholds"]
            if layer["activation"] != "thresholds":
                act = layer["activation"]
            elif thresholds and isinstance(thresholds[0], list):
                act = f"{len(thresholds[0])} thresholds per output"
            else:
                act = "thresholds " + ",".join(map(str, thresholds))
            cells = [layer["in_levels"], layer["codewords"], layer["group"],
                     layer["table_entries"], layer["entry_bits"], layer["accumulator_bits"],
                     layer["frac_bits"] if layer["frac_bits"] is not None else "-", act]
        else:
            cells = ["-"] * 7 + [""]
        table.add_row(str(layer["index"]), layer["kind"], "x".join(map(str, layer["in_shape"])),
                      "x".join(map(str, layer["out_shape"])), *map(str, cells))
    Console().print(table)           # the terminal's width (80 columns when not a terminal)
    spec = info["input"]
    print(f"input: {'x'.join(map(str, spec['shape']))} raw {spec['raw_min']}..{spec['raw_max']}, "
          f"{spec['quantizer']} quantizer"
          f"{' (per feature)' if spec['per_feature'] else ''}, {spec['levels']} levels; "
          f"output: {info['output']}")
    print(f"table entries: {info['table_entries']}")
    print(f"memory: {fmt_bits(info['memory_bits'])} vs float32 "
          f"{fmt_bits(info['float32_bits'])} ({100 * info['memory_ratio']:.1f} %)")
    print(f"per inference: {info['lookups']} lookups, {info['additions']} additions, "
          f"{info['comparisons']} comparisons, {info['multiplies']} multiplies")
    return 0
