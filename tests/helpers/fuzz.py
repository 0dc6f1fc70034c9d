# SPDX-License-Identifier: MIT
"""A seeded fuzzer of the model file format, shared by the test suite and the fuzz bench.

:func:`base_models` builds three small valid files (a digits-shaped MLP, a padded 1-D conv net,
and a group-2 MLP with a thresholds input quantizer); :func:`fuzz_case` applies one to three
seeded mutations to one of them:

- bytes: flips, overwritten ranges, truncation;
- zip: member removal, duplication, renaming, swapping, junk members, stored members, and
  patched header fields (compression method, flags, sizes, CRC, offsets, end record);
- JSON header: wrong types, huge, negative and zero numbers, missing and unknown keys, deep
  nesting, broken text, layers removed, duplicated or multiplied;
- ``.npy`` headers: object (pickled), float, complex, string, structured and datetime dtypes,
  invalid, huge, reordered and extra shapes, Fortran order, versions, header lengths, garbage;
- ``.npy`` data: extreme values, out-of-range indices, unsorted thresholds;
- pickled members whose unpickling would create a marker directory (:class:`Unpickled`);
- highly compressible members: zeros of a plausible or implausible declared shape.

:func:`outcome` loads a file and classifies it: ``loaded``, ``refused`` (a one-line
:class:`~nomul.errors.NomulError`) or ``other`` (anything else: a failure).
"""

import io
import json
import os
import struct
import warnings
import zipfile

import numpy as np

from helpers import digits_input_spec
from nomul.errors import NomulError
from nomul.models.modelfile import load_model, model_to_bytes
from nomul.models.spec import InputSpec, IntegerModel
from nomul.models.synthetic import random_model

__all__ = ["Unpickled", "base_models", "fuzz_case", "outcome", "MUTATIONS", "OUTCOMES"]

OUTCOMES = ("loaded", "refused", "other")
_DATE = (1980, 1, 1, 0, 0, 0)


class Unpickled:
    """Pickles to a call that creates directory ``marker``: it exists only if something
    unpickled the member (``np.load(allow_pickle=True)`` does; nomul must not)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.makedirs, (self.marker, 0o700, True))


def base_models():
    """``{name: file bytes}`` of three small valid models (built once per call, seeded)."""
    mlp = random_model("64-8-10", digits_input_spec(), seed=11)
    conv = random_model("1x12-c4k3p1-m2-6-4", InputSpec(shape=(1, 12), raw_min=-3, raw_max=4),
                        seed=12)
    grouped = random_model("16-8-4", InputSpec(shape=(16,), raw_min=0, raw_max=7), seed=13,
                           group=2, act_levels=3, weight_levels=5)
    spec = InputSpec(shape=(16,), raw_min=-50, raw_max=50, quantizer="thresholds",
                     thresholds=np.array([-30, -20, -10, 0, 10, 20, 30]))      # 8 levels
    grouped = IntegerModel(input=spec, layers=grouped.layers, meta=grouped.meta)
    return {"digits-mlp": model_to_bytes(mlp), "conv1d": model_to_bytes(conv),
            "thresholds-group2": model_to_bytes(grouped)}


# ---------------------------------------------------------------- zip helpers


_MEMBER_LIMIT = 1 << 24           # members past this are not inflated again by the fuzzer


def _members(data):
    """``[(name, bytes)]`` of a zip, or None when it no longer parses or holds a member over
    ``_MEMBER_LIMIT`` (a compressible one: mutating it further would cost the fuzzer, not
    nomul, gigabytes)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if any(info.file_size > _MEMBER_LIMIT for info in archive.infolist()):
                return None
            return [(info.filename, archive.read(info)) for info in archive.infolist()]
    except Exception:                                   # noqa: BLE001 - any damage: skip
        return None


def _zip(items, method=zipfile.ZIP_DEFLATED):
    """A zip of ``[(name, bytes or (npy header, zero bytes))]``; duplicates kept."""
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                 # "Duplicate name"
        with zipfile.ZipFile(out, "w") as archive:
            for name, blob in items:
                info = zipfile.ZipInfo(name, date_time=_DATE)
                info.compress_type = method
                if isinstance(blob, tuple):             # (prefix, n zero bytes), streamed
                    prefix, zeros = blob
                    with archive.open(info, "w", force_zip64=True) as stream:
                        stream.write(prefix)
                        chunk = bytes(min(zeros, 1 << 22))
                        while zeros > 0:
                            stream.write(chunk[:zeros])
                            zeros -= len(chunk)
                else:
                    archive.writestr(info, blob)
    return out.getvalue()


