# SPDX-License-Identifier: MIT
"""An ONNX graph read into a chain of simple operations (what both importers lower).

:func:`read_graph` checks the graph before any work and returns a :class:`Graph`: the one
input's shape (channels first, without the batch dimension), the chain of :class:`Op` from
the input to the logits, and the head that follows them (Softmax, Sigmoid, ArgMax and
whatever derives labels or probabilities from the logits; never lowered). Constant
subgraphs (initializers, ``Constant`` nodes, a ``Quant``/``BipolarQuant`` on an initializer,
a ``Transpose`` of one) are folded into :class:`Const` values that keep the integer weights
and scales of a quantizer.

Every refusal is a one-line :class:`~nomul.errors.ModelError` naming the node:
``node 'Add_3' (Add): residual connections are not supported``.
"""

from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelError, OptionsError

__all__ = ["Const", "Op", "Graph", "read_graph", "QONNX_OPS", "HEAD_OPS", "node_where"]

QONNX_OPS = ("Quant", "IntQuant", "BipolarQuant", "MultiThreshold")
HEAD_OPS = ("Softmax", "LogSoftmax", "Sigmoid", "ArgMax", "TopK")
_PASS = ("Identity", "Dropout")
_ELEMENTWISE = ("Add", "Sub", "Mul", "Div")


@dataclass(frozen=True, eq=False)
class Const:
    """A constant tensor: float64 ``values``; for a quantizer's output also ``ints`` and the
    ``scale`` (broadcast to the same shape) with ``values == ints * scale``."""

    values: np.ndarray
    ints: np.ndarray | None = None
    scale: np.ndarray | None = None

    def transposed(self, perm):
        """The same constant transposed (``Transpose`` of a constant)."""
        if self.ints is None:
            return Const(np.transpose(self.values, perm))
        return Const(np.transpose(self.values, perm), np.transpose(self.ints, perm),
                     np.transpose(self.scale, perm))

    def scaled(self, factor):
        """The constant times a scalar (Gemm's ``alpha``)."""
        if self.ints is None:
            return Const(self.values * factor)
        return Const(self.values * factor, self.ints, self.scale * factor)


@dataclass(frozen=True, eq=False)
class Op:
    """One operation of the chain: ``kind`` (dense, conv, maxpool, flatten, relu, clip,
    affine, quant, bipolar, multithreshold), the node it came from and its fields."""

    kind: str
    name: str
    op_type: str
    fields: dict = field(default_factory=dict)
    in_shape: tuple = ()
    out_shape: tuple = ()

    @property
    def where(self):
        return node_where(self.name, self.op_type)


@dataclass(frozen=True, eq=False)
class Graph:
    """The input's name and shape (no batch), the chain of ops, the logits tensor's name, the
    head's op types and whether the graph holds QONNX/FINN quantizers."""

    input_name: str
    input_shape: tuple
    ops: tuple
    logits: str
    head: tuple
    outputs: tuple
    quantized: bool
    opset: int = 17


def node_where(name, op_type):
    """``node 'NAME' (OpType)``: how every message names a node."""
    return f"node '{name}' ({op_type})"


def _attrs(node):
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def load_onnx(path):
    """The ONNX ``ModelProto`` at ``path``; a missing or unreadable file is an OptionsError."""
    import onnx

    try:
        return onnx.load(str(path))
    except FileNotFoundError:
        raise OptionsError(f"{path}: no such file") from None
    except Exception as error:                      # protobuf's DecodeError and friends
        raise OptionsError(f"{path}: not an ONNX model ({type(error).__name__})") from None


def _node_names(graph):
    """Every node's name, made up (``OpType_i``) where the file has none."""
    return [node.name or f"{node.op_type}_{i}" for i, node in enumerate(graph.node)]


def _quant_const(node, where, inputs):
    """A ``Quant`` of a constant, as qonnx's ``int_quant`` computes it in float32."""
    from .rounding import integer_quant

    x, scale, zeropt, bits = inputs
    attrs = _attrs(node)
    q = integer_quant(x.values, scale.values, zeropt.values, bits.values,
                      signed=attrs.get("signed", 1), narrow=attrs.get("narrow", 1),
                      rounding=_text(attrs.get("rounding_mode", "ROUND")), where=where)
    zp = np.broadcast_to(zeropt.values, q.shape)
    if np.any(zp != np.round(zp)):
        raise ModelError(f"{where}: a non-integer zero point is not supported")
    ints = (q - zp).astype(np.int64)
    scale = np.broadcast_to(np.asarray(scale.values, dtype=np.float32).astype(np.float64),
                            q.shape).copy()
    return Const((ints * scale).astype(np.float32).astype(np.float64), ints, scale)


