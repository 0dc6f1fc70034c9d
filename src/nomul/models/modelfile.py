# SPDX-License-Identifier: MIT
"""The integer model file: an ``.npz`` (zip of ``.npy`` members) with a JSON header.

Members: ``header`` (uint8 UTF-8 JSON: format name, version, input spec, per-layer scalars and
metadata) and one integer array per model array, named ``input.thresholds``,
``layers.<i>.table``, ``layers.<i>.weight_index``, ``layers.<i>.bias``,
``layers.<i>.thresholds``. Plain numpy reads it (``np.load(path)["header"]``).

Writing is deterministic (fixed zip timestamps, sorted JSON), so the same model gives the same
bytes. Reading never unpickles and is bounded for hostile files (see
:data:`~nomul.models.spec.LIMITS`):

1. only a regular file is opened (``stat`` first, then a non-blocking open: a FIFO, device or
   directory is refused without blocking), of at most ``file_bytes``, whose zip central
   directory declares at most ``zip_directory_bytes``;
2. the JSON header member is refused when it declares more than ``header_bytes``, and never
   more than that is inflated;
3. every array member's ``.npy`` header (integer dtype, a valid shape, a size within
   ``array_bytes`` as int64, exactly the stored bytes) is checked against the shape the JSON
   header implies (``table`` ``(in_levels**group, K)``, ``weight_index`` ``(M, G)``, ``bias``
   ``(M,)``, ``thresholds`` ``(T,)`` or ``(M, T)``, ``input.thresholds`` ``(T,)``), and all
   arrays together within ``array_bytes`` as int64, *before* any array data is read;
4. then the data is read in bounded chunks, and converted to int64 by the model classes.

Any defect raises :class:`~nomul.errors.ModelFileError` (the file) or
:class:`~nomul.errors.ModelError` (the model), one line naming the member or field.
"""

import io
import json
import math
import os
import stat
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import ModelError, ModelFileError
from .spec import (
    ACTIVATION_KINDS,
    KINDS,
    LIMITS,
    Activation,
    Conv,
    Dense,
    InputSpec,
    IntegerModel,
    WeightlessLayer,
    check_input_thresholds_shape,
    check_threshold_shape,
    check_weighted_shapes,
    json_too_deep,
    table_rows,
)

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
        if isinstance(layer, WeightlessLayer):
            entry.update(layer.header())
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
    encoded = text.encode("utf-8")
    if len(encoded) > LIMITS.header_bytes:                 # the reader would refuse it
        raise ModelError(f"meta: the file's JSON header would be {len(encoded)} bytes, more "
                         f"than the limit {LIMITS.header_bytes}")
    members = {"header": np.frombuffer(encoded, dtype=np.uint8)}
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

_NPY_MAGIC = b"\x93NUMPY"
_NPY_HEADER_LIMIT = 10000          # bytes of a .npy header dict (numpy's own max_header_size
                                   # default; numpy writes about 128)
_NPY_PREFIX = 12                   # magic, version and header length (version 2.0 and 3.0)
_CHUNK = 1 << 22                   # bytes read at a time
_EOCD = b"PK\x05\x06"              # zip end of central directory record (22 bytes + comment)
_EOCD_SIZE = 22
_EOCD64 = b"PK\x06\x06"            # zip64 end record (56 bytes), then its locator (20 bytes)
_EOCD64_LOCATOR = b"PK\x06\x07"
_SPECIAL_FILES = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                  (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                  (stat.S_ISSOCK, "a socket"))
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError,
               RuntimeError, zlib.error, struct.error, ValueError, OverflowError)