def _npy_parts(blob):
    """``(header dict, payload)`` of ``.npy`` bytes, or None."""
    try:
        stream = io.BytesIO(blob)
        version = np.lib.format.read_magic(stream)
        reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = reader(stream)
    except Exception:                                   # noqa: BLE001
        return None
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": fortran,
              "shape": shape}
    return header, blob[stream.tell():]


def _npy_prefix(header, version=(1, 0)):
    stream = io.BytesIO()
    if version == (1, 0):
        np.lib.format.write_array_header_1_0(stream, header)
    else:
        np.lib.format.write_array_header_2_0(stream, header)
    return stream.getvalue()


def _npy(array, allow_pickle=False):
    stream = io.BytesIO()
    np.save(stream, array, allow_pickle=allow_pickle)
    return stream.getvalue()


def _pick(rng, items):
    return items[int(rng.integers(len(items)))]


def _arrays(items):
    return [i for i, (name, _) in enumerate(items) if name != "header.npy"]


# ---------------------------------------------------------------- byte mutations


def flip_bytes(data, rng, context):
    raw = bytearray(data)
    count = int(rng.integers(1, 9))
    for _ in range(count):
        raw[int(rng.integers(len(raw)))] ^= int(rng.integers(1, 256))
    return f"flip {count} bytes", bytes(raw)


def overwrite_range(data, rng, context):
    raw = bytearray(data)
    start = int(rng.integers(len(raw)))
    length = int(rng.integers(1, 65))
    raw[start:start + length] = rng.bytes(length)[:len(raw) - start]
    return f"overwrite {length} bytes at {start}", bytes(raw)


def truncate(data, rng, context):
    length = int(rng.integers(len(data)))
    return f"truncate to {length}", data[:length]


# ---------------------------------------------------------------- zip mutations


def drop_member(data, rng, context):
    items = _members(data)
    if not items:
        return None
    i = int(rng.integers(len(items)))
    return f"drop {items[i][0]}", _zip(items[:i] + items[i + 1:])


def duplicate_member(data, rng, context):
    items = _members(data)
    if not items:
        return None
    i = int(rng.integers(len(items)))
    copy = items[i] if rng.random() < 0.5 else (items[i][0], _pick(rng, items)[1])
    return f"duplicate {items[i][0]}", _zip(items + [copy])


def rename_member(data, rng, context):
    items = _members(data)
    if not items:
        return None
    i = int(rng.integers(len(items)))
    name = items[i][0]
    new = _pick(rng, [name.removesuffix(".npy"), name.upper(), "layers.9.table.npy",
                      "layers.0.table.npy", "header.npy", "../" + name, "dir/" + name,
                      name + ".npy", "layers.1.bias.npy", "input.thresholds.npy", ""])
    items[i] = (new, items[i][1])
    return f"rename {name} to {new!r}", _zip(items)


def swap_members(data, rng, context):
    items = _members(data)
    if not items or len(items) < 2:
        return None
    i, j = (int(v) for v in rng.choice(len(items), size=2, replace=False))
    (a, x), (b, y) = items[i], items[j]
    items[i], items[j] = (a, y), (b, x)
    return f"swap contents of {a} and {b}", _zip(items)


def junk_member(data, rng, context):
    items = _members(data)
    if items is None:
        return None
    blob = _pick(rng, [rng.bytes(100), b"", _npy(np.arange(10)), (b"", context["zeros"])])
    return "add a junk member", _zip(items + [("junk.bin", blob)])


def stored_members(data, rng, context):
    items = _members(data)
    if items is None:
        return None
    return "store members uncompressed", _zip(items, zipfile.ZIP_STORED)


# (signature, {field: (offset, struct format)}) of the zip records
_RECORDS = {
    b"PK\x03\x04": {"flags": (6, "<H"), "method": (8, "<H"), "crc": (14, "<I"),
                    "compressed": (18, "<I"), "size": (22, "<I"), "name length": (26, "<H"),
                    "extra length": (28, "<H")},
    b"PK\x01\x02": {"flags": (8, "<H"), "method": (10, "<H"), "crc": (16, "<I"),
                    "compressed": (20, "<I"), "size": (24, "<I"), "name length": (28, "<H"),
                    "extra length": (30, "<H"), "local offset": (42, "<I")},
    b"PK\x05\x06": {"entries": (10, "<H"), "directory size": (12, "<I"),
                    "directory offset": (16, "<I"), "comment length": (20, "<H")},
}


