# SPDX-License-Identifier: MIT
"""Your own data (``--data FILE``): formats, the split, scaling, per-feature levels, and a
one-line error for every defect of a data file."""

import json
import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits

import nomul
from helpers import readme_commands, run_cli
from nomul.errors import OptionsError
from nomul.models import reference
from nomul.models.datafile import load_data, read_data


def _sensor_csv(path, n=300, header=True, seed=0):
    """Three float features of very different ranges and units, string labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = np.stack([rng.normal(y * 1000.0, 300), rng.normal(y * 0.01, 0.004),
                  rng.normal(0, 1, n)], 1)
    names = ["walk", "run", "sit"]
    lines = ["accel,temp,noise,label"] if header else []
    lines += [",".join(f"{v:.6g}" for v in xi) + f",{names[yi]}" for xi, yi in zip(x, y)]
    path.write_text("\n".join(lines) + "\n")
    return x, np.array(names)[y]


@pytest.fixture(scope="module")
def sensor(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "sensor.csv"
    x, labels = _sensor_csv(path)
    return path, x, labels


def test_digits_saved_as_x_y_is_the_bundled_split(tmp_path):
    digits = load_digits()
    np.savez(tmp_path / "digits.npz", x=digits.data.astype(np.int64), y=digits.target)
    mine, bundled = load_data(tmp_path / "digits.npz"), nomul.load_dataset("digits")
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(mine, name), getattr(bundled, name)), name
    assert (mine.input.quantizer, mine.input.raw_min, mine.input.raw_max) == ("identity", 0, 16)
    assert mine.scale is None and mine.classes == 10 and len(mine.y_test) == 450


def test_the_files_own_split_and_sample_shape_are_kept(tmp_path):
    rng = np.random.default_rng(1)
    x_train, x_test = rng.integers(-3, 4, (40, 2, 5)), rng.integers(-3, 4, (10, 2, 5))
    y_train, y_test = np.arange(40) % 4, np.arange(10) % 4
    np.savez(tmp_path / "own.npz", x_train=x_train, y_train=y_train, x_test=x_test,
             y_test=y_test)
    data = load_data(tmp_path / "own.npz")
    assert data.input.shape == (2, 5) and data.classes == 4
    assert np.array_equal(data.x_test, x_test) and np.array_equal(data.y_train, y_train)
    assert "own split" in data.split


def test_float_features_become_power_of_two_scaled_8_bit_codes(sensor):
    path, x, _ = sensor
    data = load_data(path)
    source = read_data(path)
    peak = np.abs(source.x_train).max(axis=0)
    assert np.all(np.log2(data.scale) == np.round(np.log2(data.scale)))        # powers of 2
    assert np.all(peak * data.scale <= 127) and np.all(peak * data.scale * 2 > 127)
    expected = np.clip(np.round(source.x_test * data.scale), -128, 127).astype(np.int64)
    assert np.array_equal(data.x_test, expected)
    assert (data.input.raw_min, data.input.raw_max) == (-128, 127)


def test_features_of_different_ranges_get_their_own_levels(sensor):
    path, _, _ = sensor
    data = load_data(path, input_levels=4)
    rows = data.input.thresholds
    assert rows.shape == (3, 3) and data.input.per_feature
    low, high = data.x_train.min(axis=0), data.x_train.max(axis=0)
    for j in range(3):                # ceil(lo + k (hi - lo) / 4), k = 1..3
        expected = [int(np.ceil(low[j] + k * (high[j] - low[j]) / 4)) for k in (1, 2, 3)]
        assert rows[j].tolist() == expected
    assert data.input_values.tolist() == [0, 1 / 3, 2 / 3, 1]
    # every level of every feature is used on the training split
    indices = reference.quantize_input(data.input, data.x_train)
    assert all(set(indices[:, j].tolist()) == {0, 1, 2, 3} for j in range(3))


def test_string_labels_map_in_sorted_order_and_numeric_csv_labels_stay(sensor, tmp_path):
    path, _, labels = sensor
    source = read_data(path)
    assert source.labels == ("run", "sit", "walk")
    together = np.concatenate([source.y_train, source.y_test])
    assert np.bincount(together).tolist() == [int(np.sum(labels == n)) for n in source.labels]
    (tmp_path / "n.csv").write_text("1,2,0\n3,4,1\n5,6,0\n7,8,1\n1,1,0\n2,2,1\n3,3,0\n4,4,1\n")
    numeric = read_data(tmp_path / "n.csv")
    assert numeric.labels is None and numeric.classes == 2 and numeric.integer


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _text(path, text):
    path.write_text(text)
    return path


X, Y = np.arange(40.0).reshape(20, 2), np.arange(20) % 2
DEFECTS = [
    ("nan", lambda p: _npz(p / "a.npz", x=np.where(X == 7, np.nan, X), y=Y), "NaN or infinity"),
    ("inf", lambda p: _npz(p / "a.npz", x=np.where(X == 7, np.inf, X), y=Y), "NaN or infinity"),
    ("x-1d", lambda p: _npz(p / "a.npz", x=np.arange(20.0), y=Y), "samples must be (B, features)"),
    ("y-2d", lambda p: _npz(p / "a.npz", x=X, y=Y[:, None]), "one label per sample"),
    ("lengths", lambda p: _npz(p / "a.npz", x=X, y=Y[:-1]), "20 samples but 19 labels"),
    ("one-class", lambda p: _npz(p / "a.npz", x=X, y=np.zeros(20, int)), "one class"),
    ("labels-1-2", lambda p: _npz(p / "a.npz", x=X, y=Y + 1), "class 0 has no sample"),
    ("labels-negative", lambda p: _npz(p / "a.npz", x=X, y=Y - 1), "-1 is not a class"),
    ("labels-fractions", lambda p: _npz(p / "a.npz", x=X, y=Y + 0.5), "not fractions"),
    ("strings-as-x", lambda p: _npz(p / "a.npz", x=X.astype(str), y=Y), "must be numbers"),
    ("no-arrays", lambda p: _npz(p / "a.npz", features=X, labels=Y), "needs x_train"),
    ("train-test-shapes", lambda p: _npz(p / "a.npz", x_train=X, y_train=Y,
                                         x_test=np.zeros((4, 3)), y_test=Y[:4]),
     "x_train samples have shape (2,), x_test (3,)"),
    ("pickled", lambda p: _npz(p / "a.npz", x=np.array([X, "evil"], dtype=object), y=Y),
     "without unpickling"),
    ("not-a-zip", lambda p: _text(p / "a.npz", "not a zip file"), "not a readable .npz"),
    ("suffix", lambda p: _text(p / "a.json", "{}"), "unknown data format .json"),
    ("missing", lambda p: p / "none.csv", "no such file"),
    ("csv-empty", lambda p: _text(p / "a.csv", "\n\n"), "no samples"),
    ("csv-header-only", lambda p: _text(p / "a.csv", "a,b,label\n"), "a header and no samples"),
    ("csv-ragged", lambda p: _text(p / "a.csv", "1,2,0\n3,1\n"), "sample 2 has 2 columns"),
    ("csv-word", lambda p: _text(p / "a.csv", "1,2,0\n3,x,1\n"), "column 2: 'x' is not a number"),
    ("csv-one-column", lambda p: _text(p / "a.csv", "0\n1\n"), "at least one feature column"),
    ("csv-single-sample-class", lambda p: _text(p / "a.csv", "1,0\n2,0\n3,1\n"),
     "class 1 has 1 sample"),
    ("integers-past-the-limit", lambda p: _npz(p / "a.npz", x=np.where(X == 7, 1e300, X), y=Y),
     "feature value 1e+300 is past the raw code limit"),
    ("complex", lambda p: _npz(p / "a.npz", x=X.astype(complex), y=Y), "must be numbers"),
]


@pytest.mark.parametrize("make, message", [d[1:] for d in DEFECTS], ids=[d[0] for d in DEFECTS])
def test_every_defect_is_one_line(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(OptionsError) as error:
        load_data(path)
    text = str(error.value)
    assert message in text and str(path) in text and "\n" not in text


def test_a_pickled_array_is_never_unpickled(tmp_path, monkeypatch):
    path = _npz(tmp_path / "p.npz", x=np.array([X, "evil"], dtype=object), y=Y)
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(OptionsError, match="without unpickling"):
        load_data(path)




def test_cli_data_defects_are_one_line_before_training(capsys, tmp_path, monkeypatch):
    import nomul.models.training.trainer as trainer

    monkeypatch.setattr(trainer, "train", lambda *a, **k: pytest.fail("training started"))
    bad = _npz(tmp_path / "bad.npz", x=np.where(X == 7, np.nan, X), y=Y)
    status, _, err = run_cli(capsys, "train", "--data", bad, "--recipe", "tbnu", "--act-levels",
                          "3", "--weight-levels", "3", "-o", tmp_path / "m.npz")
    assert status == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "NaN or infinity" in err and not (tmp_path / "m.npz").exists()
    status, _, err = run_cli(capsys, "train", "--data", bad, "--dataset", "digits", "--recipe",
                          "tbnu", "--act-levels", "3", "--weight-levels", "3", "-o",
                          tmp_path / "m.npz")
    assert status == 2 and "not allowed with argument" in err


def test_shaped_data_without_an_arch_is_refused(capsys, tmp_path):
    path = _npz(tmp_path / "img.npz", x=np.zeros((20, 1, 2, 2), int) + (np.arange(20) % 3)
                [:, None, None, None], y=np.arange(20) % 2)
    status, _, err = run_cli(capsys, "train", "--data", path, "--recipe", "tbnu", "--act-levels",
                          "3", "--weight-levels", "3", "-o", tmp_path / "m.npz")
    assert status == 2 and "give --arch" in err


def test_train_eval_on_a_data_file_records_it_and_reapplies_its_scaling(capsys, sensor,
                                                                        tmp_path):
    path, _, _ = sensor
    model_path = tmp_path / "sensor.npz"
    status, out, _ = run_cli(capsys, "train", "--data", path, "--recipe", "tbnu", "--act-levels",
                          "4", "--weight-levels", "4", "--epochs", "4", "--input-levels",
                          "8", "-o", model_path, "--json")
    assert status == 0
    trained = json.loads(out)
    model = nomul.load(model_path)
    recorded = model.meta["dataset"]
    source = read_data(path)
    assert recorded["sha256"] == source.sha256 and recorded["labels"] == ["run", "sit", "walk"]
    assert recorded["scale"] == load_data(path).scale.tolist()
    assert model.input.per_feature and model.input.thresholds.shape == (3, 7)
    status, out, _ = run_cli(capsys, "info", model_path)
    assert status == 0 and "thresholds quantizer (per feature), 8 levels" in out
    status, out, _ = run_cli(capsys, "eval", model_path, "--data", path, "--json")
    assert status == 0 and json.loads(out)["accuracy"] == trained["int_accuracy"]
    assert json.loads(out)["accuracy"] > 0.6                  # 3 classes, well separated
    # without --data the model says which file it needs
    status, _, err = run_cli(capsys, "eval", model_path)
    assert status == 2 and "trained on the data file sensor.csv; pass --data" in err
    # another file of the same kind is read with the model's stored scaling, with a note
    other = tmp_path / "other.csv"
    _sensor_csv(other, n=120, seed=5)
    status, out, err = run_cli(capsys, "eval", model_path, "--data", other, "--json")
    assert status == 0 and "is not the file the model was trained on" in err
    data = load_data(other, model=model)
    assert np.array_equal(data.scale, np.asarray(recorded["scale"]))
    expected = np.mean(reference.run(model, data.x_test) == data.y_test)
    assert json.loads(out)["accuracy"] == pytest.approx(expected, abs=0)
    # a label the model does not know
    (tmp_path / "new.csv").write_text(other.read_text().replace(",sit", ",jump"))
    status, _, err = run_cli(capsys, "eval", model_path, "--data", tmp_path / "new.csv")
    assert status == 2 and "'jump' is not a class of the model" in err


def test_python_api_trains_on_a_data_file_path(sensor):
    path, _, _ = sensor
    result = nomul.train(str(path), arch="3-8-3", recipe="tbnu", act_levels=3,
                         weight_levels=4, epochs=2)
    assert result.model.meta["dataset"]["file"] == "sensor.csv"
    assert result.model.input.per_feature


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["unrolled", "folded"])
def test_a_model_of_a_data_file_in_hardware_agrees_with_the_reference(capsys, sensor,
                                                                      tmp_path, arch):
    """train --data -> sim --data --simulator fast: per-feature input thresholds in Verilog,
    every test sample equal to the reference."""
    path, _, _ = sensor
    model_path = tmp_path / "sensor.npz"
    assert run_cli(capsys, "train", "--data", path, "--arch", "3-16-3", "--recipe", "tbnu",
                "--act-levels", "3", "--weight-levels", "4", "--epochs", "3",
                "-o", model_path)[0] == 0
    extra = ["--arch", "folded", "--pe", "2,1", "--simd", "1"] if arch == "folded" else []
    status, out, err = run_cli(capsys, "sim", model_path, "--data", path, "--simulator", "fast",
                            *extra, "--json")
    assert status == 0, err
    report = json.loads(out)
    data = load_data(path, model=nomul.load(model_path))
    assert report["samples"] == len(data.y_test) == 75 and report["agreement"] == 1.0
    expected = np.mean(reference.run(nomul.load(model_path), data.x_test) == data.y_test)
    assert report["accuracy"] == pytest.approx(expected, abs=0)


def test_the_cli_offers_every_bundled_dataset():
    from nomul.cli._common import DATASET_NAMES
    from nomul.models.datasets import DATASETS

    assert DATASET_NAMES == tuple(DATASETS)


@pytest.mark.slow
def test_the_readme_commands_for_your_own_data_run(capsys, tmp_path, monkeypatch):
    from pathlib import Path

    commands = [line.split() for line in readme_commands("Your own data")]
    assert [c[1] for c in commands] == ["train", "eval", "sim"]
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "build").mkdir()
    (tmp_path / "examples").symlink_to(root / "examples")
    for argv in commands:
        status, out, err = run_cli(capsys, *argv[1:])
        assert status == 0, err
    assert "agreement with the reference: 100.00 %" in out
    model = nomul.load(tmp_path / "build" / "wine.npz")
    assert model.input.per_feature and model.input.thresholds.shape == (13, 15)
    assert model.meta["dataset"]["labels"] == ["class_0", "class_1", "class_2"]


@pytest.mark.parametrize("change, message", [
    (dict(x_train=np.zeros((4, 3))), "must be integer raw codes, not float64"),
    (dict(x_train=np.full((4, 3), 9)), "codes 9..9 outside the input's range 0..5"),
    (dict(x_train=np.zeros((4, 2), int)), "samples of shape (2,), the input spec (3,)"),
    (dict(y_train=np.array(["a", "b", "a", "b"])), "must be 4 integer labels"),
    (dict(y_test=np.array([0, 2])), "holds 0..2, not classes 0..1"),
    (dict(classes=1), "classes must be an integer >= 2"),
])
def test_a_dataset_built_by_hand_is_checked(change, message):
    from nomul.models.datasets import Dataset
    from nomul.models.spec import InputSpec

    fields = dict(name="mine", input=InputSpec(shape=(3,), raw_min=0, raw_max=5),
                  x_train=np.ones((4, 3), int), y_train=np.array([0, 1, 0, 1]),
                  x_test=np.ones((2, 3), int), y_test=np.array([0, 1]), classes=2, split="-")
    Dataset(**fields)
    with pytest.raises(OptionsError) as error:
        Dataset(**{**fields, **change})
    assert message in str(error.value)


def test_a_file_of_vectors_feeds_a_model_of_images(tmp_path):
    """64 pixels a sample in the file, (1, 8, 8) in the model: read in C order."""
    from nomul.models.spec import InputSpec
    from nomul.models.synthetic import random_model

    digits = load_digits()
    np.savez(tmp_path / "d.npz", x=digits.data.astype(np.int64), y=digits.target)
    model = random_model("1x8x8-c2k3p1-m2-10", InputSpec(shape=(1, 8, 8), raw_min=0,
                                                           raw_max=16), seed=1)
    data = load_data(tmp_path / "d.npz", model=model)
    bundled = nomul.load_dataset("digits")
    assert data.x_test.shape == (450, 1, 8, 8)
    assert np.array_equal(data.x_test.reshape(450, 64), bundled.x_test)
    np.savez(tmp_path / "e.npz", x=digits.data[:, :60].astype(np.int64), y=digits.target)
    with pytest.raises(OptionsError, match="samples have 60 features, the model's input 64"):
        load_data(tmp_path / "e.npz", model=model)


def test_a_model_of_a_hand_built_dataset_asks_for_its_data(capsys, tmp_path):
    from nomul.models.datasets import Dataset
    from nomul.models.spec import InputSpec

    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, (40, 3))
    y = (x[:, 0] > 1).astype(np.int64)
    mine = Dataset(name="mine", input=InputSpec(shape=(3,), raw_min=0, raw_max=3),
                   x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:], classes=2,
                   split="first 30")
    result = nomul.train(mine, arch="3-4-2", recipe="tbnu", act_levels=3, weight_levels=3,
                         epochs=1)
    path = nomul.save(result.model, tmp_path / "m.npz")
    status, _, err = run_cli(capsys, "eval", path)
    assert status == 2 and "trained on 'mine', not a bundled dataset; pass --data" in err