def _fold_constant(node, where, inputs):
    """The value of a node whose inputs are all constants, or None when it is not foldable."""
    op = node.op_type
    attrs = _attrs(node)
    if op in ("Quant", "IntQuant"):
        return _quant_const(node, where, inputs)
    if op == "BipolarQuant":
        x, scale = inputs
        ints = np.where(x.values >= 0, 1, -1).astype(np.int64)
        scale = np.broadcast_to(scale.values, ints.shape).astype(np.float64)
        return Const(ints * scale, ints, scale)
    if op == "Transpose":
        perm = attrs.get("perm", list(range(inputs[0].values.ndim))[::-1])
        return inputs[0].transposed(perm)
    if op in _PASS:
        return inputs[0]
    if op == "Cast":
        return Const(inputs[0].values.astype(np.float64))
    if op == "Reshape":
        return Const(inputs[0].values.reshape(inputs[1].values.astype(np.int64)))
    if op in ("Add", "Sub", "Mul", "Div"):
        a, b = inputs[0].values, inputs[1].values
        return Const({"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
                      "Div": np.divide}[op](a, b))
    return None


def _tensor_const(tensor):
    from onnx import numpy_helper

    array = numpy_helper.to_array(tensor)
    if array.dtype.kind not in "fiub":
        return None
    return Const(np.asarray(array, dtype=np.float64))


def _input_shape(value_info):
    """The static shape of the graph input without its batch dimension."""
    dims = value_info.type.tensor_type.shape.dim
    shape = []
    for position, dim in enumerate(dims):
        if dim.HasField("dim_value") and dim.dim_value > 0:
            shape.append(int(dim.dim_value))
        elif position == 0:
            shape.append(1)                 # a symbolic batch dimension
        else:
            name = dim.dim_param or "?"
            raise ModelError(f"input '{value_info.name}': dynamic shape (dimension {position} "
                             f"is '{name}'); nomul needs static shapes")
    if len(shape) < 2:
        raise ModelError(f"input '{value_info.name}': shape {tuple(shape)} has no batch "
                         f"dimension")
    if shape[0] != 1:
        raise ModelError(f"input '{value_info.name}': batch dimension {shape[0]}; export the "
                         f"model with batch 1 or a symbolic batch")
    return tuple(shape[1:])


def read_graph(model):
    """The :class:`Graph` of an ONNX ``ModelProto``; refuses what nomul cannot build."""
    graph = model.graph
    names = _node_names(graph)
    consts = {t.name: c for t in graph.initializer if (c := _tensor_const(t)) is not None}
    for node, name in zip(graph.node, names):
        if node.op_type == "Constant":
            from onnx import helper, numpy_helper

            value = [a for a in node.attribute if a.name == "value"]
            if not value:
                raise ModelError(f"{node_where(name, 'Constant')}: only tensor constants are "
                                 f"supported")
            array = numpy_helper.to_array(helper.get_attribute_value(value[0]))
            consts[node.output[0]] = Const(np.asarray(array, dtype=np.float64))
    inputs = [v for v in graph.input if v.name not in consts]
    if len(inputs) != 1:
        raise ModelError(f"the model has {len(inputs)} inputs "
                         f"({', '.join(v.name for v in inputs)}); nomul needs exactly one")
    # fold constant subgraphs (in graph order, which ONNX makes topological)
    for node, name in zip(graph.node, names):
        if node.op_type == "Constant" or not node.input:
            continue
        present = [i for i in node.input if i]
        if all(i in consts for i in present):
            value = _fold_constant(node, node_where(name, node.op_type),
                                   [consts[i] for i in present])
            if value is None:
                raise ModelError(f"{node_where(name, node.op_type)}: operator not supported "
                                 f"on constants")
            consts[node.output[0]] = value
    consumers = {}
    for node, name in zip(graph.node, names):
        for i in node.input:
            if i and i not in consts:
                consumers.setdefault(i, []).append((node, name))
    outputs = tuple(v.name for v in graph.output)
    quantized = any(n.op_type in QONNX_OPS for n in graph.node)
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                default=17)
    shape = _input_shape(inputs[0])
    tensor, ops, head = inputs[0].name, [], ()
    while True:
        users = consumers.get(tensor, [])
        if not users:
            if tensor not in outputs:
                raise ModelError(f"tensor '{tensor}' is neither used nor a graph output")
            break
        node, name = users[0]
        if node.op_type in HEAD_OPS:
            head = tuple(sorted({n.op_type for n, _ in users}))
            break
        if len(users) > 1:
            shape_users = [(n, m) for n, m in users if n.op_type == "Shape"]
            if shape_users:
                node, name = shape_users[0]
                raise ModelError(f"{node_where(name, 'Shape')}: shape computations on the data "
                                 f"are not supported (export a Flatten or a constant shape)")
            node, name = users[1]
            raise ModelError(f"{node_where(name, node.op_type)}: residual connections are not "
                             f"supported (tensor '{tensor}' feeds {len(users)} nodes)")
        data = [i for i in node.input if i and i not in consts]
        if len(data) != 1:
            what = "residual connections are" if node.op_type in _ELEMENTWISE + ("Concat",
                                                                                  "Sum") \
                else "several data inputs are"
            raise ModelError(f"{node_where(name, node.op_type)}: {what} not supported")
        if node.input[0] != tensor and node.op_type not in _ELEMENTWISE:
            raise ModelError(f"{node_where(name, node.op_type)}: the data must be the first "
                             f"input")
        if len([o for o in node.output if o]) != 1 and node.op_type not in ("Dropout",
                                                                          "MaxPool"):
            raise ModelError(f"{node_where(name, node.op_type)}: several outputs are not "
                             f"supported")
        op = _op(node, name, tensor, consts, shape, opset)
        if op is not None:
            ops.append(op)
            shape = op.out_shape
        tensor = node.output[0]
    if not ops:
        raise ModelError("the model has no operations between its input and output")
    return Graph(inputs[0].name, _input_shape(inputs[0]), tuple(ops), tensor, head, outputs,
                 quantized, opset)