def patch_zip_field(data, rng, context):
    """Set one field of one zip record to an edge or random value."""
    signature = _pick(rng, list(_RECORDS))
    found = []
    start = 0
    while (at := data.find(signature, start)) >= 0:
        found.append(at)
        start = at + 1
    if not found:
        return None
    at = _pick(rng, found)
    field = _pick(rng, sorted(_RECORDS[signature]))
    offset, fmt = _RECORDS[signature][field]
    top = 0xFFFF if fmt == "<H" else 0xFFFFFFFF
    value = _pick(rng, [0, 1, top, top - 1, int(rng.integers(top + 1)), 8, 12, 14, 99,
                        1 << 30, len(data)])
    value = min(value, top)
    raw = bytearray(data)
    if at + offset + struct.calcsize(fmt) > len(raw):
        return None
    struct.pack_into(fmt, raw, at + offset, value)
    return f"zip {signature!r} at {at}: {field} = {value}", bytes(raw)


# ---------------------------------------------------------------- JSON header mutations


def _header(items):
    for i, (name, blob) in enumerate(items):
        if name == "header.npy":
            parts = _npy_parts(blob)
            if parts is None:
                return None
            try:
                return i, json.loads(parts[1].decode("utf-8"))
            except (ValueError, RecursionError):
                return None
    return None


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, path + (index,))


def _value(rng):
    return _pick(rng, [None, True, False, -1, 0, 1, 2, 3, 64, 65, 1 << 20, 1 << 31, 1 << 63,
                       1 << 64, 10 ** 30, -(1 << 63), 1.5, 1e308, -0.0, "", "x", "dense",
                       "conv2d", "maxpool", "flatten", "thresholds", "argmax", "raw",
                       "identity", [], [1], [0, 0], [-1], [1 << 40], [3, 3, 3], {}, {"a": 1},
                       "nomul-integer-model", [[1, 2], [3]]])


_NEST = "__nest__"


def _with_header(items, index, header, raw_text=None):
    text = raw_text if raw_text is not None else json.dumps(header)
    if isinstance(text, str):
        text = text.encode("utf-8", "surrogatepass")
    items[index] = ("header.npy", _npy(np.frombuffer(text, dtype=np.uint8)))
    return _zip(items)


def json_header(data, rng, context):
    """Change, delete or add one node of the JSON header, or break its text."""
    items = _members(data)
    found = _header(items) if items else None
    if found is None:
        return None
    index, header = found
    paths = list(_paths(header))
    path = _pick(rng, paths)
    action = _pick(rng, ["set", "set", "set", "delete", "add", "nest", "text", "layers",
                         "numbers"])
    parent = header
    for key in path[:-1]:
        parent = parent[key]
    if action in ("set", "nest") and path:
        parent[path[-1]] = _value(rng) if action == "set" else _NEST
        text = None
        if action == "nest":
            depth = int(_pick(rng, [100, 5000, 200000]))
            text = json.dumps(header).replace(f'"{_NEST}"', "[" * depth + "]" * depth)
        return f"json {action} {path}", _with_header(items, index, header, text)
    if action == "delete" and path:
        del parent[path[-1]]
        return f"json delete {path}", _with_header(items, index, header)
    if action == "add":
        key = _pick(rng, ["extra", "layers", "input", "format", "version", "meta"])
        header[key] = _value(rng)
        return f"json set top-level {key}", _with_header(items, index, header)
    if action == "layers" and isinstance(header.get("layers"), list) and header["layers"]:
        layers = header["layers"]
        how = _pick(rng, ["drop", "duplicate", "reverse", "multiply"])
        if how == "drop":
            layers.pop(int(rng.integers(len(layers))))
        elif how == "duplicate":
            layers.insert(int(rng.integers(len(layers))), _pick(rng, layers))
        elif how == "reverse":
            layers.reverse()
        else:
            header["layers"] = layers * int(_pick(rng, [50, 100, 300]))
        return f"json layers {how}", _with_header(items, index, header)
    if action == "numbers":
        text = json.dumps(header)
        digit = _pick(rng, ["9" * 5000, "1e999", "-1e999", "NaN", "Infinity", "1" * 20])
        for old in ('"group": ', '"in_levels": ', '"raw_max": ', '"version": '):
            text = text.replace(old, old + digit + ", \"_\": ", 1) if rng.random() < 0.5 \
                else text
        return f"json number {digit[:8]}", _with_header(items, index, header, text)
    text = json.dumps(header)
    cut = int(rng.integers(len(text)))
    broken = _pick(rng, [text[:cut], text[:cut] + "\udcff" + text[cut:],
                         text[:cut] + "\x00" + text[cut:], " " * 1000 + text,
                         text.replace("{", "[", 1), "[]", "null", '"text"', ""])
    return "json broken text", _with_header(items, index, header, broken)


