# SPDX-License-Identifier: MIT
"""``nomul import``: QONNX exactly, float ONNX by post-training quantization, one-line errors.

The fixtures are made by ``tests/fixtures/onnx/make_fixtures.py`` (no torch). The QONNX
graphs run in qonnx's ``execute_onnx``, the float ones in onnxruntime; the imported model's
classes come from the integer reference.
"""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("qonnx")
pytest.importorskip("onnxruntime")

import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from helpers import run_cli  # noqa: E402
from nomul.errors import ModelError, OptionsError  # noqa: E402
from nomul.importers import NEEDS_ONNX, import_onnx  # noqa: E402
from nomul.importers.rounding import ROUNDING_MODES, level_condition  # noqa: E402
from nomul.models import reference  # noqa: E402
from nomul.models.modelfile import load_model  # noqa: E402
from nomul.models.spec import Activation, Dense, InputSpec, IntegerModel  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "onnx"
DIGITS = FIXTURES / "digits.npz"
BINARY = FIXTURES / "binary.npz"
IMAGES = FIXTURES / "digits_1x8x8.npz"


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    monkeypatch.delenv("NOMUL_DEBUG", raising=False)




# -- the exact path ------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ROUNDING_MODES)
def test_level_conditions_match_qonnx_rounding_at_every_tie(mode):
    """``round(y) >= n`` exactly when the condition holds, for y on a grid of halves."""
    from qonnx.custom_op.general.intquant import resolve_rounding_mode

    rounding = resolve_rounding_mode(mode)
    y = np.arange(-40, 41, dtype=np.float32) / 4                     # ties at every .5
    for n in range(-8, 9):
        t, strict = level_condition(n, mode, "node")
        want = rounding(y) >= n
        got = np.array([v > t if strict else v >= t for v in map(float, y)])
        assert (got == want).all(), (mode, n)


@pytest.mark.parametrize("name, data", [("qonnx_mlp", DIGITS), ("finn_cnn", IMAGES)])
def test_qonnx_import_agrees_on_every_sample(name, data):
    result = import_onnx(FIXTURES / f"{name}.onnx", data=data)
    report = result.report
    assert report["source"] == "qonnx" and report["exact"]
    assert report["samples_all"] == 1797
    assert report["agreement_all"] == 1.0 and report["agreement"] == 1.0
    assert report["int_accuracy"] == report["source_accuracy"]


def test_the_exact_fixture_meets_rounding_ties():
    """The MLP's hidden quantizers see exact ties (x / scale = n + 1/2) on real samples, so
    agreement checks the half-to-even rule."""
    graph_model = onnx.load(FIXTURES / "qonnx_mlp.onnx")
    inits = {t.name: numpy_helper.to_array(t) for t in graph_model.graph.initializer}
    x = np.load(DIGITS)["x_train"].astype(np.float64)
    w1 = inits["w1"].astype(np.float64)
    z = x @ w1.T + inits["b1"]
    y = np.maximum(z, 0) / float(inits["Quant_a1_scale"])
    ties = np.sum(np.abs(y - np.floor(y) - 0.5) == 0)
    assert ties > 0


def test_weight_clustering_reports_its_cost():
    result = import_onnx(FIXTURES / "qonnx_mlp.onnx", data=DIGITS, weight_levels=2)
    report = result.report
    assert not report["exact"]
    assert any("clustered" in note for note in report["notes"])
    assert "unclustered_int_accuracy" in report
    assert max(layer.n_codewords for layer in result.model.layers
               if hasattr(layer, "table")) <= 20


def test_qonnx_without_data_takes_the_input_quantizer_range():
    result = import_onnx(FIXTURES / "qonnx_mlp.onnx")
    assert result.model.input.raw_min == 0 and result.model.input.raw_max == 31
    assert result.report["agreement"] is None
    with_data = import_onnx(FIXTURES / "qonnx_mlp.onnx", data=DIGITS).model
    x = np.load(DIGITS)["x_test"].astype(np.int64)
    assert (reference.run(result.model, x) == reference.run(with_data, x)).all()


# -- the float path ------------------------------------------------------------------------

@pytest.mark.parametrize("name, data, accuracy", [
    ("sk_mlp", DIGITS, 0.93), ("sk_binary", BINARY, 0.85), ("torch_like_cnn", IMAGES, 0.85)])
