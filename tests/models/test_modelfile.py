# SPDX-License-Identifier: MIT
"""The integer model file: exact round trips, deterministic bytes, and hostile files refused.

Bad files are crafted from a good file's members (read with :mod:`zipfile`): one member or the
JSON header is replaced, or a member dropped, and a new zip written. Every refusal must be a
:class:`ModelFileError` or :class:`ModelError` whose message names the offending field.
"""

import io
import json
import os
import struct
import subprocess
import sys
import warnings
import zipfile
import zlib

import numpy as np
import pytest

from helpers import digits_input_spec
from nomul.errors import ModelError, ModelFileError, NomulError, OptionsError
from nomul.models import reference
from nomul.models.arch import parse_arch, parse_input_shape
from nomul.models.modelfile import load_model, model_to_bytes, save_model
from nomul.models.spec import (
    LIMITS,
    Activation,
    Conv,
    Dense,
    Flatten,
    InputSpec,
    IntegerModel,
    MaxPool,
    WeightedLayer,
)
from nomul.models.synthetic import check_options, random_model

# ---------------------------------------------------------------- models


def _per_feature_model():
    """The hand model with one row of input thresholds per input element."""
    hand = _hand_model()
    rows = np.sort(np.random.default_rng(9).integers(-120, 121, size=(12, 4)), axis=1)
    spec = InputSpec(shape=(2, 6), raw_min=-100, raw_max=100, quantizer="thresholds",
                     thresholds=rows)
    return IntegerModel(input=spec, layers=hand.layers, meta=hand.meta)


def _hand_model():
    """Thresholds input quantizer, a padded grouped conv1d with per-output thresholds, raw out."""
    rng = np.random.default_rng(1234)
    spec = InputSpec(shape=(2, 6), raw_min=-100, raw_max=100, quantizer="thresholds",
                     thresholds=np.array([-40, 0, 0, 25]))          # 5 levels (a repeated one)
    conv_table = rng.integers(-1000, 1001, size=(5 ** 2, 3))
    conv_table[3, 1] = LIMITS.table_abs                            # extremes survive exactly
    conv_table[7, 2] = -LIMITS.table_abs
    conv = Conv(in_levels=5, group=2, table=conv_table,
                weight_index=rng.integers(0, 3, size=(3, 3)),       # fan-in 6 = 3 taps x 2 ch
                bias=np.array([-(1 << 45), 0, 17]),
                activation=Activation("thresholds",
                                      np.array([[-500, 500], [-3, -3], [0, 1 << 41]])),
                kernel=(3,), stride=(1,), padding=(1,),
                meta={"note": "hand-built", "nested": {"values": [1, 2.5, "µ"]}})
    dense = Dense(in_levels=3, group=1, table=rng.integers(-50, 51, size=(3, 4)),
                  weight_index=rng.integers(0, 4, size=(5, 18)),
                  bias=rng.integers(-9, 10, size=5), activation=Activation("raw"))
    return IntegerModel(input=spec, layers=(conv, Flatten(meta={"why": "test"}), dense),
                        meta={"recipe": "hand", "seed": 1234, "ratio": 0.1})


@pytest.fixture(scope="module")
def mlp():
    return random_model("64-16-10", digits_input_spec(), seed=1)


@pytest.fixture(scope="module")
def mlp_bytes(mlp):
    return model_to_bytes(mlp)


@pytest.fixture(scope="module")
def hand_bytes():
    return model_to_bytes(_hand_model())


def _models():
    return {
        "digits-mlp": (random_model("64-16-10", digits_input_spec(), seed=1), (0, 16)),
        "digits-mlp-group2": (random_model("64-12-10", digits_input_spec(), seed=4, group=2,
                                           act_levels=3, weight_levels=5), (0, 16)),
        "conv2d": (random_model("1x8x8-c4k3p1-m2-c4k3-8-10",
                                InputSpec(shape=(1, 8, 8), raw_min=0, raw_max=16), seed=2),
                   (0, 16)),
        "hand-thresholds": (_hand_model(), (-100, 100)),
        "hand-per-feature": (_per_feature_model(), (-100, 100)),
    }


# ---------------------------------------------------------------- helpers


def _assert_same_array(a, b, name):
    assert isinstance(b, np.ndarray), name
    assert b.dtype == np.int64, f"{name}: {b.dtype}"
    assert a.shape == b.shape, name
    assert np.array_equal(a, b), name
    assert not b.flags.writeable, name


def assert_same_model(a, b):
    assert isinstance(b, IntegerModel)
    assert (a.input.shape, a.input.raw_min, a.input.raw_max, a.input.quantizer) == \
        (b.input.shape, b.input.raw_min, b.input.raw_max, b.input.quantizer)
    if a.input.thresholds is None:
        assert b.input.thresholds is None
    else:
        _assert_same_array(a.input.thresholds, b.input.thresholds, "input.thresholds")
    assert a.shapes == b.shapes
    assert a.levels == b.levels
    assert a.output == b.output
    assert a.meta == b.meta
    assert len(a.layers) == len(b.layers)
    for i, (x, y) in enumerate(zip(a.layers, b.layers, strict=True)):
        assert type(x) is type(y), i
        assert x.kind == y.kind
        assert x.meta == y.meta, i
        if isinstance(x, WeightedLayer):
            assert (x.in_levels, x.group) == (y.in_levels, y.group)
            for name in ("table", "weight_index", "bias"):
                _assert_same_array(getattr(x, name), getattr(y, name), f"layers[{i}].{name}")
            assert x.activation.kind == y.activation.kind
            if x.activation.thresholds is None:
                assert y.activation.thresholds is None
            else:
                _assert_same_array(x.activation.thresholds, y.activation.thresholds,
                                   f"layers[{i}].thresholds")
        if isinstance(x, (Conv, MaxPool)):
            assert x.kernel == y.kernel and x.stride == y.stride
        if isinstance(x, Conv):
            assert x.padding == y.padding


