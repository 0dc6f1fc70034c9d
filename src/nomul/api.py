# SPDX-License-Identifier: MIT
"""nomul's Python API: the pipeline as functions, each one stage (also ``import nomul``).

::

    model = nomul.train("digits", arch="64-64-32-10", recipe="tbnu", act_levels=5,
                        weight_levels=8).model
    design = nomul.lower(model, arch="folded", pe=2, simd=8)
    nomul.write_verilog(design, "build/digits")
    run = nomul.simulate(design, samples)          # bit-exact against nomul.reference
    cost = nomul.estimate(design, family="ice40")

Every function raises a :class:`~nomul.errors.NomulError` subclass for bad input (its message
names the parameter); anything else is a bug in nomul.
"""

from os import PathLike

__all__ = ["load", "save", "load_dataset", "load_data", "train", "lower", "write_verilog",
           "simulate",
           "estimate", "reference"]


def load(path):
    """The :class:`~nomul.models.spec.IntegerModel` in a model file (checked field by field;
    nothing is unpickled)."""
    from .models.modelfile import load_model

    return load_model(path)


def save(model, path):
    """Write ``model`` to ``path`` (deterministic bytes, atomically); returns the path."""
    from .models.modelfile import save_model

    return save_model(model, path)


def load_dataset(name):
    """A bundled dataset (``"digits"``, ``"mnist1d"``, ``"mnist"``): raw integer samples,
    labels, split."""
    from .models.datasets import load_dataset as load

    return load(name)


def load_data(path, *, input_levels=None, model=None):
    """Your own data file (``.npz`` or ``.csv``, see :mod:`nomul.models.datafile`) as a
    dataset of raw integer codes: checked (one-line :class:`~nomul.errors.OptionsError` per
    defect), float features scaled to 8-bit codes, a per-feature input quantizer of
    ``input_levels`` levels where the codes need one. ``model``: read the file as that model
    (trained on a data file) was trained: its stored scales, class names and input spec."""
    from .models.datafile import load_data as load

    return load(path, input_levels=input_levels, model=model)


def train(dataset, config=None, *, progress=None, **fields):
    """Train the float baseline and the quantized network, export the integer model.

    ``dataset``: a name (:func:`load_dataset`), a :class:`~nomul.models.datasets.Dataset`
    (e.g. from :func:`load_data`) or a data file's path (``.npz``, ``.csv``);
    ``config``: a :class:`~nomul.models.training.trainer.TrainConfig`, or its fields as
    keywords (``arch``, ``recipe``, ``act_levels``, ``weight_levels``, ...). Returns a
    :class:`~nomul.models.training.trainer.TrainResult` (``.model``, and the float, quantized
    and integer accuracies). ``progress()`` is called once per epoch of each phase.
    """
    from .errors import OptionsError
    from .models.training.trainer import TrainConfig
    from .models.training.trainer import train as run

    if (config is None) == (not fields):
        raise OptionsError("train: give a TrainConfig or its fields as keywords, not both")
    config = TrainConfig(**fields) if config is None else config
    config.validate()
    if isinstance(dataset, str) and not dataset.lower().endswith((".npz", ".csv")):
        dataset = load_dataset(dataset)
    elif isinstance(dataset, (str, PathLike)):
        dataset = load_data(dataset)
    return run(dataset, config, progress=progress)


def lower(model, options=None, *, baseline=None, **layer_options):
    """The :class:`~nomul.design.Design` of ``model``: the hardware as ``options`` (a
    :class:`~nomul.design.BuildOptions`) say, or, as keywords, the options of every layer
    (``arch``, ``pe``, ``simd``, ``table_style``, ``register_every``, ``threshold_method``,
    ``group_inputs``, ``adders``) and of the top (``input_lanes``, ``name``).
    ``baseline="integer"``: the multiplier baseline of the same network. Every option is
    checked here."""
    from .design import BuildOptions, LayerOptions
    from .design import lower as run
    from .errors import OptionsError

    if options is not None and layer_options:
        raise OptionsError("lower: give BuildOptions or option keywords, not both")
    if options is None:
        top = {name: layer_options.pop(name) for name in ("input_lanes", "name")
               if name in layer_options}
        try:
            options = BuildOptions(default=LayerOptions(**layer_options), **top)
        except TypeError as error:
            raise OptionsError(f"lower: {error}") from None
    return run(model, options, baseline=baseline)


def write_verilog(design, directory):
    """Write ``<directory>/<name>.v`` and ``manifest.json``; returns the manifest (latency,
    ii, ports, per-layer architecture, ``verilog``: the file's path)."""
    from .gateware.emit import write_verilog as write

    return write(design, directory)


def simulate(design, samples, *, simulator="fast", **options):
    """Run raw ``samples`` through the design's hardware (``"fast"``: compiled Verilator
    harness, ``"verilator"``/``"icarus"``: cocotb on the Verilog, ``"amaranth"``); returns a
    :class:`~nomul.sim.hardware.HardwareRun` (``.outputs``, ``.latency``, ``.ii``, cycles).
    Options: ``idle``, ``stall``, ``seed``, ``vcd``, ``work_dir``, ``cache_dir``."""
    from .sim.hardware import simulate as run

    return run(design, samples, simulator=simulator, **options)


def estimate(design, family="ice40", *, synth=False, pnr=False, work_dir=None):
    """What the design costs on ``family`` (``ice40``, ``ecp5``, ``xilinx``, ``gates``): per
    stage and in total LUTs (gates), FFs, carries, block RAMs, DSPs, multipliers; the
    analytical model by default, Yosys with ``synth``, place and route with ``pnr``."""
    from .hw.cost import design_cost

    return {"family": family, **design_cost(design, family, synth=synth, pnr=pnr,
                                            work_dir=work_dir)}


def reference(model, samples):
    """The bit-exact integer reference's output for raw ``samples`` (class indices, or the
    accumulators of a raw model): what the hardware must produce."""
    from .models.reference import run

    return run(model, samples)
