# SPDX-License-Identifier: MIT
"""Training from data to an integer model: float baseline, quantized recipe, export, check.

:func:`train` trains the float baseline (same architecture, no quantization), then the
quantized network with the chosen recipe (:mod:`.recipes`), converts it to a
:class:`~nomul.models.export.FloatNetwork`, exports it with F chosen on training samples, and
measures float, float-simulated quantized and integer-reference accuracy on the test split.

Threads: the whole run is limited to :attr:`TrainConfig.threads` BLAS/OpenMP threads (default
1). The matrices are tiny (a batch of 32 against a few dozen units), so a second BLAS thread
costs more in hand-offs than it saves, and on a busy machine its spin-waiting multiplies the CPU
time. The thread count does not change the model file: OpenBLAS splits a matrix product
between threads by rows and columns of the result, not along the summed dimension, so each dot
product is summed in the same order (checked for every recipe over several seeds with 1 and 2
threads; ``tests/models/test_training.py`` compares the files); and the one threaded reduction
whose order did depend on it, scikit-learn's k-means (per-thread partial sums), always runs on
one thread (:mod:`.codebooks`).
"""

import math
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from ...errors import OptionsError
from .. import reference
from ..arch import parse_arch
from ..export import FloatNetwork, FloatWeighted, export, float_forward
from ..spec import Flatten as SpecFlatten
from ..spec import MaxPool as SpecMaxPool
from .network import Activation, Adam, Continuous, Conv, Dense, Flatten, MaxPool, Network
from .recipes import RECIPES, make_recipe

__all__ = ["TrainConfig", "TrainResult", "RECIPE_OPTIONS", "train", "build_network",
           "input_values"]

EXPORT_AGREEMENT = 0.9999   # per-layer integer vs float-simulation agreement when choosing F
EXPORT_MARGIN_BITS = 2      # extra fraction bits beyond that, for samples outside calibration


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (same config and seed, same model file).

    ``threads`` (BLAS/OpenMP threads, default 1) only sets the speed: the file is byte-identical
    whatever its value (see the module docstring). ``weight_codebook`` (default ``kmeans``),
    ``act_codebook`` (default ``uniform``), ``per_layer`` and ``input_levels`` are read by some
    recipes only (:data:`RECIPE_OPTIONS`); :meth:`validate` refuses one given to a recipe that
    would ignore it.
    """

    arch: str
    recipe: str
    act_levels: int
    weight_levels: int | tuple     # K, or one K per weighted layer
    group: int = 1
    seed: int = 0
    epochs: int = 60
    batch: int = 32
    lr: float = 3e-3
    nonlinearity: str = "hard_tanh"
    weight_codebook: str | None = None
    act_codebook: str | None = None
    per_layer: bool = False
    cluster_every: int = 50
    float_epochs: int | None = None
    quantized_lr: float | None = None
    distill: float = 0.9
    input_levels: int | None = None
    input_codebook: str = "kmeans"
    threads: int = 1

    def __post_init__(self):
        if isinstance(self.weight_levels, (list, tuple)):
            levels = tuple(int(k) for k in self.weight_levels)
            object.__setattr__(self, "weight_levels", levels[0] if len(levels) == 1 else levels)

    @property
    def weight_method(self):
        """The weight codebook's fitting method (``weight_codebook``, default ``kmeans``)."""
        return self.weight_codebook or "kmeans"

    @property
    def act_method(self):
        """The activation codebook's fitting method (``act_codebook``, default ``uniform``)."""
        return self.act_codebook or "uniform"

    def codewords(self, position):
        """K of the weighted layer at ``position`` (0 = first)."""
        if isinstance(self.weight_levels, tuple):
            return self.weight_levels[position]
        return self.weight_levels

    def validate(self):
        """Raise :class:`OptionsError` naming the field for anything the run would refuse or
        ignore; cheap, so it runs before any data is loaded."""
        if self.recipe not in RECIPES:
            raise OptionsError(f"unknown recipe {self.recipe!r}; choose from "
                               f"{', '.join(RECIPES)}")
        if self.act_levels < 2:
            raise OptionsError(f"act_levels must be >= 2, not {self.act_levels}")
        levels = self.weight_levels if isinstance(self.weight_levels, tuple) else \
            (self.weight_levels,)
        if min(levels) < 2:
            raise OptionsError(f"weight_levels must be >= 2, not {min(levels)}")
        if self.group < 1:
            raise OptionsError(f"group must be >= 1, not {self.group}")
        if self.group > 1 and self.recipe != "pq":
            raise OptionsError("group > 1 needs the pq recipe (product quantization)")
        if self.epochs < 1:
            raise OptionsError(f"epochs must be >= 1, not {self.epochs}")
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or \
                self.threads < 1:
            raise OptionsError(f"threads must be an integer >= 1, not {self.threads!r}")
        for name in ("weight_codebook", "act_codebook", "per_layer", "input_levels"):
            if getattr(self, name) not in (None, False) and \
                    name not in RECIPE_OPTIONS[self.recipe]:
                raise OptionsError(f"{name} does not apply to the {self.recipe} recipe")