def _const_input(node, position, consts, where, what):
    if len(node.input) <= position or not node.input[position]:
        return None
    name = node.input[position]
    if name not in consts:
        raise ModelError(f"{where}: the {what} must be a constant")
    return consts[name]


def _per_channel(value, shape, where):
    """A constant broadcast against a tensor of ``shape`` (no batch) as a scalar float or
    one value per channel ``(C,)``; refuses a constant that varies inside a channel."""
    array = np.asarray(value, dtype=np.float64)
    if array.size == 1:
        return float(array.reshape(()))
    full = (1, *shape)
    try:
        broadcast = np.broadcast_to(array, full)[0] if array.ndim <= len(full) else None
    except ValueError:
        broadcast = None
    if broadcast is None:
        raise ModelError(f"{where}: constant of shape {array.shape} does not broadcast to the "
                         f"tensor {shape}")
    flat = broadcast.reshape(shape[0], -1)
    if np.any(flat != flat[:, :1]):
        raise ModelError(f"{where}: a constant that varies inside a channel is not supported")
    return flat[:, 0].copy()


def _ints(attrs, key, default):
    return tuple(int(v) for v in attrs.get(key, default))


def _op(node, name, tensor, consts, shape, opset):
    """The :class:`Op` of one chain node (None for a node that passes its input on)."""
    op_type = node.op_type
    where = node_where(name, op_type)
    attrs = _attrs(node)

    def make(kind, out_shape=shape, **fields):
        return Op(kind, name, op_type, fields, shape, tuple(out_shape))

    if op_type in _PASS or (op_type == "Cast" and attrs.get("to") in (1, 10, 11)):
        return None
    if op_type == "MatMul":
        weight = _const_input(node, 1, consts, where, "weight")
        if weight is None or weight.values.ndim != 2:
            raise ModelError(f"{where}: needs a constant 2-D weight")
        if len(shape) != 1:
            raise ModelError(f"{where}: input of shape {shape} is not 1-D (add a Flatten)")
        if weight.values.shape[0] != shape[0]:
            raise ModelError(f"{where}: weight {weight.values.shape} does not match the input "
                             f"{shape}")
        return make("dense", (weight.values.shape[1],), weight=weight.transposed((1, 0)),
                    bias=None)
    if op_type == "Gemm":
        if attrs.get("transA", 0):
            raise ModelError(f"{where}: transA is not supported")
        weight = _const_input(node, 1, consts, where, "weight")
        if len(shape) != 1:
            raise ModelError(f"{where}: input of shape {shape} is not 1-D (add a Flatten)")
        if not attrs.get("transB", 0):
            weight = weight.transposed((1, 0))
        alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
        if alpha != 1.0:
            weight = weight.scaled(alpha)
        if weight.values.shape[1] != shape[0]:
            raise ModelError(f"{where}: weight {weight.values.shape} does not match the input "
                             f"{shape}")
        outputs = weight.values.shape[0]
        bias = _const_input(node, 2, consts, where, "bias")
        bias = None if bias is None else np.broadcast_to(bias.values * beta, (1, outputs))[0]
        return make("dense", (outputs,), weight=weight, bias=bias)
    if op_type == "Conv":
        weight = _const_input(node, 1, consts, where, "weight")
        dims = weight.values.ndim - 2
        if dims not in (1, 2) or len(shape) != dims + 1:
            raise ModelError(f"{where}: only 1-D and 2-D convolutions of a (C, ...) tensor")
        if attrs.get("group", 1) != 1:
            raise ModelError(f"{where}: grouped convolutions are not supported")
        if any(d != 1 for d in attrs.get("dilations", [1] * dims)):
            raise ModelError(f"{where}: dilated convolutions are not supported")
        if _text(attrs.get("auto_pad", "NOTSET")) not in ("NOTSET", "VALID"):
            raise ModelError(f"{where}: auto_pad {_text(attrs['auto_pad'])} is not supported; "
                             f"export with explicit pads")
        pads = _ints(attrs, "pads", [0] * 2 * dims)
        if pads[:dims] != pads[dims:]:
            raise ModelError(f"{where}: asymmetric padding {pads} is not supported")
        kernel = tuple(weight.values.shape[2:])
        strides = _ints(attrs, "strides", [1] * dims)
        if weight.values.shape[1] != shape[0]:
            raise ModelError(f"{where}: weight {weight.values.shape} expects "
                             f"{weight.values.shape[1]} channels, the input has {shape[0]}")
        if any(p >= k for p, k in zip(pads[:dims], kernel)):
            raise ModelError(f"{where}: padding {pads[:dims]} must be smaller than the kernel")
        spatial = tuple((s + 2 * p - k) // st + 1 for s, p, k, st in
                        zip(shape[1:], pads[:dims], kernel, strides))
        if any(n < 1 for n in spatial):
            raise ModelError(f"{where}: kernel {kernel} larger than the input {shape}")
        bias = _const_input(node, 2, consts, where, "bias")
        return make("conv", (weight.values.shape[0], *spatial), weight=weight,
                    bias=None if bias is None else bias.values.reshape(-1),
                    kernel=kernel, stride=strides, padding=pads[:dims])
    if op_type == "MaxPool":
        kernel = _ints(attrs, "kernel_shape", [])
        dims = len(kernel)
        if len(shape) != dims + 1:
            raise ModelError(f"{where}: kernel {kernel} does not fit the input {shape}")
        if any(_ints(attrs, "pads", [0] * 2 * dims)) or attrs.get("ceil_mode", 0) or \
                any(d != 1 for d in attrs.get("dilations", [1] * dims)) or \
                _text(attrs.get("auto_pad", "NOTSET")) not in ("NOTSET", "VALID"):
            raise ModelError(f"{where}: only unpadded, undilated, floor-mode max-pooling is "
                             f"supported")
        if len([o for o in node.output if o]) != 1:
            raise ModelError(f"{where}: the indices output is not supported")
        strides = _ints(attrs, "strides", [1] * dims)
        spatial = tuple((s - k) // st + 1 for s, k, st in zip(shape[1:], kernel, strides))
        return make("maxpool", (shape[0], *spatial), kernel=kernel, stride=strides)
    if op_type == "Flatten" or op_type == "Reshape":
        if op_type == "Flatten" and attrs.get("axis", 1) != 1:
            raise ModelError(f"{where}: only axis 1 (keep the batch) is supported")
        if op_type == "Reshape":
            target = _const_input(node, 1, consts, where, "shape").values.astype(np.int64)
            size = int(np.prod(shape))
            if tuple(target[1:]) == tuple(shape):
                return None
            if not (len(target) == 2 and target[1] in (-1, size) and target[0] in (-1, 0, 1)):
                raise ModelError(f"{where}: only a reshape that flattens is supported, not "
                                 f"{tuple(target)}")
        if len(shape) == 1:
            return None
        return make("flatten", (int(np.prod(shape)),))
    if op_type == "Relu":
        return make("relu")
    if op_type == "Clip":
        lo = _const_input(node, 1, consts, where, "minimum") if opset >= 11 else None
        hi = _const_input(node, 2, consts, where, "maximum") if opset >= 11 else None
        lo = float(lo.values) if lo is not None else float(attrs.get("min", -np.inf))
        hi = float(hi.values) if hi is not None else float(attrs.get("max", np.inf))
        return make("clip", lo=lo, hi=hi)
    if op_type == "BatchNormalization":
        gamma, beta, mean, var = (_const_input(node, i, consts, where, what).values
                                  for i, what in ((1, "scale"), (2, "bias"), (3, "mean"),
                                                  (4, "variance")))
        eps = float(attrs.get("epsilon", 1e-5))
        gain = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
        return make("affine", mul=_per_channel(gain, shape, where),
                    add=_per_channel(beta - mean * gain, shape, where), exact=False)
    if op_type in _ELEMENTWISE:
        position = 1 if node.input[0] == tensor else 0
        value = _const_input(node, position, consts, where, "other operand").values
        channel = _per_channel(value, shape, where)
        if op_type == "Add":
            return make("affine", mul=1.0, add=channel, exact=True)
        if op_type == "Mul":
            return make("affine", mul=channel, add=0.0, exact=True)
        if op_type == "Sub":
            if position == 1:
                return make("affine", mul=1.0, add=-np.asarray(channel), exact=True)
            return make("affine", mul=-1.0, add=channel, exact=True)
        if position == 0:
            raise ModelError(f"{where}: dividing a constant by the data is not supported")
        if np.any(np.asarray(channel) == 0):
            raise ModelError(f"{where}: division by zero")
        return make("affine", mul=1.0 / np.asarray(channel, dtype=np.float64), add=0.0,
                    exact=bool(np.all(_power_of_two(channel))))
    if op_type == "Scaler":                              # scikit-learn: (x - offset) * scale
        scale = np.asarray(attrs.get("scale", [1.0]), dtype=np.float64)
        offset = np.asarray(attrs.get("offset", [0.0]), dtype=np.float64)
        return make("affine", mul=_per_channel(scale, shape, where),
                    add=_per_channel(-offset * scale, shape, where), exact=False)
    if op_type in ("Quant", "IntQuant"):
        scale, zeropt, bits = (_const_input(node, i, consts, where, what).values
                               for i, what in ((1, "scale"), (2, "zero point"),
                                               (3, "bit width")))
        if np.asarray(bits).size != 1 or float(bits.reshape(())) != int(bits.reshape(())):
            raise ModelError(f"{where}: the bit width must be one integer")
        if np.asarray(zeropt).size != 1:
            raise ModelError(f"{where}: a per-channel zero point is not supported")
        return make("quant", scale=_per_channel(np.asarray(scale, np.float32), shape, where),
                    zeropt=float(zeropt.reshape(())), bits=int(bits.reshape(())),
                    signed=int(attrs.get("signed", 1)), narrow=int(attrs.get("narrow", 1)),
                    rounding=_text(attrs.get("rounding_mode", "ROUND")).upper())
    if op_type == "BipolarQuant":
        scale = _const_input(node, 1, consts, where, "scale").values
        return make("bipolar", scale=_per_channel(np.asarray(scale, np.float32), shape, where))
    if op_type == "MultiThreshold":
        thresholds = _const_input(node, 1, consts, where, "thresholds").values
        layout = _text(attrs.get("data_layout", ""))
        if layout and layout not in ("NCHW", "NC", "NCW"):
            raise ModelError(f"{where}: data layout {layout} is not supported (channels "
                             f"first only)")
        if thresholds.ndim != 2 or thresholds.shape[0] not in (1, shape[0]):
            raise ModelError(f"{where}: thresholds of shape {thresholds.shape} do not fit "
                             f"{shape[0]} channels")
        if np.any(np.diff(thresholds, axis=1) < 0):
            raise ModelError(f"{where}: thresholds must be ascending")
        return make("multithreshold", thresholds=np.asarray(thresholds, np.float32),
                    out_scale=float(attrs.get("out_scale", 1.0)),
                    out_bias=float(attrs.get("out_bias", 0.0)))
    if op_type == "Transpose":
        raise ModelError(f"{where}: transposing the data is not supported (nomul tensors are "
                         f"channels first; export NCHW)")
    raise ModelError(f"{where}: operator not supported")


def _power_of_two(values):
    values = np.abs(np.asarray(values, dtype=np.float64))
    mantissa, _ = np.frexp(values)
    return (values > 0) & (mantissa == 0.5)
