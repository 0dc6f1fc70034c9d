# SPDX-License-Identifier: MIT
"""The integer model file: an ``.npz`` (zip of ``.npy`` members) with a JSON header.

Members: ``header`` (uint8 UTF-8 JSON: format name, version, input spec, per-layer scalars and
metadata) and one integer array per model array, named ``input.thresholds``,
``layers.<i>.table``, ``layers.<i>.weight_index``, ``layers.<i>.bias``,
``layers.<i>.thresholds``. Plain numpy reads it (``np.load(path)["header"]``).

Writing is deterministic (fixed zip timestamps, sorted JSON), so the same model gives the same
bytes. Reading never unpickles: every member's ``.npy`` header is checked (integer dtype, a
declared size within :data:`~nomul.models.spec.LIMITS` and matching the stored bytes) before its
data is read, and any defect raises :class:`~nomul.errors.ModelFileError` naming the field.
"""

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import ModelError, ModelFileError
from .spec import LIMITS, Activation, Conv, Dense, Flatten, InputSpec, IntegerModel, MaxPool

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "save_model", "load_model", "model_to_bytes"]

FORMAT_NAME = "nomul-integer-model"
FORMAT_VERSION = 1
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


# ---------------------------------------------------------------- writing


def _header_and_arrays(model):
    arrays = {}
    spec = model.input
    header_input = {"shape": list(spec.shape), "raw_min": spec.raw_min, "raw_max": spec.raw_max,
                    "quantizer": spec.quantizer}
    if spec.thresholds is not None:
        arrays["input.thresholds"] = spec.thresholds
    layers = []
    for i, layer in enumerate(model.layers):
        entry = {"kind": layer.kind, "meta": layer.meta}
        if isinstance(layer, (Dense, Conv)):
            entry.update(in_levels=layer.in_levels, group=layer.group,
                         activation=layer.activation.kind)
            arrays[f"layers.{i}.table"] = layer.table
            arrays[f"layers.{i}.weight_index"] = layer.weight_index
            arrays[f"layers.{i}.bias"] = layer.bias
            if layer.activation.thresholds is not None:
                arrays[f"layers.{i}.thresholds"] = layer.activation.thresholds
        if isinstance(layer, Conv):
            entry.update(kernel=list(layer.kernel), stride=list(layer.stride),
                         padding=list(layer.padding))
        if isinstance(layer, MaxPool):
            entry.update(kernel=list(layer.kernel), stride=list(layer.stride))
        layers.append(entry)
    header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "input": header_input,
              "layers": layers, "meta": model.meta}
    return header, arrays


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def model_to_bytes(model):
    """The file's bytes (deterministic: same model, same bytes)."""
    header, arrays = _header_and_arrays(model)
    text = json.dumps(header, sort_keys=True, allow_nan=False, separators=(",", ":"))
    members = {"header": np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}
    members.update(arrays)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, array in members.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, _npy_bytes(array))
    return out.getvalue()


