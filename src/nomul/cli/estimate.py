# SPDX-License-Identifier: MIT
"""``nomul estimate``: what a model costs as built (estimated, synthesized, placed), or what
product tables cost by size (``--tables``)."""

from ._common import (
    BUILD_OPTION_NAMES,
    add_build_options,
    build_options,
    level_list,
    output_dir,
    output_file,
    positive_option,
    print_json,
)

__all__ = ["add_parser", "run", "check_options", "print_cost"]


def add_parser(commands):
    from ..hw.families import FAMILIES, TARGETS

    parser = commands.add_parser(
        "estimate", help="LUTs, FFs, block RAMs (and Fmax): estimated, synthesized, placed")
    parser.add_argument("model", nargs="?", help="integer model file (not with --tables)")
    parser.add_argument("--family", default="ice40", choices=tuple(TARGETS),
                        help="an FPGA family, the gate level, or sky130 (SkyWater 130 nm "
                             "standard cells, µm²; --synth only)")
    add_build_options(parser)
    parser.add_argument("--synth", action="store_true",
                        help="synthesize every stage with Yosys (minutes) and report that")
    parser.add_argument("--pnr", action="store_true",
                        help="also place and route ("
                        + ", ".join(f"{name}: {spec.device.key}" for name, spec in
                                    FAMILIES.items() if spec.device) + "): Fmax, fit")
    parser.add_argument("--pnr-seeds", type=positive_option("--pnr-seeds"), metavar="N",
                        help="--pnr: place with seeds 1..N and report the best (default 1; "
                        "the Fmax moves by several MHz from seed to seed)")
    parser.add_argument("--baseline", action="store_true",
                        help="also cost the two multiply-accumulate designs of the same "
                             "network: the codebook baseline (codeword indices, a K-entry "
                             "codebook before the multiplier) and the integer baseline "
                             "(integer weights in the ROM)")
    parser.add_argument("--work-dir", help="keep the Yosys/nextpnr files here")
    parser.add_argument("--tables", action="store_true",
                        help="cost product tables (and a reference layer) by table size")
    parser.add_argument("--act-levels", type=level_list, help="--tables: A values, 2,4,8")
    parser.add_argument("--weight-levels", type=level_list, help="--tables: K values")
    parser.add_argument("--entry-bits", type=positive_option("--entry-bits"),
                        help="--tables: bits per table entry (default 8)")
    parser.add_argument("--inputs", type=positive_option("--inputs"),
                        help="--tables: reference layer inputs (default 64)")
    parser.add_argument("--outputs", type=positive_option("--outputs"),
                        help="--tables: reference layer outputs (default 32)")
    parser.add_argument("--plot", metavar="FILE",
                        help="--tables: plot layer cost (.png, .svg or .pdf)")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run)


MAX_ENTRY_BITS = 40                 # --tables: sizes a user types, bounded before any work
MAX_TABLE_ENTRIES = 1 << 16
MAX_REFERENCE_WEIGHTS = 1 << 16
TABLES_ONLY = ("act_levels", "weight_levels", "entry_bits", "inputs", "outputs", "plot")
PLOT_FORMATS = (".png", ".svg", ".pdf")


def check_options(args):
    """Every option combination of ``nomul estimate`` checked before any work."""
    from ..errors import OptionsError
    from ..hw.families import FAMILIES, family

    spec = family(args.family)
    flags = lambda names: ", ".join(f"--{n.replace('_', '-')}" for n in names)  # noqa: E731
    if not spec.analytical:
        if args.tables or not args.synth:
            raise OptionsError(f"--family {args.family} has no analytical estimate: it needs "
                               "--synth (Yosys)" + (", not --tables" if args.tables else ""))
        if args.target_ii is not None or args.target_throughput is not None:
            raise OptionsError(f"automatic folding chooses by the analytical estimate, which "
                               f"--family {args.family} has not: give --arch, --pe, --simd")
        spec.check_needs()
    if args.tables:
        if args.model is not None:
            raise OptionsError("--tables costs a reference layer of each table size; leave out "
                               "MODEL")
        extra = [n for n in ("synth", "pnr", "pnr_seeds", "baseline") if getattr(args, n)]
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
            output_file(args.plot, "--plot")
        return
    if args.model is None:
        raise OptionsError("give a MODEL, or --tables with --act-levels and --weight-levels")
    given = [n for n in TABLES_ONLY if getattr(args, n) is not None]
    if given:
        raise OptionsError(f"{flags(given)}: only with --tables")
    if args.pnr and FAMILIES[args.family].device is None:
        placed = {name: spec.device.key for name, spec in FAMILIES.items() if spec.device}
        raise OptionsError(f"--pnr places and routes on {' or '.join(placed)} devices "
                           f"({', '.join(placed.values())}); not --family {args.family}")
    if args.pnr_seeds is not None and not args.pnr:
        raise OptionsError("--pnr-seeds goes with --pnr")
    if args.work_dir is not None:
        if not (args.synth or args.pnr):
            raise OptionsError("--work-dir keeps the files of --synth or --pnr; give one")
        output_dir(args.work_dir, "--work-dir")


