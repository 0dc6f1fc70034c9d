# SPDX-License-Identifier: MIT
"""``nomul``: one subcommand per pipeline stage. Handlers parse, call the library, print.

Heavy imports happen inside the handlers so ``nomul --help`` is instant. A user error
(:class:`~nomul.errors.NomulError`) is printed as one line on stderr with exit status 2;
set ``NOMUL_DEBUG=1`` to see the traceback instead.
"""

import argparse
import json
import os
import sys

from .errors import NomulError

__all__ = ["main"]


def _print_json(data):
    print(json.dumps(data, indent=2, sort_keys=True))


def _fmt_bits(bits):
    return f"{bits} b ({bits / 8192:.1f} KiB)"


def _output_file(path, flag):
    """Refuse, before any work, an output file that cannot be written: a missing or
    unwritable parent directory, or a directory in its place."""
    from pathlib import Path

    from .errors import OptionsError

    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OptionsError(f"{flag} {path}: is a directory, not a file")
    if not parent.is_dir():
        raise OptionsError(f"{flag} {path}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OptionsError(f"{flag} {path}: cannot write in {parent} (permission denied)")
    return path


def _output_dir(path, flag):
    """Refuse, before any work, an output directory that cannot be made: a file in its place
    or on its way, or a nearest existing ancestor that is not writable. Nothing is created
    here, so a run refused later leaves nothing behind."""
    from pathlib import Path

    from .errors import OptionsError

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


def _cmd_info(args):
    from .models.info import model_info
    from .models.modelfile import load_model

    info = model_info(load_model(args.model))
    if args.json:
        _print_json(info)
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{args.model}", title_justify="left")
    for column in ("#", "kind", "in", "out", "A_in", "K", "d", "entries", "entry b", "acc b",
                   "F", "activation"):
        table.add_column(column, justify="left" if column in ("kind", "activation") else "right",
                         overflow="fold")
    for layer in info["layers"]:
        weighted = "table_entries" in layer and "codewords" in layer
        if weighted:
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
          f"{spec['quantizer']} quantizer, {spec['levels']} levels; output: {info['output']}")
    print(f"table entries: {info['table_entries']}")
    print(f"memory: {_fmt_bits(info['memory_bits'])} vs float32 "
          f"{_fmt_bits(info['float32_bits'])} ({100 * info['memory_ratio']:.1f} %)")
    print(f"per inference: {info['lookups']} lookups, {info['additions']} additions, "
          f"{info['comparisons']} comparisons, {info['multiplies']} multiplies")
    return 0


def _cmd_random(args):
    from .errors import OptionsError
    from .models.arch import parse_input_shape
    from .models.modelfile import save_model
    from .models.spec import InputSpec
    from .models.synthetic import random_model

    _output_file(args.output, "-o")
    shape = parse_input_shape(args.arch.split("-", 1)[0])
    given = args.input_shape
    if given is not None and parse_input_shape(given, "--input-shape") != shape:
        raise OptionsError(f"--input-shape {args.input_shape} does not match the input "
                           f"{'x'.join(map(str, shape))} of --arch {args.arch}; the first token "
                           f"of --arch is the input shape")
    spec = InputSpec(shape=shape, raw_min=args.raw_min, raw_max=args.raw_max)
    model = random_model(args.arch, spec, act_levels=args.act_levels,
                         weight_levels=args.weight_levels, group=args.group, seed=args.seed)
    save_model(model, args.output)
    if args.json:
        _print_json({"model": str(args.output)})
    else:
        print(f"wrote {args.output}")
    return 0


DEFAULT_ARCH = {"digits": "64-64-32-10", "mnist1d": "1x40-c32k5p2-m2-c32k3p1-m2-64-10"}
DEFAULT_NONLINEARITY = {"digits": "clipped_relu", "mnist1d": "relu6"}
DEFAULT_EPOCHS = {"digits": 60, "mnist1d": 40}


