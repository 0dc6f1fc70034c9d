# SPDX-License-Identifier: MIT
"""The integer model: frozen, validated dataclasses (the single source of truth).

A network is a chain of layers over tensors of *activation indices*; see ARCHITECTURE.md for
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

import json
import math
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
    "table_rows",
    "check_weighted_shapes",
    "check_threshold_shape",
    "json_too_deep",
]


@dataclass(frozen=True)
class _Limits:
    """Sanity limits: anything past these is a corrupt or hostile file, not a real network."""

    layers: int = 256
    levels: int = 1 << 16          # activation levels of any tensor (and input identity range)
    table_rows: int = 1 << 20      # A_in ** d
    codewords: int = 1 << 16       # K
    fan_in: int = 1 << 20          # inputs per output
    elements: int = 1 << 24        # elements of any tensor
    weights: int = 1 << 24         # weight-index entries of one layer (int64: array_bytes)
    table_abs: int = 1 << 40       # |table entry|: fan_in * table_abs + bias_abs < 2**63
    bias_abs: int = 1 << 50
    threshold_abs: int = 1 << 62
    raw_abs: int = 1 << 31         # |raw input value|
    # A model file is read within these (so a small hostile file costs at most a few hundred
    # MB: the int64 arrays, one narrower copy as stored, and the parsed header).
    header_bytes: int = 1 << 22    # the model file's JSON header
    json_depth: int = 64           # nesting of metadata (lists and objects)
    array_bytes: int = 1 << 27     # int64 bytes of one array, and of all arrays of a model
    file_bytes: int = 1 << 28      # a model file (array_bytes + header_bytes, with room)
    zip_directory_bytes: int = 1 << 20   # a model file's zip central directory


LIMITS = _Limits()

ACTIVATION_KINDS = ("thresholds", "argmax", "raw")
QUANTIZER_KINDS = ("identity", "thresholds")


def _int_array(value, name, *, ndim=None, lo=None, hi=None):
    """Convert to a read-only int64 array, rejecting floats, objects, NaN and out-of-range.

    The dtype, the number of dimensions and the size are checked before anything is converted,
    so a huge array is refused before its int64 copy is made.
    """
    array = np.asarray(value)
    if array.dtype == np.bool_ or array.dtype.kind not in "iu":
        if array.dtype.kind == "f" and array.size and not np.all(np.isfinite(array)):
            raise ModelError(f"{name}: contains NaN or infinity (dtype {array.dtype})")
        if array.dtype.kind == "f" and array.size == 0:
            array = array.astype(np.int64)
        else:
            raise ModelError(f"{name}: must hold integers, not dtype {array.dtype}")
    if ndim is not None:
        _check_ndim(array.shape, name, ndim)
    if array.size > LIMITS.array_bytes // 8:
        raise ModelError(f"{name}: {array.size} entries exceed the limit "
                         f"{LIMITS.array_bytes // 8}")
    if array.dtype == np.uint64 and array.size and array.max() > np.iinfo(np.int64).max:
        raise ModelError(f"{name}: value {int(array.max())} does not fit int64")
    array = np.array(array, dtype=np.int64, copy=True)
    if array.size:
        if lo is not None and array.min() < lo:
            raise ModelError(f"{name}: value {int(array.min())} is below the minimum {lo}")
        if hi is not None and array.max() > hi:
            raise ModelError(f"{name}: value {int(array.max())} is above the maximum {hi}")
    array.setflags(write=False)
    return array


def _check_ndim(shape, name, ndim):
    if len(shape) not in ((ndim,) if isinstance(ndim, int) else ndim):
        raise ModelError(f"{name}: must have {ndim} dimension(s), not shape {tuple(shape)}")


def table_rows(in_levels, group):
    """Validated ``(in_levels, group, in_levels ** group)`` of a weighted layer.

    Raises :class:`ModelError` naming ``in_levels``, ``group`` or ``table`` (too many rows).
    """
    in_levels = _positive_int(in_levels, "in_levels", minimum=2, limit=LIMITS.levels)
    group = _positive_int(group, "group", limit=64)
    rows = in_levels ** group
    if rows > LIMITS.table_rows:
        raise ModelError(f"table: {in_levels}**{group} = {rows} rows exceeds the limit "
                         f"{LIMITS.table_rows}")
    return in_levels, group, rows


def check_weighted_shapes(rows, group, table, weight_index, bias):
    """The shape rules of a weighted layer's arrays, on shapes alone (nothing is converted).

    Parameters
    ----------
    rows, group : int
        Table rows ``in_levels ** group`` and the group, from :func:`table_rows`.
    table, weight_index, bias : tuple of int
        The arrays' shapes: ``(rows, K)`` with ``2 <= K <= LIMITS.codewords``, ``(M, G)``
        within ``LIMITS.weights``, ``LIMITS.fan_in`` and ``LIMITS.elements``, and ``(M,)``.

    Raises
    ------
    ModelError
        Naming ``table``, ``weight_index`` or ``bias``.
    """
    table, weight_index, bias = tuple(table), tuple(weight_index), tuple(bias)
    _check_ndim(table, "table", 2)
    if table[0] != rows:
        raise ModelError(f"table: has {table[0]} rows, expected in_levels**group = {rows}")
    if not 2 <= table[1] <= LIMITS.codewords:
        raise ModelError(f"table: needs 2 to {LIMITS.codewords} codeword columns, "
                         f"not {table[1]}")
    _check_ndim(weight_index, "weight_index", 2)
    outputs, groups = weight_index
    if outputs < 1 or groups < 1:
        raise ModelError(f"weight_index: empty shape {weight_index}")
    if outputs * groups > LIMITS.weights:
        raise ModelError(f"weight_index: {outputs * groups} entries exceed the limit "
                         f"{LIMITS.weights}")
    if groups * group > LIMITS.fan_in:
        raise ModelError(f"weight_index: fan-in {groups * group} exceeds the limit "
                         f"{LIMITS.fan_in}")
    if outputs > LIMITS.elements:
        raise ModelError(f"weight_index: {outputs} outputs exceed the limit {LIMITS.elements}")
    _check_ndim(bias, "bias", 1)
    if bias[0] != outputs:
        raise ModelError(f"bias: has {bias[0]} entries for {outputs} outputs")


def check_threshold_shape(shape, name, *, per_output=True, outputs=None):
    """Thresholds ``(T,)``, or ``(M, T)`` when ``per_output``, with ``1 <= T < LIMITS.levels``.

    ``outputs`` (``M``), when known, must match the rows of per-output thresholds. Shapes
    only: raises :class:`ModelError` naming ``name`` before any data is converted.
    """
    shape = tuple(shape)
    _check_ndim(shape, name, (1, 2) if per_output else 1)
    if not 1 <= shape[-1] < LIMITS.levels:
        raise ModelError(f"{name}: need 1 to {LIMITS.levels - 1} thresholds per output, "
                         f"not shape {shape}")
    if outputs is not None and len(shape) == 2 and shape[0] != outputs:
        raise ModelError(f"{name}: per-output thresholds have {shape[0]} rows for "
                         f"{outputs} outputs")


def _positive_int(value, name, *, limit=None, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ModelError(f"{name}: must be an integer, not {value!r}")
    value = int(value)
    if value < minimum:
        raise ModelError(f"{name}: must be >= {minimum}, not {value}")
    if limit is not None and value > limit:
        raise ModelError(f"{name}: {value} exceeds the limit {limit}")
    return value


def _int_tuple(value, name, *, length=None, minimum=1):
    try:
        items = tuple(value)
    except TypeError:
        raise ModelError(f"{name}: must be a sequence of integers, not {value!r}") from None
    if length is not None and len(items) != length:
        raise ModelError(f"{name}: must have {length} entries, not {len(items)}")
    return tuple(
        _positive_int(v, f"{name}[{i}]", minimum=minimum, limit=LIMITS.elements)
        for i, v in enumerate(items)
    )


def _ascending(array, name):
    """Thresholds must be non-decreasing along the last axis."""
    if array.shape[-1] > 1 and np.any(np.diff(array, axis=-1) < 0):
        raise ModelError(f"{name}: thresholds must be ascending")


def _json_meta(meta, name):
    """Metadata must round-trip through strict JSON (no NaN or infinities, string keys)."""
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise ModelError(f"{name}: must be a JSON object, not {type(meta).__name__}")
    if json_too_deep(meta, LIMITS.json_depth):
        raise ModelError(f"{name}: nested deeper than {LIMITS.json_depth} levels")
    try:
        text = json.dumps(meta, allow_nan=False, sort_keys=True, default=_json_default)
    except (TypeError, ValueError) as error:
        raise ModelError(f"{name}: not valid JSON ({error})") from None
    return json.loads(text)


def json_too_deep(value, limit):
    """Whether lists, tuples and dicts nest more than ``limit`` levels (iterative: a value too
    deep for recursion is answered, not raised on)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, (list, tuple)):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _product(values):
    return math.prod(int(v) for v in values)