def members(data):
    """``{name without .npy: member bytes}`` of a model file's bytes."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename.removesuffix(".npy"): archive.read(info)
                for info in archive.infolist()}


def npy(array, *, allow_pickle=False):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def member_array(data, name):
    return np.load(io.BytesIO(members(data)[name]), allow_pickle=False)


def header_of(data):
    return json.loads(member_array(data, "header").tobytes().decode("utf-8"))


def header_member(text):
    if isinstance(text, str):
        text = text.encode("utf-8")
    return npy(np.frombuffer(text, dtype=np.uint8))


def rewrite(data, *, replace=None, drop=(), edit_header=None):
    """A new file from ``data``'s members: some replaced (arrays or raw .npy bytes), some dropped,
    or the JSON header edited in place by ``edit_header(header_dict)``."""
    items = members(data)
    if edit_header is not None:
        header = header_of(data)
        edit_header(header)
        items["header"] = header_member(json.dumps(header))   # allow_nan: NaN can be injected
    for name, value in (replace or {}).items():
        items[name] = value if isinstance(value, bytes) else npy(value)
    for name in drop:
        del items[name]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, blob in items.items():
            archive.writestr(f"{name}.npy", blob)
    return out.getvalue()


def npy_with_header(header, payload=b"\0" * 64, version=(1, 0)):
    """Raw ``.npy`` bytes whose header declares anything, followed by ``payload``."""
    buffer = io.BytesIO()
    if version == (1, 0):
        np.lib.format.write_array_header_1_0(buffer, header)
    else:
        np.lib.format.write_array_header_2_0(buffer, header)
    return buffer.getvalue() + payload


# ---------------------------------------------------------------- round trip


@pytest.mark.parametrize("name", list(_models()))
def test_round_trip_is_exact(name, tmp_path):
    model, (lo, hi) = _models()[name]
    path = save_model(model, tmp_path / "model.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]   # no temporary left
    loaded = load_model(path)
    assert_same_model(model, loaded)
    rng = np.random.default_rng(99)
    raw = rng.integers(lo, hi + 1, size=(64, *model.input.shape))
    raw[0] = lo
    raw[1] = hi
    out_a, in_a, trace_a = reference.run(model, raw, trace=True)
    out_b, in_b, trace_b = reference.run(loaded, raw, trace=True)
    assert np.array_equal(in_a, in_b)
    assert np.array_equal(out_a, out_b)
    for ta, tb in zip(trace_a, trace_b, strict=True):
        assert (ta.acc is None) == (tb.acc is None)
        if ta.acc is not None:
            assert np.array_equal(ta.acc, tb.acc)
        assert np.array_equal(ta.out, tb.out)


@pytest.mark.parametrize("name", list(_models()))
def test_bytes_are_deterministic(name, tmp_path):
    model, _ = _models()[name]
    first = save_model(model, tmp_path / "a.npz").read_bytes()
    second = save_model(model, tmp_path / "b.npz").read_bytes()
    assert first == second
    assert model_to_bytes(model) == first
    save_model(model, tmp_path / "a.npz")                       # overwrite in place
    assert (tmp_path / "a.npz").read_bytes() == first
    # the loaded copy writes the very same bytes, and a fresh build of the model does too
    assert model_to_bytes(load_model(tmp_path / "a.npz")) == first
    assert model_to_bytes(_models()[name][0]) == first


def test_file_is_plain_numpy(mlp, mlp_bytes):
    """Readable with np.load(allow_pickle=False); member names as documented."""
    names = set(members(mlp_bytes))
    assert names == {"header", "layers.0.table", "layers.0.weight_index", "layers.0.bias",
                     "layers.0.thresholds", "layers.1.table", "layers.1.weight_index",
                     "layers.1.bias"}
    with np.load(io.BytesIO(mlp_bytes), allow_pickle=False) as npz:
        assert np.array_equal(npz["layers.0.table"], mlp.layers[0].table)
        assert np.array_equal(npz["layers.1.weight_index"], mlp.layers[1].weight_index)
    header = header_of(mlp_bytes)
    assert header["format"] == "nomul-integer-model" and header["version"] == 1


def test_hand_model_members(hand_bytes):
    names = set(members(hand_bytes))
    assert {"input.thresholds", "layers.0.thresholds", "layers.2.table"} <= names
    assert not any(name.startswith("layers.1.") for name in names)     # flatten: no arrays
    assert "layers.2.thresholds" not in names                          # raw output


def test_rewrite_helper_keeps_good_files_good(mlp, mlp_bytes, tmp_path):
    """Control for the rejection tests: an unmodified rewrite loads to the same model."""
    path = tmp_path / "same.npz"
    path.write_bytes(rewrite(mlp_bytes, edit_header=lambda header: None))
    assert_same_model(mlp, load_model(path))


def test_other_npy_layouts_load_the_same(mlp, mlp_bytes, tmp_path):
    """Big-endian, Fortran-order, narrower and version-2.0 members hold the same integers."""
    wi = mlp.layers[0].weight_index
    table = mlp.layers[0].table
    version2 = io.BytesIO()
    np.lib.format.write_array(version2, mlp.layers[1].bias, version=(2, 0))
    path = tmp_path / "layouts.npz"
    path.write_bytes(rewrite(mlp_bytes, replace={
        "layers.0.weight_index": np.asfortranarray(wi.astype(np.uint8)),
        "layers.0.table": table.astype(">i8"),
        "layers.1.bias": version2.getvalue(),
    }))
    assert_same_model(mlp, load_model(path))


# ---------------------------------------------------------------- rejected files

UNPICKLED = []


def _note_unpickled():
    UNPICKLED.append(True)
    return 0


class _Sentinel:
    """Unpickling this object records it: loading a model must never unpickle."""

    def __reduce__(self):
        return (_note_unpickled, ())


def test_pickled_member_is_refused_without_unpickling(mlp_bytes, tmp_path):
    bad = np.array([_Sentinel() for _ in range(16)], dtype=object)
    blob = npy(bad, allow_pickle=True)
    np.load(io.BytesIO(blob), allow_pickle=True)                # control: the sentinel works
    assert UNPICKLED == [True] * 16
    UNPICKLED.clear()
    path = tmp_path / "pickle.npz"
    path.write_bytes(rewrite(mlp_bytes, replace={"layers.0.bias": blob}))
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    assert "layers.0.bias" in str(caught.value)
    assert "object" in str(caught.value)
    assert UNPICKLED == []


def _thresholds(good):
    return member_array(good, "layers.0.thresholds")


def _weight_index(good, i):
    return member_array(good, f"layers.{i}.weight_index").copy()


def _with_entry(good, i, value):
    wi = _weight_index(good, i)
    wi[wi.shape[0] // 2, wi.shape[1] // 3] = value
    return rewrite(good, replace={f"layers.{i}.weight_index": wi})


def _edit(**changes):
    def edit(header):
        for key, value in changes.items():
            target = header
            *path, last = key.split("__")
            for part in path:
                target = target[int(part)] if part.isdigit() else target[part]
            target[last] = value
    return edit


def _nan_meta(header):
    header["meta"]["bad"] = float("nan")


def _inf_layer_meta(header):
    header["layers"][0]["meta"]["bad"] = float("inf")


def _nested(lists):
    """A JSON object holding ``lists`` nested lists (depth ``lists + 1``)."""
    value = 0
    for _ in range(lists):
        value = [value]
    return {"deep": value}


def _npy_text(text):
    """``.npy`` version 1.0 bytes whose header is ``text`` as it stands."""
    raw = text.encode("latin1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(raw)) + raw


def _duplicated(good, name):
    """``good`` with member ``name`` written twice."""
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                # zipfile: "Duplicate name"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for member, blob in members(good).items():
                archive.writestr(f"{member}.npy", blob)
            archive.writestr(name, members(good)[name.removesuffix(".npy")])
    return out.getvalue()


def _descending(array):
    out = np.array(array, dtype=np.int64, copy=True)
    out[..., :] = np.arange(out.shape[-1])[::-1] * 7
    return out


# (id, model: "mlp" or "hand", builder(good bytes) -> bad bytes, exception, substrings)
FILE_CASES = [
    ("float-table", "mlp",
     lambda g: rewrite(g, replace={
         "layers.0.table": member_array(g, "layers.0.table").astype(np.float64)}),
     ModelFileError, ["layers.0.table", "float64"]),
    ("nan-float-thresholds", "mlp",
     lambda g: rewrite(g, replace={"layers.0.thresholds": np.array([-1.0, np.nan, 1.0])}),
     ModelFileError, ["layers.0.thresholds"]),
    ("complex-bias", "mlp",
     lambda g: rewrite(g, replace={"layers.1.bias": np.zeros(10, dtype=np.complex128)}),
     ModelFileError, ["layers.1.bias"]),
    ("structured-dtype", "mlp",
     lambda g: rewrite(g, replace={"layers.1.bias": np.zeros(10, dtype=[("a", "<i8")])}),
     ModelFileError, ["layers.1.bias"]),
    ("bool-bias", "mlp",
     lambda g: rewrite(g, replace={"layers.1.bias": np.ones(10, dtype=bool)}),
     ModelError, ["layers[1].bias"]),
    ("absurd-shape-1d", "mlp",
     lambda g: rewrite(g, replace={"layers.0.weight_index": npy_with_header(
         {"descr": "<i8", "fortran_order": False, "shape": (10 ** 12,)})}),
     ModelFileError, ["layers.0.weight_index", str(10 ** 12)]),
    ("absurd-shape-2d-v2", "mlp",
     lambda g: rewrite(g, replace={"layers.1.table": npy_with_header(
         {"descr": "|u1", "fortran_order": False, "shape": (10 ** 6, 10 ** 6)},
         version=(2, 0))}),
     ModelFileError, ["layers.1.table"]),
    ("absurd-header-shape", "mlp",
     lambda g: rewrite(g, replace={"header": npy_with_header(
         {"descr": "|u1", "fortran_order": False, "shape": (1 << 40,)})}),
     ModelFileError, ["header"]),
    ("negative-shape", "mlp",                  # was "truncated (40 of -8 bytes)"
     lambda g: rewrite(g, replace={"layers.0.bias": npy_with_header(
         {"descr": "<i8", "fortran_order": False, "shape": (-1,)}, payload=b"\0" * 40)}),
     ModelFileError, ["layers.0.bias", "declares an invalid shape (-1,)"]),
    ("negative-shape-2d", "mlp",
     lambda g: rewrite(g, replace={"layers.0.table": npy_with_header(
         {"descr": "<i8", "fortran_order": False, "shape": (-4, -2)}, payload=b"\0" * 64)}),
     ModelFileError, ["layers.0.table", "invalid shape (-4, -2)"]),
    ("member-longer-than-its-shape", "mlp",
     lambda g: rewrite(g, replace={"layers.0.bias": npy(np.arange(16)) + b"\0" * 8}),
     ModelFileError, ["layers.0.bias", "more than the 128"]),
    ("shape-not-implied-by-header", "mlp",     # refused from the .npy header, nothing read
     lambda g: rewrite(g, replace={"layers.1.table": npy_with_header(
         {"descr": "|i1", "fortran_order": False, "shape": (1 << 20, 8)},
         payload=b"\0" * (1 << 23))}),
     ModelError, ["layers[1].table", "expected in_levels**group = 4"]),
    ("table-too-many-codewords", "mlp",
     lambda g: rewrite(g, replace={"layers.1.table": npy_with_header(
         {"descr": "|i1", "fortran_order": False, "shape": (4, LIMITS.codewords + 1)},
         payload=b"\0" * 4 * (LIMITS.codewords + 1))}),
     ModelError, ["layers[1].table", "codeword columns"]),
    ("thresholds-for-too-many-levels", "mlp",
     lambda g: rewrite(g, replace={"layers.0.thresholds": np.zeros(LIMITS.levels,
                                                                    dtype=np.int8)}),
     ModelError, ["layers[0].thresholds", "need 1 to"]),
    ("input-thresholds-3d", "hand",
     lambda g: rewrite(g, replace={"input.thresholds": np.zeros((2, 2, 2), dtype=np.int64)}),
     ModelError, ["input.thresholds", "dimension"]),
    ("input-thresholds-rows", "hand",       # per-feature rows for 2 of the 12 elements
     lambda g: rewrite(g, replace={"input.thresholds": np.zeros((2, 2), dtype=np.int64)}),
     ModelError, ["input.thresholds", "2 rows for 12 input elements"]),
    ("npy-header-length-huge", "mlp",
     lambda g: rewrite(g, replace={"layers.0.bias": b"\x93NUMPY\x02\x00" + struct.pack(
         "<I", 1 << 31) + b"{"}),
     ModelFileError, ["layers.0.bias", ".npy header of 2147483648 bytes"]),
    ("npy-header-unterminated", "mlp",        # numpy's tokenizer raised TokenError
     lambda g: rewrite(g, replace={"layers.0.bias": _npy_text(
         "{'descr': '<i8', 'fortran_order': False, 'shape': (16,\n") + b"\0" * 128}),
     ModelFileError, ["layers.0.bias", "not a valid .npy header"]),
    ("duplicate-member", "mlp",
     lambda g: _duplicated(g, "layers.0.bias.npy"),
     ModelFileError, ["layers.0.bias.npy", "twice"]),
    ("truncated-member-data", "mlp",
     lambda g: rewrite(g, replace={"layers.0.bias": npy(np.arange(16))[:-8]}),
     ModelFileError, ["layers.0.bias"]),
    ("npy-garbage-member", "mlp",
     lambda g: rewrite(g, replace={"layers.0.bias": b"\x93NUMPY garbage"}),
     ModelFileError, ["layers.0.bias"]),
    ("unsorted-thresholds", "mlp",
     lambda g: rewrite(g, replace={"layers.0.thresholds": _descending(_thresholds(g))}),
     ModelError, ["layers[0].thresholds", "ascending"]),
    ("unsorted-input-thresholds", "hand",
     lambda g: rewrite(g, replace={"input.thresholds": np.array([0, -40, 25, 30])}),
     ModelError, ["input.thresholds", "ascending"]),
    ("unsorted-per-output-thresholds", "hand",
     lambda g: rewrite(g, replace={
         "layers.0.thresholds": np.array([[-500, 500], [-3, -4], [0, 1]])}),
     ModelError, ["layers[0].thresholds", "ascending"]),
    ("per-output-thresholds-rows", "hand",
     lambda g: rewrite(g, replace={"layers.0.thresholds": np.array([[0, 1], [0, 1]])}),
     ModelError, ["layers[0].thresholds"]),
    ("weight-index-out-of-range", "mlp",
     lambda g: _with_entry(g, 1, member_array(g, "layers.1.table").shape[1]),
     ModelError, ["layers[1].weight_index", "out of range"]),
    ("weight-index-negative", "mlp",
     lambda g: _with_entry(g, 1, -1),
     ModelError, ["layers[1].weight_index", "-1"]),
    ("weight-index-negative-conv", "hand",
     lambda g: _with_entry(g, 0, -3),
     ModelError, ["layers[0].weight_index", "-3"]),
    ("fan-in-does-not-chain", "mlp",
     lambda g: rewrite(g, replace={"layers.1.weight_index": _weight_index(g, 1)[:, :-1]}),
     ModelError, ["layers[1].weight_index"]),
    ("dense-after-flatten-does-not-chain", "hand",
     lambda g: rewrite(g, replace={"layers.2.weight_index": _weight_index(g, 2)[:, :17]}),
     ModelError, ["layers[2].weight_index"]),
    ("in-levels-do-not-chain", "mlp",                     # 4 thresholds: layer 0 emits 5 levels
     lambda g: rewrite(g, replace={"layers.0.thresholds": np.array([-9, -3, 3, 9])}),
     ModelError, ["layers[1].in_levels"]),
    ("in-levels-not-input-levels", "mlp",
     lambda g: rewrite(g, replace={"layers.0.table": member_array(g, "layers.0.table")[:16]},
                       edit_header=_edit(layers__0__in_levels=16)),
     ModelError, ["layers[0].in_levels"]),
    ("table-rows", "mlp",
     lambda g: rewrite(g, replace={"layers.0.table": member_array(g, "layers.0.table")[:16]}),
     ModelError, ["layers[0].table"]),
    ("bias-length", "mlp",
     lambda g: rewrite(g, replace={"layers.1.bias": np.zeros(9, dtype=np.int64)}),
     ModelError, ["layers[1].bias"]),
    ("future-version", "mlp", lambda g: rewrite(g, edit_header=_edit(version=2)),
     ModelFileError, ["header.version", "2"]),
    ("version-zero", "mlp", lambda g: rewrite(g, edit_header=_edit(version=0)),
     ModelFileError, ["header.version"]),
    ("version-string", "mlp", lambda g: rewrite(g, edit_header=_edit(version="1")),
     ModelFileError, ["header.version"]),
    ("wrong-format-name", "mlp",
     lambda g: rewrite(g, edit_header=_edit(format="nomul-float-model")),
     ModelFileError, ["header.format"]),
    ("header-not-json", "mlp",
     lambda g: rewrite(g, replace={"header": header_member("{format: nomul")}),
     ModelFileError, ["header", "JSON"]),
    ("header-not-utf8", "mlp",
     lambda g: rewrite(g, replace={"header": header_member(b"\xff\xfe{}")}),
     ModelFileError, ["header"]),
    ("header-json-array", "mlp",
     lambda g: rewrite(g, replace={"header": header_member("[1, 2]")}),
     ModelFileError, ["header.format"]),
    ("header-wrong-dtype", "mlp",
     lambda g: rewrite(g, replace={"header": np.arange(10, dtype=np.int64)}),
     ModelFileError, ["header"]),
    ("header-json-nan", "mlp", lambda g: rewrite(g, edit_header=_nan_meta),
     ModelFileError, ["header", "JSON", "NaN"]),
    ("header-json-infinity", "mlp", lambda g: rewrite(g, edit_header=_inf_layer_meta),
     ModelFileError, ["header", "JSON", "Infinity"]),
    ("header-huge-number", "mlp",     # 1e999 parses to inf without the NaN/Infinity literals
     lambda g: rewrite(g, replace={"header": header_member(
         json.dumps(header_of(g)).replace('"seed": 1', '"seed": 1e999'))}),
     ModelError, ["meta"]),
    ("header-nested-200-deep", "mlp",   # 985 deep: json.loads coped, then re-encoding the
     lambda g: rewrite(g, replace={"header": header_member(  # meta deeper in the stack did not
         json.dumps(header_of(g)).replace('"seed": 1', '"seed": ' + "[" * 200 + "]" * 200))}),
     ModelFileError, ["header", "nested deeper than 64"]),
    ("layer-meta-nested-65-deep", "mlp",
     lambda g: rewrite(g, edit_header=_edit(layers__0__meta=_nested(64))),
     ModelError, ["layers[0].meta", "nested deeper than 64"]),
    ("unknown-layer-kind", "mlp", lambda g: rewrite(g, edit_header=_edit(layers__1__kind="lstm")),
     ModelFileError, ["layers[1].kind"]),
    ("missing-group", "mlp",
     lambda g: rewrite(g, edit_header=lambda h: h["layers"][0].pop("group")),
     ModelFileError, ["layers[0].group"]),
    ("string-in-levels", "mlp",
     lambda g: rewrite(g, edit_header=_edit(layers__0__in_levels="17")),
     ModelFileError, ["layers[0].in_levels"]),
    ("unknown-activation", "mlp",
     lambda g: rewrite(g, edit_header=_edit(layers__1__activation="softmax")),
     ModelError, ["layers[1].activation"]),
    ("hidden-layer-argmax", "mlp",
     lambda g: rewrite(g, edit_header=_edit(layers__0__activation="argmax")),
     ModelError, ["layers[0]"]),
    ("conv-kind-mismatch", "hand",
     lambda g: rewrite(g, edit_header=_edit(layers__0__kind="conv2d")),
     ModelFileError, ["layers[0].kind"]),
    ("conv-padding-too-large", "hand",
     lambda g: rewrite(g, edit_header=_edit(layers__0__padding=[3])),
     ModelError, ["layers[0].padding"]),
    ("input-shape-too-large", "mlp",
     lambda g: rewrite(g, edit_header=_edit(input__shape=[1 << 13, 1 << 13, 4])),
     ModelError, ["input.shape"]),
    ("input-raw-range-reversed", "mlp",
     lambda g: rewrite(g, edit_header=_edit(input__raw_min=17)),
     ModelError, ["input.raw_min"]),
    ("too-many-layers", "mlp",
     lambda g: rewrite(g, edit_header=lambda h: h.update(layers=[{"kind": "flatten"}] * 300)),
     ModelFileError, ["header.layers"]),
    ("missing-member", "mlp", lambda g: rewrite(g, drop=["layers.1.bias"]),
     ModelFileError, ["layers.1.bias", "missing"]),
    ("missing-thresholds-member", "hand", lambda g: rewrite(g, drop=["input.thresholds"]),
     ModelFileError, ["input.thresholds", "missing"]),
    ("missing-header", "mlp", lambda g: rewrite(g, drop=["header"]),
     ModelFileError, ["header", "missing"]),
    ("truncated-file", "mlp", lambda g: g[:len(g) // 2],
     ModelFileError, ["truncated"]),
    ("garbage", "mlp", lambda g: np.random.default_rng(7).bytes(3000),
     ModelFileError, ["corrupt"]),
    ("zip-magic-then-garbage", "mlp",
     lambda g: b"PK\x03\x04" + np.random.default_rng(8).bytes(3000),
     ModelFileError, ["corrupt"]),
    ("empty-file", "mlp", lambda g: b"",
     ModelFileError, ["corrupt"]),
]


@pytest.mark.parametrize("which, builder, error, expected",
                         [pytest.param(*c[1:], id=c[0]) for c in FILE_CASES])
def test_bad_file_is_refused(which, builder, error, expected, mlp_bytes, hand_bytes, tmp_path):
    good = {"mlp": mlp_bytes, "hand": hand_bytes}[which]
    data = builder(good)
    assert data != good
    path = tmp_path / "bad.npz"
    path.write_bytes(data)
    with pytest.raises((ModelFileError, ModelError)) as caught:
        load_model(path)
    assert type(caught.value) is error, f"{type(caught.value).__name__}: {caught.value}"
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_directory_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="is a directory"):
        load_model(tmp_path)


def test_missing_path_is_refused(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    assert str(path) in str(caught.value) and "no such file" in str(caught.value)


def test_every_truncation_is_refused(mlp_bytes, tmp_path):
    """Not just half: many prefixes of a good file all give a one-line NomulError."""
    path = tmp_path / "cut.npz"
    for length in range(0, len(mlp_bytes), max(1, len(mlp_bytes) // 40)):
        path.write_bytes(mlp_bytes[:length])
        with pytest.raises(NomulError):
            load_model(path)


def _patch_zip_headers(data, local_offset, central_offset, update):
    """Apply ``update(old_u16) -> new_u16`` to one field of every local and central header."""
    raw = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", local_offset), (b"PK\x01\x02", central_offset)):
        start = 0
        while (found := raw.find(signature, start)) >= 0:
            (old,) = struct.unpack_from("<H", raw, found + offset)
            struct.pack_into("<H", raw, found + offset, update(old))
            start = found + 4
    return bytes(raw)


def _stored(data):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, blob in members(data).items():
            archive.writestr(f"{name}.npy", blob)
    return out.getvalue()


@pytest.mark.parametrize("field, offsets, update", [
    pytest.param("compression-method-99", (8, 10), lambda old: 99, id="unknown-compression"),
    pytest.param("encrypted-flag", (6, 8), lambda old: old | 1, id="encrypted"),
])
def test_unreadable_zip_members_are_refused(field, offsets, update, mlp_bytes, tmp_path):
    path = tmp_path / f"{field}.npz"
    path.write_bytes(_patch_zip_headers(_stored(mlp_bytes), *offsets, update))
    with pytest.raises((ModelFileError, ModelError)):
        load_model(path)


# ---------------------------------------------------------------- hostile files: memory, time
#
# The defects of the fuzzing campaign: each file is loaded in a child process under a 4 GiB
# address limit (as the campaign ran), which reports its outcome, its time and its peak RSS
# above the RSS it had after importing nomul.

_CHILD = r"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
from nomul.errors import NomulError
from nomul.models.modelfile import load_model
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    load_model(sys.argv[1])
    outcome = ["loaded", ""]
except NomulError as error:
    outcome = ["refused", str(error)]
except BaseException as error:
    outcome = ["other", f"{type(error).__name__}: {error}"]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "seconds": time.perf_counter() - start,
                  "extra_mib": (peak - base) / 1024}))
"""