def _cmd_train(args):
    from .models.datasets import load_dataset
    from .models.info import model_info
    from .models.modelfile import save_model
    from .models.training.trainer import TrainConfig, train
    from .progress import step

    _output_file(args.output, "-o")
    _refuse_recipe_options(args)
    config = TrainConfig(
        arch=args.arch or DEFAULT_ARCH[args.dataset], recipe=args.recipe,
        act_levels=args.act_levels, weight_levels=args.weight_levels, group=args.group,
        seed=args.seed, epochs=args.epochs or DEFAULT_EPOCHS[args.dataset],
        nonlinearity=args.nonlinearity or DEFAULT_NONLINEARITY[args.dataset],
        weight_codebook=args.weight_codebook or "kmeans",
        act_codebook=args.act_codebook or "uniform", per_layer=args.per_layer,
        input_levels=args.input_levels, threads=args.threads)
    config.validate()                    # every option checked before the data is loaded
    dataset = load_dataset(args.dataset)
    with step(f"training {config.recipe} on {dataset.name}", total=2 * config.epochs) \
            as advance:
        result = train(dataset, config, progress=advance)
    save_model(result.model, args.output)
    info = model_info(result.model)
    report = {
        "model": str(args.output),
        "float_accuracy": result.float_accuracy,
        "quantized_accuracy": result.quantized_accuracy,
        "int_accuracy": result.int_accuracy,
        "agreement": result.agreement,
        "table_entries": info["table_entries"],
        "max_table_entries": max((lay.get("table_entries", 0) for lay in info["layers"]),
                                 default=0),
        "memory_bits": info["memory_bits"],
        "float32_bits": info["float32_bits"],
    }
    if args.json:
        _print_json(report)
        return 0
    print(f"float model accuracy:       {100 * result.float_accuracy:6.2f} %")
    print(f"quantized (float-sim):      {100 * result.quantized_accuracy:6.2f} %")
    print(f"integer reference:          {100 * result.int_accuracy:6.2f} %  "
          f"(agreement with float-sim {100 * result.agreement:.2f} %)")
    print(f"table entries: {report['table_entries']} (largest table "
          f"{report['max_table_entries']}); memory {_fmt_bits(report['memory_bits'])} vs "
          f"float32 {_fmt_bits(report['float32_bits'])}")
    print(f"wrote {args.output}")
    return 0


# training options that only some recipes read: recipe -> options it ignores
RECIPE_IGNORES = {
    "nmnf": ("input_levels", "act_codebook"),
    "tbnu": ("per_layer",),
    "wage": ("input_levels", "act_codebook", "weight_codebook", "per_layer"),
    "pq": ("input_levels", "act_codebook", "weight_codebook", "per_layer"),
}


def _refuse_recipe_options(args):
    """A training option the chosen recipe does not read is an error, not silently ignored."""
    from .errors import OptionsError

    for name in RECIPE_IGNORES.get(args.recipe, ()):
        if getattr(args, name) not in (None, False):
            raise OptionsError(f"--{name.replace('_', '-')} does not apply to the "
                               f"{args.recipe} recipe")


def _cmd_eval(args):
    import numpy as np

    from .errors import OptionsError
    from .models import reference
    from .models.datasets import load_dataset
    from .models.modelfile import load_model

    model = load_model(args.model)
    name = args.dataset or model.meta.get("dataset", {}).get("name")
    if name is None:
        raise OptionsError(f"{args.model}: no dataset recorded in the model; pass --dataset")
    dataset = load_dataset(name).reshaped(model.input.shape)
    predictions = reference.run(model, dataset.x_test)
    accuracy = float(np.mean(predictions == dataset.y_test))
    if args.json:
        _print_json({"accuracy": accuracy, "dataset": name, "samples": len(dataset.y_test)})
    else:
        print(f"{name} test split, {len(dataset.y_test)} samples: integer accuracy "
              f"{100 * accuracy:.2f} %")
    return 0



def _build_options(args, model):
    """BuildOptions from the command line; comma lists give one value per weighted layer.

    An option given once applies to every weighted layer it concerns (``--pe`` to the folded
    ones, ``--group-inputs`` to unrolled dense ones, ...) and is refused when it concerns none;
    in a comma list, a layer the option does not concern must keep the default value.
    """
    from .errors import OptionsError
    from .gateware.compile import LAYER_OPTION_SCOPE, option_applies
    from .gateware.options import BuildOptions, LayerOptions

    weighted = [p for p, layer in enumerate(model.layers) if hasattr(layer, "weight_index")]
    default = LayerOptions()
    given = {name: getattr(args, name) for name in LAYER_OPTION_NAMES
             if getattr(args, name) is not None}
    for name, values in given.items():
        if len(values) not in (1, len(weighted)):
            raise OptionsError(f"--{name.replace('_', '-')} has {len(values)} values; give "
                               f"one, or one per weighted layer ({len(weighted)})")
    archs = given.get("arch", (default.arch,))
    archs = archs * len(weighted) if len(archs) == 1 else archs
    chosen = [dict(vars(default)) for _ in weighted]
    for name, values in given.items():
        flag = f"--{name.replace('_', '-')}"
        applies = [option_applies(name, model.layers[p], arch)
                   for p, arch in zip(weighted, archs, strict=True)]
        if not any(applies):
            raise OptionsError(f"{flag} does not apply to this design: it concerns "
                               f"{LAYER_OPTION_SCOPE[name]}")
        for n, position in enumerate(weighted):
            value = values[n if len(values) > 1 else 0]
            if applies[n]:
                chosen[n][name] = value
            elif len(values) > 1 and value != getattr(default, name):
                layer = model.layers[position]
                raise OptionsError(f"{flag} concerns {LAYER_OPTION_SCOPE[name]}; layer "
                                   f"{position} ({layer.kind}, {archs[n]}) is not one: give "
                                   f"it the default {getattr(default, name)}")
    options = [LayerOptions(**values) for values in chosen]
    per_layer = any(o != options[0] for o in options)
    return BuildOptions(
        default=options[0] if options else default,
        layers=tuple(zip(weighted, options, strict=True)) if per_layer else (),
        input_lanes=args.input_lanes, name=args.name or "nomul_top")