@dataclass(frozen=True, eq=False)
class InputSpec:
    """The raw sensor samples and the quantizer that turns them into activation indices.

    ``identity``: index = raw - raw_min (e.g. 8x8 digits pixels 0..16 are their own index);
    ``thresholds``: index = number of thresholds t with raw >= t.
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
            check_threshold_shape(np.shape(self.thresholds), "input.thresholds",
                                  per_output=False)
            thresholds = _int_array(self.thresholds, "input.thresholds", ndim=1,
                                    lo=-LIMITS.threshold_abs, hi=LIMITS.threshold_abs)
            _ascending(thresholds, "input.thresholds")
            object.__setattr__(self, "thresholds", thresholds)

    @property
    def levels(self):
        """Number of activation levels the quantizer produces."""
        if self.quantizer == "identity":
            return self.raw_max - self.raw_min + 1
        return int(self.thresholds.size) + 1

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
    """Fields shared by dense and convolution layers (see ARCHITECTURE.md).

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


@dataclass(frozen=True, eq=False)
class MaxPool:
    """Max of indices over windows (indices are monotone in value); no padding, floor mode."""

    kernel: tuple
    stride: tuple | None = None
    meta: dict = field(default_factory=dict)

    kind = "maxpool"

    def __post_init__(self):
        kernel = _int_tuple(self.kernel, "kernel")
        if len(kernel) not in (1, 2):
            raise ModelError(f"kernel: must have 1 or 2 dimensions, not {kernel}")
        stride = _int_tuple(self.stride if self.stride is not None else kernel, "stride",
                            length=len(kernel))
        object.__setattr__(self, "kernel", kernel)
        object.__setattr__(self, "stride", stride)
        object.__setattr__(self, "meta", _json_meta(self.meta, "meta"))

    def output_shape(self, input_shape):
        dims = len(self.kernel)
        if len(input_shape) != dims + 1:
            raise ModelError(f"maxpool: input shape {input_shape} is not (channels, "
                             f"{dims} spatial dims)")
        if any(size < k for size, k in zip(input_shape[1:], self.kernel, strict=True)):
            raise ModelError(f"maxpool: kernel {self.kernel} larger than the input "
                             f"{input_shape[1:]}")
        spatial = [(size - k) // s + 1
                   for size, k, s in zip(input_shape[1:], self.kernel, self.stride, strict=True)]
        return (input_shape[0], *spatial)


@dataclass(frozen=True, eq=False)
class Flatten:
    """C-order flatten over channels, then space: index = c*H*W + h*W + w."""

    meta: dict = field(default_factory=dict)

    kind = "flatten"

    def __post_init__(self):
        object.__setattr__(self, "meta", _json_meta(self.meta, "meta"))

    def output_shape(self, input_shape):
        return (_product(input_shape),)


Layer = Dense | Conv | MaxPool | Flatten


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
    layer is a weighted layer with ``argmax`` (dense only) or ``raw``. Each weighted layer's
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
            if not isinstance(layer, (Dense, Conv, MaxPool, Flatten)):
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
                if last and kind == "thresholds":
                    raise ModelError(f"{where}.activation: the last layer must be argmax or raw")
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
                                     f"(argmax or raw), not {layer.kind}")
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
        """``argmax`` (a class index) or ``raw`` (accumulators)."""
        return self.layers[-1].activation.kind

    @property
    def n_classes(self):
        return _product(self.shapes[-1])