ZERO_BYTES = (1 << 30) - 4096                    # just under the campaign's 1 GiB member limit


def _load_in_child(path, timeout=60):
    """``{"outcome": [kind, message], "seconds": float, "extra_mib": float}`` of a child."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True,
                            text=True, timeout=timeout, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def _assert_refused_in_bounds(path, parts, *, seconds=10, extra_mib=64):
    report = _load_in_child(path)
    kind, message = report["outcome"]
    assert kind == "refused", report
    assert "\n" not in message and message.startswith(f"{path}: "), message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"
    assert report["seconds"] < seconds, report
    if sys.platform == "linux":                  # ru_maxrss is KiB on Linux (bytes on macOS)
        assert report["extra_mib"] < extra_mib, report
    return message


def _deflate(data):
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def _raw_zip(entries):
    """Zip bytes of ``[(name, raw deflate stream, crc32, size)]`` (written by hand, so that a
    huge member's stream can be built once and reused)."""
    out, central = bytearray(), bytearray()
    for name, stream, crc, size in entries:
        encoded = name.encode()
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21,
                               crc, len(stream), size, len(encoded), 0, 0, 0, 0, 0o644 << 16,
                               len(out)) + encoded
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc,
                           len(stream), size, len(encoded), 0) + encoded + stream
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries),
                      len(central), len(out), 0)
    return bytes(out + central + end)