def _cmd_build(args):
    from .hw.verilog import build
    from .models.modelfile import load_model, model_to_bytes

    _output_dir(args.output, "-o")
    model = load_model(args.model)
    options = _build_options(args, model)
    manifest = build(model, options, args.output, model_bytes=model_to_bytes(model))
    if args.json:
        _print_json(manifest)
        return 0
    print(f"wrote {manifest['verilog']} (top {manifest['top']}) and "
          f"{args.output}/manifest.json")
    print(f"latency {manifest['latency']} cycles, II {manifest['ii']} cycles; input "
          f"{manifest['input']['elements']} x {manifest['input']['bits']}-bit "
          f"({manifest['input']['lanes']} per transfer), output "
          f"{manifest['output']['kind']} ({manifest['output']['bits']} bits)")
    for layer in manifest["layers"]:
        if "arch" in layer:
            folding = f", PE {layer['pe']} x SIMD {layer['simd']}" if layer["arch"] == "folded" \
                else ""
            print(f"  layer {layer['index']} {layer['kind']}: {layer['arch']}{folding}, "
                  f"latency {layer['latency']}, II {layer['ii']}, accumulator "
                  f"{layer['accumulator_bits']} bits")
    return 0


def _sim_dataset(args, model):
    from .errors import OptionsError
    from .models.datasets import load_dataset

    name = args.dataset or model.meta.get("dataset", {}).get("name")
    if name is None:
        raise OptionsError(f"{args.model}: no dataset recorded in the model; pass --dataset")
    dataset = load_dataset(name).reshaped(model.input.shape)
    count = len(dataset.y_test) if args.samples is None else min(args.samples,
                                                                  len(dataset.y_test))
    return name, dataset.x_test[:count], dataset.y_test[:count]


def _build_options_given(args):
    return [f"--{name.replace('_', '-')}" for name in BUILD_OPTION_NAMES
            if getattr(args, name) is not None]


def _cmd_sim(args):
    import tempfile

    import numpy as np

    from .errors import OptionsError
    from .models import reference
    from .models.modelfile import load_model, model_to_bytes
    from .sim.hardware import load_build, simulate
    from .sim.vectors import expected_outputs

    if args.vcd is not None:
        _output_file(args.vcd, "--vcd")
    model = load_model(args.model)
    name, raw, labels = _sim_dataset(args, model)
    if args.build is not None:
        given = _build_options_given(args)
        if given:
            raise OptionsError(f"--build takes the design from {args.build}; leave out "
                               f"{', '.join(given)}")
        design = {"manifest": load_build(args.build, model_to_bytes(model))}
    else:
        design = {"options": _build_options(args, model)}
    with tempfile.TemporaryDirectory(prefix="nomul-sim-") as work_dir:
        run = simulate(model, raw, simulator=args.simulator, work_dir=work_dir,
                       vcd=args.vcd, idle=args.idle, stall=args.stall, seed=args.seed,
                       **design)
    expected = expected_outputs(model, raw)
    matches = [got == want for got, want in zip(run.outputs, expected, strict=True)]
    predictions = np.array(run.outputs) if model.output == "argmax" else \
        reference.argmax(np.array(run.outputs))
    manifest = run.manifest
    report = {
        "simulator": args.simulator, "dataset": name, "samples": len(raw),
        "agreement": sum(matches) / len(matches),
        "accuracy": float(np.mean(predictions == labels)),
        "latency": run.latency, "ii": run.ii,
        "manifest_latency": manifest["latency"], "manifest_ii": manifest["ii"],
        "cycles": run.cycles, "cycles_per_inference": run.cycles / len(raw),
        "seconds": run.seconds, "cycles_per_second": run.cycles_per_second,
    }
    first_bad = matches.index(False) if False in matches else None
    if first_bad is not None:
        report["first_mismatch"] = _mismatch(model, raw, run.outputs, expected, first_bad)
    if args.json:
        _print_json(report)
    else:
        _print_sim_report(report, manifest)
    return 0 if first_bad is None else 1


