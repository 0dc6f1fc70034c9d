# SPDX-License-Identifier: MIT
"""QONNX / FINN graphs to integer models by exact rational arithmetic.

A quantized graph's tensors between quantizers take few values: a ``Quant`` node's output is
``(q - zeropt) * scale`` for an integer ``q``, a ``BipolarQuant``'s ``+-scale``, a
``MultiThreshold``'s ``count * out_scale + out_bias``. Each such tensor becomes a tensor of
activation indices with *unit values* ``u[a]`` (shared by all elements) and per-element
``mult``/``offset`` (``value = mult * u[a] + offset``), all :class:`~fractions.Fraction`.

A weighted layer reading it has, per output ``o``, ``X[o] = sum_j code[o][j] * u[i_j]`` with
``code = ints * mult`` (a quantizer's integer weights; its per-output scale moves into ``G``),
and the pre-activation ``z[o] = G[o] * X[o] + O[o]``; the Mul/Add/BatchNorm/Relu/Clip nodes up
to the next quantizer act on ``G``, ``O`` and a chain of monotone functions. The quantizer's
level ``k`` is met exactly when ``z`` passes the rounding boundary of
:func:`~nomul.importers.rounding.level_condition`; pulled back through the chain and the affine
map it is ``X >= x_k`` or ``X > x_k``, which on the integer accumulator
``acc = L * X`` (``L`` the least common denominator of the table) is ``acc >= threshold_k``
with ``ceil`` or ``floor + 1``. A negative ``G[o]`` negates the row's codes. The last layer's
codes are ``G[o] * code`` and its bias ``L * O[o]``: its argmax is the logits' argmax, the
lowest index on ties. Tables, biases and thresholds are therefore exact; the float32 graph
equals them where its sums are exact (power-of-two scales, small enough integers), which
:func:`lower` reports as ``exact``.
"""

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ..errors import ModelError
from ..models.kinds.flatten import Flatten
from ..models.kinds.maxpool import MaxPool
from ..models.spec import LIMITS, Activation, Conv, Dense, InputSpec, IntegerModel
from .rounding import int_range, level_condition

__all__ = ["lower", "ALWAYS", "NEVER", "Lowered"]

ALWAYS = "always"
NEVER = "never"
_NEVER_T = LIMITS.threshold_abs
_ALWAYS_T = -LIMITS.threshold_abs
_EXACT_BITS = 24                    # float32 significand: sums below 2**24 ulps are exact


def _frac(value):
    return Fraction(float(value))


def _fracs(array):
    """An object array of Fractions of a float array (exact: every float is dyadic)."""
    array = np.asarray(array, dtype=np.float64)
    out = np.empty(array.shape, dtype=object)
    out.flat[:] = [Fraction(float(v)) for v in array.flat]
    return out


@dataclass
class _Indexed:
    """Activation indices with unit values ``u`` and per-element ``mult``/``offset``."""

    shape: tuple
    u: list
    mult: np.ndarray
    offset: np.ndarray
    raw: bool = False              # the raw input (identity quantizer), not yet quantized


@dataclass
class _Pending:
    """A weighted layer waiting for its quantizer: ``z = G * X + O`` then ``post``."""

    op: object
    source: _Indexed
    base: np.ndarray               # (M, fan_in) Fractions: X[o] = sum_j base[o, j] u[i_j]
    gain: list
    offset: list
    shape: tuple
    post: list = field(default_factory=list)
    deferred: list = field(default_factory=list)
    flattened: bool = False
    inexact: list = field(default_factory=list)


@dataclass
class Lowered:
    """The integer model, whether it is exact by construction, and why not."""

    model: IntegerModel
    exact: bool
    notes: list


def _per_element(value, shape):
    """A scalar or per-channel ``(C,)`` constant as an object array over ``shape``."""
    array = np.asarray(value, dtype=object)
    if array.ndim == 0:
        return np.full(shape, array.item(), dtype=object)
    return np.broadcast_to(array.reshape((-1,) + (1,) * (len(shape) - 1)), shape).copy()


