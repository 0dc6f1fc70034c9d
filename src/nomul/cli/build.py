# SPDX-License-Identifier: MIT
"""``nomul build MODEL -o DIR``: the Verilog of a model's hardware and its manifest."""

from ._common import add_model_command, build_options, output_dir, print_json

__all__ = ["add_parser", "run"]


def add_parser(commands):
    add_model_command(commands, "build", "Verilog and a manifest for a model",
                      output="output directory", run=run)


def run(args):
    from .. import api

    output_dir(args.output, "-o")
    model = api.load(args.model)
    manifest = api.write_verilog(api.lower(model, build_options(args, model)), args.output)
    if args.json:
        print_json(manifest)
        return 0
    print(f"wrote {manifest['verilog']} (top {manifest['top']}) and "
          f"{args.output}/manifest.json")
    print(f"latency {manifest['latency']} cycles, II {manifest['ii']} cycles; input "
          f"{manifest['input']['elements']} x {manifest['input']['bits']}-bit "
          f"({manifest['input']['lanes']} per transfer), output "
          f"{manifest['output']['kind']} ({manifest['output']['bits']} bits)")
    for layer in manifest["layers"]:
        if "arch" in layer:
            folding = f", PE {layer['pe']} x SIMD {layer['simd']}" \
                if layer["arch"] == "folded" else ""
            if "adders_ternary" in layer:
                folding += f", {layer['adders_ternary']} three-input adders (Xilinx)"
            print(f"  layer {layer['index']} {layer['kind']}: {layer['arch']}{folding}, "
                  f"latency {layer['latency']}, II {layer['ii']}, accumulator "
                  f"{layer['accumulator_bits']} bits")
    return 0
