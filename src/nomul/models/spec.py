# SPDX-License-Identifier: MIT
"""The integer model: frozen, validated dataclasses (the single source of truth).

A network is a chain of layers over tensors of *activation indices*; see docs/architecture.md for
the exact semantics. Every class validates itself on construction and raises
:class:`~nomul.errors.ModelError` naming the offending field. Arrays are converted to read-only
``int64`` numpy arrays; metadata must be JSON (no NaN, no infinities).

Tensor layout is channels first: ``(N,)`` for vectors, ``(C, L)`` for 1-D signals and
``(C, H, W)`` for images. A convolution's fan-in is ordered tap-major, channel-minor:
``(ky, kx, c_in)`` in C order, so a group of ``d`` consecutive inputs with ``d`` dividing
``C_in`` lies at one spatial tap (a padded tap then pads whole groups).
A group address is little-endian mixed radix: ``sum(i_j * A_in**j)`` over the group's
inputs ``j = 0..d-1`` (input 0 in the least significant digit).
"""

from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelError

__all__ = [
    "LIMITS",
    "InputSpec",
    "Activation",
    "Dense",
    "Conv",
    "MaxPool",
    "Flatten",
    "IntegerModel",
    "Layer",
    "WeightedLayer",
    "WeightlessLayer",
    "KINDS",
    "table_rows",
    "check_weighted_shapes",
    "check_threshold_shape",
    "check_input_thresholds_shape",
    "json_too_deep",
]


from .fields import (
    ACTIVATION_KINDS,
    LIMITS,
    QUANTIZER_KINDS,
    check_input_thresholds_shape,
    check_threshold_shape,
    check_weighted_shapes,
    json_too_deep,
    table_rows,
)
from .fields import ascending as _ascending
from .fields import int_array as _int_array
from .fields import int_tuple as _int_tuple
from .fields import json_meta as _json_meta
from .fields import product as _product
from .kinds import KINDS, WeightlessLayer
from .kinds.flatten import Flatten
from .kinds.maxpool import MaxPool


