# SPDX-License-Identifier: MIT
"""Training: gradients, recipes end to end, determinism, and the CLI's refusals."""

import os
import subprocess
import sys

import numpy as np
import pytest

from nomul.cli import main
from nomul.errors import OptionsError
from nomul.models import reference
from nomul.models.datasets import load_dataset
from nomul.models.export import float_forward
from nomul.models.modelfile import load_model, model_to_bytes, save_model
from nomul.models.training.network import Continuous, Conv, Dense, Flatten, MaxPool, Network
from nomul.models.training.trainer import TrainConfig, input_values, train


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _numeric_gradient(f, array, eps=1e-6):
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        old = array[index]
        array[index] = old + eps
        plus = f()
        array[index] = old - eps
        minus = f()
        array[index] = old
        grad[index] = (plus - minus) / (2 * eps)
    return grad


@pytest.mark.parametrize("layers, shape", [
    (lambda rng: [Dense(6, 4, rng), Continuous("tanh"), Dense(4, 3, rng)], (6,)),
    (lambda rng: [Conv((2, 7), 3, (3,), (2,), (1,), rng), Continuous("tanh"), Flatten(),
                  Dense(12, 2, rng)], (2, 7)),
    (lambda rng: [Conv((1, 5, 4), 2, (3, 3), (1, 1), (1, 1), rng), Continuous("tanh"),
                  MaxPool((2, 2), (2, 2)), Flatten(), Dense(8, 3, rng)], (1, 5, 4)),
])
def test_backward_matches_numerical_gradients(layers, shape):
    rng = np.random.default_rng(0)
    network = Network(layers(rng))
    x = rng.normal(size=(3, *shape))
    probe = rng.normal(size=network.forward(x).shape)

    def loss():
        return float(np.sum(network.forward(x) * probe))

    network.forward(x, train=True)
    grad_x = network.backward(probe)
    assert np.allclose(grad_x, _numeric_gradient(loss, x), atol=1e-6)
    for layer in network.weighted:
        network.forward(x, train=True)
        network.backward(probe)
        assert np.allclose(layer.grad_weight, _numeric_gradient(loss, layer.weight), atol=1e-6)
        assert np.allclose(layer.grad_bias, _numeric_gradient(loss, layer.bias), atol=1e-6)


@pytest.mark.parametrize("recipe, group", [("nmnf", 1), ("tbnu", 1), ("wage", 1), ("pq", 2)])
def test_each_recipe_exports_a_model_whose_reference_accuracy_matches(digits, tmp_path,
                                                                       recipe, group):
    config = TrainConfig(arch="64-16-10", recipe=recipe, act_levels=3, weight_levels=4,
                         group=group, epochs=2, seed=1)
    result = train(digits, config)
    path = save_model(result.model, tmp_path / "m.npz")
    model = load_model(path)
    predictions = reference.run(model, digits.x_test)
    assert np.mean(predictions == digits.y_test) == result.int_accuracy
    assert model.meta["recipe"] == recipe
    assert all(layer.group == group for layer in model.layers)
    assert all(layer.n_codewords == 4 for layer in model.layers)
    # the training network's own quantized forward pass is the float simulation that export
    # starts from: the same predictions, sample for sample
    spec = model.input
    values = np.asarray(model.meta["input_values"])
    trained = result.network.forward(values[reference.quantize_input(spec, digits.x_test)])
    assert np.array_equal(trained.argmax(axis=1), float_forward(result.float_network,
                                                                digits.x_test))
    assert result.quantized_accuracy == np.mean(trained.argmax(axis=1) == digits.y_test)


def test_tbnu_quantizes_the_input_and_nmnf_uses_one_codebook(digits):
    tbnu = train(digits, TrainConfig(arch="64-8-10", recipe="tbnu", act_levels=4,
                                     weight_levels=4, epochs=1))
    assert tbnu.model.input.quantizer == "thresholds" and tbnu.model.input.levels == 4
    nmnf = train(digits, TrainConfig(arch="64-8-10", recipe="nmnf", act_levels=4,
                                     weight_levels=4, epochs=1))
    codebooks = [layer.meta["weight_codebook"] for layer in nmnf.model.layers]
    assert codebooks[0] == codebooks[1]
    trained = nmnf.network.weighted
    for layer in trained:                   # clustering ended training: weights on the codebook
        assert np.all(np.isin(layer.weight, codebooks[0]))