def _mismatch(model, raw, outputs, expected, sample):
    from .models import reference

    _, _, traces = reference.run(model, raw[sample:sample + 1], trace=True)
    layers = []
    for index, layer_trace in enumerate(traces):
        entry = {"layer": index, "kind": model.layers[index].kind,
                 "output": layer_trace.out.reshape(-1).tolist()}
        if layer_trace.acc is not None:
            entry["accumulator"] = layer_trace.acc.reshape(-1).tolist()
        layers.append(entry)
    return {"sample": sample, "hardware": outputs[sample], "expected": expected[sample],
            "layers": layers}


def _print_sim_report(report, manifest):
    print(f"{report['dataset']} test split, {report['samples']} samples through "
          f"{manifest['top']} on {report['simulator']}:")
    agreed = round(report["agreement"] * report["samples"])
    print(f"  agreement with the reference: {100 * report['agreement']:.2f} % "
          f"({agreed}/{report['samples']})")
    print(f"  hardware accuracy:            {100 * report['accuracy']:.2f} %")
    print(f"  latency {report['latency']} cycles (manifest {report['manifest_latency']}), "
          f"II {report['ii']} (manifest {report['manifest_ii']}), "
          f"{report['cycles_per_inference']:.2f} cycles per inference")
    print(f"  simulated {report['cycles']} cycles in {report['seconds']:.3f} s: "
          f"{report['cycles_per_second']:,.0f} cycles/s")
    bad = report.get("first_mismatch")
    if bad is not None:
        print(f"MISMATCH at sample {bad['sample']}: hardware {bad['hardware']}, reference "
              f"{bad['expected']}; reference per layer:", file=sys.stderr)
        for layer in bad["layers"]:
            acc = f" accumulator {layer['accumulator']}" if "accumulator" in layer else ""
            print(f"  layer {layer['layer']} {layer['kind']}:{acc} output {layer['output']}",
                  file=sys.stderr)


def _cmd_board(args):
    from .hw.board import build_board
    from .models.modelfile import load_model

    _output_dir(args.output, "-o")
    model = load_model(args.model)
    report = build_board(model, _build_options(args, model), args.board, args.output)
    if args.json:
        _print_json(report)
    else:
        print(f"wrote {report['bitstream']} for {args.board}: UART {report['baud']} baud 8N1 "
              f"({report['clock_hz'] / 1e6:g} MHz / {report['divisor']}); send "
              f"{model.input.elements} bytes per sample, read one byte back: the class")
        used = ", ".join(f"{cell} {u}/{n} ({100 * u / n:.0f} %)"
                         for cell, (u, n) in report["utilization"].items())
        clock = report["clock_hz"] / 1e6
        fmax = report["fmax_mhz"]
        timing = "no clock constraint reported" if fmax is None else \
            f"Fmax {fmax:.1f} MHz, {'meets' if fmax >= clock else 'MISSES'} the board's " \
            f"{clock:g} MHz clock"
        print(f"placed: {used}; {timing}")
    return 0


MAX_ENTRY_BITS = 40                 # --tables: sizes a user types, bounded before any work
MAX_TABLE_ENTRIES = 1 << 16
MAX_REFERENCE_WEIGHTS = 1 << 16
TABLES_ONLY = ("act_levels", "weight_levels", "entry_bits", "inputs", "outputs", "plot")
PLOT_FORMATS = (".png", ".svg", ".pdf")


