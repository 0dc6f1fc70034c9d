# SPDX-License-Identifier: MIT
"""Shared test helpers: an independent loop-based reference and random model builders."""


def digits_input_spec():
    """The 8x8 digits input: 64 pixels 0..16, identity quantizer."""
    from nomul.models.spec import InputSpec

    return InputSpec(shape=(64,), raw_min=0, raw_max=16)


def run_cli(capsys, *argv):
    """``nomul ARGV`` in this process: ``(exit status, stdout, stderr)``; argparse's usage
    errors (SystemExit) count as their status."""
    from nomul.cli import main

    try:
        status = main([str(a) for a in argv])
    except SystemExit as exit_:
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


def readme_commands(section):
    """The command lines (comments stripped) of the ``sh`` blocks under the README heading
    ``## section``, in order."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", body, flags=re.S)
    lines = [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line]


def random_model_file(path, arch, inputs, levels=None):
    """A random model written by ``nomul random --arch ARCH --input-shape INPUTS`` (with
    ``--act-levels`` and ``--weight-levels`` both ``levels`` when given); returns ``path``."""
    from nomul.cli import main

    argv = ["random", "--arch", arch, "--input-shape", str(inputs)]
    if levels is not None:
        argv += ["--act-levels", str(levels), "--weight-levels", str(levels)]
    assert main([*argv, "-o", str(path)]) == 0
    return path
