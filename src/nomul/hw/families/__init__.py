# SPDX-License-Identifier: MIT
"""One home per FPGA family: everything nomul knows about a family's tools and silicon.

Each family is one module here (:mod:`.ice40`, :mod:`.ecp5`, :mod:`.xilinx`, :mod:`.gates`)
defining ``FAMILY``, a :class:`Family`: the Yosys script, how its cells are classified, its
multiplier cells, its LUT size, its block-RAM library, its place-and-route device, its boards
and the calibrated coefficients of the analytical estimate (package data in
``data/<family>/``, written by ``nomul calibrate FAMILY``: :mod:`nomul.hw.calibrate`).
Synthesis (:mod:`nomul.hw.synth`), place and route (:mod:`nomul.hw.pnr`), the estimate
(:mod:`nomul.hw.estimate`, :mod:`nomul.hw.cost`), boards (:mod:`nomul.hw.board`) and the CLI
choices all read :data:`FAMILIES`; none holds a table of its own.

Adding a family: a module beside these defining ``FAMILY``, its name in :data:`ORDER`, then
``nomul calibrate NAME`` (synthesizes the sweeps and fits its coefficients into
``data/NAME/``).

The ASIC target :mod:`.sky130` (SkyWater 130 nm standard cells, areas in µm²) is in
:data:`ASIC`, not :data:`FAMILIES`: it has no analytical estimate (no coefficients, nothing to
calibrate), only Yosys (``--synth``); :func:`family` and :data:`TARGETS` know both.

Importing this package reads no file and imports nothing beyond the standard library (the
CLI builds its choices from it); the coefficients are read on first use.
"""

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module, resources
from pathlib import Path
from types import MappingProxyType

from ...errors import OptionsError

__all__ = ["Device", "Family", "FAMILIES", "ORDER", "ASIC", "ASIC_ORDER", "TARGETS",
           "DATA_FILES", "family", "logic_key", "boards", "data_dir", "reload_coefficients"]

# the calibration data of a family (``data/<family>/``): synthesized sweeps and the fit
DATA_FILES = ("sweep.csv", "check.csv", "quantizers.csv", "thresholds.csv", "coefficients.json")


def _frozen(mapping):
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Device:
    """A place-and-route target (:func:`nomul.hw.pnr.place_and_route`).

    Attributes
    ----------
    key : str
        The device's short name (``"up5k"``), as :func:`~nomul.hw.pnr.place_and_route` takes it.
    name : str
        Its name in reports (``"iCE40 UP5K (SG48)"``).
    family : str
        The family whose Yosys script maps designs for it.
    tool : str
        The nextpnr executable (YoWASP).
    args : tuple of str
        nextpnr's device arguments.
    capacity : mapping
        Report class (``luts``, ``ffs``, ``brams``, ``dsps``) -> cells available.
    """

    key: str
    name: str
    family: str
    tool: str
    args: tuple
    capacity: MappingProxyType

    def __post_init__(self):
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "capacity", _frozen(self.capacity))