def run(args):
    check_options(args)
    if args.tables:
        return _estimate_tables(args)
    from .. import api
    from ..hw.cost import cost_report

    model = api.load(args.model)
    report = cost_report(model, build_options(args, model), args.family, synth=args.synth,
                         pnr=args.pnr, pnr_seeds=args.pnr_seeds or 1, baseline=args.baseline,
                         work_dir=args.work_dir)
    if args.json:
        print_json(report)
    else:
        print_cost(report, args.family)
    return 0




def print_cost(report, family):
    from ..hw.cost import DESIGN_LABELS
    from ..hw.families import logic_key

    logic = logic_key(family)
    measured = report["source"] == "yosys"
    designs = [("nomul", report)] + [(name, report[name]) for name in
                                     ("codebook_baseline", "baseline") if name in report]
    area = "area_um2" in report
    for title, design in designs:
        print(f"{DESIGN_LABELS[title]}, {family}, "
              f"{'Yosys' if measured else 'analytical estimate'}"
              + (" (gates: logic cells)" if area else "") + ":")
        header = f"  {'stage':<20} {logic:>8} {'ffs':>7} {'carry':>7} {'brams':>5} " \
                 f"{'dsps':>4} {'mults':>5}"
        if area:
            header += f" {'µm²':>12}"
        print(header + (f"  {'model ' + logic:>11}" if measured and not area else ""))
        for stage in design["stages"] + [{"stage": "total", **design}]:
            line = (f"  {stage['stage']:<20} {stage[logic]:>8} {stage['ffs']:>7} "
                    f"{stage['carry']:>7} {stage['brams']:>5} {stage['dsps']:>4} "
                    f"{stage['multipliers']:>5}")
            if area:
                line += f" {stage['area_um2']:>12.1f}"
            elif measured:
                estimate = stage.get("estimate")
                line += f"  {estimate[logic]:>11}" if estimate else ""
            print(line)
        if area:
            print(f"  area {design['area_um2']:.1f} µm² ({design['area_um2'] / 1e6:.4f} mm²)")
        if "device" in design and not design["fits"]:
            print(f"  {design['device']}: does not fit: {'; '.join(design['short'])}")
        elif design.get("fmax_mhz") is not None:
            used = ", ".join(f"{cell} {u}/{n}" for cell, (u, n) in design["utilization"].items())
            seeds = design.get("fmax_by_seed", {})
            best = f", seed {design['seed']}, the best of " + ", ".join(
                f"{fmax:.1f}" for fmax in seeds.values()) if len(seeds) > 1 else ""
            print(f"  {design['device']}: placed and routed, Fmax {design['fmax_mhz']:.1f} MHz "
                  f"({used}{best})")
            path = design.get("critical_path")
            if path:
                print(f"  critical path: {path['delay_ns']} ns, {path['logic_levels']} logic "
                      f"cells ({path['logic_ns']} ns logic, {path['routing_ns']} ns routing), "
                      f"{' -> '.join(path['stages'])}: {path['from']} -> {path['to']}")
        elif "device" in design:
            print(f"  {design['device']}: fits by these counts")
    if len(designs) > 1:
        _print_comparison(designs, logic)
    if report["multipliers"] == 0:
        print("no multipliers in the nomul design")


def _print_comparison(designs, logic):
    """One table of the designs' totals with nomul's ratio to each (µm² where measured)."""
    from ..hw.cost import DESIGN_LABELS

    nomul = designs[0][1]
    if "area_um2" in nomul:          # (header, width, cell of a design); the ratio of µm²
        columns = [("ffs", 6, lambda d: d["ffs"]),
                   ("µm²", 12, lambda d: f"{d['area_um2']:.1f}"),
                   ("mm²", 8, lambda d: f"{d['area_um2'] / 1e6:.4f}")]
        ratio, ratio_width, places, floor = "area_um2", 10, 3, 1e-9
    else:
        columns = [("ffs", 6, lambda d: d["ffs"]), ("brams", 5, lambda d: d["brams"]),
                   ("dsps", 4, lambda d: d["dsps"]),
                   ("LUT-eq", 7, lambda d: d["lut_equivalents"])]
        ratio, ratio_width, places, floor = "lut_equivalents", 12, 2, 1
    ratio_title = "nomul/" + ("µm²" if ratio == "area_um2" else "LUT-eq")
    print(f"{'design':<55} {logic:>7} "
          + " ".join(f"{title:>{width}}" for title, width, _ in columns)
          + f" {'nomul/' + logic:>11} {ratio_title:>{ratio_width}}")
    for title, design in designs:
        ratios = ("", "") if title == "nomul" else (
            f"{nomul[logic] / max(design[logic], 1):.2f}",
            f"{nomul[ratio] / max(design[ratio], floor):.{places}f}")
        print(f"{DESIGN_LABELS[title]:<55} {design[logic]:>7} "
              + " ".join(f"{cell(design):>{width}}" for _, width, cell in columns)
              + f" {ratios[0]:>11} {ratios[1]:>{ratio_width}}")


def _estimate_tables(args):
    from ..design import LayerOptions
    from ..errors import OptionsError
    from ..hw.cost import table_costs

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
        print_json(rows)
        return 0
    from ..hw.families import logic_key

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

    from ..hw.families import logic_key

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