def _channel_values(value, count):
    """A scalar or per-channel constant as ``count`` Fractions."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return [_frac(array)] * count
    return [_frac(v) for v in array]


class _Lowering:
    def __init__(self, graph, raw_range, input_scale, weight_levels):
        self.graph = graph
        self.layers = []
        self.notes = []
        self.input_spec = None
        self.weight_levels = weight_levels
        self.weighted = 0
        lo, hi = raw_range
        shape = graph.input_shape
        mult = np.full(shape, Fraction(1), dtype=object) if input_scale is None else \
            _per_element_scale(input_scale, shape)
        self.raw_range = (lo, hi)
        self.state = _Indexed(shape, [Fraction(r) for r in range(lo, hi + 1)], mult,
                              np.full(shape, Fraction(0), dtype=object), raw=True)

    # -- the chain -----------------------------------------------------------------------
    def run(self):
        for op in self.graph.ops:
            handler = getattr(self, f"_{op.kind}")
            handler(op)
        return self._finish()

    def _dense(self, op):
        source = self._weighted_input(op)
        weight = op.fields["weight"]
        base, gain = self._codes(op, weight.values, weight.ints, weight.scale, axes=(1,))
        mult, offset = source.mult.reshape(-1), source.offset.reshape(-1)
        base = base * mult[None, :]
        values = _fracs(weight.values)
        bias = _fracs(op.fields["bias"]) if op.fields["bias"] is not None else \
            np.full(base.shape[0], Fraction(0), dtype=object)
        extra = (values * offset[None, :]).sum(axis=1) if any(offset) else 0
        self.state = _Pending(op, source, base, list(gain), list(bias + extra), op.out_shape)
        self._check_float32(self.state)

    def _conv(self, op):
        source = self._weighted_input(op)
        weight = op.fields["weight"]
        channels = source.shape[0]
        mult = source.mult.reshape(channels, -1)
        offset = source.offset.reshape(channels, -1)
        if any(any(row != row[0]) for row in mult) or any(any(row != row[0]) for row in offset):
            raise ModelError(f"{op.where}: the input's scale varies inside a channel")
        mult, offset = mult[:, 0], offset[:, 0]
        if any(offset) and any(op.fields["padding"]):
            raise ModelError(f"{op.where}: a padded convolution of an input with an offset "
                             f"(a zero point) is not supported")
        dims = len(op.fields["kernel"])
        order = (0, *range(2, 2 + dims), 1)                 # (M, C, k...) -> (M, k..., C)
        out = weight.values.shape[0]
        base, gain = self._codes(op, weight.values, weight.ints, weight.scale,
                                 axes=tuple(range(1, 2 + dims)))
        base = np.transpose(base, order).reshape(out, -1)
        taps = base.shape[1] // channels
        base = base * np.tile(mult, taps)[None, :]
        values = np.transpose(_fracs(weight.values), order).reshape(out, -1)
        bias = _fracs(op.fields["bias"]) if op.fields["bias"] is not None else \
            np.full(out, Fraction(0), dtype=object)
        extra = (values * np.tile(offset, taps)[None, :]).sum(axis=1) if any(offset) else 0
        self.state = _Pending(op, source, base, list(gain), list(bias + extra), op.out_shape)
        self._check_float32(self.state)

    def _codes(self, op, values, ints, scale, axes):
        """``(base, gain)``: integer weights and their per-output scale where the weights come
        from a quantizer with one scale per output, else the weights' own values and 1."""
        outputs = values.shape[0]
        self.weighted += 1
        if ints is not None:
            flat = scale.reshape(outputs, -1)
            if np.all(flat == flat[:, :1]):
                ints = self._cluster(op, ints)
                return _fracs(ints), [_frac(s) for s in flat[:, 0]]
        if np.all(values == np.round(values)) and np.max(np.abs(values), initial=0) < 2 ** 24:
            return _fracs(self._cluster(op, values.astype(np.int64))), [Fraction(1)] * outputs
        raise ModelError(f"{op.where}: the weights are not quantized (no Quant node, not "
                         f"integers); a float model is imported with --data, without Quant "
                         f"nodes")

    def _cluster(self, op, ints):
        """The integer weights, k-means-clustered to ``--weight-levels`` integers if fewer."""
        if self.weight_levels is None:
            return ints
        levels = self.weight_levels
        k = levels[min(self.weighted - 1, len(levels) - 1)] if isinstance(levels, tuple) \
            else levels
        distinct = np.unique(ints)
        if len(distinct) <= k:
            return ints
        from ..models.training.codebooks import assign, fit_codebook

        centres = np.unique(np.round(fit_codebook(ints.astype(np.float64), k, "kmeans")))
        self.notes.append(f"{op.where}: {len(distinct)} integer weights clustered to "
                          f"{len(centres)} (k-means)")
        return centres[assign(ints.astype(np.float64), centres)].astype(np.int64)

    def _weighted_input(self, op):
        if isinstance(self.state, _Pending):
            raise ModelError(f"{op.where}: its input is not quantized (put a Quant or "
                             f"MultiThreshold between {self.state.op.where} and it)")
        state = self.state
        if state.raw:
            lo, hi = self.raw_range
            if hi - lo + 1 > LIMITS.levels:
                raise ModelError(f"{op.where}: the raw input spans {hi - lo + 1} values, more "
                                 f"than {LIMITS.levels} levels; quantize the input")
            self.input_spec = InputSpec(shape=self.graph.input_shape, raw_min=lo, raw_max=hi)
            state.raw = False
        return state

    def _maxpool(self, op):
        layer = MaxPool(kernel=op.fields["kernel"], stride=op.fields["stride"])
        self._weightless(op, layer)

    def _flatten(self, op):
        self._weightless(op, Flatten())

    def _weightless(self, op, layer):
        state = self.state
        if isinstance(state, _Pending):
            state.deferred.append(layer)                 # commutes with the monotone rest
            state.shape = op.out_shape
            state.flattened |= isinstance(layer, Flatten)
            return
        if state.raw:
            raise ModelError(f"{op.where}: pooling or flattening the raw input is not "
                             f"supported; quantize it first")
        self.layers.append(layer)
        if isinstance(layer, Flatten):
            state.mult, state.offset = state.mult.reshape(-1), state.offset.reshape(-1)
        else:
            state.mult = _pool_constant(state.mult, op)
            state.offset = _pool_constant(state.offset, op)
        state.shape = op.out_shape

    def _relu(self, op):
        self._monotone(op, ("relu",))

    def _clip(self, op):
        self._monotone(op, ("clip", _frac(op.fields["lo"]) if np.isfinite(op.fields["lo"])
                            else None,
                            _frac(op.fields["hi"]) if np.isfinite(op.fields["hi"]) else None))

    def _monotone(self, op, step):
        state = self.state
        if isinstance(state, _Pending):
            state.post.append(step)
            return
        if state.raw or any(state.offset.flat) or len(set(state.mult.flat)) > 1:
            raise ModelError(f"{op.where}: an activation of a tensor that is not a quantized "
                             f"layer output with one scale is not supported")
        m = state.mult.flat[0]
        if step[0] == "relu":
            state.u = [max(v, Fraction(0)) for v in state.u]
        else:
            lo = -math.inf if step[1] is None else step[1] / m
            hi = math.inf if step[2] is None else step[2] / m
            state.u = [min(max(v, lo), hi) for v in state.u]

    def _affine(self, op):
        state = self.state
        mul, add = op.fields["mul"], op.fields["add"]
        if not op.fields["exact"]:
            self._inexact(f"{op.where} is computed in float")
        if isinstance(state, _Pending):
            if state.flattened and (np.ndim(mul) or np.ndim(add)):
                raise ModelError(f"{op.where}: a per-channel constant after a flatten is not "
                                 f"supported")
            count = len(state.gain)
            a, b = _channel_values(mul, count), _channel_values(add, count)
            if state.post:
                if any(v <= 0 for v in a):
                    raise ModelError(f"{op.where}: a non-positive scale after an activation "
                                     f"is not supported")
                state.post.append(("affine", a, b))
            else:
                state.gain = [g * s for g, s in zip(state.gain, a)]
                state.offset = [o * s + t for o, s, t in zip(state.offset, a, b)]
            return
        a = _per_element(np.vectorize(_frac, otypes=[object])(np.asarray(mul)), state.shape)
        b = _per_element(np.vectorize(_frac, otypes=[object])(np.asarray(add)), state.shape)
        if any(v <= 0 for v in a.flat):
            raise ModelError(f"{op.where}: a non-positive scale of a quantized tensor is not "
                             f"supported")
        state.mult = state.mult * a
        state.offset = state.offset * a + b

    # -- quantizers ----------------------------------------------------------------------
    def _quant(self, op):
        f = op.fields
        zeropt = _frac(f["zeropt"])
        if f["bits"] == 1 and f["signed"]:
            self._quantize(op, [[(Fraction(0), False)]], [Fraction(-1), Fraction(1)],
                           f["scale"], Fraction(0), on_scaled=True)
            return
        lo, hi = int_range(f["bits"], f["signed"], f["narrow"])
        conditions = [level_condition(n, f["rounding"], op.where) for n in range(lo + 1, hi + 1)]
        # y = x / scale + zeropt >= t  <=>  x / scale >= t - zeropt
        conditions = [(t - zeropt, strict) for t, strict in conditions]
        values = [Fraction(n) - zeropt for n in range(lo, hi + 1)]
        self._quantize(op, [conditions], values, f["scale"], Fraction(0), on_scaled=True)

    def _bipolar(self, op):
        self._quantize(op, [[(Fraction(0), False)]], [Fraction(-1), Fraction(1)],
                       op.fields["scale"], Fraction(0), on_scaled=True)

    def _multithreshold(self, op):
        f = op.fields
        if f["out_scale"] <= 0:
            raise ModelError(f"{op.where}: out_scale must be positive")
        rows = [[(_frac(t), False) for t in row] for row in f["thresholds"]]
        values = [Fraction(k) for k in range(f["thresholds"].shape[1] + 1)]
        self._quantize(op, rows, values, f["out_scale"], _frac(f["out_bias"]),
                       on_scaled=False)

    def _quantize(self, op, rows, values, scale, offset, *, on_scaled):
        """Apply a quantizer with level conditions ``rows`` (one list per channel, or one for
        all) on ``x / scale`` (``on_scaled``) or on ``x``; output ``scale * values + offset``."""
        state = self.state
        channels = (_pending_channels(state) if isinstance(state, _Pending)
                    else state.shape[0])
        if isinstance(state, _Pending) and state.flattened and \
                (np.ndim(scale) or len(rows) > 1):
            raise ModelError(f"{op.where}: a per-channel quantizer after a flatten is not "
                             f"supported")
        scales = _channel_values(scale, channels) if np.ndim(scale) else \
            [_frac(scale)] * channels
        if any(s <= 0 for s in scales):
            raise ModelError(f"{op.where}: the scale must be positive")
        per_channel = []
        for c in range(channels):
            row = rows[c if len(rows) > 1 else 0]
            factor = scales[c] if on_scaled else Fraction(1)
            per_channel.append([(t * factor, strict) for t, strict in row])
        if isinstance(state, _Pending):
            self._emit_thresholds(op, state, per_channel)
        else:
            self._requantize(op, state, per_channel)
        shape = self.state.shape
        mult = scales if on_scaled else [_frac(scale)] * channels
        if isinstance(self.state, _Pending) or self.state.raw:
            raise AssertionError("unreachable")
        self.state.u = list(values)
        self.state.mult = _per_element(np.array(mult, dtype=object), shape) \
            if len(set(mult)) > 1 else np.full(shape, mult[0], dtype=object)
        self.state.offset = np.full(shape, offset, dtype=object)

    def _requantize(self, op, state, per_channel):
        if not state.raw:
            raise ModelError(f"{op.where}: a quantizer of an already quantized tensor is not "
                             f"supported")
        lo, hi = self.raw_range
        elements = int(np.prod(state.shape))
        channel = np.repeat(np.arange(state.shape[0]), elements // state.shape[0])
        mult, offset = state.mult.reshape(-1), state.offset.reshape(-1)
        rows = []
        for j in range(elements):
            row = []
            for t, strict in per_channel[channel[j]]:
                bound = (t - offset[j]) / mult[j]          # value = mult * raw + offset
                row.append(_integer_threshold(bound, strict))
            rows.append(row)
        thresholds = np.array(rows, dtype=np.int64)
        thresholds = np.clip(thresholds, lo - 1, hi + 1)
        shared = bool(np.all(thresholds == thresholds[:1]))
        self.input_spec = _input_spec(self.graph.input_shape, lo, hi,
                                      thresholds[0] if shared else thresholds, op)
        self.state = _Indexed(state.shape, [], None, None)

    def _emit_thresholds(self, op, state, per_channel):
        outputs = len(state.gain)
        if state.flattened and len(per_channel) > 1 and \
                len({tuple(row) for row in per_channel}) > 1:
            raise ModelError(f"{op.where}: a per-channel quantizer after a flatten is not "
                             f"supported")
        signs = [(-1 if g < 0 else 1) for g in state.gain]
        codes = state.base * np.array([Fraction(s) for s in signs], dtype=object)[:, None]
        table, index, scale = self._table(op, state.source.u, codes)
        rows = []
        for o in range(outputs):
            row = []
            for t, strict in per_channel[o if len(per_channel) > 1 else 0]:
                cond = _pull_back(t, strict, state.post, o)
                row.append(self._accumulator_threshold(cond, state, o, signs[o], scale))
            rows.append(row)
        thresholds = np.array(rows, dtype=np.int64)
        if np.all(thresholds == thresholds[:1]):
            thresholds = thresholds[0]
        self._append_weighted(state, table, index, np.zeros(outputs, dtype=np.int64),
                              Activation("thresholds", thresholds))
        self.layers.extend(state.deferred)
        shape = state.shape
        self.state = _Indexed(shape, [], None, None)

    def _accumulator_threshold(self, cond, state, o, sign, scale):
        """The integer threshold on ``acc = scale * sign * X[o]`` of a condition on ``z``."""
        if cond in (ALWAYS, NEVER):
            return _ALWAYS_T if cond == ALWAYS else _NEVER_T
        t, strict = cond
        gain, offset = state.gain[o], state.offset[o]
        if gain == 0:
            met = offset > t if strict else offset >= t
            return _ALWAYS_T if met else _NEVER_T
        bound = (t - offset) / (gain * sign) * scale       # sign * gain > 0
        return max(_ALWAYS_T, min(_NEVER_T, _integer_threshold(bound, strict)))

    def _table(self, op, u, codes):
        """``(table, weight_index, L)``: the distinct codes, the exact integer table
        ``L * u[a] * code[k]`` and each weight's codeword."""
        flat = list(codes.flat)
        book = sorted(set(flat))
        if len(book) < 2:
            book.append(book[0] + 1)                     # an unused second codeword
        if len(book) > LIMITS.codewords:
            raise ModelError(f"{op.where}: {len(book)} distinct weights, more than "
                             f"{LIMITS.codewords} codewords")
        position = {c: k for k, c in enumerate(book)}
        index = np.array([position[c] for c in flat], dtype=np.int64).reshape(codes.shape)
        products = [[a * c for c in book] for a in u]
        scale = 1
        for row in products:
            for p in row:
                scale = math.lcm(scale, p.denominator)
        table = np.array([[int(p * scale) for p in row] for row in products], dtype=object)
        peak = max(abs(int(v)) for v in table.flat)
        if peak > LIMITS.table_abs:
            self._inexact(f"{op.where}: the exact table needs {peak.bit_length()} bits; "
                          f"rounded to 32")
            shift = peak.bit_length() - 32
            scale = Fraction(scale, 2 ** shift)
            table = np.array([[round(p * scale) for p in row] for row in products],
                             dtype=object)
        return table.astype(np.int64), index, scale

    def _append_weighted(self, state, table, index, bias, activation):
        op = state.op
        levels = len(state.source.u)
        meta = {"source_node": op.name}
        try:
            if op.kind == "dense":
                layer = Dense(in_levels=levels, group=1, table=table, weight_index=index,
                              bias=bias, activation=activation, meta=meta)
            else:
                layer = Conv(in_levels=levels, group=1, table=table, weight_index=index,
                             bias=bias, activation=activation, meta=meta,
                             kernel=op.fields["kernel"], stride=op.fields["stride"],
                             padding=op.fields["padding"])
        except ModelError as error:
            raise ModelError(f"{op.where}: {error}") from None
        self.layers.append(layer)

    def _check_float32(self, state):
        """Notes a layer whose float32 sums (products and bias) in the ONNX graph may round."""
        values = [abs(v) for v in state.base.flat]
        u = max(abs(v) for v in state.source.u)
        bound = sum(values) * u * max(abs(g) for g in state.gain) + \
            max(abs(o) for o in state.offset)
        grain = 1                 # a common multiple of every product's denominator
        for values in (state.gain, set(state.base.flat), state.source.u):
            grain *= math.lcm(*(v.denominator for v in values))
        for o in state.offset:
            grain = math.lcm(grain, o.denominator)
        if bound * grain >= 2 ** _EXACT_BITS:
            self._inexact(f"{state.op.where}: float32 sums may round "
                          f"({math.ceil(math.log2(bound * grain))} bits)")

    def _inexact(self, note):
        self.notes.append(f"not exact: {note}")

    # -- the end -------------------------------------------------------------------------
    def _finish(self):
        state = self.state
        last = self.graph.ops[-1]
        if not isinstance(state, _Pending):
            raise ModelError(f"{last.where}: the output is quantized; nomul needs the logits "
                             f"of a dense layer (drop the output quantizer)")
        if state.deferred or state.op.kind != "dense":
            raise ModelError(f"{last.where}: the output must be the logits of a dense layer")
        gain, offset = list(state.gain), list(state.offset)
        for step in state.post:
            if step[0] != "affine":
                raise ModelError(f"{last.where}: an activation on the logits is not "
                                 f"supported (argmax needs the logits)")
            gain = [g * a for g, a in zip(gain, step[1])]
            offset = [o * a + b for o, a, b in zip(offset, step[1], step[2])]
        codes = state.base * np.array(gain, dtype=object)[:, None]
        offset = np.array(offset, dtype=object)
        if codes.shape[0] == 1:                            # one logit: class 1 when > 0
            codes = np.vstack([np.full_like(codes, Fraction(0)), codes])
            offset = np.array([Fraction(0), offset[0]], dtype=object)
            self.notes.append("single logit: two outputs (0, logit); class 1 when the "
                              "logit > 0")
        table, index, scale = self._table(state.op, state.source.u, codes)
        bias = [o * scale for o in offset]
        if any(b.denominator != 1 for b in bias):
            denominator = math.lcm(*(b.denominator for b in bias))
            table, scale = table.astype(object) * denominator, scale * denominator
            bias = [b * denominator for b in bias]
        bias = np.array([int(b) for b in bias], dtype=object)
        if np.max(np.abs(bias)) > LIMITS.bias_abs or np.max(np.abs(table)) > LIMITS.table_abs:
            self._inexact(f"{state.op.where}: exact output layer too wide; rounded")
            shift = max(int(np.max(np.abs(table))).bit_length(),
                        int(np.max(np.abs(bias))).bit_length()) - 32
            table = np.array([[round(Fraction(int(v), 2 ** shift)) for v in row]
                              for row in table], dtype=np.int64)
            bias = np.array([round(Fraction(int(b), 2 ** shift)) for b in bias])
        self._append_weighted(state, np.asarray(table, dtype=np.int64), index,
                              np.asarray(bias, dtype=np.int64), Activation("argmax"))
        if self.input_spec is None:
            raise AssertionError("the input spec is set by the first layer or quantizer")
        return IntegerModel(input=self.input_spec, layers=tuple(self.layers))


def _pending_channels(state):
    return len(state.gain)


def _pool_constant(array, op):
    """A per-element constant after max-pooling (constant over each window: per channel)."""
    channels = array.shape[0]
    flat = array.reshape(channels, -1)
    if any(any(row != row[0]) for row in flat):
        raise ModelError(f"{op.where}: pooling a tensor whose scale varies inside a channel")
    return _per_element(np.array(list(flat[:, 0]), dtype=object), op.out_shape)


def _per_element_scale(scale, shape):
    """Per-element ``1 / scale[j]`` (raw code to feature value) over ``shape``."""
    scale = np.asarray(scale, dtype=np.float64).reshape(-1)
    if scale.size != int(np.prod(shape)):
        raise ModelError(f"the data has {scale.size} feature scales, the model's input "
                         f"{int(np.prod(shape))} elements")
    out = np.empty(scale.size, dtype=object)
    out[:] = [1 / Fraction(float(s)) for s in scale]
    return out.reshape(shape)


def _integer_threshold(bound, strict):
    """The least integer ``n`` with ``n > bound`` (strict) or ``n >= bound``."""
    return math.floor(bound) + 1 if strict else math.ceil(bound)


def _pull_back(t, strict, post, channel):
    """The condition on the pre-activation ``z`` that makes ``post(z) >= t`` (``> t``)."""
    for step in reversed(post):
        if step[0] == "affine":
            a, b = step[1][channel], step[2][channel]
            t = (t - b) / a
        elif step[0] == "relu":
            if t < 0 or (t == 0 and not strict):
                return ALWAYS
        else:
            lo, hi = step[1], step[2]
            if lo is not None and (t < lo or (t == lo and not strict)):
                return ALWAYS
            if hi is not None and (t > hi or (t == hi and strict)):
                return NEVER
    return t, strict


def _input_spec(shape, lo, hi, thresholds, op):
    try:
        return InputSpec(shape=shape, raw_min=lo, raw_max=hi, quantizer="thresholds",
                         thresholds=thresholds)
    except ModelError as error:
        if np.ndim(thresholds) == 2:
            raise ModelError(f"{op.where}: the input quantizer needs per-feature thresholds, "
                             f"which this nomul does not support ({error})") from None
        raise


def lower(graph, *, raw_range, input_scale=None, weight_levels=None, data_exact=True):
    """:class:`Lowered` model of a quantized :class:`~nomul.importers.graph.Graph`.

    ``raw_range``: the raw codes' ``(min, max)``; ``input_scale``: per feature, raw code =
    feature x scale (None: integer features are their own codes); ``weight_levels``: k-means
    the integer weights of each layer to at most this many integers (inexact).
    """
    lowering = _Lowering(graph, raw_range, input_scale, weight_levels)
    model = lowering.run()
    notes = list(lowering.notes)
    if not data_exact:
        notes.append("not exact: the data's features are not their raw codes")
    exact = not any(n.startswith("not exact") for n in notes) and \
        not any("clustered" in n for n in notes)
    return Lowered(model, exact, notes)