# ---------------------------------------------------------------- .npy mutations


_DESCRS = ["|O", "<f8", "<f4", "<c16", "|b1", ">i8", "<u8", "|i1", "<i2", "|V8", "<U4", "|S8",
           "<M8[s]", "<m8[s]", [("a", "<i8")], [("a", "<i8", (2,))], "<f2"]


def _shapes(shape):
    return [(-1,), (0,), (), (1 << 40,), (1 << 31, 1 << 31), tuple(reversed(shape)),
            shape + (1,), (1,) + shape, (2 * int(np.prod(shape)),), (3, 0), (-5, 2),
            (1 << 62, 1 << 62), (int(np.prod(shape)),), shape[:1]]


def npy_header(data, rng, context):
    """Rewrite one array member's ``.npy`` header (dtype, shape, order, version, length)."""
    items = _members(data)
    if not items or not _arrays(items):
        return None
    index = _pick(rng, _arrays(items))
    name, blob = items[index]
    parts = _npy_parts(blob)
    if parts is None:
        return None
    header, payload = parts
    shape = tuple(header["shape"])
    how = _pick(rng, ["descr", "shape", "order", "version", "length", "garbage", "text"])
    if how == "descr":
        header["descr"] = _pick(rng, _DESCRS)
        try:
            prefix = _npy_prefix(header)
        except Exception:                                # noqa: BLE001 - numpy refuses it
            return None
        items[index] = (name, prefix + payload)
    elif how == "shape":
        header["shape"] = _pick(rng, _shapes(shape))
        items[index] = (name, _npy_prefix(header) + payload)
    elif how == "order":
        header["fortran_order"] = not header["fortran_order"]
        items[index] = (name, _npy_prefix(header) + payload)
    elif how == "version":
        prefix = _npy_prefix(header, (2, 0))
        version = _pick(rng, [b"\x02\x00", b"\x03\x00", b"\x09\x09", b"\x01\x01", b"\x00\x00"])
        items[index] = (name, prefix[:6] + version + prefix[8:] + payload)
    elif how == "length":
        prefix = bytearray(_npy_prefix(header))
        struct.pack_into("<H", prefix, 8, _pick(rng, [0, 1, 0xFFFF, len(prefix) + 7]))
        items[index] = (name, bytes(prefix) + payload)
    elif how == "garbage":
        items[index] = (name, blob[:10] + rng.bytes(int(rng.integers(1, 200))))
    else:
        text = _pick(rng, ["{'descr': '<i8', 'fortran_order': False, 'shape': (2,)}" + "(" * 500,
                           "{'descr': '<i8'}", "__import__('os')", "{" * 3000,
                           "{'descr': '<i8', 'fortran_order': False, 'shape': (1.5,), }",
                           "{'descr': '<i8', 'fortran_order': 0, 'shape': (2,), }",
                           "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), 'x': 1}",
                           "{'descr': '<i8', 'fortran_order': False, 'shape': [2], }"])
        raw = text.encode("latin1")
        raw += b" " * (-(len(raw) + 11) % 64) + b"\n"
        items[index] = (name, b"\x93NUMPY\x01\x00" + struct.pack("<H", len(raw)) + raw
                        + payload)
    return f"npy {how} of {name}", _zip(items)


def npy_values(data, rng, context):
    """Change the values (not the layout) of one array member."""
    items = _members(data)
    if not items or not _arrays(items):
        return None
    index = _pick(rng, _arrays(items))
    name, blob = items[index]
    try:
        array = np.load(io.BytesIO(blob), allow_pickle=False).astype(np.int64)
    except Exception:                                    # noqa: BLE001
        return None
    if array.size == 0:
        return None
    how = _pick(rng, ["extreme", "index", "reverse", "uint64"])
    flat = array.reshape(-1)
    position = int(rng.integers(flat.size))
    if how == "extreme":
        flat[position] = _pick(rng, [(1 << 62), -(1 << 63), (1 << 63) - 1, (1 << 40) + 1,
                                     (1 << 50) + 1, -1])
        out = flat.reshape(array.shape)
    elif how == "index":
        flat[position] = int(flat.max()) + int(rng.integers(1, 4))
        out = flat.reshape(array.shape)
    elif how == "reverse":
        out = np.ascontiguousarray(array[..., ::-1]) if array.ndim else array
    else:
        out = np.full(array.shape, np.uint64((1 << 64) - 1))
    items[index] = (name, _npy(out))
    return f"npy values {how} of {name}", _zip(items)