@dataclass(frozen=True)
class Family:
    """What nomul knows about one FPGA family (or the gate-level target).

    Attributes
    ----------
    name : str
        ``--family`` value and module name.
    logic : str
        What its logic is counted in: ``"luts"`` or ``"gates"`` (2-input gates).
    lut_inputs : int
        Inputs of one logic cell (2 for 2-input gates): the estimate's features depend on the
        family through it and :attr:`shared_leaves`.
    shared_leaves : bool
        Whether a constant function wider than one LUT is counted as its *distinct* leaf LUTs
        (its non-constant cofactors on its low ``lut_inputs`` address bits, equal ones once,
        over the functions read together) rather than as ``2**(support - lut_inputs)`` leaf
        LUTs each (:func:`nomul.design.cost.table_function_luts`). True where the mux tree
        above the leaves is made of ordinary LUTs, so that one leaf LUT feeds every tree that
        needs it (iCE40); False where the wide functions are built with dedicated muxes that
        take the outputs of a fixed pair of LUTs beside them (ECP5's ``PFUMX``/``L6MUX21``,
        xc7's ``MUXF7``/``MUXF8``), whose leaves are not shared. Chosen per family on the
        held-out layers (``bench/RESULTS.md``). The gate-level family counts its wide
        functions' shared decision diagrams either way.
    yosys_script : str
        Yosys commands after ``read_verilog`` (``;``-separated, ``{top}`` the top module).
    pnr_yosys_script : str or None
        The script before place and route where it differs (timing-driven mapping); None:
        ``yosys_script``.
    netlist_passes : tuple of callables
        Run in order on the synthesized JSON netlist before place and route (each changes it
        in place and returns a count; :mod:`nomul.hw.netlist`).
    cell_classes : tuple of (str, str)
        ``(report class, cell-type pattern)``; the first whose pattern matches the whole cell
        type claims the cell.
    luts_per_cell : mapping
        Report class -> LUTs inside each of its cells, counted in ``luts`` too (an ECP5
        ``CCU2C`` carry cell is two LUT4s, as nextpnr counts them).
    multiplier_cells : str or None
        Pattern of the family's multiplier (DSP) cells; None when it has none.
    block_rams : tuple
        ``(cell, cost, read ports, ((depth, width) modes))`` per block-RAM cell, as in Yosys's
        memory library for the family (empty: no block RAM).
    logic_cost_per_rom_bit : float
        What Yosys's ``memory_libmap`` charges per ROM bit left to logic.
    dsp_min_product_bits : int or None
        Yosys maps a multiplication to a DSP when both operands have at least 2 bits and the
        product at least this many; None when the family's flow has no DSP.
    device : Device or None
        Where ``--pnr`` places and routes (and the boards' FPGA); None: no place and route.
    boards : mapping
        Board name -> ``(amaranth_boards module, platform class)``.
    tools : mapping
        Environment variable -> YoWASP executable, for Amaranth's build scripts (boards).
    bitstream_suffix : str or None
        The suffix of the bitstream file a board build writes (``".bin"``).
    tool_packages : mapping
        Executable -> the PyPI package shipping it, where the names differ.
    analytical : bool
        Whether :mod:`nomul.hw.estimate` has a model of it (calibrated coefficients); False:
        Yosys only (``--synth``).
    yosys_files : mapping
        File name -> a callable returning the path of a file the Yosys script reads (copied
        into the work directory under that name before each run: a cell library).
    area_liberty : str
        The Liberty file among ``yosys_files`` whose cell areas Yosys's ``stat`` sums into
        ``area_um2``; empty: no area.
    needs : tuple of callables
        Each raises a one-line :class:`~nomul.errors.OptionsError` when something the family
        needs is missing (a package), before any work.
    """

    name: str
    logic: str
    lut_inputs: int
    yosys_script: str
    cell_classes: tuple
    multiplier_cells: str | None
    block_rams: tuple
    logic_cost_per_rom_bit: float
    dsp_min_product_bits: int | None
    luts_per_cell: MappingProxyType = field(default_factory=dict)
    shared_leaves: bool = False
    device: Device | None = None
    boards: MappingProxyType = field(default_factory=dict)
    tools: MappingProxyType = field(default_factory=dict)
    bitstream_suffix: str | None = None
    tool_packages: MappingProxyType = field(default_factory=dict)
    pnr_yosys_script: str | None = None
    netlist_passes: tuple = ()
    analytical: bool = True
    yosys_files: MappingProxyType = field(default_factory=dict)
    area_liberty: str = ""
    needs: tuple = ()

    @property
    def place_and_route_script(self):
        """The Yosys script before place and route: ``pnr_yosys_script`` where set."""
        return self.pnr_yosys_script or self.yosys_script

    def __post_init__(self):
        if self.logic not in ("luts", "gates"):
            raise ValueError(f"{self.name}: logic must be 'luts' or 'gates', not {self.logic!r}")
        for name in ("luts_per_cell", "boards", "tools", "tool_packages", "yosys_files"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "cell_classes", tuple(map(tuple, self.cell_classes)))
        if self.boards and (self.device is None or not self.tools
                            or self.bitstream_suffix is None):
            raise ValueError(f"{self.name}: boards need a device, tools and a bitstream suffix")
        if self.area_liberty and self.area_liberty not in self.yosys_files:
            raise ValueError(f"{self.name}: area_liberty {self.area_liberty!r} is not one of "
                             "its yosys_files")
        object.__setattr__(self, "needs", tuple(self.needs))

    def block_ram_bits(self, cell):
        """The capacity in bits of block-RAM cell type ``cell`` (its widest mode, parity bits
        included: a RAMB18E1 18 432, a RAMB36E1 36 864; a variant such as ``SB_RAM40_4KNR``
        as its base cell), or of the family's largest block RAM for a block RAM not in
        :attr:`block_rams` (an iCE40 SPRAM); 0 without block RAM."""
        known = [d * w for name, _, _, modes in self.block_rams if cell.startswith(name)
                 for d, w in modes]
        return max(known or [d * w for *_, modes in self.block_rams for d, w in modes] or [0])

    def check_needs(self):
        """Raise the one-line error of the first missing thing the family needs."""
        for need in self.needs:
            need()

    def coefficients(self):
        """``{count: {feature: weight}}`` (counts ``luts``, ``ffs``, ``carry``) of the
        analytical estimate, as ``nomul calibrate`` fitted them (``data/<name>/
        coefficients.json``)."""
        return _calibration(self.name)["coefficients"]

    def check(self):
        """The held-out check's figures stored beside the coefficients."""
        return _calibration(self.name)["check"]


def data_dir(name):
    """The package folder of family ``name``'s calibration data (:data:`DATA_FILES`)."""
    return Path(str(resources.files(__name__).joinpath("data", family(name).name)))


@cache
def _calibration(name):
    path = resources.files(__name__).joinpath("data", name, "coefficients.json")
    if not path.is_file():
        raise OptionsError(f"{name} has no fitted coefficients yet ({path} is missing): "
                           "calibrate the family first")
    return json.loads(path.read_text())


def reload_coefficients():
    """Forget the coefficients read so far (``nomul calibrate`` rewrote them)."""
    _calibration.cache_clear()


# the registry, in the order the CLI lists the families: the calibrated ones (an analytical
# estimate) in ORDER, then the ASIC targets (Yosys only) in ASIC_ORDER
ORDER = ("ice40", "ecp5", "xilinx", "gates")
FAMILIES = MappingProxyType({name: import_module(f"{__name__}.{name}").FAMILY
                             for name in ORDER})
ASIC_ORDER = ("sky130",)
ASIC = MappingProxyType({name: import_module(f"{__name__}.{name}").FAMILY
                         for name in ASIC_ORDER})
TARGETS = MappingProxyType({**FAMILIES, **ASIC})


def family(name):
    """The :class:`Family` called ``name``; a one-line :class:`~nomul.errors.OptionsError`
    naming the choices for an unknown one."""
    try:
        return TARGETS[name]
    except (KeyError, TypeError):
        raise OptionsError(f"unknown family {name!r}; choose from {', '.join(FAMILIES)}") \
            from None


def logic_key(name):
    """The count family ``name``'s logic is measured in: ``"gates"`` (2-input gates) for the
    gate-level family, ``"luts"`` for the FPGAs."""
    return family(name).logic


def boards():
    """``{board: family name}`` over every family's boards, in registry order."""
    return {board: spec.name for spec in FAMILIES.values() for board in spec.boards}
