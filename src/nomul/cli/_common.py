# SPDX-License-Identifier: MIT
"""What the subcommands share: argument types, output-path checks, build options, printing.

Nothing here imports more than the standard library at module level, so ``nomul --help``
stays instant; the library is imported inside the functions that need it.
"""

import argparse
import json
import os

__all__ = ["DATASET_NAMES", "add_data_options", "print_json", "fmt_bits", "output_file",
           "output_dir", "int_list", "level_list",
           "weight_levels", "at_least", "positive", "probability", "levels", "per_layer",
           "positive_option", "add_model_command",
           "BUILD_OPTION_NAMES", "LAYER_OPTION_NAMES", "add_build_options", "build_options",
           "build_options_given"]


DATASET_NAMES = ("digits", "mnist1d", "mnist")   # nomul.models.datasets.DATASETS (tested)


def add_data_options(parser, *, required, help_dataset):
    """``--dataset NAME`` (a bundled dataset) or ``--data FILE`` (your own), one of them."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--dataset", choices=DATASET_NAMES, help=help_dataset)
    group.add_argument("--data", metavar="FILE",
                       help="your own data: .npz (x_train, y_train, x_test, y_test, or x, y) "
                       "or .csv (features, then the label)")


def print_json(data):
    print(json.dumps(data, indent=2, sort_keys=True))


def fmt_bits(bits):
    return f"{bits} b ({bits / 8192:.1f} KiB)"


# -- output paths, checked before any work ----------------------------------------------------

def output_file(path, flag):
    """Refuse, before any work, an output file that cannot be written: a missing or
    unwritable parent directory, or a directory in its place."""
    from pathlib import Path

    from ..errors import OptionsError

    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OptionsError(f"{flag} {path}: is a directory, not a file")
    if not parent.is_dir():
        raise OptionsError(f"{flag} {path}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OptionsError(f"{flag} {path}: cannot write in {parent} (permission denied)")
    return path


def output_dir(path, flag):
    """Refuse, before any work, an output directory that cannot be made: a file in its place
    or on its way, or a nearest existing ancestor that is not writable. Nothing is created
    here, so a run refused later leaves nothing behind."""
    from pathlib import Path

    from ..errors import OptionsError

    path = Path(path)
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == path else f"lies under the file {existing}"
        raise OptionsError(f"{flag} {path}: {where}, not a directory")
    if not os.access(existing, os.W_OK):
        raise OptionsError(f"{flag} {path}: cannot write in {existing} (permission denied)")
    return path


# -- argument types ---------------------------------------------------------------------------

def int_list(text, example):
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer or a list like {example}: "
                                         f"{text!r}") from None


def level_list(text):
    values = int_list(text, "2,4,8")
    if any(v < 2 for v in values):
        raise argparse.ArgumentTypeError(f"levels must be >= 2: {text!r}")
    return values


def weight_levels(text):
    values = int_list(text, "4,8,8")
    return values[0] if len(values) == 1 else values


def at_least(minimum, what):
    """argparse type: an integer >= ``minimum``; ``what`` says what it must be."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer or a list like 2,1,1: {text!r}") \
                from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{what}, not {value}")
        return value
    parse.__name__ = "int"
    return parse


positive = at_least(1, "must be >= 1")
levels = at_least(2, "needs at least 2 levels")


def positive_option(flag):
    """argparse type: an integer >= 1, the error naming ``flag``."""
    return at_least(1, f"{flag} must be a positive integer")


def _group_inputs(text):
    """argparse type of ``--group-inputs``: ``auto`` or an integer >= 1."""
    return "auto" if text == "auto" else positive_option("--group-inputs")(text)


def probability(text):
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), not {value}")
    return value


def per_layer(kind):
    """argparse type: one value for every weighted layer, or a comma list with one per layer."""

    def parse(text):
        try:
            return tuple(kind(part) for part in text.split(","))
        except argparse.ArgumentTypeError:
            raise
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer or a list like 2,1,1: {text!r}") \
                from None
    parse.__name__ = kind.__name__
    return parse


# -- build options ----------------------------------------------------------------------------

