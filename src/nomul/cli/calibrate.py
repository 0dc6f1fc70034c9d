# SPDX-License-Identifier: MIT
"""``nomul calibrate FAMILY``: synthesize the estimate's sweeps for one family and refit its
coefficients (``--fit-only``: refit from the CSVs already there, in seconds)."""

import argparse

from ._common import output_dir, positive_option, print_json

__all__ = ["add_parser", "run"]


def _parts(text):
    from ..hw.calibrate import PARTS

    parts = tuple(dict.fromkeys(part.strip() for part in text.split(",")))
    unknown = [part for part in parts if part not in PARTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown part {unknown[0]!r}; choose from "
                                         f"{', '.join(PARTS)}")
    return parts


def add_parser(commands):
    from ..hw.families import FAMILIES

    parser = commands.add_parser(
        "calibrate", help="synthesize a family's estimator sweeps (hours) and refit its "
        "coefficients (--fit-only: seconds)")
    parser.add_argument("family", metavar="FAMILY", choices=tuple(FAMILIES),
                        help=", ".join(FAMILIES))
    parser.add_argument("--fit-only", action="store_true",
                        help="refit from the existing CSVs; no synthesis")
    parser.add_argument("--parts", type=_parts,
                        help="what to synthesize: sweep,check,quantizers,thresholds (default "
                        "all)")
    parser.add_argument("--arch", choices=("unrolled", "folded"),
                        help="synthesize only the layers of this architecture (the CSVs' other "
                        "rows stay); with --parts sweep and/or check")
    parser.add_argument("--jobs", type=positive_option("--jobs"),
                        help="Yosys runs at a time (default 2)")
    parser.add_argument("--data-dir", help="read and write the CSVs and coefficients.json here "
                        "(default: the family's package data folder)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(args):
    from ..errors import OptionsError
    from ..hw.calibrate import PARTS, calibrate, check_calibration

    if args.fit_only:
        given = [flag for flag, value in (("--parts", args.parts), ("--arch", args.arch),
                                          ("--jobs", args.jobs)) if value is not None]
        if given:
            raise OptionsError(f"{', '.join(given)}: only when synthesizing (not with "
                               "--fit-only)")
    options = {"synthesize": not args.fit_only, "parts": args.parts or PARTS,
               "arch": args.arch, "jobs": args.jobs or 2, "data_dir": args.data_dir}
    data_dir = check_calibration(args.family, **options)
    output_dir(data_dir, "--data-dir")
    result = calibrate(args.family, **options)
    if args.json:
        print_json(result)
    else:
        print_summary(result)
    return 0


def print_summary(result):
    """The held-out figures of a :func:`~nomul.hw.calibrate.calibrate` result."""
    family, check = result["family"], result["check"]
    for part, done in result["synthesized"].items():
        failed = f", {done['failed']} Yosys could not count (-1)" if done["failed"] else ""
        print(f"{family} {part}: synthesized {done['points']} points in {done['seconds']:.0f} s"
              f"{failed}")
    for note in result["skipped"]:
        print(f"{family}: skipped {note}")
    print(f"{family}: {check['points']} held-out layers, LUTs within 20 %: "
          f"{check['luts_within_20pct']:.0%}, block RAMs exact: {check['brams_exact']:.0%}, "
          f"median |LUT error| {check['luts_median_abs_error']:.1%}, estimate "
          f"{check['speed_ratio']}x faster than synthesis")
    for style, figures in check["quantizers"].items():
        print(f"  {style} quantizers: LUTs within 20 %: {figures['luts_within_20pct']:.0%} of "
              f"{figures['points']}, median |error| {figures['luts_median_abs_error']:.1%}")
    units = check["thresholds"]
    print(f"  threshold units: LUTs within 20 %: {units['luts_within_20pct']:.0%} of "
          f"{units['points']}, median |error| {units['luts_median_abs_error']:.1%}")
    print(f"wrote {', '.join(result['written'])}")