def test_float_import_keeps_accuracy(name, data, accuracy):
    report = import_onnx(FIXTURES / f"{name}.onnx", data=data).report
    assert report["source"] == "float" and not report["exact"]
    assert report["int_accuracy"] >= accuracy
    assert report["agreement"] >= 0.9
    assert report["int_accuracy"] == report["quantized_accuracy"]


def test_a_single_logit_becomes_two_outputs_and_ties_go_to_class_0():
    """Class 1 exactly when the logit > 0, as scikit-learn's predict (probability > 0.5)."""
    from sklearn.preprocessing import LabelBinarizer

    model = import_onnx(FIXTURES / "sk_binary.onnx", data=BINARY).model
    last = model.layers[-1]
    assert last.out_channels == 2 and (last.table[:, last.weight_index[0]] == 0).all()
    assert last.bias[0] == 0
    binarizer = LabelBinarizer().fit([0, 1])
    assert binarizer.inverse_transform(np.array([[0.5]]))[0] == 0        # logit exactly 0
    tie = IntegerModel(InputSpec(shape=(1,), raw_min=0, raw_max=1), (
        Dense(in_levels=2, group=1, table=[[0, 0], [0, 1]], weight_index=[[0], [0]],
              bias=[0, 0], activation=Activation("argmax")),))
    assert reference.run(tie, np.array([[0], [1]])).tolist() == [0, 0]


def test_float_import_needs_data():
    with pytest.raises(OptionsError, match="needs calibration data: pass --data FILE"):
        import_onnx(FIXTURES / "sk_mlp.onnx")


# -- refusals ------------------------------------------------------------------------------

def _save(tmp_path, nodes, inits, shape=(1, 4), out_shape=(1, 3)):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out_shape))],
        [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    return path


def test_residual_connections_are_refused_naming_the_node(tmp_path, capsys):
    w = np.ones((4, 4))
    path = _save(tmp_path, [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="MatMul_1"),
        helper.make_node("Relu", ["h"], ["r"], name="Relu_2"),
        helper.make_node("Add", ["r", "x"], ["s"], name="Add_3"),
        helper.make_node("MatMul", ["s", "w2"], ["y"], name="MatMul_4")],
        {"w": w, "w2": np.ones((4, 3))})
    with pytest.raises(ModelError, match=r"node 'Add_3' \(Add\): residual connections are "
                                         r"not supported"):
        import_onnx(path, data=DIGITS)
    status, _, err = run_cli(capsys, "import", path, "-o", tmp_path / "m.npz")
    assert status == 2 and err.count("\n") == 1
    assert "node 'Add_3' (Add): residual connections are not supported" in err


@pytest.mark.parametrize("op, message", [
    ("Tanh", r"node 'Tanh_1' \(Tanh\): operator not supported"),
    ("Sin", r"node 'Sin_1' \(Sin\): operator not supported")])
def test_unsupported_operators_are_refused(tmp_path, op, message):
    path = _save(tmp_path, [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="MatMul_0"),
        helper.make_node(op, ["h"], ["y"], name=f"{op}_1")], {"w": np.ones((4, 3))})
    with pytest.raises(ModelError, match=message):
        import_onnx(path, data=DIGITS)


def test_dynamic_shapes_are_refused(tmp_path):
    path = _save(tmp_path, [helper.make_node("MatMul", ["x", "w"], ["y"], name="MatMul_0")],
                 {"w": np.ones((4, 3))}, shape=("N", "F"))
    with pytest.raises(ModelError, match=r"input 'x': dynamic shape \(dimension 1 is 'F'\)"):
        import_onnx(path, data=DIGITS)


def test_the_output_must_be_logits(tmp_path):
    path = _save(tmp_path, [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="MatMul_0"),
        helper.make_node("Relu", ["h"], ["y"], name="Relu_1")], {"w": np.ones((4, 3))})
    data = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=rng.normal(size=(40, 4)), y=np.arange(40) % 3)
    with pytest.raises(ModelError, match=r"node 'Relu_1' \(Relu\): the output must be the "
                                         r"logits of a dense layer"):
        import_onnx(path, data=data)