BUILD_OPTION_NAMES = ("arch", "pe", "simd", "input_lanes", "input_register", "name", "table_style",
                      "weight_style", "input_buffer", "register_every", "threshold_method",
                      "group_inputs", "adders", "sum_register", "target_ii", "target_throughput",
                      "clock_mhz", "device")
# automatic folding chooses every layer's build itself: layer options are refused beside it
LAYER_OPTION_NAMES = ("arch", "pe", "simd", "table_style", "weight_style", "input_buffer",
                      "register_every", "threshold_method", "group_inputs", "adders",
                      "sum_register")


def add_model_command(commands, name, help, *, output=None, build=True, run):
    """A subcommand reading a MODEL: ``-o`` (when ``output`` says what it is), the build
    options (``build``), ``--json`` and the handler ``run``. Returns the parser for more
    arguments (``--json`` comes last in ``--help`` order anyway)."""
    parser = commands.add_parser(name, help=help)
    parser.add_argument("model", help="integer model file (.npz)")
    if output is not None:
        parser.add_argument("-o", "--output", required=True, help=output)
    if build:
        add_build_options(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)
    return parser


def add_build_options(parser):
    """The options of ``nomul build`` (shared with ``sim``, ``estimate`` and ``board``); names in
    :data:`BUILD_OPTION_NAMES`. Every default is None (not given).

    Layer options take one value for every weighted layer or a comma list, one per weighted
    layer in model order (``--arch folded --pe 2,1 --simd 8,4``).
    """
    parser.add_argument("--arch", type=per_layer(str), help="unrolled (default) or folded")
    parser.add_argument("--pe", type=per_layer(positive_option("--pe")),
                        help="folded: outputs per cycle (default 1)")
    parser.add_argument("--simd", type=per_layer(positive_option("--simd")),
                        help="folded: input groups per cycle (default 1)")
    parser.add_argument("--input-lanes", type=positive_option("--input-lanes"),
                        help="input elements per transfer (default: the whole sample)")
    parser.add_argument("--input-register", choices=("on", "off"),
                        help="on (default: the input quantizer registers its indices) or off "
                        "(they pass to the first layer combinationally)")
    parser.add_argument("--name", help="top module name (default nomul_top)")
    parser.add_argument("--table-style", type=per_layer(str),
                        help="folded: product tables as auto (default), logic or block")
    parser.add_argument("--weight-style", type=per_layer(str),
                        help="folded: weight ROMs as auto (default), logic or block")
    parser.add_argument("--input-buffer", type=per_layer(str),
                        help="folded: double (default: a next-vector buffer, a vector taken "
                        "while the engine is busy) or single (the working vector alone: one "
                        "vector of flip-flops less, the same II)")
    parser.add_argument("--register-every", type=per_layer(int),
                        help="adder levels between pipeline registers (default 3 unrolled, "
                        "1 folded; 0: output only)")
    parser.add_argument("--threshold-method", type=per_layer(str),
                        help="unrolled: auto (default: a shift and clamp where the "
                        "thresholds are evenly spaced by a power of two and it is cheaper), "
                        "clamp, parallel or search")
    parser.add_argument("--group-inputs", type=per_layer(_group_inputs),
                        help="unrolled dense layers: look up g inputs together (the last "
                        "group shorter), or auto (default: the smallest adder graph)")
    parser.add_argument("--adders", type=per_layer(str),
                        help="unrolled: binary (default: two-input adders, portable Verilog) "
                        "or ternary (a node read once fused into its reader: three-input "
                        "adders of Xilinx LUT6_2 + CARRY4 primitives; Xilinx only)")
    parser.add_argument("--sum-register", type=per_layer(str),
                        help="unrolled, with an activation: on (default: the sums registered "
                        "before the activation) or off (the activation reads them directly: "
                        "one register per output less, one cycle less latency, a longer path)")
    parser.add_argument("--target-ii", type=positive_option("--target-ii"), metavar="CYCLES",
                        help="choose every layer's arch, PE, SIMD and table style: the "
                        "least estimated cost accepting a sample every CYCLES cycles")
    parser.add_argument("--target-throughput", type=float, metavar="SAMPLES_PER_S",
                        help="as --target-ii, from samples per second at --clock-mhz")
    parser.add_argument("--clock-mhz", type=float, help="the clock of --target-throughput")
    parser.add_argument("--device", help="with a target: the whole design must fit this "
                        "device's LUTs, FFs, block RAMs and DSPs (up5k, ecp5-25k)")