@pytest.fixture(scope="module")
def filled_streams():
    """``fill -> (raw deflate stream, count)`` of ZERO_BYTES zeros and 256 MiB of spaces,
    each built once (about 2 s: zlib's run-length strategy)."""
    streams = {}
    for fill, count in ((b"\0", ZERO_BYTES), (b" ", 1 << 28)):
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_RLE)
        chunk = fill * (1 << 24)
        parts = [compressor.compress(chunk[:min(len(chunk), count - done)])
                 for done in range(0, count, len(chunk))]
        streams[fill] = (b"".join(parts + [compressor.flush()]), count)
    return streams


def _bomb(good, name, header, streams, fill=b"\0"):
    """``good`` with member ``name`` = a ``.npy`` of ``header`` over a filled stream."""
    filled, count = streams[fill]
    prefix = io.BytesIO()
    np.lib.format.write_array_header_1_0(prefix, header)
    prefix = prefix.getvalue()
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    stream = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH) + filled
    crc = zlib.crc32(prefix)
    chunk = fill * (1 << 24)
    for done in range(0, count, len(chunk)):
        crc = zlib.crc32(chunk[:min(len(chunk), count - done)], crc)
    entries = []
    for member, blob in members(good).items():
        if member == name:
            entries.append((f"{member}.npy", stream, crc, len(prefix) + count))
        else:
            entries.append((f"{member}.npy", _deflate(blob), zlib.crc32(blob), len(blob)))
    return _raw_zip(entries)


