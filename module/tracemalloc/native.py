"""The native domain's launcher: ``python -m tracemalloc.native [--nframe N] [--stack N] --
COMMAND``
runs COMMAND with the package's preloadable library in LD_PRELOAD and PYTRACEMALLOC_NATIVE=1
(tracemalloc/_native.py), so that a Python program in it traces the blocks of malloc & co. in
NATIVE_DOMAIN whenever it traces. A usage error is one line on stderr and exit status 2.
"""
from __future__ import absolute_import

import argparse
import os
import sys

from tracemalloc._native import native_environ, preload_library

PROG = "python -m tracemalloc.native"


DESCRIPTION = """\
Run a command with the native domain of pytracemalloc switched on: the memory
blocks that C code takes from malloc & co. (C extensions and the libraries they
call, not the Python allocators) are traced in tracemalloc.NATIVE_DOMAIN with the
Python traceback of the moment, beside Python's own blocks. The command runs with
the package's library in LD_PRELOAD and PYTRACEMALLOC_NATIVE=1; a Python program
in it traces natively whenever it traces (tracemalloc.start(), PYTRACEMALLOC=N,
or --nframe). The library is harmless in a child that is not Python."""

EPILOG = """\
example:
  %(prog)s --nframe 5 -- python app.py
  %(prog)s --stack 8 -- python app.py
  %(prog)s -- python -m pytest tests/

  in app.py, tracemalloc.DomainFilter(True, tracemalloc.NATIVE_DOMAIN) keeps
  the native blocks of a snapshot, DomainFilter(False, ...) Python's."""


def _parser():
    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s [-h] [--nframe N] [--stack N] [--library] -- COMMAND [ARG ...]")
    parser.add_argument("--nframe", type=int, metavar="N",
                        help="start tracing at startup with N frames per traceback "
                             "(PYTRACEMALLOC=N; patched interpreters); default: the "
                             "program starts tracing itself")
    parser.add_argument("--stack", type=int, metavar="N",
                        help="also record up to N frames (1 to 64) of the C call stack of "
                             "each native block, before its Python frames "
                             "(PYTRACEMALLOC_NATIVE_STACK=N)")
    parser.add_argument("--library", action="store_true",
                        help="print the path of the preloadable library and exit")
    parser.add_argument("command", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def _error(message, status):
    sys.stderr.write("%s: error: %s\n" % (PROG, message))
    return status


def main(argv=None):
    """Set the environment and execute the command (no return on success). Returns 2 for a
    usage error, 1 if the library is missing, 127 if the command cannot be executed."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    library = preload_library()
    if args.library:
        sys.stdout.write(library + "\n")
        return 0 if os.path.exists(library) else 1
    command = args.command
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        return _error("no command to run: give it after --", 2)
    if args.nframe is not None and not 1 <= args.nframe <= 65535:
        return _error("--nframe must be in range [1; 65535], not %d" % args.nframe, 2)
    if args.stack is not None and not 1 <= args.stack <= 64:
        return _error("--stack must be in range [1; 64], not %d" % args.stack, 2)
    if not os.path.exists(library):
        return _error("the preloadable library is missing: %s" % library, 1)
    env = native_environ(os.environ, args.nframe, args.stack)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, env)
    except OSError as exc:
        return _error("%s: %s" % (command[0], exc.strerror), 127)


if __name__ == "__main__":
    sys.exit(main())
