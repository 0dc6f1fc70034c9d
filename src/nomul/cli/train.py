# SPDX-License-Identifier: MIT
"""``nomul train``: the float baseline and the quantized network, exported as an integer model."""

from ._common import add_data_options, fmt_bits, output_file, print_json, weight_levels

__all__ = ["add_parser", "run", "DEFAULT_ARCH", "DEFAULT_NONLINEARITY", "DEFAULT_EPOCHS"]

DEFAULT_ARCH = {"digits": "64-64-32-10", "mnist1d": "1x40-c32k5p2-m2-c32k3p1-m2-64-10",
                "mnist": "1x28x28-c8k3p1-m2-c16k3p1-m2-64-10"}
DATA_FILE = "data file"                  # the key of --data's defaults (its arch: F-64-32-C)
DEFAULT_NONLINEARITY = {"digits": "clipped_relu", "mnist1d": "relu6", "mnist": "relu6",
                        DATA_FILE: "clipped_relu"}
DEFAULT_EPOCHS = {"digits": 60, "mnist1d": 40, "mnist": 15, DATA_FILE: 60}


def _default_arch(args, dataset):
    """The bundled dataset's default, or F-64-32-C for a data file of F features."""
    from ..errors import OptionsError

    if dataset is None:
        return DEFAULT_ARCH[args.dataset]
    if len(dataset.input.shape) != 1:
        raise OptionsError(f"--data {args.data}: samples of shape {dataset.input.shape}; give "
                           f"--arch (e.g. {'x'.join(map(str, dataset.input.shape))}-c8k3p1-..."
                           f"-{dataset.classes})")
    return f"{dataset.input.shape[0]}-64-32-{dataset.classes}"


def add_parser(commands):
    parser = commands.add_parser("train",
                                 help="train a quantized network, export its integer model")
    add_data_options(parser, required=True, help_dataset="a bundled dataset")
    parser.add_argument("--arch", help="architecture, e.g. 64-64-32-10 or "
                        "1x40-c16k5p2-m2-32-10 (default per dataset; a data file of F "
                        "features and C classes: F-64-32-C)")
    parser.add_argument("--recipe", required=True, help="nmnf, tbnu, wage or pq")
    parser.add_argument("--act-levels", type=int, required=True, help="activation levels A")
    parser.add_argument("--weight-levels", type=weight_levels, required=True,
                        help="weight codewords K, or one K per weighted layer (4,8,8,8)")
    parser.add_argument("--input-levels", type=int,
                        help="tbnu: levels of the input quantizer (default: --act-levels); "
                        "--data: levels of each feature's own thresholds (default: the "
                        "integer codes themselves when they span at most 32, else 16)")
    parser.add_argument("--group", type=int, default=1, help="product-quantization group d (pq)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, help="epochs (default per dataset)")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS/OpenMP threads while training (default 1: these matrices "
                        "are small; any count gives the same model file)")
    parser.add_argument("--nonlinearity",
                        help="clipped_relu, relu6, hard_tanh or tanh (default per dataset: "
                        "digits clipped_relu, mnist1d relu6)")
    parser.add_argument("--weight-codebook",
                        help="nmnf, tbnu: uniform, laplace, gaussian, kmeans or quantile "
                        "(default kmeans; nmnf: kmeans or laplace)")
    parser.add_argument("--act-codebook", help="tbnu: as --weight-codebook (default uniform)")
    parser.add_argument("--per-layer", action="store_true", help="nmnf: one codebook per layer")
    parser.add_argument("-o", "--output", required=True, help="model file to write")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run)


def run(args):
    from .. import api
    from ..models.info import model_info
    from ..models.training.trainer import TrainConfig
    from ..progress import step

    output_file(args.output, "-o")
    key = args.dataset or DATA_FILE
    if args.data is not None:            # the file is read and checked before training
        from ..models.datafile import load_data

        dataset = load_data(args.data, input_levels=args.input_levels)
    config = TrainConfig(
        arch=args.arch or _default_arch(args, dataset if args.data else None), recipe=args.recipe,
        act_levels=args.act_levels, weight_levels=args.weight_levels, group=args.group,
        seed=args.seed, epochs=args.epochs or DEFAULT_EPOCHS[key],
        nonlinearity=args.nonlinearity or DEFAULT_NONLINEARITY[key],
        weight_codebook=args.weight_codebook, act_codebook=args.act_codebook,
        per_layer=args.per_layer, threads=args.threads,
        input_levels=None if args.data is not None else args.input_levels)   # --data: its own
    config.validate()                    # every option checked before the data is loaded
    if args.data is None:
        dataset = api.load_dataset(args.dataset)
    with step(f"training {config.recipe} on {dataset.name}", total=2 * config.epochs) \
            as advance:
        result = api.train(dataset, config, progress=advance)
    api.save(result.model, args.output)
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
        print_json(report)
        return 0
    print(f"float model accuracy:       {100 * result.float_accuracy:6.2f} %")
    print(f"quantized (float-sim):      {100 * result.quantized_accuracy:6.2f} %")
    print(f"integer reference:          {100 * result.int_accuracy:6.2f} %  "
          f"(agreement with float-sim {100 * result.agreement:.2f} %)")
    print(f"table entries: {report['table_entries']} (largest table "
          f"{report['max_table_entries']}); memory {fmt_bits(report['memory_bits'])} vs "
          f"float32 {fmt_bits(report['float32_bits'])}")
    print(f"wrote {args.output}")
    return 0