def _brief(error):
    """An exception's message on one short line."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _check_regular(mode, size):
    """Refuse anything but a regular file of at most ``LIMITS.file_bytes``."""
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _SPECIAL_FILES if test(mode)), "a special file")
        raise ModelFileError(f"is {kind}, not a model file")
    if size > LIMITS.file_bytes:
        raise ModelFileError(f"{size} bytes exceeds the model file limit {LIMITS.file_bytes}")


def _open_regular(path):
    """``(binary file, size)`` of ``path``, refused unless it is a regular file.

    ``stat`` (which follows symlinks) comes before ``open``, so a FIFO or device is never
    opened; the open is non-blocking and the descriptor is checked again in case the path was
    replaced in between.
    """
    info = os.stat(path)
    _check_regular(info.st_mode, info.st_size)
    flags = os.O_RDONLY
    for name in ("O_NONBLOCK", "O_NOCTTY", "O_BINARY"):
        flags |= getattr(os, name, 0)
    descriptor = os.open(path, flags)
    try:
        info = os.fstat(descriptor)
        _check_regular(info.st_mode, info.st_size)
        return os.fdopen(descriptor, "rb"), info.st_size
    except BaseException:
        os.close(descriptor)
        raise


def _check_zip_directory(file, size):
    """Refuse a zip central directory over ``LIMITS.zip_directory_bytes`` before :mod:`zipfile`
    reads it, finding the end record as :mod:`zipfile` does (at the very end, else the last
    signature in the final 64 KiB; the zip64 record when its locator precedes it)."""
    if size < _EOCD_SIZE:
        return                                       # zipfile reports the corrupt file
    file.seek(size - _EOCD_SIZE)
    record, at = file.read(_EOCD_SIZE), size - _EOCD_SIZE
    if record[:4] != _EOCD or record[-2:] != b"\0\0":
        start = max(size - (1 << 16) - _EOCD_SIZE, 0)
        file.seek(start)
        tail = file.read(size - start)
        found = tail.rfind(_EOCD)
        if found < 0 or found + _EOCD_SIZE > len(tail):
            return
        record, at = tail[found:found + _EOCD_SIZE], start + found
    entries, directory = struct.unpack_from("<HI", record, 10)
    if at >= 76:
        file.seek(at - 76)
        zip64 = file.read(76)
        if zip64[:4] == _EOCD64 and zip64[56:60] == _EOCD64_LOCATOR:
            entries, directory = struct.unpack_from("<QQ", zip64, 32)
    if directory > LIMITS.zip_directory_bytes:
        raise ModelFileError(f"zip central directory of {directory} bytes ({entries} members) "
                             f"exceeds the limit {LIMITS.zip_directory_bytes}")


def _read_exact(stream, count, name, what):
    data = stream.read(count)
    if len(data) != count:
        raise ModelFileError(f"{name}: truncated in the {what}")
    return data


def _npy_header(stream, name):
    """``(shape, fortran, dtype, header bytes)`` of a ``.npy`` stream, read with bounds.

    The header dict is parsed by numpy's own (literal, never pickling) parser, but only after
    its length is checked, so at most ``_NPY_HEADER_LIMIT`` bytes are read.
    """
    magic = _read_exact(stream, 8, name, ".npy magic")
    if magic[:6] != _NPY_MAGIC:
        raise ModelFileError(f"{name}: not a .npy array (bad magic {magic[:6]!r})")
    version = (magic[6], magic[7])
    if version == (1, 0):
        length_format, reader = "<H", np.lib.format.read_array_header_1_0
    elif version in ((2, 0), (3, 0)):
        length_format, reader = "<I", np.lib.format.read_array_header_2_0
    else:
        raise ModelFileError(f"{name}: unsupported .npy version {version[0]}.{version[1]}")
    length_bytes = _read_exact(stream, struct.calcsize(length_format), name, ".npy header")
    (length,) = struct.unpack(length_format, length_bytes)
    if length > _NPY_HEADER_LIMIT:
        raise ModelFileError(f"{name}: .npy header of {length} bytes exceeds the limit "
                             f"{_NPY_HEADER_LIMIT}")
    text = _read_exact(stream, length, name, ".npy header")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            shape, fortran, dtype = reader(io.BytesIO(length_bytes + text),
                                           max_header_size=_NPY_HEADER_LIMIT)
    except Exception as error:          # noqa: BLE001 - ValueError, TokenError, SyntaxError,
        # RecursionError, warnings...: whatever numpy's parser says of these <= 64 KiB of text
        raise ModelFileError(f"{name}: not a valid .npy header ({type(error).__name__}: "
                             f"{_brief(error)})") from None
    return shape, bool(fortran), dtype, len(magic) + len(length_bytes) + length


def _read_data(stream, name, shape, fortran, dtype):
    """The array of a stream positioned after its ``.npy`` header, read in bounded chunks."""
    array = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
    raw = array.reshape(-1, order="A").view(np.uint8)       # the array's own memory
    done = 0
    while done < raw.size:
        chunk = stream.read(min(_CHUNK, raw.size - done))
        if not chunk:
            raise ModelFileError(f"{name}: truncated ({done} of {raw.size} data bytes)")
        raw[done:done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
        done += len(chunk)
    return array


class _Members:
    """The ``.npy`` members of an open model file: each declared (its ``.npy`` header checked,
    no data read), then read; all declared arrays together within ``LIMITS.array_bytes``."""

    def __init__(self, archive):
        self._archive = archive
        self._infos = {}
        for info in archive.infolist():
            if info.filename in self._infos:
                raise ModelFileError(f"{info.filename}: appears twice in the zip file")
            self._infos[info.filename] = info
        self._declared = {}
        self._total = 0

    def _open(self, name, limit, entry_bytes):
        """``(stream, shape, fortran, dtype)``: member ``name`` opened past its checked header.

        ``entry_bytes * entries`` must be within ``limit`` (8: the int64 size of an array).
        """
        info = self._infos.get(f"{name}.npy")
        if info is None:
            raise ModelFileError(f"{name}: missing from the file")
        if info.flag_bits & 0x1:
            raise ModelFileError(f"{name}: encrypted zip members are not supported")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelFileError(f"{name}: unsupported zip compression method "
                                 f"{info.compress_type}")
        if info.file_size > limit + _NPY_PREFIX + _NPY_HEADER_LIMIT:
            raise ModelFileError(f"{name}: declared size {info.file_size} bytes exceeds the "
                                 f"limit {limit + _NPY_PREFIX + _NPY_HEADER_LIMIT}")
        stream = self._archive.open(info)
        try:
            shape, fortran, dtype, offset = _npy_header(stream, name)
            if dtype.hasobject or dtype.kind not in "iub":
                raise ModelFileError(f"{name}: must hold integers, not dtype {dtype} "
                                     f"(pickled objects and floats are refused)")
            if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in shape):
                raise ModelFileError(f"{name}: declares an invalid shape {shape}")
            entries = math.prod(shape)
            if entries * entry_bytes > limit:
                raise ModelFileError(f"{name}: declares shape {shape} ({entries} entries), more "
                                     f"than the limit of {limit // entry_bytes} entries")
            need, held = entries * dtype.itemsize, info.file_size - offset
            if held < need:
                raise ModelFileError(f"{name}: truncated: shape {shape} of {dtype} needs {need} "
                                     f"bytes, the member holds {max(held, 0)}")
            if held > need:
                raise ModelFileError(f"{name}: holds {held} data bytes, more than the {need} "
                                     f"of its shape {shape} of {dtype}")
        except BaseException:
            stream.close()
            raise
        return stream, shape, fortran, dtype

    def _guarded(self, name, action):
        try:
            return action()
        except (ModelError, ModelFileError):
            raise
        except _ZIP_ERRORS as error:
            raise ModelFileError(f"{name}: corrupt zip member ({_brief(error)})") from None

    def header(self):
        """The JSON header's bytes (at most ``LIMITS.header_bytes`` are ever inflated)."""
        def read():
            stream, shape, fortran, dtype = self._open("header", LIMITS.header_bytes, 1)
            with stream:
                if dtype != np.uint8 or len(shape) != 1:
                    raise ModelFileError("header: must be a 1-D uint8 array of UTF-8 JSON")
                return _read_data(stream, "header", shape, fortran, dtype).tobytes()
        return self._guarded("header", read)

    def declare(self, name):
        """The checked shape of array member ``name``; no data is read."""
        def declare():
            stream, shape, fortran, dtype = self._open(name, LIMITS.array_bytes, 8)
            stream.close()
            return shape, fortran, dtype
        declared = self._guarded(name, declare)
        self._total += 8 * math.prod(declared[0])
        if self._total > LIMITS.array_bytes:
            raise ModelFileError(f"{name}: brings the model's arrays to {self._total} bytes as "
                                 f"int64, more than the limit {LIMITS.array_bytes}")
        self._declared[name] = declared
        return declared[0]

    def read(self, name):
        """The data of a declared member, as stored (the model classes convert to int64)."""
        def read():
            stream, *declared = self._open(name, LIMITS.array_bytes, 8)
            with stream:
                if tuple(declared) != self._declared[name]:
                    raise ModelFileError(f"{name}: changed while the file was read")
                return _read_data(stream, name, *declared)
        return self._guarded(name, read)


