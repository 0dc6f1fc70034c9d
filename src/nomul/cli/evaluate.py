# SPDX-License-Identifier: MIT
"""``nomul eval MODEL``: the integer model's accuracy on its dataset's test split."""

from ._common import add_model_command, print_json

__all__ = ["add_parser", "run", "dataset_of"]


def add_parser(commands):
    parser = add_model_command(commands, "eval", "integer-model accuracy on the test split",
                               build=False, run=run)
    parser.add_argument("--dataset", choices=("digits", "mnist1d"),
                        help="override the dataset recorded in the model")


def dataset_of(args, model):
    """``(name, dataset)``: the dataset ``--dataset`` names or the model records, its samples
    read as the model's input shape."""
    from .. import api
    from ..errors import OptionsError

    name = args.dataset or model.meta.get("dataset", {}).get("name")
    if name is None:
        raise OptionsError(f"{args.model}: no dataset recorded in the model; pass --dataset")
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