def test_without_onnx_the_error_names_the_extra(monkeypatch, tmp_path, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(OptionsError) as error:
        import_onnx(FIXTURES / "qonnx_mlp.onnx")
    assert str(error.value) == NEEDS_ONNX == \
        "nomul import needs the onnx extra: pip install 'nomul[onnx]'"
    status, _, err = run_cli(capsys, "import", FIXTURES / "qonnx_mlp.onnx", "-o",
                          tmp_path / "m.npz")
    assert status == 2 and err == f"nomul: error: {NEEDS_ONNX}\n"


def test_cli_json_report(capsys, tmp_path):
    out_path = tmp_path / "q.npz"
    status, out, err = run_cli(capsys, "import", FIXTURES / "finn_cnn.onnx", "--data", IMAGES,
                            "-o", out_path, "--json")
    assert status == 0, err
    report = json.loads(out)
    for key in ("source_accuracy", "int_accuracy", "agreement", "exact"):
        assert key in report
    assert report["exact"] is True and report["agreement"] == 1.0
    model = load_model(out_path)
    assert model.meta["importer"]["source"] == "qonnx"
    assert model.meta["dataset"]["sha256"]


def test_act_levels_are_refused_for_qonnx(capsys, tmp_path):
    status, _, err = run_cli(capsys, "import", FIXTURES / "qonnx_mlp.onnx", "--act-levels", "4",
                          "-o", tmp_path / "m.npz")
    assert status == 2 and "--act-levels" in err and err.count("\n") == 1


# -- hand-made QONNX graphs: BatchNorm (inexact), negative gains, float data ----------------

QONNX = "qonnx.custom_op.general"


def _quant(name, x, out, scale, bits, signed, narrow=False):
    inits = [numpy_helper.from_array(np.asarray(v, dtype=np.float32), f"{name}_{k}")
             for k, v in (("scale", scale), ("zeropt", 0.0), ("bits", float(bits)))]
    node = helper.make_node("Quant", [x, *(i.name for i in inits)], [out], name=name,
                            domain=QONNX, signed=int(signed), narrow=int(narrow),
                            rounding_mode="ROUND")
    return node, inits


def _qonnx_bn_model(tmp_path, features, input_scale):
    """Quant -> MatMul(3-bit) -> BatchNorm (gains of both signs) -> Relu -> Quant(2-bit)
    -> MatMul(integer weights) -> logits."""
    rng = np.random.default_rng(5)
    hidden = 12
    w1 = rng.integers(-3, 4, size=(features, hidden)).astype(np.float32) * 0.125
    gamma = rng.normal(size=hidden).astype(np.float32)
    gamma[:3] = -np.abs(gamma[:3])
    beta = rng.normal(size=hidden).astype(np.float32)
    mean = rng.normal(size=hidden).astype(np.float32)
    var = rng.uniform(0.5, 2, size=hidden).astype(np.float32)
    w2 = rng.integers(-4, 4, size=(hidden, 3)).astype(np.float32)
    nodes, inits = [], []
    for node, extra in (_quant("Quant_in", "x", "xq", input_scale, 8, True),
                        _quant("Quant_w1", "w1", "w1q", 0.125, 3, True, True)):
        nodes.append(node)
        inits += extra
    nodes += [helper.make_node("MatMul", ["xq", "w1q"], ["h"], name="MatMul_1"),
              helper.make_node("BatchNormalization", ["h", "g", "b", "m", "v"], ["n"],
                               name="BatchNorm_1"),
              helper.make_node("Relu", ["n"], ["r"], name="Relu_1")]
    node, extra = _quant("Quant_a", "r", "a", 0.5, 2, False)
    nodes += [node, helper.make_node("MatMul", ["a", "w2"], ["y"], name="MatMul_2")]
    inits += extra + [numpy_helper.from_array(v, k) for k, v in
                      (("w1", w1), ("g", gamma), ("b", beta), ("m", mean), ("v", var),
                       ("w2", w2))]
    graph = helper.make_graph(
        nodes, "bn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid(QONNX, 1)])
    path = tmp_path / "bn.onnx"
    onnx.save(model, path)
    return path


def test_batchnorm_is_folded_and_reported_inexact(tmp_path):
    data = tmp_path / "d.npz"
    digits = np.load(DIGITS)
    np.savez(data, x_train=digits["x_train"], y_train=digits["y_train"] % 3,
             x_test=digits["x_test"], y_test=digits["y_test"] % 3)
    report = import_onnx(_qonnx_bn_model(tmp_path, 64, 1.0), data=data).report
    assert not report["exact"]
    assert any("BatchNorm_1" in note for note in report["notes"])
    assert report["agreement_all"] >= 0.99


def test_qonnx_on_float_data_quantizes_each_feature_from_its_raw_codes(tmp_path):
    """Float features: the input Quant becomes per-feature thresholds on the raw codes
    (``raw = round(x * scale[j])``); not exact (the codes are rounded), yet it agrees."""
    report = import_onnx(_qonnx_bn_model(tmp_path, 8, 0.0625), data=BINARY)
    model = report.model
    assert model.input.quantizer == "thresholds" and model.input.thresholds.ndim == 2
    assert not report.report["exact"]
    assert any("raw codes" in note for note in report.report["notes"])
    assert report.report["agreement_all"] >= 0.97


def test_qonnx_without_data_needs_an_input_quant():
    with pytest.raises(OptionsError, match=r"node 'Conv_0' \(Conv\): without --data"):
        import_onnx(FIXTURES / "finn_cnn.onnx")


def _conv_graph(tmp_path, node, extra_inits=()):
    inits = {"w": np.ones((2, 1, 3, 3)), "w2": np.ones((2 * 2 * 2, 3)), **dict(extra_inits)}
    return _save(tmp_path, [
        node,
        helper.make_node("Flatten", ["c"], ["f"], name="Flatten_1"),
        helper.make_node("MatMul", ["f", "w2"], ["y"], name="MatMul_2")],
        inits, shape=(1, 1, 4, 4))


@pytest.mark.parametrize("attrs, message", [
    ({"group": 1, "pads": [1, 1, 0, 0]}, r"node 'Conv_0' \(Conv\): asymmetric padding"),
    ({"dilations": [2, 2]}, r"node 'Conv_0' \(Conv\): dilated convolutions"),
    ({"auto_pad": "SAME_UPPER"}, r"node 'Conv_0' \(Conv\): auto_pad SAME_UPPER"),
])
def test_what_the_hardware_cannot_build_is_refused(tmp_path, attrs, message):
    node = helper.make_node("Conv", ["x", "w"], ["c"], name="Conv_0", **attrs)
    with pytest.raises(ModelError, match=message):
        import_onnx(_conv_graph(tmp_path, node), data=DIGITS)


def test_average_pooling_and_shape_computations_are_refused(tmp_path):
    pool = _save(tmp_path, [
        helper.make_node("AveragePool", ["x"], ["p"], name="AvgPool_0", kernel_shape=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], name="Flatten_1"),
        helper.make_node("MatMul", ["f", "w"], ["y"], name="MatMul_2")],
        {"w": np.ones((4, 3))}, shape=(1, 1, 4, 4))
    with pytest.raises(ModelError, match=r"node 'AvgPool_0' \(AveragePool\): operator not "
                                         r"supported"):
        import_onnx(pool, data=DIGITS)
    shaped = _save(tmp_path, [
        helper.make_node("Shape", ["x"], ["s"], name="Shape_0"),
        helper.make_node("Reshape", ["x", "s"], ["r"], name="Reshape_1"),
        helper.make_node("MatMul", ["r", "w"], ["y"], name="MatMul_2")], {"w": np.ones((4, 3))})
    with pytest.raises(ModelError, match=r"node 'Shape_0' \(Shape\): shape computations"):
        import_onnx(shaped, data=DIGITS)


def test_a_scikit_learn_pipeline_with_a_scaler(tmp_path):
    """skl2onnx's Scaler node (StandardScaler) folds into the first layer."""
    from skl2onnx import to_onnx
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = np.load(BINARY)
    pipe = make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=2000, random_state=0))
    pipe.fit(data["x_train"], data["y_train"])
    onx = to_onnx(pipe, data["x_train"][:1].astype(np.float32),
                  options={id(pipe[-1]): {"zipmap": False}}, target_opset=17)
    path = tmp_path / "pipe.onnx"
    onnx.save(onx, path)
    report = import_onnx(path, data=BINARY, act_levels=64, weight_levels=64).report
    assert report["agreement"] >= 0.97
    assert report["int_accuracy"] >= report["source_accuracy"] - 0.02