def _check_estimate_options(args):
    """Every option combination of ``nomul estimate`` checked before any work."""
    from .errors import OptionsError
    from .hw.cost import PNR_DEVICES

    flags = lambda names: ", ".join(f"--{n.replace('_', '-')}" for n in names)  # noqa: E731
    if args.tables:
        if args.model is not None:
            raise OptionsError("--tables costs a reference layer of each table size; leave out "
                               "MODEL")
        extra = [n for n in ("synth", "pnr", "baseline") if getattr(args, n)]
        extra += [n for n in BUILD_OPTION_NAMES if n not in ("arch", "pe", "simd")
                  and getattr(args, n) is not None]
        if args.work_dir is not None:
            extra.append("work_dir")
        if extra:
            raise OptionsError(f"{flags(extra)}: not with --tables (an analytical estimate "
                               "of one reference layer)")
        if not args.act_levels or not args.weight_levels:
            raise OptionsError("--tables needs --act-levels and --weight-levels (e.g. 2,4,8,16)")
        if (args.entry_bits or 8) > MAX_ENTRY_BITS:
            raise OptionsError(f"--entry-bits {args.entry_bits} exceeds {MAX_ENTRY_BITS}")
        if max(args.act_levels) * max(args.weight_levels) > MAX_TABLE_ENTRIES:
            raise OptionsError(f"--act-levels x --weight-levels reach "
                               f"{max(args.act_levels) * max(args.weight_levels)} table entries; "
                               f"the limit is {MAX_TABLE_ENTRIES}")
        weights = (args.inputs or 64) * (args.outputs or 32)
        if weights > MAX_REFERENCE_WEIGHTS:
            raise OptionsError(f"--inputs x --outputs is {weights} weights; the limit is "
                               f"{MAX_REFERENCE_WEIGHTS}")
        if args.plot is not None:
            from pathlib import Path

            if Path(args.plot).suffix.lower() not in PLOT_FORMATS:
                raise OptionsError(f"--plot {args.plot}: give a file ending in "
                                   f"{', '.join(PLOT_FORMATS)}")
            _output_file(args.plot, "--plot")
        return
    if args.model is None:
        raise OptionsError("give a MODEL, or --tables with --act-levels and --weight-levels")
    given = [n for n in TABLES_ONLY if getattr(args, n) is not None]
    if given:
        raise OptionsError(f"{flags(given)}: only with --tables")
    if args.pnr and args.family not in PNR_DEVICES:
        raise OptionsError(f"--pnr places and routes on {' or '.join(PNR_DEVICES)} devices "
                           f"(UP5K, ECP5-25k); not --family {args.family}")
    if args.work_dir is not None:
        if not (args.synth or args.pnr):
            raise OptionsError("--work-dir keeps the files of --synth or --pnr; give one")
        _output_dir(args.work_dir, "--work-dir")


def _cmd_estimate(args):
    _check_estimate_options(args)
    if args.tables:
        return _estimate_tables(args)
    from .hw.cost import cost_report
    from .models.modelfile import load_model

    model = load_model(args.model)
    report = cost_report(model, _build_options(args, model), args.family, synth=args.synth,
                         pnr=args.pnr, baseline=args.baseline, work_dir=args.work_dir)
    if args.json:
        _print_json(report)
    else:
        _print_cost(report, args.family)
    return 0


def _print_cost(report, family):
    from .hw.toolchain import logic_key

    logic = logic_key(family)
    measured = report["source"] == "yosys"
    designs = [("nomul", report)] + ([("baseline", report["baseline"])]
                                     if "baseline" in report else [])
    for title, design in designs:
        label = "nomul (product tables)" if title == "nomul" else \
            "baseline (multiply-accumulate)"
        print(f"{label}, {family}, {'Yosys' if measured else 'analytical estimate'}:")
        header = f"  {'stage':<20} {logic:>8} {'ffs':>7} {'carry':>7} {'brams':>5} " \
                 f"{'dsps':>4} {'mults':>5}"
        print(header + (f"  {'model ' + logic:>11}" if measured else ""))
        for stage in design["stages"] + [{"stage": "total", **design}]:
            line = (f"  {stage['stage']:<20} {stage[logic]:>8} {stage['ffs']:>7} "
                    f"{stage['carry']:>7} {stage['brams']:>5} {stage['dsps']:>4} "
                    f"{stage['multipliers']:>5}")
            if measured:
                estimate = stage.get("estimate")
                line += f"  {estimate[logic]:>11}" if estimate else ""
            print(line)
        if "device" in design and not design["fits"]:
            print(f"  {design['device']}: does not fit: {'; '.join(design['short'])}")
        elif design.get("fmax_mhz") is not None:
            used = ", ".join(f"{cell} {u}/{n}" for cell, (u, n) in design["utilization"].items())
            print(f"  {design['device']}: placed and routed, Fmax {design['fmax_mhz']:.1f} MHz "
                  f"({used})")
        elif "device" in design:
            print(f"  {design['device']}: fits by these counts")
    if report["multipliers"] == 0:
        print("no multipliers in the nomul design")


