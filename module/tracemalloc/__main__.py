"""Command line: display and compare snapshot files.

    python -m tracemalloc snapshot1.pickle [snapshot2.pickle ...]

The files are those of TakeSnapshot and Snapshot.write()/dump() in any format, by Python 2.7
or 3, and those of the stock Snapshot.dump() of Python 3.4+.

main(argv) returns the exit status: 0 on success, 1 if a snapshot cannot be loaded (one line
"python -m tracemalloc: error: FILE: PROBLEM" on stderr), 2 for a usage error (argparse).
"""
from __future__ import absolute_import

import argparse
import errno
import os
import sys

import tracemalloc
from tracemalloc._output import _write_text

PROG = "python -m tracemalloc"

DESCRIPTION = """\
Display the top of the memory allocations of each snapshot written by
tracemalloc.TakeSnapshot or Snapshot.write()/dump() (any format, Python 2.7 or 3,
and the stock Snapshot.dump() of Python 3.4+), each compared with the previous
snapshot given on the command line (or with the first one, with --first).
Snapshots are displayed in the order of the command line."""

EPILOG = """\
example:
  %(prog)s -l -n 20 --exclude '*/unittest/*' \\
      tracemalloc-1234-0001.pickle tracemalloc-1234-0002.pickle

  displays the 20 lines of code that allocated the most memory in each
  snapshot, ignoring the unittest package; the second top shows the
  differences with the first one: "size=408 KiB (+408 KiB), count=5379 (+5379)".

A warning line flags two compared snapshots taken by different processes, and
another one a snapshot whose tracer lost traces for lack of memory (its
statistics are incomplete).
Colors are used when the output is a terminal, unless the NO_COLOR environment
variable is set; --color and --no-color force them on or off.

exit status: 0 on success, 1 if a snapshot cannot be loaded (missing,
truncated, corrupt or foreign file), 2 for a usage error."""


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("invalid integer: %r" % text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1: %r" % text)
    return value


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("invalid integer: %r" % text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more: %r" % text)
    return value


def make_parser():
    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshots", metavar="SNAPSHOT", nargs="+",
                        help="snapshot file (written by pytracemalloc or the stock "
                             "Snapshot.dump())")
    parser.add_argument("-l", "--line-number", action="store_true", default=False,
                        help="group allocations per file and line number, not only per file")
    parser.add_argument("-n", "--number", type=_positive_int, default=10, metavar="N",
                        help="number of entries displayed per top (default: 10)")
    parser.add_argument("--first", action="store_true", default=False,
                        help="compare each snapshot with the first one, instead of with the "
                             "previous one")
    parser.add_argument("--include", metavar="PATTERN", action="append", default=[],
                        help="only include filenames matching the fnmatch PATTERN (e.g. "
                             "'*/myapp/*'); can be given several times")
    parser.add_argument("--exclude", metavar="PATTERN", action="append", default=[],
                        help="exclude filenames matching the fnmatch PATTERN; can be given "
                             "several times")
    parser.add_argument("-S", "--hide-size", action="store_true", default=False,
                        help="hide the size of allocations")
    parser.add_argument("-C", "--hide-count", action="store_true", default=False,
                        help="hide the number of allocations")
    parser.add_argument("-A", "--hide-average", action="store_true", default=False,
                        help="hide the average size of allocations")
    parser.add_argument("-P", "--filename-parts", type=_non_negative_int, default=3,
                        metavar="N",
                        help="number of displayed filename components, 0 for full names "
                             "(default: 3)")
    parser.add_argument("--html", metavar="FILE",
                        help="write a report of the whole series into FILE, one HTML file "
                             "that needs no network: memory over time, the top -n lines over "
                             "time, the table of lines with their growth, a flame graph of "
                             "the last snapshot, the peak and the growth; no top is displayed")
    parser.add_argument("--plot", metavar="FILE",
                        help="draw the memory over time (traced, RSS, free lists, tracer) "
                             "into FILE, an SVG image; can be given with --html")
    color = parser.add_mutually_exclusive_group()
    color.add_argument("--color", dest="color", action="store_const", const=True,
                       default=None, help="use colors even if the output is not a terminal")
    color.add_argument("--no-color", dest="color", action="store_const", const=False,
                       help="never use colors")
    return parser


def _error(message):
    # the message may hold a file name that the encoding of stderr cannot hold
    _write_text(sys.stderr, "%s: error: %s\n" % (PROG, message))
    sys.stderr.flush()


def _run(options, stdout):
    if options.html or options.plot:
        from tracemalloc import _report
        return _report.run_cli(options, _error)
    snapshots = []
    for filename in options.snapshots:
        try:
            snapshot = tracemalloc.Snapshot.load(filename)
        except tracemalloc.SnapshotError as exc:
            _error(str(exc))
            return 1
        if options.include:
            snapshot.filter_filenames(options.include, True)
        if options.exclude:
            snapshot.filter_filenames(options.exclude, False)
        snapshots.append((filename, snapshot))

    top = tracemalloc.DisplayTop(options.number, file=stdout,
                                 group_per_file=not options.line_number)
    top.filename_parts = options.filename_parts
    top.show_size = not options.hide_size
    top.show_count = not options.hide_count
    top.show_average = not options.hide_average
    top.compare_with_previous = not options.first
    if options.color is not None:
        top.color = options.color

    previous = None
    for index, (filename, snapshot) in enumerate(snapshots):
        if index and not options.first:
            previous = snapshots[index - 1]
        elif index:
            previous = snapshots[0]
        if (previous is not None and previous[1].pid is not None and snapshot.pid is not None
                and previous[1].pid != snapshot.pid):
            _write_text(
                stdout, "WARNING: %s (pid %s) and %s (pid %s) come from different processes\n"
                % (filename, snapshot.pid, previous[0], previous[1].pid))
        top.display_snapshot(snapshot, name=filename)
    return 0


def main(argv=None):
    """Run the command line with *argv* (default: sys.argv[1:]); return the exit status."""
    parser = make_parser()
    try:
        options = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already reported
        return exc.code
    stdout = sys.stdout
    try:
        return _run(options, stdout)
    except KeyboardInterrupt:
        return 130
    except EnvironmentError as exc:
        if exc.errno == errno.EPIPE:
            # The reader went away (e.g. "| head"): stop quietly, and make sure the final flush
            # of sys.stdout at exit does not fail again.
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, stdout.fileno())
            except Exception:
                pass
            return 1
        _error(str(exc))
        return 1


if __name__ == "__main__":
    sys.exit(main())
