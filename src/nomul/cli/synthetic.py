# SPDX-License-Identifier: MIT
"""``nomul random``: a random integer model from fixed-seed codebooks (for trying the flow)."""

from ._common import levels, output_file, positive, print_json

__all__ = ["add_parser", "run"]


def add_parser(commands):
    parser = commands.add_parser(
        "random", help="a random integer model from fixed-seed codebooks (smoke tests, demos)")
    parser.add_argument("--arch", default="64-64-32-10", help="architecture (default %(default)s)")
    parser.add_argument("--input-shape",
                        help="e.g. 64, 1x40, 1x8x8: must be the first token of --arch")
    parser.add_argument("--raw-min", type=int, default=0)
    parser.add_argument("--raw-max", type=int, default=16)
    parser.add_argument("--act-levels", type=levels, default=4)
    parser.add_argument("--weight-levels", type=levels, default=8)
    parser.add_argument("--group", type=positive, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", required=True, help="model file to write")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run)


def run(args):
    from .. import api
    from ..errors import OptionsError
    from ..models.arch import parse_input_shape
    from ..models.spec import InputSpec
    from ..models.synthetic import random_model

    output_file(args.output, "-o")
    shape = parse_input_shape(args.arch.split("-", 1)[0])
    given = args.input_shape
    if given is not None and parse_input_shape(given, "--input-shape") != shape:
        raise OptionsError(f"--input-shape {given} does not match the input "
                           f"{'x'.join(map(str, shape))} of --arch {args.arch}; the first token "
                           f"of --arch is the input shape")
    spec = InputSpec(shape=shape, raw_min=args.raw_min, raw_max=args.raw_max)
    model = random_model(args.arch, spec, act_levels=args.act_levels,
                         weight_levels=args.weight_levels, group=args.group, seed=args.seed)
    api.save(model, args.output)
    if args.json:
        print_json({"model": str(args.output)})
    else:
        print(f"wrote {args.output}")
    return 0
