# SPDX-License-Identifier: MIT
"""Passes over a synthesized Yosys JSON netlist, run between Yosys and nextpnr.

:func:`absorb_bram_output_registers` (ECP5): Yosys 0.70 maps a read port of a block RAM
without the ``DP16KD``'s own output register (its memory library, ``brams_16kd.txt``, has no
such option), so a design that registers the read data, as nomul's folded weight ROM does,
gets the data flip-flops in the fabric, behind the block RAM's 5.6 ns clock-to-output. The
pass moves those flip-flops into the block RAM (``REGMODE_A/B = "OUTREG"``, the output clock
enable ``OCEA/B`` the flip-flops' clock enable), where a read port's every used data bit feeds
exactly one flip-flop on the same clock, with no reset and the same enable: the same
function, one register stage, now inside the primitive.

A 36-bit wide memory is a ``DP16KD`` in pseudo-dual-port mode (``DATA_WIDTH_A = 36``, Yosys's
``$__PDPW16KD_``): port A writes, and the one read port, clocked by ``CLKB``, drives all 36
data bits, ``DOA0..17`` and ``DOB0..17`` (nextpnr times every output on ``CLKB`` then). Its
output register is taken whole or not at all: ``REGMODE_A`` and ``REGMODE_B`` both
``OUTREG`` (as a ``PDPW16KD``'s single ``REGMODE`` sets them), both output enables the
flip-flops' enable.
"""

__all__ = ["absorb_bram_output_registers"]

DATA_BITS = 18      # DOA0..DOA17, DOB0..DOB17
PSEUDO_DUAL_PORT_WIDTH = 36


def _sinks(module):
    """Net bit -> [(cell name, input port)] over every cell of ``module``."""
    sinks = {}
    for name, cell in module["cells"].items():
        directions = cell.get("port_directions", {})
        for port, bits in cell["connections"].items():
            if directions.get(port, "input") == "input":
                for bit in bits:
                    if isinstance(bit, int):
                        sinks.setdefault(bit, []).append((name, port))
    return sinks


def _port_bits(module):
    return {bit for port in module.get("ports", {}).values() for bit in port["bits"]
            if isinstance(bit, int)}


def _integer(value):
    """An integer cell parameter as Yosys's JSON writes it: a binary string (32 digits)."""
    return value if isinstance(value, int) else int(value, 2)


def _read_ports(bram):
    """``[(sides whose REGMODE and OCE the read port sets, its clock side, data ports)]`` of
    ``bram``: one port per side, or the single 36-bit read port of pseudo-dual-port mode."""
    def data(side):
        return [f"DO{side}{i}" for i in range(DATA_BITS)]

    if _integer(bram["parameters"].get("DATA_WIDTH_A", 18)) == PSEUDO_DUAL_PORT_WIDTH:
        return [(("A", "B"), "B", data("A") + data("B"))]
    return [(("A",), "A", data("A")), (("B",), "B", data("B"))]


def _absorbable(cells, bram, read_port, sinks, module_ports):
    """``(data port -> flip-flop name, the flip-flops' clock enable)`` when ``read_port`` (a
    :func:`_read_ports` entry) of ``bram`` can take its output register from the fabric,
    else None."""
    sides, clock_side, data_ports = read_port
    params, conns = bram["parameters"], bram["connections"]
    if any(params.get(f"REGMODE_{side}", "NOREG") != "NOREG" for side in sides) or \
            params.get(f"CLK{clock_side}MUX", f"CLK{clock_side}") != f"CLK{clock_side}" or \
            any(conns.get(f"RST{side}") != ["0"] for side in sides):
        return None
    clock, found, enables = conns[f"CLK{clock_side}"], {}, set()
    for data_port in data_ports:
        bits = conns.get(data_port, [])
        if not bits or not isinstance(bits[0], int) or bits[0] not in sinks:
            continue
        if bits[0] in module_ports or len(sinks[bits[0]]) != 1:
            return None
        (name, port), = sinks[bits[0]]
        ff = cells[name]
        if ff["type"] != "TRELLIS_FF" or port != "DI":
            return None
        fp, fc = ff["parameters"], ff["connections"]
        if fc["CLK"] != clock or fp.get("CLKMUX", "CLK") != "CLK" or \
                fc.get("LSR", ["0"]) != ["0"] or fp.get("REGSET", "RESET") != "RESET" or \
                fp.get("CEMUX", "CE") not in ("CE", "1"):
            return None
        enables.add(tuple(fc["CE"]) if fp.get("CEMUX", "CE") == "CE" else ("1",))
        found[data_port] = name
    if not found or len(enables) != 1:
        return None
    return found, list(enables.pop())


def absorb_bram_output_registers(netlist):
    """Move fabric flip-flops that register a ``DP16KD`` read port into the block RAM's
    output register (see the module docstring), in place. Returns how many flip-flops moved."""
    moved = 0
    for module in netlist["modules"].values():
        cells = module.get("cells", {})
        sinks, module_ports = _sinks(module), _port_bits(module)
        for bram in [c for c in cells.values() if c["type"] == "DP16KD"]:
            for read_port in _read_ports(bram):
                found = _absorbable(cells, bram, read_port, sinks, module_ports)
                if found is None:
                    continue
                registers, enable = found
                for side in read_port[0]:
                    bram["parameters"][f"REGMODE_{side}"] = "OUTREG"
                    bram["connections"][f"OCE{side}"] = enable
                for data_port, name in registers.items():
                    bram["connections"][data_port] = cells.pop(name)["connections"]["Q"]
                moved += len(registers)
            sinks = _sinks(module)
    return moved
