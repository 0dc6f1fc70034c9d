# SPDX-License-Identifier: MIT
"""``nomul eval MODEL``: the integer model's accuracy on its dataset's test split."""

from ._common import DATASET_NAMES, add_data_options, add_model_command, print_json

__all__ = ["add_parser", "run", "dataset_of"]


def add_parser(commands):
    parser = add_model_command(commands, "eval", "integer-model accuracy on the test split",
                               build=False, run=run)
    add_data_options(parser, required=False,
                     help_dataset="override the dataset recorded in the model")


def dataset_of(args, model):
    """``(name, dataset)``: the data file ``--data`` gives, the dataset ``--dataset`` names or
    the one the model records, its samples read as the model's input shape."""
    import sys

    from .. import api
    from ..errors import OptionsError
    from ..models.datafile import load_data

    recorded = model.meta.get("dataset") or {}
    if args.data is not None:
        dataset = load_data(args.data, model=model)
        trained_on = recorded.get("sha256")
        if trained_on is not None and trained_on != dataset.source.sha256:
            print(f"note: {args.data} is not the file the model was trained on "
                  f"({recorded.get('file')}); its samples get the model's stored scaling",
                  file=sys.stderr)
        return dataset.name, dataset.reshaped(model.input.shape)
    if args.dataset is None and "sha256" in recorded:
        raise OptionsError(f"{args.model}: trained on the data file {recorded.get('file')}; "
                           f"pass --data FILE")
    name = args.dataset or recorded.get("name")
    if name is None:
        raise OptionsError(f"{args.model}: no dataset recorded in the model; pass --dataset "
                           f"or --data")
    if args.dataset is None and name not in DATASET_NAMES:
        raise OptionsError(f"{args.model}: trained on {name!r}, not a bundled dataset; pass "
                           f"--data FILE with its samples (or --dataset)")
    return name, api.load_dataset(name).reshaped(model.input.shape)


def run(args):
    import numpy as np

    from .. import api

    model = api.load(args.model)
    name, dataset = dataset_of(args, model)
    accuracy = float(np.mean(api.reference(model, dataset.x_test) == dataset.y_test))
    if args.json:
        print_json({"accuracy": accuracy, "dataset": name, "samples": len(dataset.y_test)})
    else:
        print(f"{name} test split, {len(dataset.y_test)} samples: integer accuracy "
              f"{100 * accuracy:.2f} %")
    return 0