def pickled_member(data, rng, context):
    """Replace one member by a pickled object array (unpickling it creates the marker)."""
    items = _members(data)
    if not items:
        return None
    index = int(rng.integers(len(items)))
    objects = np.empty(int(rng.integers(1, 5)), dtype=object)
    for i in range(objects.size):
        objects[i] = Unpickled(context["marker"])
    blob = _npy(objects, allow_pickle=True)
    if rng.random() < 0.3:                               # pretend to be integers
        blob = blob.replace(b"'|O'", b"'<i8'", 1)
    items[index] = (items[index][0], blob)
    return f"pickled member {items[index][0]}", _zip(items)


def compressible_member(data, rng, context):
    """Replace one member by zeros of a plausible or implausible declared shape (deflated)."""
    items = _members(data)
    if not items:
        return None
    index = int(rng.integers(len(items)))
    name, blob = items[index]
    parts = _npy_parts(blob)
    shape = tuple(parts[0]["shape"]) if parts else (4,)
    zeros = context["zeros"]
    descr = _pick(rng, ["|i1", "<i8", "|u1"])
    itemsize = 8 if descr == "<i8" else 1
    entries = max(1, zeros // itemsize)
    if len(shape) == 2 and rng.random() < 0.6:          # keep the rows, widen the columns
        new_shape = (shape[0], max(1, entries // max(1, shape[0])))
    elif len(shape) == 1 and rng.random() < 0.3:
        new_shape = (entries,)
    else:
        new_shape = (max(1, entries // 16), 16)
    header = {"descr": descr, "fortran_order": False, "shape": new_shape}
    size = int(np.prod(new_shape)) * itemsize
    prefix = _npy_prefix(header)
    if name == "header.npy":                             # whitespace-filled JSON header
        prefix = _npy_prefix({"descr": "|u1", "fortran_order": False, "shape": (zeros,)})
        size = zeros
    items[index] = (name, (prefix, size))
    return f"compressible {name} {descr} {new_shape}", _zip(items)


MUTATIONS = (flip_bytes, overwrite_range, truncate, drop_member, duplicate_member,
             rename_member, swap_members, junk_member, stored_members, patch_zip_field,
             json_header, json_header, json_header, npy_header, npy_header, npy_header,
             npy_values, pickled_member, compressible_member)


def fuzz_case(seed, bases, *, marker, zeros=1 << 22):
    """``(label, bytes)`` of fuzz case ``seed``: one to three mutations of one base file.

    Parameters
    ----------
    seed : int
        Determines everything (same seed and bases, same bytes).
    bases : dict
        ``{name: bytes}`` from :func:`base_models`.
    marker : str or os.PathLike
        The directory a pickled member's unpickling would create.
    zeros : int
        Uncompressed bytes of a compressible member (the suite keeps it small, the bench can
        go past the limits).
    """
    rng = np.random.default_rng(seed)
    base = _pick(rng, sorted(bases))
    data = bases[base]
    context = {"marker": marker, "zeros": int(zeros)}
    labels = []
    for _ in range(int(_pick(rng, [1, 1, 1, 2, 3]))):
        for _attempt in range(5):
            mutation = _pick(rng, MUTATIONS)
            result = mutation(data, rng, context) if data else None
            if result is not None:
                label, data = result
                labels.append(label)
                break
    return f"seed {seed} on {base}: " + "; ".join(labels or ["unchanged"]), data


def outcome(path):
    """``(outcome, detail)``: ``loaded``, ``refused`` (one-line NomulError) or ``other``."""
    try:
        load_model(path)
    except NomulError as error:
        message = str(error)
        if "\n" in message or not message.startswith(f"{path}: "):
            return "other", f"badly formed {type(error).__name__}: {message!r}"
        return "refused", message
    except Exception as error:                           # noqa: BLE001 - the finding
        return "other", f"{type(error).__name__}: {error}"
    return "loaded", ""
