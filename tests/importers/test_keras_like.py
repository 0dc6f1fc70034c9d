# SPDX-License-Identifier: MIT
"""A dense network laid out as tf2onnx exports a Keras ``Sequential`` model (a dynamic batch
dimension, ``MatMul`` + ``Add`` per layer under Keras names, ``Softmax``, an ``Identity`` on
the output) imports through the float path. Built here from a scikit-learn MLP's weights,
since TensorFlow is not a dependency."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from nomul.importers import import_onnx  # noqa: E402

DIGITS = Path(__file__).resolve().parents[1] / "fixtures" / "onnx" / "digits.npz"


def _keras_like(path):
    from sklearn.neural_network import MLPClassifier

    data = np.load(DIGITS)
    mlp = MLPClassifier(hidden_layer_sizes=(24,), max_iter=300, random_state=0)
    mlp.fit(data["x_train"].astype(float), data["y_train"])
    (w1, w2), (b1, b2) = mlp.coefs_, mlp.intercepts_
    names = {"w1": "sequential/dense/MatMul/ReadVariableOp:0",
             "b1": "sequential/dense/BiasAdd/ReadVariableOp:0",
             "w2": "sequential/dense_1/MatMul/ReadVariableOp:0",
             "b2": "sequential/dense_1/BiasAdd/ReadVariableOp:0"}
    inits = [numpy_helper.from_array(np.asarray(v, dtype=np.float32), names[k])
             for k, v in (("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2))]
    nodes = [
        helper.make_node("MatMul", ["dense_input", names["w1"]], ["m1"],
                         name="sequential/dense/MatMul"),
        helper.make_node("Add", ["m1", names["b1"]], ["a1"], name="sequential/dense/BiasAdd"),
        helper.make_node("Relu", ["a1"], ["r1"], name="sequential/dense/Relu"),
        helper.make_node("MatMul", ["r1", names["w2"]], ["m2"],
                         name="sequential/dense_1/MatMul"),
        helper.make_node("Add", ["m2", names["b2"]], ["a2"],
                         name="sequential/dense_1/BiasAdd"),
        helper.make_node("Softmax", ["a2"], ["s"], name="sequential/dense_1/Softmax"),
        helper.make_node("Identity", ["s"], ["dense_1"], name="Identity"),
    ]
    graph = helper.make_graph(
        nodes, "tf2onnx",
        [helper.make_tensor_value_info("dense_input", TensorProto.FLOAT, ["unk__6", 64])],
        [helper.make_tensor_value_info("dense_1", TensorProto.FLOAT, ["unk__7", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="tf2onnx")
    onnx.save(model, path)
    return mlp


def test_a_tf2onnx_style_dense_model_imports(tmp_path):
    mlp = _keras_like(tmp_path / "keras.onnx")
    data = np.load(DIGITS)
    result = import_onnx(tmp_path / "keras.onnx", data=DIGITS)
    report = result.report
    expected = float(np.mean(mlp.predict(data["x_test"].astype(float)) == data["y_test"]))
    assert report["source_accuracy"] == pytest.approx(expected, abs=1 / len(data["y_test"]))
    assert report["source"] == "float" and report["agreement"] >= 0.9
    assert report["int_accuracy"] >= 0.9
    assert [layer.kind for layer in result.model.layers] == ["dense", "dense"]