def test_raw_zip_helper_keeps_good_files_good(mlp, mlp_bytes, tmp_path):
    """Control for the hand-written zips below."""
    path = tmp_path / "raw.npz"
    path.write_bytes(_raw_zip([(f"{name}.npy", _deflate(blob), zlib.crc32(blob), len(blob))
                               for name, blob in members(mlp_bytes).items()]))
    assert_same_model(mlp, load_model(path))


@pytest.mark.parametrize("member, descr", [
    ("layers.0.table", "|i1"), ("layers.1.bias", "|i1"), ("layers.0.thresholds", "|i1"),
    ("input.thresholds", "<i8"),
])
def test_near_limit_zero_member_is_refused_in_bounds(member, descr, hand_bytes, mlp_bytes,
                                                     filled_streams, tmp_path):
    """A ~1 MB file whose member inflates to just under 1 GiB of zeros (int8 ones became int64
    before their shape was checked: 8 GiB, a traceback; 1 GiB of int64 thresholds peaked at
    2.1 GB): refused from its declared size, without inflating it."""
    good = hand_bytes if member == "input.thresholds" else mlp_bytes
    entries = ZERO_BYTES // np.dtype(descr).itemsize
    data = _bomb(good, member, {"descr": descr, "fortran_order": False, "shape": (entries,)},
                 filled_streams)
    assert len(data) < 2 << 20
    path = tmp_path / "bomb.npz"
    path.write_bytes(data)
    _assert_refused_in_bounds(path, [member], seconds=5, extra_mib=32)