def save_model(model, path):
    """Write ``model`` to ``path`` atomically (a partial write never replaces a good file)."""
    path = Path(path)
    data = model_to_bytes(model)
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_bytes(data)
        temporary.replace(path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise ModelFileError(f"{path}: cannot write ({error.strerror or error})") from None
    return path


# ---------------------------------------------------------------- reading


def _read_member(archive, name):
    """One integer array, its ``.npy`` header checked before any data is read."""
    try:
        info = archive.getinfo(f"{name}.npy")
    except KeyError:
        raise ModelFileError(f"{name}: missing from the file") from None
    if info.flag_bits & 0x1:
        raise ModelFileError(f"{name}: encrypted zip members are not supported")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ModelFileError(f"{name}: unsupported zip compression method {info.compress_type}")
    if info.file_size > LIMITS.array_bytes:
        raise ModelFileError(f"{name}: declared size {info.file_size} bytes exceeds the limit "
                             f"{LIMITS.array_bytes}")
    with archive.open(info) as stream:
        try:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
            else:
                raise ModelFileError(f"{name}: unsupported .npy version {version}")
        except ValueError as error:
            raise ModelFileError(f"{name}: not a valid .npy array ({error})") from None
        if dtype.hasobject or dtype.kind not in "iub":
            raise ModelFileError(f"{name}: must hold integers, not dtype {dtype} "
                                 f"(pickled objects and floats are refused)")
        count = int(np.prod(shape, dtype=object)) if shape else 1
        if count * dtype.itemsize > info.file_size:
            raise ModelFileError(f"{name}: declares shape {shape} ({count} entries), more than "
                                 f"the {info.file_size} bytes stored")
        data = stream.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise ModelFileError(f"{name}: truncated ({len(data)} of {count * dtype.itemsize} "
                                 f"bytes)")
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return array


def _field(mapping, key, where, kind=None):
    if not isinstance(mapping, dict) or key not in mapping:
        raise ModelFileError(f"{where}.{key}: missing from the header")
    value = mapping[key]
    if kind is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ModelFileError(f"{where}.{key}: has the wrong type ({type(value).__name__})")
    return value


def _reject_constant(name):
    raise ValueError(f"{name} is not allowed")


def _read_header(archive):
    raw = _read_member(archive, "header")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError("header: must be a 1-D uint8 array of UTF-8 JSON")
    if raw.size > LIMITS.header_bytes:
        raise ModelFileError(f"header: {raw.size} bytes exceeds the limit {LIMITS.header_bytes}")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ModelFileError(f"header: not valid JSON ({error})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ModelFileError(f"header.format: not a nomul integer model (expected "
                             f"{FORMAT_NAME!r})")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"header.version: invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"header.version: format version {version} is newer than this "
                             f"nomul reads ({FORMAT_VERSION}); upgrade nomul")
    return header


def _build_layer(archive, entry, i):
    where = f"layers[{i}]"
    kind = _field(entry, "kind", where, str)
    meta = entry.get("meta", {})
    if kind == "flatten":
        return Flatten(meta=meta)
    if kind == "maxpool":
        return MaxPool(kernel=_field(entry, "kernel", where, list),
                       stride=_field(entry, "stride", where, list), meta=meta)
    if kind not in ("dense", "conv1d", "conv2d"):
        raise ModelFileError(f"{where}.kind: unknown layer kind {kind!r}")
    activation_kind = _field(entry, "activation", where, str)
    thresholds = (_read_member(archive, f"layers.{i}.thresholds")
                  if activation_kind == "thresholds" else None)
    common = dict(
        in_levels=_field(entry, "in_levels", where, int),
        group=_field(entry, "group", where, int),
        table=_read_member(archive, f"layers.{i}.table"),
        weight_index=_read_member(archive, f"layers.{i}.weight_index"),
        bias=_read_member(archive, f"layers.{i}.bias"),
        activation=Activation(activation_kind, thresholds),
        meta=meta,
    )
    if kind == "dense":
        return Dense(**common)
    layer = Conv(**common, kernel=_field(entry, "kernel", where, list),
                 stride=_field(entry, "stride", where, list),
                 padding=_field(entry, "padding", where, list))
    if layer.kind != kind:
        raise ModelFileError(f"{where}.kind: {kind} with a {len(layer.kernel)}-D kernel")
    return layer


def _build_model(archive):
    header = _read_header(archive)
    spec = _field(header, "input", "header", dict)
    quantizer = _field(spec, "quantizer", "input", str)
    input_spec = InputSpec(
        shape=_field(spec, "shape", "input", list),
        raw_min=_field(spec, "raw_min", "input", int),
        raw_max=_field(spec, "raw_max", "input", int),
        quantizer=quantizer,
        thresholds=(_read_member(archive, "input.thresholds")
                    if quantizer == "thresholds" else None),
    )
    entries = _field(header, "layers", "header", list)
    if len(entries) > LIMITS.layers:
        raise ModelFileError(f"header.layers: {len(entries)} layers exceeds the limit "
                             f"{LIMITS.layers}")
    layers = []
    for i, entry in enumerate(entries):
        try:
            layers.append(_build_layer(archive, entry, i))
        except ModelError as error:
            message = str(error)
            raise ModelError(message if message.startswith("layers[") else
                             f"layers[{i}].{message}") from None
    return IntegerModel(input=input_spec, layers=tuple(layers), meta=header.get("meta", {}))


def load_model(path):
    """Read and validate a model file; raise :class:`ModelFileError`/:class:`ModelError`."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            model = _build_model(archive)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, not a model file") from None
    except PermissionError:
        raise ModelFileError(f"{path}: cannot read (permission denied)") from None
    except (ModelError, ModelFileError) as error:
        raise type(error)(f"{path}: {error}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError,
            RuntimeError) as error:
        raise ModelFileError(f"{path}: corrupt or truncated model file ({error})") from None
    except (zlib.error, struct.error, ValueError) as error:  # damaged compressed data
        raise ModelFileError(f"{path}: corrupt model file ({type(error).__name__}: {error})") \
            from None
    return model
