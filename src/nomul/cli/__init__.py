# SPDX-License-Identifier: MIT
"""``nomul``: one subcommand per pipeline stage, one module each; they parse, call
:mod:`nomul.api`, print.

Heavy imports happen inside the subcommands so ``nomul --help`` is instant. A user error
(:class:`~nomul.errors.NomulError`: bad input, options, files, a missing tool) is one line on
stderr with exit status 2 (``NOMUL_DEBUG=1`` shows its traceback); any other exception is a
bug in nomul and shows its traceback.
"""

import argparse
import os
import sys

from ..errors import NomulError
from . import (
    board,
    build,
    calibrate,
    estimate,
    evaluate,
    import_model,
    info,
    report,
    sim,
    sweep,
    synthetic,
    train,
)

__all__ = ["main", "entry", "build_parser", "COMMANDS"]

# in the order ``nomul --help`` lists them: the pipeline's
COMMANDS = (info, train, import_model, evaluate, build, sim, board, estimate, sweep, report,
            synthetic, calibrate)


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (``nomul train: error: ...``), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    from .. import __version__

    parser = _Parser(prog="nomul",
                     description="Multiplier-free neural network hardware from product tables.")
    parser.add_argument("--version", action="version", version=f"nomul {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def entry():
    """The ``nomul`` command: :func:`main`, then the process's objects left to its exit
    (:func:`nomul.alloc.leave_to_exit`). Returns the exit status."""
    from ..alloc import leave_to_exit

    status = main()
    leave_to_exit()
    return status


def main(argv=None):
    """Run the CLI; returns the exit status (0 ok, 1 a failed check, 2 user error)."""
    from .. import progress

    args = build_parser().parse_args(argv)
    progress.configure(False if getattr(args, "json", False) else None)
    try:
        return args.handler(args)
    except NomulError as error:
        if os.environ.get("NOMUL_DEBUG"):
            raise
        print(f"nomul: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nomul: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:                  # output piped into head and friends
        sys.stderr.close()
        return 0
    except Exception:
        print("nomul: internal error (a bug in nomul, not in your input); please report it "
              "with the traceback below", file=sys.stderr)
        raise
    finally:
        progress.configure(None)