@dataclass(frozen=True, eq=False)
class InputSpec:
    """The raw sensor samples and the quantizer that turns them into activation indices.

    ``identity``: index = raw - raw_min (e.g. 8x8 digits pixels 0..16 are their own index);
    ``thresholds``: index = number of thresholds t with raw >= t, the thresholds ``int[T]``
    shared by every input element or ``int[E][T]`` one row per element (``E`` = the elements
    of ``shape`` in C order: features of different ranges and units onto the same levels).
    """

    shape: tuple
    raw_min: int
    raw_max: int
    quantizer: str = "identity"
    thresholds: np.ndarray | None = None

    def __post_init__(self):
        shape = _int_tuple(self.shape, "input.shape")
        if not 1 <= len(shape) <= 3:
            raise ModelError(f"input.shape: must have 1 to 3 dimensions, not {shape}")
        if _product(shape) > LIMITS.elements:
            raise ModelError(f"input.shape: {shape} has more than {LIMITS.elements} elements")
        object.__setattr__(self, "shape", shape)
        for name in ("raw_min", "raw_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ModelError(f"input.{name}: must be an integer, not {value!r}")
            if abs(int(value)) > LIMITS.raw_abs:
                raise ModelError(f"input.{name}: {int(value)} exceeds the limit {LIMITS.raw_abs}")
            object.__setattr__(self, name, int(value))
        if self.raw_min > self.raw_max:
            raise ModelError(f"input.raw_min: {self.raw_min} is above raw_max {self.raw_max}")
        if self.quantizer not in QUANTIZER_KINDS:
            raise ModelError(f"input.quantizer: must be one of {QUANTIZER_KINDS}, "
                             f"not {self.quantizer!r}")
        if self.quantizer == "identity":
            if self.thresholds is not None:
                raise ModelError("input.thresholds: given for an identity quantizer")
            if self.levels > LIMITS.levels:
                raise ModelError(f"input.raw_max: identity quantizer with {self.levels} levels "
                                 f"exceeds the limit {LIMITS.levels}")
        else:
            if self.thresholds is None:
                raise ModelError("input.thresholds: missing for a thresholds quantizer")
            check_input_thresholds_shape(np.shape(self.thresholds), _product(shape))
            thresholds = _int_array(self.thresholds, "input.thresholds",
                                    ndim=np.ndim(self.thresholds),
                                    lo=-LIMITS.threshold_abs, hi=LIMITS.threshold_abs)
            _ascending(thresholds, "input.thresholds")
            object.__setattr__(self, "thresholds", thresholds)

    @property
    def levels(self):
        """Number of activation levels the quantizer produces."""
        if self.quantizer == "identity":
            return self.raw_max - self.raw_min + 1
        return int(self.thresholds.shape[-1]) + 1

    @property
    def per_feature(self):
        """True when every input element has thresholds of its own."""
        return self.thresholds is not None and self.thresholds.ndim == 2

    @property
    def elements(self):
        return _product(self.shape)

    @property
    def signed(self):
        return self.raw_min < 0


@dataclass(frozen=True, eq=False)
class Activation:
    """What a weighted layer emits from its accumulators.

    ``thresholds``: index = number of thresholds t with acc >= t (a value equal to a threshold
    goes up); thresholds are int[A_out-1] shared by all outputs or int[outputs][A_out-1].
    ``argmax``: the lowest index of the largest accumulator (final classifier).
    ``raw``: the accumulators themselves.
    """

    kind: str
    thresholds: np.ndarray | None = None

    def __post_init__(self):
        if self.kind not in ACTIVATION_KINDS:
            raise ModelError(f"activation: must be one of {ACTIVATION_KINDS}, not {self.kind!r}")
        if self.kind != "thresholds":
            if self.thresholds is not None:
                raise ModelError(f"thresholds: given for a {self.kind} activation")
            return
        if self.thresholds is None:
            raise ModelError("thresholds: missing for a thresholds activation")
        check_threshold_shape(np.shape(self.thresholds), "thresholds")
        thresholds = _int_array(self.thresholds, "thresholds", ndim=(1, 2),
                                lo=-LIMITS.threshold_abs, hi=LIMITS.threshold_abs)
        _ascending(thresholds, "thresholds")
        object.__setattr__(self, "thresholds", thresholds)

    @property
    def out_levels(self):
        """Levels of the emitted indices (None for ``raw``, which emits accumulators)."""
        if self.kind == "thresholds":
            return int(self.thresholds.shape[-1]) + 1
        return None

    @property
    def per_output(self):
        return self.kind == "thresholds" and self.thresholds.ndim == 2


@dataclass(frozen=True, eq=False)
class WeightedLayer:
    """Fields shared by dense and convolution layers (see docs/architecture.md).

    ``table[address][k]`` is the product of group address ``address`` (of ``group`` inputs with
    ``in_levels`` levels each) and codeword ``k``; ``weight_index[o][g]`` picks the codeword of
    output (channel) ``o`` and input group ``g``; ``bias[o]`` is in accumulator units.
    """

    in_levels: int
    group: int
    table: np.ndarray
    weight_index: np.ndarray
    bias: np.ndarray
    activation: Activation
    meta: dict = field(default_factory=dict)

    def _validate_weights(self):
        in_levels, group, rows = table_rows(self.in_levels, self.group)
        object.__setattr__(self, "in_levels", in_levels)
        object.__setattr__(self, "group", group)
        if not isinstance(self.activation, Activation):
            raise ModelError(f"activation: must be an Activation, not {self.activation!r}")
        table, index, bias = (np.asarray(v) for v in (self.table, self.weight_index, self.bias))
        check_weighted_shapes(rows, group, table.shape, index.shape, bias.shape)   # before int64
        if self.activation.thresholds is not None:
            check_threshold_shape(self.activation.thresholds.shape, "thresholds",
                                  outputs=index.shape[0])
        table = _int_array(table, "table", ndim=2, lo=-LIMITS.table_abs, hi=LIMITS.table_abs)
        object.__setattr__(self, "table", table)
        index = _int_array(index, "weight_index", ndim=2)
        if index.min() < 0 or index.max() >= self.n_codewords:
            bad = int(index.min()) if index.min() < 0 else int(index.max())
            raise ModelError(f"weight_index: value {bad} out of range for "
                             f"{self.n_codewords} codewords")
        object.__setattr__(self, "weight_index", index)
        bias = _int_array(bias, "bias", ndim=1, lo=-LIMITS.bias_abs, hi=LIMITS.bias_abs)
        object.__setattr__(self, "bias", bias)
        object.__setattr__(self, "meta", _json_meta(self.meta, "meta"))

    @property
    def n_codewords(self):
        """K: the number of weight codewords (table columns)."""
        return int(self.table.shape[1])

    @property
    def table_rows(self):
        return int(self.table.shape[0])

    @property
    def out_channels(self):
        return int(self.weight_index.shape[0])

    @property
    def n_groups(self):
        return int(self.weight_index.shape[1])

    @property
    def fan_in(self):
        """Inputs that feed one output (a conv output's patch size)."""
        return self.n_groups * self.group

    @property
    def out_levels(self):
        return self.activation.out_levels


@dataclass(frozen=True, eq=False)
class Dense(WeightedLayer):
    """Fully connected layer over a 1-D index tensor; fan-in = the input length."""

    kind = "dense"

    def __post_init__(self):
        self._validate_weights()

    def output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ModelError(f"dense: input shape {input_shape} is not 1-D (add a flatten layer)")
        if input_shape[0] != self.fan_in:
            raise ModelError(f"weight_index: fan-in {self.fan_in} (= {self.n_groups} groups x "
                             f"{self.group}) does not match the input length {input_shape[0]}")
        return (self.out_channels,)


@dataclass(frozen=True, eq=False)
class Conv(WeightedLayer):
    """1-D or 2-D convolution (``len(kernel)`` spatial dims), zero-contribution padding.

    Output length per spatial dim: ``(size + 2*padding - kernel) // stride + 1``.
    """

    kernel: tuple = (1,)
    stride: tuple | None = None
    padding: tuple | None = None

    def __post_init__(self):
        self._validate_weights()
        kernel = _int_tuple(self.kernel, "kernel")
        if len(kernel) not in (1, 2):
            raise ModelError(f"kernel: must have 1 or 2 dimensions, not {kernel}")
        dims = len(kernel)
        stride = _int_tuple(self.stride if self.stride is not None else (1,) * dims, "stride",
                            length=dims)
        padding = _int_tuple(self.padding if self.padding is not None else (0,) * dims,
                             "padding", length=dims, minimum=0)
        for name, value in (("kernel", kernel), ("stride", stride), ("padding", padding)):
            object.__setattr__(self, name, value)
        taps = _product(kernel)
        if self.fan_in % taps:
            raise ModelError(f"weight_index: fan-in {self.fan_in} is not a multiple of the "
                             f"kernel's {taps} taps")
        if any(p >= k for p, k in zip(padding, kernel, strict=True)):
            raise ModelError(f"padding: {padding} must be smaller than the kernel {kernel}")
        if any(padding) and self.group > 1 and self.in_channels % self.group:
            raise ModelError(f"group: {self.group} must divide the {self.in_channels} input "
                             f"channels of a padded convolution")

    @property
    def kind(self):
        return f"conv{len(self.kernel)}d"

    @property
    def in_channels(self):
        return self.fan_in // _product(self.kernel)

    def output_shape(self, input_shape):
        dims = len(self.kernel)
        if len(input_shape) != dims + 1:
            raise ModelError(f"{self.kind}: input shape {input_shape} is not (channels, "
                             f"{dims} spatial dims)")
        if input_shape[0] != self.in_channels:
            raise ModelError(f"{self.kind}: expects {self.in_channels} input channels, "
                             f"the input has {input_shape[0]}")
        spatial = []
        for size, k, s, p in zip(input_shape[1:], self.kernel, self.stride, self.padding,
                                 strict=True):
            if size + 2 * p < k:
                raise ModelError(f"{self.kind}: kernel {self.kernel} larger than the padded "
                                 f"input {input_shape[1:]}")
            spatial.append((size + 2 * p - k) // s + 1)
        return (self.out_channels, *spatial)


Layer = Dense | Conv | WeightlessLayer


def _model_arrays(spec, layers):
    """Every integer array of a model: input thresholds, then each layer's."""
    if spec.thresholds is not None:
        yield spec.thresholds
    for layer in layers:
        if isinstance(layer, WeightedLayer):
            yield from (layer.table, layer.weight_index, layer.bias)
            if layer.activation.thresholds is not None:
                yield layer.activation.thresholds


@dataclass(frozen=True, eq=False)
class IntegerModel:
    """A whole integer network: input spec, layers, metadata. Validates that layers chain.

    Every layer but the last must emit indices (``thresholds``, or a weightless layer); the last
    layer is a weighted layer with ``argmax`` (dense only), ``raw`` or ``thresholds``
    (saturated outputs: each output's count of thresholds met). Each weighted layer's
    ``in_levels`` equals the levels of the tensor it reads.
    """

    input: InputSpec
    layers: tuple
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.input, InputSpec):
            raise ModelError(f"input: must be an InputSpec, not {type(self.input).__name__}")
        layers = tuple(self.layers)
        if not 1 <= len(layers) <= LIMITS.layers:
            raise ModelError(f"layers: need 1 to {LIMITS.layers} layers, not {len(layers)}")
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "meta", _json_meta(self.meta, "meta"))
        shapes, levels = [self.input.shape], [self.input.levels]
        for position, layer in enumerate(layers):
            where = f"layers[{position}]"
            if not isinstance(layer, (Dense, Conv, WeightlessLayer)):
                raise ModelError(f"{where}: not a layer ({type(layer).__name__})")
            last = position == len(layers) - 1
            try:
                shape = layer.output_shape(shapes[-1])
            except ModelError as error:
                raise ModelError(f"{where}.{error}") from None
            if _product(shape) > LIMITS.elements:
                raise ModelError(f"{where}: output shape {shape} has more than "
                                 f"{LIMITS.elements} elements")
            if isinstance(layer, WeightedLayer):
                if layer.in_levels != levels[-1]:
                    raise ModelError(f"{where}.in_levels: {layer.in_levels} does not match the "
                                     f"{levels[-1]} levels of its input")
                kind = layer.activation.kind
                if not last and kind != "thresholds":
                    raise ModelError(f"{where}.activation: only the last layer may be {kind}")
                if kind == "argmax" and not isinstance(layer, Dense):
                    raise ModelError(f"{where}.activation: argmax needs a dense layer")
                if kind == "argmax" and layer.out_channels < 2:
                    raise ModelError(f"{where}.activation: argmax over one output always "
                                     f"answers 0; a classifier needs at least 2 outputs")
                levels.append(layer.out_levels)
            else:
                if last:
                    raise ModelError(f"{where}: the last layer must be dense or conv "
                                     f"(argmax, raw or thresholds), not {layer.kind}")
                levels.append(levels[-1])
            shapes.append(shape)
        entries = sum(array.size for array in _model_arrays(self.input, layers))
        if entries * 8 > LIMITS.array_bytes:
            raise ModelError(f"layers: the arrays hold {entries * 8} bytes as int64, more than "
                             f"the limit {LIMITS.array_bytes}")
        object.__setattr__(self, "_shapes", tuple(shapes))
        object.__setattr__(self, "_levels", tuple(levels))

    @property
    def shapes(self):
        """Tensor shapes: the input's, then each layer's output."""
        return self._shapes

    @property
    def levels(self):
        """Activation levels of each tensor (None for the raw accumulator output)."""
        return self._levels

    @property
    def output(self):
        """``argmax`` (a class index), ``raw`` (accumulators) or ``thresholds`` (indices)."""
        return self.layers[-1].activation.kind

    @property
    def n_classes(self):
        return _product(self.shapes[-1])