# the optional training fields each recipe reads (the others it would ignore)
RECIPE_OPTIONS = {
    "nmnf": ("weight_codebook", "per_layer"),
    "tbnu": ("weight_codebook", "act_codebook", "input_levels"),
    "wage": (),
    "pq": (),
}


@dataclass(frozen=True, eq=False)
class TrainResult:
    """The integer model, the accuracies on the test split, and the trained networks."""

    model: object
    float_accuracy: float
    quantized_accuracy: float
    int_accuracy: float
    agreement: float
    network: object = None          # the quantized training network (float weights)
    float_network: object = None    # its FloatNetwork (codebooks and levels) used for export


def input_values(spec):
    """Float value of each raw input index: ``raw / max(|raw_min|, raw_max)``."""
    span = max(abs(spec.raw_min), abs(spec.raw_max), 1)
    return (np.arange(spec.levels) + spec.raw_min) / span


def build_network(plans, rng, activation):
    """Training layers for the planned architecture; ``activation(plan)`` makes each one."""
    layers = []
    for position, plan in enumerate(plans):
        if plan.kind == "dense":
            layers.append(Dense(plan.in_shape[0], plan.outputs, rng))
        elif plan.kind == "conv":
            layers.append(Conv(plan.in_shape, plan.outputs, plan.kernel, plan.stride,
                               plan.padding, rng))
        elif plan.kind == "maxpool":
            layers.append(MaxPool(plan.kernel, plan.stride))
        else:
            layers.append(Flatten())
        if plan.kind in ("dense", "conv") and position != len(plans) - 1:
            layers.append(activation(layers[-1]))
    return Network(layers)


def softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    return probs / probs.sum(axis=1, keepdims=True)


def _cross_entropy_grad(logits, targets):
    """Gradient of the mean cross-entropy against ``targets`` (class indices or soft rows)."""
    probs = softmax(logits)
    if targets.ndim == 1:
        probs[np.arange(len(targets)), targets] -= 1.0
    else:
        probs -= targets
    return probs / len(targets)


def fit(network, x, y, *, epochs, batch, lr, rng, on_step=None, progress=None):
    """Adam with cosine learning-rate decay over ``epochs``; ``on_step(step)`` after each.

    ``y`` holds class indices or soft target rows (distillation).
    """
    optimizer = Adam(network.weighted, lr=lr)
    steps_per_epoch = math.ceil(len(y) / batch)
    total = epochs * steps_per_epoch
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), batch):
            chosen = order[start:start + batch]
            logits = network.forward(x[chosen], train=True)
            network.backward(_cross_entropy_grad(logits, y[chosen]))
            optimizer.lr = lr * 0.5 * (1 + math.cos(math.pi * step / total))
            optimizer.step()
            step += 1
            if on_step is not None:
                on_step(step)
        if progress is not None:
            progress()
    return network


def accuracy(network, x, y):
    return float(np.mean(network.forward(x).argmax(axis=1) == y))


def warm_start(network, float_net, x, *, calibrate=True):
    """Copy the float baseline's weights; optionally widen each activation's range.

    With ``calibrate``, each discretized activation gets the scale ``s >= 1`` that maps the
    99th percentile of the float pre-activations (of ``|z|``, or of ``z`` for a non-negative
    non-linearity) to the top of the non-linearity's range, so the A levels cover the values
    that occur; the next weighted layer's weights are divided by ``s`` so that, in the linear
    region, the network computes what the float model did.
    """
    carry = 1.0
    for quantized, trained in zip(network.layers, float_net.layers, strict=True):
        if isinstance(quantized, Dense):
            quantized.weight[...] = trained.weight / carry
            quantized.bias[...] = trained.bias
            carry = 1.0
        elif isinstance(quantized, Activation) and calibrate:
            f = quantized.nonlinearity
            spread = np.abs(x) if f.lo < 0 else np.maximum(x, 0)
            top = float(np.percentile(spread, 99))
            carry = max(1.0, f.hi / top) if top > 0 else 1.0
            quantized.scale *= carry
        x = trained.forward(x)