def test_same_seed_gives_an_identical_file(digits):
    config = TrainConfig(arch="64-12-10", recipe="tbnu", act_levels=3, weight_levels=4,
                         epochs=2, seed=5)
    first = model_to_bytes(train(digits, config).model)
    assert model_to_bytes(train(digits, config).model) == first
    other = TrainConfig(arch="64-12-10", recipe="tbnu", act_levels=3, weight_levels=4,
                        epochs=2, seed=6)
    assert model_to_bytes(train(digits, other).model) != first


def test_input_values_scale_raw_integers_into_unit_range(digits):
    values = input_values(digits.input)
    assert values[0] == 0 and values[-1] == 1 and len(values) == 17


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "digits", "--recipe", "nmnf", "--act-levels", "4", "--weight-levels", "1"],
     "weight_levels must be >= 2"),
    (["--dataset", "digits", "--recipe", "nmnf", "--act-levels", "1", "--weight-levels", "4"],
     "act_levels must be >= 2"),
    (["--dataset", "cifar", "--recipe", "nmnf", "--act-levels", "4", "--weight-levels", "4"],
     "cifar"),
    (["--dataset", "digits", "--recipe", "magic", "--act-levels", "4", "--weight-levels", "4"],
     "magic"),
    (["--dataset", "digits", "--arch", "40-10", "--recipe", "nmnf", "--act-levels", "4",
      "--weight-levels", "4"], "does not fit"),
    (["--dataset", "digits", "--arch", "64-32-7", "--recipe", "nmnf", "--act-levels", "4",
      "--weight-levels", "4"], "classes"),
    (["--dataset", "digits", "--arch", "64-c4k3-10", "--recipe", "nmnf", "--act-levels", "4",
      "--weight-levels", "4"], "needs a signal"),
    (["--dataset", "digits", "--recipe", "nmnf", "--group", "2", "--act-levels", "4",
      "--weight-levels", "4"], "pq"),
])
def test_bad_train_arguments_are_one_line_errors(argv, message, tmp_path, capsys):
    try:
        status = main(["train", *argv, "-o", str(tmp_path / "m.npz")])
    except SystemExit as exit_:         # argparse refusing a choice
        status = exit_.code
    captured = capsys.readouterr()
    assert status != 0
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in captured.err
    assert not (tmp_path / "m.npz").exists()


def test_config_validation_names_the_option():
    with pytest.raises(OptionsError, match="weight_levels"):
        TrainConfig(arch="64-10", recipe="nmnf", act_levels=4, weight_levels=1).validate()


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_threads_must_be_a_positive_integer(digits, threads):
    config = TrainConfig(arch="64-10", recipe="nmnf", act_levels=4, weight_levels=4,
                         threads=threads)
    with pytest.raises(OptionsError, match="threads"):
        config.validate()
    with pytest.raises(OptionsError, match="threads"):
        train(digits, config)


def test_kmeans_codebooks_ignore_the_openmp_thread_count():
    # scikit-learn's k-means sums clusters in per-thread buffers; 4096 points are 16 chunks of
    # 256, split between the threads: unpinned, the centres' last bits follow the thread count
    import sklearn.cluster  # noqa: F401  (loads the OpenMP runtime that the limits act on)
    from threadpoolctl import threadpool_limits

    from nomul.models.training.codebooks import fit_codebook

    values = np.random.default_rng(0).laplace(size=4096)
    codebooks = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads):
            codebooks.append(fit_codebook(values, 8, "kmeans"))
    assert codebooks[0].tobytes() == codebooks[1].tobytes()


_TRAIN_AND_SAVE = """
import sys
import sklearn.cluster
from threadpoolctl import threadpool_info
from nomul.models.datasets import load_dataset
from nomul.models.modelfile import save_model
from nomul.models.training.trainer import TrainConfig, train

def pools():
    return {pool["filepath"]: pool["num_threads"] for pool in threadpool_info()}

recipe, threads, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
config = TrainConfig(arch="64-24-10", recipe=recipe, act_levels=4, weight_levels=8, epochs=2,
                     seed=3, threads=threads)
before = pools()
save_model(train(load_dataset("digits"), config).model, path)
after = pools()
assert all(after[lib] == n for lib, n in before.items()), (before, after)   # limits lifted
"""