def _estimate_tables(args):
    from .errors import OptionsError
    from .gateware.options import LayerOptions
    from .hw.cost import table_costs

    given = {n: getattr(args, n) for n in ("arch", "pe", "simd") if getattr(args, n) is not None}
    if any(len(values) > 1 for values in given.values()):
        raise OptionsError("--tables costs one layer: give one --arch, --pe and --simd")
    options = LayerOptions(**{name: values[0] for name, values in given.items()})
    if options.arch != "folded" and ("pe" in given or "simd" in given):
        raise OptionsError("--pe and --simd concern folded layers: add --arch folded")
    args.entry_bits = 8 if args.entry_bits is None else args.entry_bits
    args.inputs = 64 if args.inputs is None else args.inputs
    args.outputs = 32 if args.outputs is None else args.outputs
    rows = table_costs(args.act_levels, args.weight_levels, args.entry_bits, args.family,
                       options, inputs=args.inputs, outputs=args.outputs)
    if args.plot:
        _plot_tables(rows, args)
    if args.json:
        _print_json(rows)
        return 0
    from .hw.toolchain import logic_key

    logic = logic_key(args.family)
    print(f"product table of {args.entry_bits}-bit entries and a {args.inputs}->{args.outputs} "
          f"dense layer ({options.arch}" + (f" PE {options.pe} x SIMD {options.simd}"
                                            if options.arch == "folded" else "")
          + f"), {args.family}, analytical estimate")
    print(f"  {'A':>3} {'K':>3} {'entries':>7} {'bits':>6} {'table ' + logic:>10} "
          f"{'table brams':>11} | {'layer ' + logic:>10} {'ffs':>6} {'brams':>5}")
    for row in rows:
        brams = "-" if row["table_brams_as_block"] is None else row["table_brams_as_block"]
        print(f"  {row['act_levels']:>3} {row['weight_levels']:>3} {row['entries']:>7} "
              f"{row['table_bits']:>6} {row['table_luts_as_logic']:>10} {brams:>11} | "
              f"{row['layer'][logic]:>10} {row['layer']['ffs']:>6} {row['layer']['brams']:>5}")
    if args.plot:
        print(f"wrote {args.plot}")
    return 0


def _plot_tables(rows, args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .hw.toolchain import logic_key

    logic = logic_key(args.family)
    figure, axes = plt.subplots(figsize=(6, 4))
    for a in args.act_levels:
        mine = [r for r in rows if r["act_levels"] == a]
        axes.plot([r["entries"] for r in mine], [r["layer"][logic] for r in mine], "o-",
                  label=f"A = {a}")
    axes.set_xscale("log", base=2)
    axes.set_xlabel("product-table entries (A x K)")
    axes.set_ylabel(f"layer {logic} ({args.family}, estimate)")
    axes.set_title(f"{args.inputs}->{args.outputs} dense layer, {args.entry_bits}-bit entries")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    _save_figure(figure, args.plot)
    plt.close(figure)


def _save_figure(figure, path):
    """Write a matplotlib figure as PNG, SVG or PDF without dates or versions (the same plot
    gives the same bytes), through a temporary file so a failure leaves nothing behind."""
    from pathlib import Path

    path = Path(path)
    suffix = path.suffix.lower()
    metadata = {".png": {"Software": None}, ".svg": {"Date": None, "Creator": None},
                ".pdf": {"CreationDate": None, "Creator": None, "Producer": None}}[suffix]
    temporary = path.with_name(f".{path.name}.tmp{suffix}")
    import matplotlib

    try:
        with matplotlib.rc_context({"svg.hashsalt": "nomul"}):      # fixed SVG element ids
            figure.savefig(temporary, dpi=120, metadata=metadata, format=suffix[1:])
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def _int_list(text, example):
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer or a list like {example}: "
                                         f"{text!r}") from None


def _level_list(text):
    values = _int_list(text, "2,4,8")
    if any(v < 2 for v in values):
        raise argparse.ArgumentTypeError(f"levels must be >= 2: {text!r}")
    return values


def _weight_levels(text):
    values = _int_list(text, "4,8,8")
    return values[0] if len(values) == 1 else values


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return value


def _probability(text):
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), not {value}")
    return value


def _levels(text):
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"needs at least 2 levels, not {value}")
    return value


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (``nomul train: error: ...``), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

BUILD_OPTION_NAMES = ("arch", "pe", "simd", "input_lanes", "name", "table_style",
                      "register_every", "threshold_method", "group_inputs")


def _per_layer(kind):
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


