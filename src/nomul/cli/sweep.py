# SPDX-License-Identifier: MIT
"""``nomul sweep``: accuracy against hardware cost over training and build choices."""

import argparse

from ._common import add_data_options, level_list, output_dir, positive, print_json

__all__ = ["add_parser", "run"]


def _names(text):
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _weight_levels(text):
    """``2,4,8`` or per layer ``4:8:8`` inside the list: ``4,4:8:8``."""
    values = []
    for part in text.split(","):
        try:
            levels = tuple(int(k) for k in part.split(":"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a list like 2,4,8 or 4:8:8: {text!r}") \
                from None
        if min(levels) < 2:
            raise argparse.ArgumentTypeError(f"weight levels must be >= 2: {text!r}")
        values.append(levels[0] if len(levels) == 1 else levels)
    return tuple(values)


def _positive_list(text):
    """A comma list of positive integers."""
    return tuple(positive(part) for part in text.split(","))


def add_parser(commands):
    parser = commands.add_parser(
        "sweep", help="train and estimate a grid of designs; the Pareto front of accuracy "
        "against cost")
    add_data_options(parser, required=True, help_dataset="a bundled dataset")
    parser.add_argument("--network", help="network architecture (default per dataset; a data "
                        "file of F features and C classes: F-64-32-C)")
    parser.add_argument("--recipes", type=_names, default=("tbnu",),
                        help="training recipes, e.g. tbnu,nmnf (default tbnu)")
    parser.add_argument("--act-levels", type=level_list, default=(4,),
                        help="activation levels A, e.g. 2,3,4,5,8 (default 4)")
    parser.add_argument("--weight-levels", type=_weight_levels, default=(8,),
                        help="weight codewords K, e.g. 2,4,8,16; 4:8:8 is one K per layer "
                        "(default 8)")
    parser.add_argument("--groups", type=_positive_list, default=(1,),
                        help="product-quantization groups d (pq recipe; default 1)")
    parser.add_argument("--builds", type=_names, default=("unrolled", "folded"),
                        help="unrolled, unrolled:ternary (three-input adders: --family "
                        "xilinx), folded (PE 1 x SIMD 1), folded:PExSIMD, ii:CYCLES "
                        "(automatic folding; default unrolled,folded)")
    parser.add_argument("--target-ii", type=_positive_list, metavar="CYCLES",
                        help="also build every model folded automatically for these IIs "
                        "(same as --builds ...,ii:CYCLES)")
    parser.add_argument("--target-throughput", type=float, metavar="SAMPLES_PER_S",
                        help="as --target-ii, the II from samples per second at --clock-mhz")
    parser.add_argument("--clock-mhz", type=float, help="the clock of --target-throughput")
    parser.add_argument("--family", default="ice40", help="cost on this family (default ice40)")
    parser.add_argument("--device", help="automatic folding (ii:CYCLES builds) within this "
                        "part's LUTs, FFs, block RAMs and DSPs (up5k, ecp5-25k)")
    parser.add_argument("--epochs", type=positive, help="epochs (default per dataset)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nonlinearity", help="default per dataset")
    parser.add_argument("--jobs", type=positive, default=1, help="parallel tasks (default 1)")
    parser.add_argument("--executor", choices=("local", "dask"), default="local",
                        help="local process pool (default) or dask (pip install 'nomul[dask]')")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="dask: the scheduler's address (default: a LocalCluster of --jobs "
                        "workers)")
    parser.add_argument("--synth", action="store_true",
                        help="synthesize the Pareto points with Yosys")
    parser.add_argument("--pnr", action="store_true",
                        help="place and route the Pareto points (Fmax)")
    parser.add_argument("-o", "--output", required=True, help="sweep directory (resumable)")
    parser.add_argument("--json", action="store_true",
                        help="print the summary (points, pareto) as JSON")
    parser.set_defaults(handler=run)


def run(args):
    from ..errors import OptionsError
    from ..explore.sweep import SweepSpec, run_sweep
    from ..progress import step
    from .train import DATA_FILE, DEFAULT_ARCH, DEFAULT_EPOCHS, DEFAULT_NONLINEARITY

    output_dir(args.output, "-o")
    if args.scheduler is not None and args.executor != "dask":
        raise OptionsError("--scheduler is for --executor dask")
    from ..hw.folding import target_ii_of

    targets = tuple(args.target_ii or ())
    if args.target_throughput is not None or args.clock_mhz is not None:
        targets += (target_ii_of(None, args.target_throughput, args.clock_mhz),)
    key = args.dataset or DATA_FILE
    network = args.network
    if network is None and args.dataset:
        network = DEFAULT_ARCH[args.dataset]
    elif network is None:
        from ..models.datafile import load_data

        data = load_data(args.data)
        if len(data.input.shape) != 1:
            raise OptionsError(f"--data {args.data}: samples of shape {data.input.shape}; "
                               f"give --network")
        network = f"{data.input.shape[0]}-64-32-{data.classes}"
    spec = SweepSpec(dataset=args.dataset, data=args.data, network=network,
                     recipes=args.recipes, act_levels=args.act_levels,
                     weight_levels=args.weight_levels, groups=args.groups,
                     builds=args.builds + tuple(f"ii:{t}" for t in targets),
                     family=args.family, device=args.device,
                     epochs=args.epochs or DEFAULT_EPOCHS[key], seed=args.seed,
                     nonlinearity=args.nonlinearity or DEFAULT_NONLINEARITY[key])
    spec.validate()                      # every option checked before any training
    total = len(spec.training_configs()) * len(spec.builds)
    with step(f"sweep: {total} points", total=total) as advance:
        state = {"done": 0}

        def progress(done, total):
            advance(done - state["done"])
            state["done"] = done

        summary = run_sweep(spec, args.output, executor=args.executor, jobs=args.jobs,
                            scheduler=args.scheduler, synth=args.synth, pnr=args.pnr,
                            progress=progress)
    if args.json:
        print_json({key: summary[key] for key in ("points", "ok", "failed", "pareto",
                                                  "pareto_ii", "seconds")})
        return 0
    _print(summary, args.output)
    return 0 if not summary["failed"] else 1


def _print(summary, directory):
    print(f"{summary['points']} points ({summary['ok']} built, {len(summary['failed'])} "
          f"failed) in {summary['seconds']} s; written to {directory}/points.csv")
    print(f"Pareto front of integer accuracy against LUT-equivalents ({directory}/pareto.csv):")
    print(f"  {'accuracy':>8} {'LUT-eq':>8} {'LUTs':>7} {'BRAM':>4} {'II':>6}  recipe  A  K  "
          f"build")
    for p in summary["pareto"]:
        build = p["arch"] if p["arch"] == "unrolled" else \
            f"ii<={p['target_ii']}" if p["arch"] == "auto" else f"folded {p['pe']}x{p['simd']}"
        print(f"  {100 * p['int_accuracy']:7.2f}% {p['lut_equivalents']:>8} {p['luts']:>7} "
              f"{p['brams']:>4} {p['ii']:>6}  {p['recipe']:<6} {p['act_levels']:>2} "
              f"{str(p['weight_levels']):>2}  {build}")
    for failure in summary["failed"][:5]:
        print(f"failed {failure['key']}: {failure['error']}")