@pytest.mark.parametrize("recipe", ["tbnu", "nmnf"])
def test_the_thread_count_does_not_change_a_byte_of_the_model_file(tmp_path, recipe):
    env = {key: value for key, value in os.environ.items()
           if key not in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "GOTO_NUM_THREADS")}
    runs = {}
    for threads in (1, 2):
        path = tmp_path / f"threads{threads}.npz"
        runs[threads] = (path, subprocess.Popen(
            [sys.executable, "-c", _TRAIN_AND_SAVE, recipe, str(threads), str(path)],
            env={**env, "OMP_NUM_THREADS": str(threads)}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
    for _, process in runs.values():
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    assert runs[1][0].read_bytes() == runs[2][0].read_bytes()


def test_train_then_eval_cli_report_the_same_accuracy(tmp_path, capsys):
    import json

    path = tmp_path / "m.npz"
    assert main(["train", "--dataset", "digits", "--arch", "64-8-10", "--recipe", "nmnf",
                 "--act-levels", "3", "--weight-levels", "4", "--epochs", "1", "-o", str(path),
                 "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    for key in ("float_accuracy", "quantized_accuracy", "int_accuracy", "agreement",
                "table_entries", "memory_bits"):
        assert key in trained
    assert main(["eval", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == trained["int_accuracy"]


def test_one_k_per_layer_and_separate_input_levels(digits):
    result = train(digits, TrainConfig(arch="64-8-10", recipe="tbnu", act_levels=3,
                                       input_levels=6, weight_levels=(4, 2), epochs=1))
    assert [layer.n_codewords for layer in result.model.layers] == [4, 2]
    assert result.model.input.levels == 6 and result.model.layers[0].table_rows == 6
    assert result.model.layers[1].in_levels == 3
    with pytest.raises(OptionsError, match="2 values for 3 weighted layers"):
        train(digits, TrainConfig(arch="64-8-8-10", recipe="tbnu", act_levels=3,
                                  weight_levels=(4, 2), epochs=1))
    with pytest.raises(OptionsError, match="per_layer"):
        train(digits, TrainConfig(arch="64-8-10", recipe="nmnf", act_levels=3,
                                  weight_levels=(4, 2), epochs=1))


def test_warm_start_calibration_keeps_the_float_function_where_nothing_clips():
    from nomul.models.training.network import Activation
    from nomul.models.training.trainer import warm_start

    rng = np.random.default_rng(0)
    float_net = Network([Dense(5, 6, rng), Continuous("clipped_relu"), Dense(6, 3, rng)])
    float_net.layers[0].weight *= 0.1           # small pre-activations: scale > 1
    fine = np.linspace(0, 1, 1 << 14)           # levels so fine that rounding is negligible
    quantized = Network([Dense(5, 6, rng), Activation("clipped_relu", fine), Dense(6, 3, rng)])
    x = rng.uniform(-1, 1, size=(400, 5))
    warm_start(quantized, float_net, x)
    scale = quantized.layers[1].scale
    z = float_net.layers[0].forward(x)
    assert scale > 1
    assert np.isclose(np.percentile(np.maximum(z, 0), 99) * scale, 1.0)
    unclipped = np.all(z * scale < 1, axis=1)      # below 0 both clip to 0 alike
    assert unclipped.sum() > 20
    assert np.allclose(quantized.forward(x)[unclipped], float_net.forward(x)[unclipped],
                       atol=1e-3)


def test_conv2d_on_digits_reads_the_pixels_as_an_image(digits, tmp_path, capsys):
    result = train(digits, TrainConfig(arch="1x8x8-c4k3p1-m2-10", recipe="tbnu", act_levels=3,
                                       weight_levels=4, epochs=1))
    assert result.model.input.shape == (1, 8, 8)
    assert result.model.layers[0].kind == "conv2d"
    path = save_model(result.model, tmp_path / "conv.npz")
    assert main(["eval", str(path), "--json"]) == 0
    import json

    assert json.loads(capsys.readouterr().out)["accuracy"] == result.int_accuracy