@pytest.mark.parametrize("descr", ["|i1", "<i8"])
def test_plausible_member_at_the_array_limit_stays_bounded(descr, mlp_bytes, tmp_path):
    """The most a small file can make nomul read and convert: a weight index and bias of a
    plausible shape, all zeros, within LIMITS.array_bytes (refused when the layers chain)."""
    outputs = (LIMITS.array_bytes // 8) // 16 - 1024
    replace = {}
    for name, shape in (("layers.0.weight_index", (outputs, 15)), ("layers.0.bias", (outputs,))):
        header = {"descr": descr, "fortran_order": False, "shape": shape}
        replace[name] = npy_with_header(header, payload=bytes(int(np.prod(shape))
                                                              * np.dtype(descr).itemsize))
    path = tmp_path / "plausible.npz"
    path.write_bytes(rewrite(mlp_bytes, replace=replace))
    assert path.stat().st_size < 2 << 20
    _assert_refused_in_bounds(path, ["layers[0].weight_index", "fan-in 15"], extra_mib=320)


def test_header_bomb_is_refused_in_bounds(mlp_bytes, filled_streams, tmp_path):
    """A header inflating to 256 MiB of whitespace is refused from its declared size (it was
    read whole first: 1.9 GB for 900 MiB)."""
    data = _bomb(mlp_bytes, "header", {"descr": "|u1", "fortran_order": False,
                                       "shape": (1 << 28,)}, filled_streams, fill=b" ")
    assert len(data) < 2 << 20
    path = tmp_path / "header-bomb.npz"
    path.write_bytes(data)
    _assert_refused_in_bounds(path, ["header", "exceeds the limit"], seconds=5, extra_mib=32)


def test_header_inflating_past_its_declared_size_is_never_inflated(mlp_bytes, filled_streams,
                                                                   tmp_path):
    """A header member whose zip entry claims a small size over a 256 MiB stream: at most the
    declared size is inflated (the CRC then fails), never the stream."""
    data = bytearray(_bomb(mlp_bytes, "header", {"descr": "|u1", "fortran_order": False,
                                                 "shape": (1 << 20,)}, filled_streams,
                           fill=b" "))
    declared = (1 << 20) + 128                          # the .npy prefix and 1 MiB
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        at = data.find(signature)
        while at >= 0:
            if data[at + name_at:at + name_at + 10] == b"header.npy":
                struct.pack_into("<I", data, at + size_at, declared)
            at = data.find(signature, at + 4)
    path = tmp_path / "header-lies.npz"
    path.write_bytes(bytes(data))
    _assert_refused_in_bounds(path, ["header", "CRC"], seconds=5, extra_mib=32)


def test_huge_zip_directory_is_refused(tmp_path, mlp_bytes):
    path = tmp_path / "directory.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name, blob in members(mlp_bytes).items():
            archive.writestr(f"{name}.npy", blob)
        for i in range(12000):
            archive.writestr(f"junk/{i:06d}/" + "x" * 60, b"")
    with pytest.raises(ModelFileError, match="zip central directory of .* exceeds the limit"):
        load_model(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_fifo_is_refused_without_blocking(tmp_path):
    """A FIFO with no writer made ``nomul info`` hang: refused before it is opened."""
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    message = _assert_refused_in_bounds(fifo, ["FIFO", "not a model file"], seconds=5)
    assert "is a FIFO" in message
    with pytest.raises(ModelFileError, match="FIFO"):      # and in-process, just as fast
        load_model(fifo)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_device_is_refused(device, tmp_path):
    """``nomul info /dev/zero`` read until MemoryError: refused before reading, directly or
    through a symlink."""
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    _assert_refused_in_bounds(device, ["character device", "not a model file"], seconds=5)
    link = tmp_path / "model.npz"
    link.symlink_to(device)
    with pytest.raises(ModelFileError, match="character device"):
        load_model(link)


def test_symlink_to_a_model_loads(mlp, mlp_bytes, tmp_path):
    target = tmp_path / "real.npz"
    target.write_bytes(mlp_bytes)
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    assert_same_model(mlp, load_model(link))


def test_oversized_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "sparse.npz"
    with open(path, "wb") as file:                      # sparse: no disk space used
        file.truncate(LIMITS.file_bytes + 1)
    with pytest.raises(ModelFileError, match="exceeds the model file limit"):
        load_model(path)


def test_writer_refuses_a_header_the_reader_would_refuse(mlp):
    big = IntegerModel(input=mlp.input, layers=mlp.layers,
                       meta={"notes": "x" * LIMITS.header_bytes})
    with pytest.raises(ModelError, match="meta: the file's JSON header"):
        model_to_bytes(big)


# ---------------------------------------------------------------- sizes users type (random)


@pytest.mark.parametrize("arch, options, field, parts", [
    ("64-100000000-10", {}, "arch", ["dense width 100000000", "limit"]),
    ("64-" + "9" * 5000 + "-10", {}, "arch", ["dense width"]),
    ("64-4096-4096-10", {}, "arch", ["weights", "limit"]),
    ("1x4096x4097-10", {}, "arch", ["input shape", "elements"]),
    ("64-1048576-2", {}, "arch", ["layer 0 (dense)", "weights"]),
    ("1x8x8-c9999999k3-10", {}, "arch", ["layer 0 (conv)", "values"]),
    ("64-64-32-10", {"group": 3}, "group",
     ["group: 3 does not divide the 64 inputs of layer 0 (dense)"]),
    ("64-64-32-10", {"group": 64}, "group", ["layer 0 (dense)", "17**64", "table rows"]),
    ("64-64-30-10", {"group": 4}, "group", ["4 does not divide the 30 inputs of layer 2"]),
    ("64-64-32-10", {"group": 0}, "group", ["1 to 64"]),
    ("64-64-32-10", {"group": 65}, "group", ["1 to 64"]),
    ("64-64-32-10", {"group": 2.0}, "group", ["integer"]),
    ("64-64-32-10", {"act_levels": 257}, "act_levels", ["2 to 256"]),
    ("64-64-32-10", {"weight_levels": 1}, "weight_levels", ["2 to"]),
    ("64-64-32-10", {"weight_levels": LIMITS.codewords + 1}, "weight_levels", ["2 to"]),
    ("64-64-32-10", {"group": 2, "weight_levels": 30000}, "group", ["table of 289 rows"]),
    ("64-64-32-10", {"seed": -1}, "seed", []),
])
def test_random_sizes_are_bounded(arch, options, field, parts):
    """``nomul random`` sizes: an OptionsError naming the option, before any allocation (a
    47.7 GiB _ArrayMemoryError for ``64-100000000-10``; numpy's matmul message for a group)."""
    with pytest.raises(OptionsError) as caught:
        random_model(arch, digits_input_spec(), **options)
    message = str(caught.value)
    assert message.startswith(f"{field}: ") and "\n" not in message, message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


def test_random_bounds_control():
    """Just inside the bounds is accepted (checked without building the model)."""
    spec = digits_input_spec()
    plans = parse_arch("64-4096-4000-10", spec.shape)             # 16.7 M weights
    assert check_options(plans, spec.levels, act_levels=256, weight_levels=8,
                         group=2) == (256, 8, 2)
    random_model("64-8-4", spec, group=4, act_levels=3, weight_levels=3, calibration_samples=8)


def test_random_padded_conv_group_must_divide_channels():
    spec = InputSpec(shape=(3, 8), raw_min=0, raw_max=3)
    with pytest.raises(OptionsError, match="group: 3 does not divide the 4 input channels"):
        random_model("3x8-c4k3p1-c4k3p1-4", spec, group=3)
    random_model("3x8-c4k3-4", spec, group=3, calibration_samples=8)      # unpadded: fine


def test_random_calibration_is_bounded():
    spec = InputSpec(shape=(1, 1 << 22), raw_min=0, raw_max=3)
    with pytest.raises(OptionsError, match="arch: layer 0 .* calibration sample"):
        random_model("1x4194304-m4096-2", spec)


def test_input_shape_token_is_bounded():
    with pytest.raises(OptionsError, match="--input-shape: input size"):
        parse_input_shape("1x" + "9" * 30, "--input-shape")
    with pytest.raises(OptionsError, match="--input-shape: input shape '1x²' is not like"):
        parse_input_shape("1x²", "--input-shape")
    assert parse_input_shape("1x8x8") == (1, 8, 8)


# ---------------------------------------------------------------- dataclasses


def _dense(**changes):
    fields = dict(in_levels=3, group=1, table=np.arange(6).reshape(3, 2) - 2,
                  weight_index=np.zeros((2, 4), dtype=np.int64), bias=np.zeros(2, dtype=np.int64),
                  activation=Activation("thresholds", np.array([0, 1])))
    fields.update(changes)
    return Dense(**fields)


def _conv(**changes):
    fields = dict(in_levels=3, group=1, table=np.arange(6).reshape(3, 2),
                  weight_index=np.zeros((2, 6), dtype=np.int64), bias=np.zeros(2, dtype=np.int64),
                  activation=Activation("thresholds", np.array([0, 1])), kernel=(3,),
                  padding=(1,))
    fields.update(changes)
    return Conv(**fields)


def _head(**changes):
    fields = dict(in_levels=3, group=1, table=np.arange(6).reshape(3, 2),
                  weight_index=np.ones((5, 2), dtype=np.int64), bias=np.zeros(5, dtype=np.int64),
                  activation=Activation("argmax"))
    fields.update(changes)
    return Dense(**fields)


SPEC = InputSpec(shape=(4,), raw_min=0, raw_max=2)


def _model(*layers, spec=SPEC):
    return IntegerModel(input=spec, layers=layers)


def test_valid_constructions_control():
    """The builders below are valid as they stand; each case changes exactly one thing."""
    model = _model(_dense(), _head())
    assert model.shapes == ((4,), (2,), (5,))
    assert model.levels == (3, 3, None)
    conv_model = _model(_conv(), Flatten(), _head(weight_index=np.ones((5, 8), dtype=np.int64)),
                        spec=InputSpec(shape=(2, 4), raw_min=0, raw_max=2))
    assert conv_model.shapes[1] == (2, 4)
    InputSpec(shape=(4,), raw_min=-5, raw_max=5, quantizer="thresholds", thresholds=[-1, 1])


def test_a_last_layer_of_thresholds_outputs_saturated_counts_and_survives_the_file(tmp_path):
    """Per output, a count of thresholds met: here 0..2 for output 0, and 0..1 for output 1,
    whose second threshold (2**61) no accumulator reaches."""
    last = _dense(weight_index=np.array([[0, 1], [1, 1]]), bias=np.array([0, -1]),
                  activation=Activation("thresholds", np.array([[-3, 3], [0, 1 << 61]])))
    model = _model(_dense(), last)
    assert model.output == "thresholds" and model.levels == (3, 3, 3)
    raw = np.array([[0, 0, 0, 0], [2, 2, 2, 2], [1, 2, 0, 1]])
    acc = reference.weighted(reference.run(model.__class__(model.input, model.layers[:1]), raw),
                             last)
    expected = np.stack([(acc[:, 0:1] >= [-3, 3]).sum(1), (acc[:, 1:2] >= [0, 1 << 61]).sum(1)],
                        axis=1)
    assert np.array_equal(reference.run(model, raw), expected)
    assert expected[:, 1].max() <= 1
    again = load_model(save_model(model, tmp_path / "m.npz"))
    assert np.array_equal(reference.run(again, raw), expected)


nan_table = np.arange(6.0).reshape(3, 2)
nan_table[1, 1] = np.nan
huge_index = np.broadcast_to(np.int64(0), (1, LIMITS.weights + 1))   # no memory behind it

CONSTRUCTION_CASES = [
    ("float-table", lambda: _dense(table=np.zeros((3, 2))), "table:"),
    ("nan-table", lambda: _dense(table=nan_table), "table:"),
    ("object-table", lambda: _dense(table=np.array([[1, 2]] * 3, dtype=object)), "table:"),
    ("table-rows", lambda: _dense(table=np.zeros((4, 2), dtype=np.int64)), "table:"),
    ("table-one-column", lambda: _dense(table=np.zeros((3, 1), dtype=np.int64),
                                        weight_index=np.zeros((2, 4), dtype=np.int64)), "table:"),
    ("table-entry-too-large", lambda: _dense(table=np.full((3, 2), LIMITS.table_abs + 1)),
     "table:"),
    ("table-rows-limit", lambda: _dense(in_levels=1 << 16, group=2), "table:"),
    ("weight-index-out-of-range", lambda: _dense(weight_index=np.full((2, 4), 2)),
     "weight_index:"),
    ("weight-index-negative", lambda: _dense(weight_index=np.full((2, 4), -1)), "weight_index:"),
    ("weight-index-float", lambda: _dense(weight_index=np.zeros((2, 4))), "weight_index:"),
    ("weight-index-nan", lambda: _dense(weight_index=np.full((2, 4), np.nan)), "weight_index:"),
    ("weight-index-1d", lambda: _dense(weight_index=np.zeros(4, dtype=np.int64)),
     "weight_index:"),
    ("weight-index-empty", lambda: _dense(weight_index=np.zeros((0, 4), dtype=np.int64)),
     "weight_index:"),
    ("weight-index-size-limit", lambda: _dense(weight_index=huge_index), "weight_index:"),
    ("weight-index-uint64-huge", lambda: _dense(weight_index=np.full((2, 4), 2 ** 64 - 1,
                                                                     dtype=np.uint64)),
     "weight_index:"),
    ("bias-length", lambda: _dense(bias=np.zeros(3, dtype=np.int64)), "bias:"),
    ("bias-nan", lambda: _dense(bias=np.array([0.0, np.nan])), "bias:"),
    ("bias-bool", lambda: _dense(bias=np.array([True, False])), "bias:"),
    ("in-levels-one", lambda: _dense(in_levels=1), "in_levels:"),
    ("in-levels-float", lambda: _dense(in_levels=3.0), "in_levels:"),
    ("in-levels-bool", lambda: _dense(in_levels=True), "in_levels:"),
    ("group-zero", lambda: _dense(group=0), "group:"),
    ("meta-nan", lambda: _dense(meta={"x": float("nan")}), "meta:"),
    ("meta-not-dict", lambda: _dense(meta=[1, 2]), "meta:"),
    ("meta-too-deep", lambda: _dense(meta=_nested(LIMITS.json_depth)), "meta:"),
    ("activation-not-activation", lambda: _dense(activation="argmax"), "activation:"),
    ("per-output-thresholds-rows", lambda: _dense(
        activation=Activation("thresholds", np.zeros((3, 2), dtype=np.int64))), "thresholds:"),
    ("thresholds-unsorted", lambda: Activation("thresholds", np.array([1, 0])), "thresholds:"),
    ("per-output-thresholds-unsorted",
     lambda: Activation("thresholds", np.array([[0, 1], [2, 1]])), "thresholds:"),
    ("thresholds-float", lambda: Activation("thresholds", np.array([0.5])), "thresholds:"),
    ("thresholds-nan", lambda: Activation("thresholds", np.array([np.nan])), "thresholds:"),
    ("thresholds-missing", lambda: Activation("thresholds"), "thresholds:"),
    ("thresholds-empty", lambda: Activation("thresholds", np.zeros(0, dtype=np.int64)),
     "thresholds:"),
    ("thresholds-for-argmax", lambda: Activation("argmax", np.array([1])), "thresholds:"),
    ("unknown-activation", lambda: Activation("relu"), "activation:"),
    ("conv-padding", lambda: _conv(padding=(3,)), "padding:"),
    ("conv-taps", lambda: _conv(weight_index=np.zeros((2, 5), dtype=np.int64)), "weight_index:"),
    ("conv-kernel-3d", lambda: _conv(kernel=(1, 1, 1), padding=None), "kernel:"),
    ("conv-stride-length", lambda: _conv(stride=(1, 1)), "stride:"),
    ("maxpool-kernel-zero", lambda: MaxPool(kernel=(0,)), "kernel[0]:"),
    ("input-thresholds-unsorted", lambda: InputSpec(shape=(4,), raw_min=0, raw_max=10,
                                                    quantizer="thresholds",
                                                    thresholds=np.array([5, 2])),
     "input.thresholds:"),
    ("input-thresholds-float", lambda: InputSpec(shape=(4,), raw_min=0, raw_max=10,
                                                 quantizer="thresholds",
                                                 thresholds=np.array([1.0, 2.0])),
     "input.thresholds:"),
    ("input-thresholds-for-identity", lambda: InputSpec(shape=(4,), raw_min=0, raw_max=10,
                                                        thresholds=np.array([1])),
     "input.thresholds:"),
    ("input-quantizer", lambda: InputSpec(shape=(4,), raw_min=0, raw_max=10, quantizer="log"),
     "input.quantizer:"),
    ("input-raw-reversed", lambda: InputSpec(shape=(4,), raw_min=3, raw_max=2),
     "input.raw_min:"),
    ("input-raw-float", lambda: InputSpec(shape=(4,), raw_min=0.0, raw_max=2), "input.raw_min:"),
    ("input-identity-levels", lambda: InputSpec(shape=(4,), raw_min=0, raw_max=1 << 20),
     "input.raw_max:"),
    ("input-shape-elements", lambda: InputSpec(shape=(1 << 13, 1 << 13, 2), raw_min=0,
                                               raw_max=1), "input.shape:"),
    ("input-shape-empty", lambda: InputSpec(shape=(), raw_min=0, raw_max=1), "input.shape:"),
    ("input-shape-zero", lambda: InputSpec(shape=(4, 0), raw_min=0, raw_max=1), "input.shape["),
    ("model-input", lambda: IntegerModel(input=(4,), layers=(_head(),)), "input:"),
    ("model-no-layers", lambda: _model(), "layers:"),
    ("model-fan-in", lambda: _model(_dense(), _head(weight_index=np.ones((5, 3), dtype=int))),
     "layers[1].weight_index:"),
    ("model-first-fan-in", lambda: _model(_dense(weight_index=np.zeros((2, 5), dtype=int)),
                                          _head()), "layers[0].weight_index:"),
    ("model-in-levels", lambda: _model(_dense(), _head(in_levels=2, table=np.ones((2, 2),
                                                                                  dtype=int))),
     "layers[1].in_levels:"),
    ("model-input-levels", lambda: _model(_dense(in_levels=4, table=np.ones((4, 2), dtype=int)),
                                          _head()), "layers[0].in_levels:"),
    ("model-early-argmax", lambda: _model(_head(weight_index=np.ones((5, 4), dtype=int)),
                                          _head()), "layers[0].activation:"),
    ("model-last-flatten", lambda: _model(_dense(), Flatten()), "layers[1]:"),
    ("model-not-a-layer", lambda: _model(_dense(), "dense"), "layers[1]:"),
    ("model-conv-on-vector", lambda: _model(_conv(), Flatten(), _head()), "layers[0].conv1d:"),
    ("model-meta", lambda: IntegerModel(input=SPEC, layers=(_dense(), _head()),
                                        meta={"f": float("inf")}), "meta:"),
]


@pytest.mark.parametrize("build, field",
                         [pytest.param(c[1], c[2], id=c[0]) for c in CONSTRUCTION_CASES])
def test_construction_rejects(build, field):
    with pytest.raises(ModelError) as caught:
        build()
    assert str(caught.value).startswith(field), str(caught.value)


def test_arrays_are_read_only_copies():
    table = np.arange(6).reshape(3, 2) - 2
    layer = _dense(table=table)
    table[0, 0] = 100                                  # the caller's array is not shared
    assert layer.table[0, 0] == -2
    with pytest.raises(ValueError):
        layer.table[0, 0] = 5
