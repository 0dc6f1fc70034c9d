# SPDX-License-Identifier: MIT
"""Lower bound on emitting an unrolled design's Verilog through Amaranth, beside nomul's own.

``nomul build`` of an unrolled network spends its time lowering (the adder graphs: common
pairs shared across outputs), then in Amaranth (netlist, RTLIL) and Yosys (``write_verilog``).
This script times each phase of nomul's emission (CPU seconds), then emits the least any
Amaranth design of the same function must contain: the same adder-graph nodes (same widths,
same wiring, the same pipeline registers), the lookups as one ROM per distinct table with a
read port per use, and nothing else (no handshake, stall enable, quantizer, activation or
stage wiring). What that bare graph costs in Amaranth and Yosys plus the imports and the
lowering that finds it is the floor of an Amaranth-built ``nomul build`` of the design.
CPU seconds include Yosys's (a child process).

Run: ``.venv/bin/python bench/build_bound.py [--model build/demo/digits.npz]``.
"""

import argparse
import platform
import resource
import time


def cpu_seconds():
    """CPU seconds (user + sys) of this process and its children (Amaranth runs Yosys's
    ``write_verilog`` as a child process)."""
    return sum(usage.ru_utime + usage.ru_stime
               for usage in map(resource.getrusage, (resource.RUSAGE_SELF,
                                                     resource.RUSAGE_CHILDREN)))


_START = cpu_seconds()


def bare_graph(design):
    """``(module, ports)``: every unrolled stage's adder graph, lookups and pipeline
    registers, with its inputs and outputs as ports."""
    from amaranth.hdl import Cat, Const, MemoryData, MemoryInstance, Module, Signal

    from nomul.design.graph import LookupLeaf
    from nomul.design.ports import field_of
    from nomul.design.unrolled import UnrolledPlan
    from nomul.gateware.pipeline import shape_of
    from nomul.numeric import Bounds

    m, ports = Module(), []
    for name, plan in design.named_stages:
        if not isinstance(plan, UnrolledPlan):
            continue
        payload = Signal(plan.in_port.bits, name=f"{name}_in")
        element_bits = plan.in_port.bits // plan.in_port.length
        ports.append(payload)
        values, roms = {}, {}

        def at(index, stage, name=name, values=values):
            if (index, stage) not in values:
                before = at(index, stage - 1)
                values[(index, stage)] = Signal(before.shape(), name=f"{name}_d{index}_{stage}")
                m.d.sync += values[(index, stage)].eq(before)
            return values[(index, stage)]

        for index, leaf in enumerate(plan.leaves):
            if isinstance(leaf, LookupLeaf):
                shape = shape_of(field_of(leaf.bounds.union(Bounds(0, 0))))
                value = Signal(shape, name=f"{name}_t{index}")
                key = (shape, tuple(leaf.values))
                if key not in roms:
                    roms[key] = MemoryInstance(data=MemoryData(
                        shape=shape, depth=len(leaf.values), init=leaf.values),
                        attrs={"rom_style": "logic"})
                    m.submodules[f"{name}_rom{index}"] = roms[key]
                code = Cat(*(payload[e * element_bits:(e + 1) * element_bits]
                             for e in leaf.members))
                roms[key].read_port(domain="comb", addr=code, data=value, en=Const(1),
                                    transparent_for=())
            else:                      # an input element or a constant: a port of its own
                value = Signal(shape_of(plan.bounds[index]), name=f"{name}_leaf{index}")
                ports.append(value)
            values[(index, 0)] = value
        inline = plan.single_use_nodes()
        for index, (a, b, shift, sign) in enumerate(plan.nodes, start=len(plan.leaves)):
            stage = plan.stage[index]
            left, right = at(a, stage), at(b, stage)
            right = right << shift if shift else right
            total = left + right if sign > 0 else left - right
            shape = shape_of(plan.bounds[index])
            if index in inline:        # as nomul's layer: an expression inside its one user
                node = total[:shape.width].as_signed() if shape.signed else total[:shape.width]
            else:
                node = Signal(shape, name=f"{name}_n{index}")
                m.d.comb += node.eq(total)
            values[(index, stage)] = node
        for o, term in enumerate(plan.outputs):
            if term is not None:
                out = Signal(shape_of(plan.bounds[term[0]]), name=f"{name}_out{o}")
                m.d.sync += out.eq(at(term[0], plan.stages - 1))
                ports.append(out)
    return m, ports


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="build/demo/digits.npz")
    args = parser.parse_args()

    from amaranth.back import verilog

    import nomul
    import nomul.design.unrolled as unrolled
    from nomul.alloc import few_collections
    from nomul.design import BuildOptions, LayerOptions, lower
    from nomul.gateware.emit import design_verilog

    imports = cpu_seconds() - _START
    model = nomul.load(args.model)
    pairing = [0.0]
    share_pairs = unrolled.share_pairs

    def timed_share_pairs(*a, **k):
        start = cpu_seconds()
        try:
            return share_pairs(*a, **k)
        finally:
            pairing[0] += cpu_seconds() - start

    unrolled.share_pairs = timed_share_pairs
    start = cpu_seconds()
    design = lower(model, BuildOptions(default=LayerOptions(arch="unrolled")))
    lowering = cpu_seconds() - start
    unrolled.share_pairs = share_pairs
    start, wall = cpu_seconds(), time.perf_counter()
    text = design_verilog(design)
    emission, emission_wall = cpu_seconds() - start, time.perf_counter() - wall
    start = cpu_seconds()
    module, ports = bare_graph(design)
    with few_collections():            # as nomul's emission runs it
        bare = verilog.convert(module, ports=ports, name="bare", emit_src=False)
    floor = cpu_seconds() - start

    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}; model {args.model}, "
          "unrolled, default options")
    print(f"nomul: imports {imports:.2f} CPU-s, lowering {lowering:.2f} (pair sharing "
          f"{pairing[0]:.2f}), Verilog emission {emission:.2f} ({emission_wall:.2f} s wall, "
          f"{len(text) / 1e6:.2f} MB): {imports + lowering + emission:.2f} CPU-s")
    print(f"bare adder graph and lookups through Amaranth: {floor:.2f} CPU-s "
          f"({len(bare) / 1e6:.2f} MB); floor of an Amaranth-built design: imports + lowering + "
          f"that = {imports + lowering + floor:.2f} CPU-s")


if __name__ == "__main__":
    main()