def _positive_option(flag):
    """argparse type: an integer >= 1, the error naming ``flag``."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer or a list like 2,1,1: {text!r}") \
                from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{flag} must be a positive integer, not {value}")
        return value
    parse.__name__ = "int"
    return parse


LAYER_OPTION_NAMES = ("arch", "pe", "simd", "table_style", "register_every",
                      "threshold_method", "group_inputs")


def _add_build_options(parser):
    """The options of ``nomul build`` (shared with ``sim``, ``estimate`` and ``board``); names in
    BUILD_OPTION_NAMES. Every default is None (not given): :func:`_build_options` fills them.

    Layer options take one value for every weighted layer or a comma list, one per weighted
    layer in model order (``--arch folded --pe 2,1 --simd 8,4``).
    """
    parser.add_argument("--arch", type=_per_layer(str), help="unrolled (default) or folded")
    parser.add_argument("--pe", type=_per_layer(_positive_option("--pe")),
                        help="folded: outputs per cycle (default 1)")
    parser.add_argument("--simd", type=_per_layer(_positive_option("--simd")),
                        help="folded: input groups per cycle (default 1)")
    parser.add_argument("--input-lanes", type=_positive_option("--input-lanes"),
                        help="input elements per transfer (default: the whole sample)")
    parser.add_argument("--name", help="top module name (default nomul_top)")
    parser.add_argument("--table-style", type=_per_layer(str),
                        help="folded: product tables as auto (default), logic or block")
    parser.add_argument("--register-every", type=_per_layer(int),
                        help="adder-tree levels between pipeline registers (default 1; 0: "
                        "output only)")
    parser.add_argument("--threshold-method", type=_per_layer(str),
                        help="unrolled: parallel (default) or search")
    parser.add_argument("--group-inputs", type=_per_layer(_positive_option("--group-inputs")),
                        help="unrolled dense layers: look up g inputs together (A^g-row "
                        "tables; default 1)")


def build_parser():
    from .hw.toolchain import FAMILIES

    parser = _Parser(
        prog="nomul",
        description="Multiplier-free neural network hardware from product tables.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"nomul {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    info = commands.add_parser("info", help="tables, widths, memory and operation counts")
    info.add_argument("model", help="integer model file (.npz)")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(handler=_cmd_info)

    train = commands.add_parser("train", help="train a quantized network, export its integer model")
    train.add_argument("--dataset", required=True, choices=("digits", "mnist1d"))
    train.add_argument("--arch", help="architecture, e.g. 64-64-32-10 or "
                       "1x40-c16k5p2-m2-32-10 (default per dataset)")
    train.add_argument("--recipe", required=True, help="nmnf, tbnu, wage or pq")
    train.add_argument("--act-levels", type=int, required=True, help="activation levels A")
    train.add_argument("--weight-levels", type=_weight_levels, required=True,
                       help="weight codewords K, or one K per weighted layer (4,8,8,8)")
    train.add_argument("--input-levels", type=int,
                       help="tbnu: levels of the input quantizer (default: --act-levels)")
    train.add_argument("--group", type=int, default=1, help="product-quantization group d (pq)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--epochs", type=int, help="epochs (default per dataset)")
    train.add_argument("--threads", type=_positive_option("--threads"), default=1,
                       help="BLAS/OpenMP threads while training (default 1: these matrices "
                       "are small; any count gives the same model file)")
    train.add_argument("--nonlinearity",
                       help="clipped_relu, relu6, hard_tanh or tanh (default per dataset: "
                       "digits clipped_relu, mnist1d relu6)")
    train.add_argument("--weight-codebook",
                       help="uniform, laplace, gaussian, kmeans or quantile (default kmeans; "
                       "nmnf: kmeans or laplace)")
    train.add_argument("--act-codebook", help="tbnu: as --weight-codebook (default uniform)")
    train.add_argument("--per-layer", action="store_true", help="nmnf: one codebook per layer")
    train.add_argument("-o", "--output", required=True, help="model file to write")
    train.add_argument("--json", action="store_true")
    train.set_defaults(handler=_cmd_train)

    evaluate = commands.add_parser("eval", help="integer-model accuracy on the test split")
    evaluate.add_argument("model")
    evaluate.add_argument("--dataset", choices=("digits", "mnist1d"),
                          help="override the dataset recorded in the model")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(handler=_cmd_eval)

    build = commands.add_parser("build", help="Verilog and a manifest for a model")
    build.add_argument("model")
    build.add_argument("-o", "--output", required=True, help="output directory")
    _add_build_options(build)
    build.add_argument("--json", action="store_true")
    build.set_defaults(handler=_cmd_build)

    sim = commands.add_parser(
        "sim", help="the test split through the hardware: agreement, accuracy, timing")
    sim.add_argument("model")
    sim.add_argument("--simulator", default="fast",
                     choices=("fast", "verilator", "icarus", "amaranth"),
                     help="fast: compiled Verilator harness (default); verilator, icarus: "
                     "cocotb on the Verilog; amaranth: Amaranth's simulator")
    sim.add_argument("--samples", type=_positive, help="first N test samples (default: all)")
    sim.add_argument("--dataset", choices=("digits", "mnist1d"),
                     help="override the dataset recorded in the model")
    sim.add_argument("--build", metavar="DIR",
                     help="simulate the Verilog of this `nomul build` directory instead of "
                     "building from the options below")
    _add_build_options(sim)
    sim.add_argument("--vcd", metavar="FILE", help="write a waveform (fast and amaranth)")
    sim.add_argument("--idle", type=_probability, default=0.0,
                     help="probability of an idle input cycle (default 0)")
    sim.add_argument("--stall", type=_probability, default=0.0,
                     help="probability of output back-pressure per cycle (default 0)")
    sim.add_argument("--seed", type=int, default=0, help="seed of the idle/stall draws")
    sim.add_argument("--json", action="store_true")
    sim.set_defaults(handler=_cmd_sim)

    board = commands.add_parser(
        "board", help="a bitstream: the network behind the board's UART (protocol in README)")
    board.add_argument("model")
    board.add_argument("--board", required=True, choices=("icebreaker", "ulx3s"))
    board.add_argument("-o", "--output", required=True, help="build directory")
    _add_build_options(board)
    board.add_argument("--json", action="store_true")
    board.set_defaults(handler=_cmd_board)

    estimate = commands.add_parser(
        "estimate", help="LUTs, FFs, block RAMs (and Fmax): estimated, synthesized, placed")
    estimate.add_argument("model", nargs="?", help="integer model file (not with --tables)")
    estimate.add_argument("--family", default="ice40", choices=FAMILIES)
    _add_build_options(estimate)
    estimate.add_argument("--synth", action="store_true",
                          help="synthesize every stage with Yosys (minutes) and report that")
    estimate.add_argument("--pnr", action="store_true",
                          help="also place and route (ice40: UP5K, ecp5: 25k): Fmax, fit")
    estimate.add_argument("--baseline", action="store_true",
                          help="also cost the multiply-accumulate design of the same network")
    estimate.add_argument("--work-dir", help="keep the Yosys/nextpnr files here")
    estimate.add_argument("--tables", action="store_true",
                          help="cost product tables (and a reference layer) by table size")
    estimate.add_argument("--act-levels", type=_level_list, help="--tables: A values, 2,4,8")
    estimate.add_argument("--weight-levels", type=_level_list, help="--tables: K values")
    estimate.add_argument("--entry-bits", type=_positive_option("--entry-bits"),
                          help="--tables: bits per table entry (default 8)")
    estimate.add_argument("--inputs", type=_positive_option("--inputs"),
                          help="--tables: reference layer inputs (default 64)")
    estimate.add_argument("--outputs", type=_positive_option("--outputs"),
                          help="--tables: reference layer outputs (default 32)")
    estimate.add_argument("--plot", metavar="FILE",
                          help="--tables: plot layer cost (.png, .svg or .pdf)")
    estimate.add_argument("--json", action="store_true")
    estimate.set_defaults(handler=_cmd_estimate)

    random = commands.add_parser(
        "random", help="a random integer model from fixed-seed codebooks (smoke tests, demos)")
    random.add_argument("--arch", default="64-64-32-10", help="architecture (default %(default)s)")
    random.add_argument("--input-shape",
                        help="e.g. 64, 1x40, 1x8x8: must be the first token of --arch")
    random.add_argument("--raw-min", type=int, default=0)
    random.add_argument("--raw-max", type=int, default=16)
    random.add_argument("--act-levels", type=_levels, default=4)
    random.add_argument("--weight-levels", type=_levels, default=8)
    random.add_argument("--group", type=_positive, default=1)
    random.add_argument("--seed", type=int, default=0)
    random.add_argument("-o", "--output", required=True, help="model file to write")
    random.add_argument("--json", action="store_true")
    random.set_defaults(handler=_cmd_random)
    return parser


def main(argv=None):
    """Run the CLI; returns the exit status (0 ok, 1 a failed check, 2 user error).

    A :class:`~nomul.errors.NomulError` (bad input, options, files or a missing tool) is one
    line on stderr; any other exception is a bug in nomul and shows its traceback.
    """
    from . import progress

    parser = build_parser()
    args = parser.parse_args(argv)
    progress.configure(False if getattr(args, "json", False) else None)
    try:
        return args.handler(args)
    except NomulError as error:
        if os.environ.get("NOMUL_DEBUG"):
            raise
        print(f"nomul: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nomul: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:                  # output piped into head and friends
        sys.stderr.close()
        return 0
    except Exception:
        print("nomul: internal error (a bug in nomul, not in your input); please report it "
              "with the traceback below", file=sys.stderr)
        raise
    finally:
        progress.configure(None)


if __name__ == "__main__":
    sys.exit(main())