def _field(mapping, key, where, kind=None):
    if not isinstance(mapping, dict) or key not in mapping:
        raise ModelFileError(f"{where}.{key}: missing from the header")
    value = mapping[key]
    if kind is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ModelFileError(f"{where}.{key}: has the wrong type ({type(value).__name__})")
    return value


def _reject_constant(name):
    raise ValueError(f"{name} is not allowed")


def _read_header(members):
    raw = members.header()
    try:
        header = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ModelFileError(f"header: not valid JSON ({_brief(error)})") from None
    if json_too_deep(header, LIMITS.json_depth + 4):      # header.layers[i].meta: 4 more
        raise ModelFileError(f"header: JSON nested deeper than {LIMITS.json_depth} levels of "
                             f"metadata")
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ModelFileError(f"header.format: not a nomul integer model (expected "
                             f"{FORMAT_NAME!r})")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"header.version: invalid format version {_brief(repr(version))}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"header.version: format version {version} is newer than this "
                             f"nomul reads ({FORMAT_VERSION}); upgrade nomul")
    return header


class _LayerErrors:
    """Prefix a :class:`ModelError` raised inside with ``layers[i].``."""

    def __init__(self, i):
        self.i = i

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if isinstance(error, ModelError) and not str(error).startswith("layers["):
            raise ModelError(f"layers[{self.i}].{error}") from None
        return False