def build_options(args, model):
    """The :class:`~nomul.design.BuildOptions` the command line gives for ``model``.

    A value given once goes into the default options (each layer takes it where it concerns
    the layer: :func:`nomul.design.lower` refuses it when it concerns none); a comma list gives
    every weighted layer its own options, where a layer the option does not concern may only
    hold the default.
    """
    from ..design.options import DEFAULTS, SCOPE, BuildOptions, LayerOptions, option_applies
    from ..errors import OptionsError

    chosen = _target_folding(args, model)
    if chosen is not None:
        return chosen
    weighted = [p for p, layer in enumerate(model.layers) if hasattr(layer, "weight_index")]
    given = {name: getattr(args, name) for name in LAYER_OPTION_NAMES
             if getattr(args, name) is not None}
    for name, values in given.items():
        if len(values) not in (1, len(weighted)):
            raise OptionsError(f"--{name.replace('_', '-')} has {len(values)} values; give "
                               f"one, or one per weighted layer ({len(weighted)})")
    top = _top_options(args)
    if all(len(values) == 1 for values in given.values()):
        return BuildOptions(default=LayerOptions(**{n: v[0] for n, v in given.items()}), **top)
    archs = given.get("arch", (DEFAULTS["arch"],))
    archs = archs * len(weighted) if len(archs) == 1 else archs
    layers = []
    for n, position in enumerate(weighted):
        layer, chosen = model.layers[position], {}
        for name, values in given.items():
            value = values[n if len(values) > 1 else 0]
            if option_applies(name, layer, LayerOptions(arch=archs[n]).arch):
                chosen[name] = value
            elif len(values) > 1 and value != DEFAULTS[name]:
                raise OptionsError(f"--{name.replace('_', '-')} concerns {SCOPE[name]}; "
                                   f"layer {position} ({layer.kind}, {archs[n]}) is not one: "
                                   f"give it the default {DEFAULTS[name]}")
        layers.append((position, LayerOptions(**chosen)))
    for name in given:
        if not any(name in options.given for _, options in layers):
            raise OptionsError(f"--{name.replace('_', '-')} does not apply to this design: it "
                               f"concerns {SCOPE[name]}")
    return BuildOptions(layers=tuple(layers), **top)


def _top_options(args):
    """The whole-design build options the command line gives (not per layer)."""
    return {"input_lanes": args.input_lanes, "name": args.name or "nomul_top",
            "input_register": args.input_register != "off"}


def _target_folding(args, model):
    """The build options automatic folding chooses (``--target-ii`` or
    ``--target-throughput``), or None when no target is given; the family to estimate on is
    ``--family``, else the ``--device``'s, else ice40."""
    from ..design.options import BuildOptions, LayerOptions
    from ..errors import OptionsError
    from ..hw.folding import choose_folding, device_family, target_ii_of

    target = target_ii_of(args.target_ii, args.target_throughput, args.clock_mhz)
    if target is None:
        if args.device is not None:
            raise OptionsError("--device constrains automatic folding: give --target-ii or "
                               "--target-throughput")
        return None
    clash = [f"--{name.replace('_', '-')}" for name in LAYER_OPTION_NAMES
             if getattr(args, name) is not None]
    if clash:
        raise OptionsError(f"a target II chooses every layer's build itself: give the target "
                           f"or {', '.join(clash)}, not both")
    family = getattr(args, "family", None)
    if family is None:
        family = device_family(args.device) if args.device is not None else "ice40"
    base = BuildOptions(default=LayerOptions(), **_top_options(args))
    return choose_folding(model, target, family, device=args.device, base=base).options


def build_options_given(args):
    """The build-option flags given on the command line."""
    return [f"--{name.replace('_', '-')}" for name in BUILD_OPTION_NAMES
            if getattr(args, name) is not None]
