# SPDX-License-Identifier: MIT
"""``nomul import``: trained ONNX models as integer models.

Two front ends share one graph reader (:mod:`nomul.importers.graph`):

- **QONNX** (Brevitas export, FINN's format: ``Quant``, ``BipolarQuant``, ``MultiThreshold``):
  the integer weights become the codebook and the quantizers integer thresholds, by exact
  rational arithmetic (:mod:`nomul.importers.qonnx`); the imported model's classes equal the
  graph's (run by qonnx's ``execute_onnx``) on every sample where the report says ``exact``.
- **float ONNX** (PyTorch, Keras via tf2onnx, scikit-learn via skl2onnx): post-training
  quantization to ``A`` levels and ``K`` codewords per layer, calibrated on the data's
  training split, through the export step (:mod:`nomul.importers.float_onnx`).

:func:`import_onnx` returns an :class:`ImportResult`: the model and a report with
``source_accuracy`` (the ONNX model on the test split), ``int_accuracy``, ``agreement`` (the
integer model's classes against the ONNX model's on the test split) and ``exact``.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import OptionsError

__all__ = ["ImportResult", "import_onnx", "onnx_classes", "require_onnx"]

NEEDS_ONNX = "nomul import needs the onnx extra: pip install 'nomul[onnx]'"


@dataclass(frozen=True, eq=False)
class ImportResult:
    """The imported :class:`~nomul.models.spec.IntegerModel` and the report (a dict)."""

    model: object
    report: dict


def require_onnx(qonnx=False):
    """Import onnx (and qonnx) or raise the one-line OptionsError naming the extra."""
    try:
        import onnx  # noqa: F401

        if qonnx:
            import qonnx as _qonnx  # noqa: F401
    except ImportError:
        raise OptionsError(NEEDS_ONNX) from None


def _with_output(proto, name, batch):
    """A copy of ``proto`` with tensor ``name`` as a graph output and a batch of ``batch``
    (None: symbolic) on the input and outputs; intermediate shapes cleared."""
    import onnx
    from onnx import TensorProto, helper

    proto = onnx.ModelProto.FromString(proto.SerializeToString())
    graph = proto.graph
    del graph.value_info[:]
    outputs = [o.name for o in graph.output]
    if name not in outputs:
        graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    initializers = {t.name for t in graph.initializer}
    for value in list(graph.input) + list(graph.output):
        if value.name in initializers:
            continue
        dims = value.type.tensor_type.shape.dim
        if len(dims):
            if batch is None:
                dims[0].dim_param = "batch"
            else:
                dims[0].dim_value = batch
    return proto, [o.name for o in graph.output].index(name)


def _classes(logits):
    """Classes of logits ``(B, C)``: argmax (lowest index on ties); one logit: ``> 0``."""
    logits = np.asarray(logits, dtype=np.float64).reshape(len(logits), -1)
    if logits.shape[1] == 1:
        return (logits[:, 0] > 0).astype(np.int64)
    return np.argmax(logits, axis=1).astype(np.int64)


def onnx_classes(proto, graph, x):
    """The ONNX model's classes for float inputs ``x`` ``(B, *shape)``: QONNX graphs by
    qonnx's ``execute_onnx`` after its cleanup, float graphs by onnxruntime."""
    x = np.asarray(x, dtype=np.float32).reshape(len(x), *graph.input_shape)
    if graph.quantized:
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.core.onnx_exec import execute_onnx
        from qonnx.util.cleanup import cleanup_model

        with_logits, position = _with_output(proto, graph.logits, len(x))
        model = cleanup_model(ModelWrapper(with_logits))
        name = model.graph.input[0].name
        out = execute_onnx(model, {name: x})[model.graph.output[position].name]
        return _classes(out)
    import onnxruntime

    with_logits, position = _with_output(proto, graph.logits, None)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(with_logits.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return _classes(session.run(None, {name: x})[position])


def _load_dataset(data, shape):
    """``data`` (a path, or a Dataset from a data file) as a Dataset of raw codes, its
    samples read as the model's input ``shape``."""
    if data is None:
        return None
    if isinstance(data, (str, Path)):
        from ..models.datafile import load_data

        data = load_data(data)
    size = int(np.prod(shape))
    if int(np.prod(data.x_train.shape[1:])) != size:
        raise OptionsError(f"the data's samples have {int(np.prod(data.x_train.shape[1:]))} "
                           f"features, the model's input {shape} has {size}")
    return data


def _describe(dataset):
    try:
        from ..models.datafile import describe

        return describe(dataset)
    except (ImportError, AttributeError):
        return {"name": getattr(dataset, "name", "data")}


def _no_data_range(graph):
    """The raw range of an integer input without data: the input quantizer's range."""
    from ..errors import ModelError
    from .rounding import int_range

    first = graph.ops[0]
    if first.kind != "quant" or np.ndim(first.fields["scale"]):
        raise OptionsError(f"{first.where}: without --data nomul can only import a QONNX "
                           f"model whose input is a Quant node (its range gives the raw "
                           f"codes); pass --data FILE")
    f = first.fields
    lo, hi = int_range(f["bits"], f["signed"], f["narrow"])
    scale, zeropt = float(f["scale"]), f["zeropt"]
    raw = (int(np.floor((lo - zeropt) * scale)), int(np.ceil((hi - zeropt) * scale)))
    if raw[1] - raw[0] > 1 << 20:
        raise ModelError(f"{first.where}: input range {raw} too wide; pass --data FILE")
    return raw


def import_onnx(path, data=None, act_levels=None, weight_levels=None):
    """Import the ONNX model at ``path`` (see the module); ``data`` a data file (path) or a
    Dataset of it; returns an :class:`ImportResult`."""
    require_onnx()
    from .graph import load_onnx, read_graph

    path = Path(path)
    proto = load_onnx(path)
    graph = read_graph(proto)
    if graph.quantized:
        require_onnx(qonnx=True)
    if act_levels is not None and graph.quantized:
        raise OptionsError("--act-levels: this QONNX model's quantizers fix its levels; the "
                           "option is for float models")
    if not graph.quantized and data is None:
        raise OptionsError(f"{path.name}: a float model (no Quant nodes) is quantized after "
                           f"training, which needs calibration data: pass --data FILE")
    dataset = _load_dataset(data, graph.input_shape)
    report = {"source": "qonnx" if graph.quantized else "float", "onnx": path.name,
              "onnx_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
              "head": list(graph.head)}
    if graph.quantized:
        from . import qonnx

        if dataset is None:
            raw_range, scale, data_exact = _no_data_range(graph), None, True
        else:
            raw_range = (int(dataset.input.raw_min), int(dataset.input.raw_max))
            scale = dataset.scale
            data_exact = scale is None
        lowered = qonnx.lower(graph, raw_range=raw_range, input_scale=scale,
                              weight_levels=weight_levels, data_exact=data_exact)
        model, notes, exact = lowered.model, lowered.notes, lowered.exact
        if weight_levels is not None and dataset is not None and not exact:
            plain = qonnx.lower(graph, raw_range=raw_range, input_scale=scale,
                                data_exact=data_exact).model
            report["unclustered_int_accuracy"] = _accuracy(plain, dataset, graph)
        net = None
    else:
        from . import float_onnx

        model, net, notes = float_onnx.lower(graph, dataset, act_levels=act_levels,
                                             weight_levels=weight_levels)
        exact = False
        report["act_levels"] = float_onnx.DEFAULT_LEVELS if act_levels is None else act_levels
        report["weight_levels"] = float_onnx.DEFAULT_LEVELS if weight_levels is None else \
            weight_levels
    meta = {"importer": {"onnx": path.name, "onnx_sha256": report["onnx_sha256"],
                         "source": report["source"], "exact": exact}}
    if dataset is not None:
        meta["dataset"] = _describe(dataset)
    model = _with_meta(model, meta)
    if dataset is not None and tuple(dataset.x_train.shape[1:]) != graph.input_shape:
        notes = notes + [f"the data's samples {tuple(dataset.x_train.shape[1:])} are read as "
                         f"the model's input {graph.input_shape}"]
    report.update(exact=exact, notes=notes, layers=len(model.layers))
    if dataset is None:
        report.update(source_accuracy=None, int_accuracy=None, agreement=None)
        report["notes"] = notes + ["no data: accuracy and agreement not measured"]
        return ImportResult(model, report)
    report.update(_measure(model, proto, graph, dataset, net))
    return ImportResult(model, report)


def _with_meta(model, meta):
    from ..models.spec import IntegerModel

    return IntegerModel(input=model.input, layers=model.layers, meta={**model.meta, **meta})


def _accuracy(model, dataset, graph):
    from ..models import reference

    raw = dataset.x_test.reshape(len(dataset.x_test), *graph.input_shape)
    return float(np.mean(reference.run(model, raw) == dataset.y_test))


def _measure(model, proto, graph, dataset, net):
    """Accuracies and agreement on the test split; on every sample for the QONNX path."""
    from ..models import reference

    source = dataset.source
    shape = graph.input_shape
    raw_test = dataset.x_test.reshape(len(dataset.x_test), *shape)
    onnx_test = onnx_classes(proto, graph, source.x_test)
    int_test = reference.run(model, raw_test)
    out = {"samples": int(len(raw_test)),
           "source_accuracy": float(np.mean(onnx_test == dataset.y_test)),
           "int_accuracy": float(np.mean(int_test == dataset.y_test)),
           "agreement": float(np.mean(int_test == onnx_test))}
    if graph.quantized:
        raw_train = dataset.x_train.reshape(len(dataset.x_train), *shape)
        onnx_train = onnx_classes(proto, graph, source.x_train)
        int_train = reference.run(model, raw_train)
        agree = np.concatenate([int_train == onnx_train, int_test == onnx_test])
        out["agreement_all"] = float(np.mean(agree))
        out["samples_all"] = int(agree.size)
    else:
        from ..models.export import float_forward

        out["quantized_accuracy"] = float(np.mean(float_forward(net, raw_test)
                                                  == dataset.y_test))
    return out