def _plan_layer(members, entry, i):
    """``(class, header fields, kind)`` of layer ``i``; its members declared and their shapes
    checked against the header (no data read)."""
    where = f"layers[{i}]"
    kind = _field(entry, "kind", where, str)
    meta = entry.get("meta", {})
    if kind in KINDS:                            # a weightless kind: header fields only
        cls = KINDS[kind]
        return cls, {"fields": {name: _field(entry, name, where, list)
                                for name in cls.header_fields}, "meta": meta}, kind
    if kind not in ("dense", "conv1d", "conv2d"):
        raise ModelFileError(f"{where}.kind: unknown layer kind {_brief(repr(kind))}")
    activation = _field(entry, "activation", where, str)
    if activation not in ACTIVATION_KINDS:
        raise ModelError(f"activation: must be one of {ACTIVATION_KINDS}, not "
                         f"{_brief(repr(activation))}")
    fields = {"in_levels": _field(entry, "in_levels", where, int),
              "group": _field(entry, "group", where, int), "activation": activation,
              "meta": meta}
    if kind != "dense":
        fields.update(kernel=_field(entry, "kernel", where, list),
                      stride=_field(entry, "stride", where, list),
                      padding=_field(entry, "padding", where, list))
    _, group, rows = table_rows(fields["in_levels"], fields["group"])
    shapes = {name: members.declare(f"layers.{i}.{name}")
              for name in ("table", "weight_index", "bias")}
    check_weighted_shapes(rows, group, **shapes)
    if activation == "thresholds":
        check_threshold_shape(members.declare(f"layers.{i}.thresholds"), "thresholds",
                              outputs=shapes["weight_index"][0])
    return (Dense if kind == "dense" else Conv), fields, kind


