# SPDX-License-Identifier: MIT
"""``nomul report MODEL|SWEEP_DIR -o report.html``: one self-contained HTML page."""

from ._common import (
    add_build_options,
    add_data_options,
    build_options,
    build_options_given,
    output_file,
)

__all__ = ["add_parser", "run"]

MODEL_ONLY = ("synth", "pnr", "sim", "dataset", "data", "work_dir")


def add_parser(commands):
    from ..hw.families import FAMILIES

    parser = commands.add_parser(
        "report", help="one HTML page: a model as built (cost, baselines, timing, simulation) "
        "or a sweep (Pareto plots)")
    parser.add_argument("target", help="integer model file (.npz) or `nomul sweep` directory")
    parser.add_argument("-o", "--output", required=True, help="HTML file to write")
    add_build_options(parser)
    parser.add_argument("--family", default="ice40", choices=tuple(FAMILIES))
    parser.add_argument("--synth", action="store_true", help="counts from Yosys (minutes)")
    parser.add_argument("--pnr", action="store_true", help="place and route: Fmax, critical "
                        "path")
    parser.add_argument("--sim", action="store_true",
                        help="simulate the test split in the compiled harness (agreement)")
    add_data_options(parser, required=False,
                     help_dataset="--sim: the dataset (default: the model's own)")
    parser.add_argument("--work-dir", help="keep the Yosys/nextpnr files here")
    parser.set_defaults(handler=run)


def run(args):
    from pathlib import Path

    from ..errors import OptionsError
    from ..explore.report import model_report, sweep_report, write_report

    output_file(args.output, "-o")
    target = Path(args.target)
    if target.is_dir():
        given = build_options_given(args) + [f"--{n.replace('_', '-')}" for n in MODEL_ONLY
                                             if getattr(args, n) not in (None, False)]
        if given:
            raise OptionsError(f"{', '.join(given)} apply to a model, not to the sweep "
                               f"directory {target}")
        report = sweep_report(target)
    else:
        from .. import api
        from .evaluate import dataset_of

        model = api.load(target)
        if (args.dataset or args.data) and not args.sim:
            raise OptionsError("--dataset and --data choose the samples of --sim")
        args.model = str(target)
        dataset = dataset_of(args, model)[1] if args.sim else None
        report = model_report(target, build_options(args, model), args.family,
                              synth=args.synth, pnr=args.pnr, sim=dataset,
                              work_dir=args.work_dir)
    write_report(report, args.output)
    print(f"wrote {args.output}")
    return 0
