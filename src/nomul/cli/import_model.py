# SPDX-License-Identifier: MIT
"""``nomul import MODEL.onnx -o OUT.npz``: a trained ONNX model as an integer model."""

from ._common import level_list, levels, output_file, print_json

__all__ = ["add_parser", "run"]


def add_parser(commands):
    parser = commands.add_parser(
        "import", help="a trained ONNX model (QONNX/FINN exactly, float by post-training "
        "quantization) as an integer model")
    parser.add_argument("onnx", metavar="MODEL.onnx", help="ONNX model file")
    parser.add_argument("-o", "--output", required=True, help="integer model file to write")
    parser.add_argument("--data", metavar="FILE",
                        help="data file (.npz or .csv): calibration for a float model, and "
                        "the accuracy and agreement measured on it")
    parser.add_argument("--act-levels", type=levels, metavar="A",
                        help="float models: activation (and input) levels A (default 16)")
    parser.add_argument("--weight-levels", type=level_list, metavar="K",
                        help="codewords K per weighted layer, or one per layer (4,8,8); "
                        "float models: default 16; QONNX: k-means the integer weights "
                        "(inexact)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(args):
    from pathlib import Path

    from .. import api
    from ..errors import OptionsError

    output_file(args.output, "-o")
    if not Path(args.onnx).is_file():
        raise OptionsError(f"{args.onnx}: no such file")
    if args.data is not None and not Path(args.data).is_file():
        raise OptionsError(f"--data {args.data}: no such file")
    from ..importers import import_onnx
    from ..progress import step

    weight_levels = args.weight_levels
    if weight_levels is not None and len(weight_levels) == 1:
        weight_levels = weight_levels[0]
    with step(f"importing {Path(args.onnx).name}"):
        result = import_onnx(args.onnx, data=args.data, act_levels=args.act_levels,
                             weight_levels=weight_levels)
    api.save(result.model, args.output)
    report = {**result.report, "model": str(args.output)}
    if args.json:
        print_json(report)
        return 0
    _print(report)
    return 0


def _percent(value):
    return "-" if value is None else f"{100 * value:6.2f} %"


def _line(label, text):
    print(f"{label + ':':<31}{text}")


def _print(report):
    kind = "QONNX (exact arithmetic)" if report["source"] == "qonnx" else \
        (f"float (post-training: {report['act_levels']} activation levels, "
         f"{report['weight_levels']} codewords)")
    print(f"{report['onnx']}: {kind}; {report['layers']} layers")
    if report.get("source_accuracy") is not None:
        _line("ONNX model accuracy", _percent(report["source_accuracy"]))
        if "quantized_accuracy" in report:
            _line("quantized (float-sim)", _percent(report["quantized_accuracy"]))
        if "unclustered_int_accuracy" in report:
            _line("integer, weights unclustered", _percent(report["unclustered_int_accuracy"]))
        _line("integer reference", f"{_percent(report['int_accuracy'])}  (agreement with the "
              f"ONNX model {100 * report['agreement']:.2f} % of {report['samples']} test "
              f"samples)")
        if "agreement_all" in report:
            _line("agreement on every sample",
                  f"{_percent(report['agreement_all'])} of {report['samples_all']} samples")
    _line("exact", "yes" if report["exact"] else "no")
    for note in report["notes"]:
        print(f"note: {note}")
    print(f"wrote {report['model']}")
