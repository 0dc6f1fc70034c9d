# SPDX-License-Identifier: MIT
"""``nomul sim MODEL``: the test split through the hardware, checked against the reference."""

import sys

from ._common import (
    add_data_options,
    add_model_command,
    build_options,
    build_options_given,
    output_file,
    positive,
    print_json,
    probability,
)
from .evaluate import dataset_of

__all__ = ["add_parser", "run"]


def add_parser(commands):
    parser = add_model_command(
        commands, "sim", "the test split through the hardware: agreement, accuracy, timing",
        run=run)
    parser.add_argument("--simulator", default="fast",
                        choices=("fast", "verilator", "icarus", "amaranth"),
                        help="fast: compiled Verilator harness (default); verilator, icarus: "
                        "cocotb on the Verilog; amaranth: Amaranth's simulator")
    parser.add_argument("--samples", type=positive, help="first N test samples (default: all)")
    add_data_options(parser, required=False,
                     help_dataset="override the dataset recorded in the model")
    parser.add_argument("--build", metavar="DIR",
                        help="simulate the Verilog of this `nomul build` directory instead of "
                        "building from the options below")
    parser.add_argument("--vcd", metavar="FILE", help="write a waveform (fast and amaranth)")
    parser.add_argument("--idle", type=probability, default=0.0,
                        help="probability of an idle input cycle (default 0)")
    parser.add_argument("--stall", type=probability, default=0.0,
                        help="probability of output back-pressure per cycle (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the idle/stall draws")


def run(args):
    import numpy as np

    from .. import api
    from ..errors import OptionsError
    from ..models import reference
    from ..progress import step
    from ..sim.hardware import check_amaranth, design_of_build, load_build, simulate_build
    from ..sim.vectors import expected_outputs

    if args.vcd is not None:
        output_file(args.vcd, "--vcd")
    model = api.load(args.model)
    if args.build is not None:
        given = build_options_given(args)
        if given:
            raise OptionsError(f"--build takes the design from {args.build}; leave out "
                               f"{', '.join(given)}")
        manifest = load_build(args.build, model)
        design = design_of_build(model, manifest) if args.simulator == "amaranth" else None
    else:
        design = api.lower(model, build_options(args, model))
    if args.simulator == "amaranth":
        check_amaranth(design)
    name, dataset = dataset_of(args, model)
    count = len(dataset.y_test) if args.samples is None else min(args.samples,
                                                                  len(dataset.y_test))
    raw, labels = dataset.x_test[:count], dataset.y_test[:count]
    common = dict(simulator=args.simulator, vcd=args.vcd, idle=args.idle, stall=args.stall,
                  seed=args.seed)
    if args.build is not None:
        with step(f"{name}: {count} samples through {args.build} on {args.simulator}"):
            run = simulate_build(model, manifest, raw, **common)
    else:
        with step(f"{name}: {count} samples through {design.name} on {args.simulator}"):
            run = api.simulate(design, raw, **common)
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
        print_json(report)
    else:
        _print_report(report, manifest)
    return 0 if first_bad is None else 1


def _mismatch(model, raw, outputs, expected, sample):
    from ..models import reference

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


def _print_report(report, manifest):
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