def _float_network(network, recipe, spec, input_vals):
    """The trained quantized network as a :class:`FloatNetwork` for export."""
    layers = []
    items = network.layers
    for i, layer in enumerate(items):
        if isinstance(layer, Dense):
            codebook, index = recipe.weight_codes(layer)
            following = items[i + 1] if i + 1 < len(items) else None
            act = following if following is not None and hasattr(following, "values") else None
            conv = isinstance(layer, Conv)
            layers.append(FloatWeighted(
                codebook=codebook, weight_index=index, bias=layer.bias.copy(),
                activation=act.nonlinearity.name if act else "argmax",
                out_values=act.values.copy() if act else None,
                scale=act.scale if act else 1.0,
                kernel=layer.kernel if conv else None, stride=layer.stride if conv else None,
                padding=layer.padding if conv else None))
        elif isinstance(layer, MaxPool):
            layers.append(SpecMaxPool(kernel=layer.kernel, stride=layer.stride))
        elif isinstance(layer, Flatten):
            layers.append(SpecFlatten())
    return FloatNetwork(input=spec, input_values=input_vals, layers=tuple(layers))


def train(dataset, config, *, progress=None):
    """Train ``config`` on ``dataset``; returns a :class:`TrainResult` with the integer model.

    ``progress(advance)`` is called once per finished epoch (float and quantized phases).
    Training and export run under ``threadpool_limits(config.threads)`` (process-wide while
    it lasts, restored after).
    """
    config.validate()
    with threadpool_limits(limits=config.threads):
        return _train(dataset, config, progress)


def _train(dataset, config, progress):
    plans = parse_arch(config.arch, dataset.input.shape)
    dataset = dataset.reshaped(plans[0].in_shape)
    weighted = sum(plan.kind in ("dense", "conv") for plan in plans)
    if isinstance(config.weight_levels, tuple) and len(config.weight_levels) != weighted:
        raise OptionsError(f"weight_levels: {len(config.weight_levels)} values for "
                           f"{weighted} weighted layers")
    if plans[-1].outputs != dataset.classes:
        raise OptionsError(f"arch: the last layer has {plans[-1].outputs} outputs, the "
                           f"{dataset.name} dataset has {dataset.classes} classes")
    rng = np.random.default_rng(config.seed)
    values = input_values(dataset.input) if dataset.input_values is None else \
        np.asarray(dataset.input_values, dtype=np.float64)
    x_train = values[_indices(dataset.input, dataset.x_train)]
    x_test = values[_indices(dataset.input, dataset.x_test)]
    float_net = build_network(plans, np.random.default_rng(config.seed),
                              lambda layer: Continuous(config.nonlinearity))
    fit(float_net, x_train, dataset.y_train, epochs=config.float_epochs or config.epochs,
        batch=config.batch, lr=config.lr, rng=np.random.default_rng(config.seed + 1),
        progress=progress)
    float_accuracy = accuracy(float_net, x_test, dataset.y_test)

    recipe = make_recipe(config, dataset, plans)
    spec, input_vals = recipe.input_quantizer(dataset.input, values, dataset.x_train)
    q_train = input_vals[_indices(spec, dataset.x_train)]
    network = build_network(plans, np.random.default_rng(config.seed), recipe.activation)
    warm_start(network, float_net, x_train, calibrate=recipe.calibrates_scale)
    recipe.attach(network, q_train)
    targets = np.eye(dataset.classes)[dataset.y_train]
    if config.distill:      # soft targets: half the labels, half the float model's beliefs
        targets = (1 - config.distill) * targets + config.distill * softmax(
            float_net.forward(x_train))
    fit(network, q_train, targets, epochs=config.epochs, batch=config.batch,
        lr=config.quantized_lr or config.lr, rng=rng,
        on_step=lambda step: recipe.on_step(network, step, q_train), progress=progress)
    recipe.finish(network, q_train)

    float_model = _float_network(network, recipe, spec, input_vals)
    calibration = dataset.x_train[:1024]
    meta = {"recipe": config.recipe, "seed": config.seed, "arch": config.arch,
            "dataset": dataset.describe(), "act_levels": config.act_levels,
            "weight_levels": config.weight_levels, "input_levels": spec.levels,
            "group": config.group,
            "nonlinearity": config.nonlinearity}
    model = export(float_model, calibration=calibration, agreement=EXPORT_AGREEMENT,
                   margin_bits=EXPORT_MARGIN_BITS, meta=meta)
    quantized_pred = float_forward(float_model, dataset.x_test)
    int_pred = reference.run(model, dataset.x_test)
    result_meta = {"float_accuracy": float_accuracy,
                   "quantized_accuracy": float(np.mean(quantized_pred == dataset.y_test)),
                   "int_accuracy": float(np.mean(int_pred == dataset.y_test)),
                   "agreement": float(np.mean(int_pred == quantized_pred))}
    model = type(model)(input=model.input, layers=model.layers,
                        meta={**model.meta, "accuracy": result_meta})
    return TrainResult(model=model, network=network, float_network=float_model, **result_meta)


def _indices(spec, raw):
    return reference.quantize_input(spec, raw)