def _make_layer(members, i, cls, fields, kind):
    """Layer ``i`` from its plan, its members' data read now."""
    if issubclass(cls, WeightlessLayer):
        return cls.from_header(**fields)
    activation = fields.pop("activation")
    thresholds = members.read(f"layers.{i}.thresholds") if activation == "thresholds" else None
    arrays = {name: members.read(f"layers.{i}.{name}")
              for name in ("table", "weight_index", "bias")}
    layer = cls(**fields, **arrays, activation=Activation(activation, thresholds))
    if layer.kind != kind:
        raise ModelFileError(f"layers[{i}].kind: {kind} with a {len(layer.kernel)}-D kernel")
    return layer


def _build_model(members):
    header = _read_header(members)
    spec = _field(header, "input", "header", dict)
    quantizer = _field(spec, "quantizer", "input", str)
    entries = _field(header, "layers", "header", list)
    if len(entries) > LIMITS.layers:
        raise ModelFileError(f"header.layers: {len(entries)} layers exceeds the limit "
                             f"{LIMITS.layers}")
    # every member is declared and checked against the header before any data is read
    if quantizer == "thresholds":
        check_input_thresholds_shape(members.declare("input.thresholds"))
    plans = []
    for i, entry in enumerate(entries):
        with _LayerErrors(i):
            plans.append(_plan_layer(members, entry, i))
    input_spec = InputSpec(
        shape=_field(spec, "shape", "input", list),
        raw_min=_field(spec, "raw_min", "input", int),
        raw_max=_field(spec, "raw_max", "input", int),
        quantizer=quantizer,
        thresholds=(members.read("input.thresholds") if quantizer == "thresholds" else None),
    )
    layers = []
    for i, plan in enumerate(plans):
        with _LayerErrors(i):
            layers.append(_make_layer(members, i, *plan))
    return IntegerModel(input=input_spec, layers=tuple(layers), meta=header.get("meta", {}))


def load_model(path):
    """Read and validate a model file.

    Parameters
    ----------
    path : str or os.PathLike
        A regular file (a FIFO, device or directory is refused without being read).

    Returns
    -------
    IntegerModel

    Raises
    ------
    ModelFileError
        The file cannot be read, is not a regular file, or is corrupt, truncated, hostile or of
        a future version; one line starting with the path and naming the member or field.
    ModelError
        The file is well formed but the model breaks a rule of the spec.
    """
    path = Path(path)
    try:
        file, size = _open_regular(path)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except PermissionError:
        raise ModelFileError(f"{path}: cannot read (permission denied)") from None
    except OSError as error:
        raise ModelFileError(f"{path}: cannot open ({error.strerror or _brief(error)})") \
            from None
    except ModelFileError as error:
        raise ModelFileError(f"{path}: {error}") from None
    try:
        with file:
            _check_zip_directory(file, size)
            with zipfile.ZipFile(file) as archive:
                return _build_model(_Members(archive))
    except (ModelError, ModelFileError) as error:
        raise type(error)(f"{path}: {error}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError,
            RuntimeError) as error:
        raise ModelFileError(f"{path}: corrupt or truncated model file ({_brief(error)})") \
            from None
    except (zlib.error, struct.error, ValueError, OverflowError) as error:
        raise ModelFileError(f"{path}: corrupt model file ({type(error).__name__}: "
                             f"{_brief(error)})") from None
