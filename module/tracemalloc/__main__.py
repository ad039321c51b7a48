"""Command line: display and compare snapshot files, or find the leaks over a series.

    python -m tracemalloc snapshot1.pickle [snapshot2.pickle ...]
    python -m tracemalloc --leaks [--json] snapshot1.pickle snapshot2.pickle snapshot3.pickle ...

The files are those of TakeSnapshot and Snapshot.write()/dump() in any format, by Python 2.7
or 3, and those of the stock Snapshot.dump() of Python 3.4+.

main(argv) returns the exit status: 0 on success, 1 if a snapshot cannot be loaded (one line
"python -m tracemalloc: error: FILE: PROBLEM" on stderr) or lacks what --leaks needs, or
--html/--plot cannot write, 2 for a usage error (argparse). --leaks only parses and prints
here: finding the leaks, the table and the JSON are tracemalloc/_leaks.py's; --html and
--plot are tracemalloc/_report.py's.
"""
from __future__ import absolute_import

import argparse
import errno
import os
import sys

import tracemalloc
from tracemalloc import _leaks
from tracemalloc._output import _write_text

PROG = "python -m tracemalloc"

DESCRIPTION = """\
Display the top of the memory allocations of each snapshot written by
tracemalloc.TakeSnapshot or Snapshot.write()/dump() (any format, Python 2.7 or 3,
and the stock Snapshot.dump() of Python 3.4+), each compared with the previous
snapshot given on the command line (or with the first one, with --first).
Snapshots are displayed in the order of the command line.

With --leaks, rank the leaks over the whole series instead: the snapshots
(at least 3, in time order) are read one at a time, so a series of thousands
of files fits in memory."""

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

leaks example:
  %(prog)s --leaks tracemalloc-1234-*.pickle

  ranks the lines whose memory leaked over the series of snapshots that
  TakeSnapshot wrote. Its $counter has 4 digits, so a shell glob lists the
  files in time order (up to 9999 snapshots; beyond, sort them with "ls -v").
  A row per leak: the rank, the size growth from the first snapshot to the
  last, the slope per second (per snapshot when the snapshots do not tell
  their time), in how many of the N-1 intervals it grew, R2 of the fit, the
  count growth and the line (with --traceback, the traceback's frames).
  --json prints the same as JSON, for scripts; --all shows every line with
  its verdict. The package's own files are left out (--own-files keeps
  them): a program that keeps its last snapshot keeps its traces, which grow
  with the traces of its leaks. A progress line is shown on a terminal.

%(definition)s

report example:
  %(prog)s --html report.html --plot memory.svg tracemalloc-1234-*.pickle

  writes one HTML file over the series, which opens with no network (charts,
  tables, leaks and a flame graph), and the memory over time as an SVG image.

exit status: 0 on success, 1 if a snapshot cannot be loaded (missing,
truncated, corrupt or foreign file) or lacks what --leaks needs (traces for
--traceback), or a report cannot be written, 2 for a usage error (--leaks
with fewer than 3 snapshots)."""


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


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("invalid number: %r" % text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be a fraction from 0 to 1: %r" % text)
    return value


# --leaks options: (flags, dest, type, metavar, help); each default is in _leaks.DEFAULTS
_THRESHOLD_OPTIONS = (
    ("--min-growth", "min_growth", _non_negative_int, "BYTES",
     "smallest growth of a leak, last - first (default: %(default)s)"),
    ("--min-growth-share", "min_growth_share", _fraction, "FRACTION",
     "smallest growth of a leak as a share of the memory of the last snapshot "
     "(default: %(default)s)"),
    ("--max-fallback", "max_fallback", _fraction, "FRACTION",
     "how far below its maximum a leak may end, as a share of its growth "
     "(default: %(default)s)"),
    ("--min-late-growth", "min_late_growth", _fraction, "FRACTION",
     "share of the growth a leak gains in the last third of the series "
     "(default: %(default)s)"),
    ("--min-grew-share", "min_grew_share", _fraction, "FRACTION",
     "share of the intervals in which a steady leak grew (default: %(default)s)"),
    ("--min-steps", "min_steps", _non_negative_int, "N",
     "or: number of intervals in which a leak in steps grew (default: %(default)s)"),
    ("--min-r2", "min_r2", _fraction, "R2",
     "smallest R2 of the fit of a leak's size against time (default: %(default)s)"),
)
_TOP_ONLY = (("first", "--first"), ("hide_size", "--hide-size"),
             ("hide_count", "--hide-count"), ("hide_average", "--hide-average"))
_LEAKS_ONLY = (("json", "--json"), ("all", "--all"), ("own_files", "--own-files"),
               ("key_type", "--key-type/--traceback"))


def make_parser():
    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION,
        epilog=EPILOG % {"prog": "%(prog)s", "definition": _leaks.LEAK_DEFINITION},
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshots", metavar="SNAPSHOT", nargs="+",
                        help="snapshot file (written by pytracemalloc or the stock "
                             "Snapshot.dump())")
    parser.add_argument("-l", "--line-number", action="store_true", default=False,
                        help="group allocations per file and line number, not only per file")
    parser.add_argument("-n", "--number", "--limit", type=_positive_int, default=None,
                        metavar="N",
                        help="number of entries displayed per top (default: 10), or of rows "
                             "of the --leaks table (default: 10; --json: every one)")
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
                             "time, the table of lines with their growth, the leaks (as "
                             "--leaks finds them, with its options), a flame graph of the last "
                             "snapshot, the peak and the growth; no top is displayed")
    parser.add_argument("--plot", metavar="FILE",
                        help="draw the memory over time (traced, RSS, free lists, tracer) "
                             "into FILE, an SVG image; can be given with --html")
    color = parser.add_mutually_exclusive_group()
    color.add_argument("--color", dest="color", action="store_const", const=True,
                       default=None, help="use colors even if the output is not a terminal")
    color.add_argument("--no-color", dest="color", action="store_const", const=False,
                       help="never use colors")
    leaks = parser.add_argument_group("leaks over a series (--leaks)")
    leaks.add_argument("--leaks", action="store_true", default=False,
                       help="rank the leaks over the series of snapshots (at least 3, in "
                            "time order) instead of displaying each top")
    leaks.add_argument("--key-type", dest="key_type", choices=("lineno", "filename",
                                                               "traceback"),
                       default=None, help="group per line (default), per file, or per "
                                          "traceback (needs snapshots with traces)")
    leaks.add_argument("--traceback", dest="key_type", action="store_const",
                       const="traceback", help="the same as --key-type traceback")
    leaks.add_argument("--json", action="store_true", default=False,
                       help="print the leaks as JSON (--leaks only, for now)")
    leaks.add_argument("--all", action="store_true", default=False,
                       help="show every key with its verdict, not only the leaks")
    leaks.add_argument("--own-files", dest="own_files", action="store_true", default=False,
                       help="keep the tracemalloc package's own files (left out by default)")
    for flag, dest, kind, metavar, text in _THRESHOLD_OPTIONS:
        leaks.add_argument(flag, dest=dest, type=kind, metavar=metavar,
                           default=_leaks.DEFAULTS[dest], help=text)
    return parser


def _check_options(parser, options):
    """Usage errors that argparse cannot see: options of the other mode, too few snapshots
    for --leaks (parser.error() exits with status 2)."""
    if options.leaks:
        for dest, flag in _TOP_ONLY:
            if getattr(options, dest):
                parser.error("%s does not apply to --leaks" % flag)
        if len(options.snapshots) < 3:
            parser.error("--leaks needs a series of at least 3 snapshots (%d given): growth "
                         "between two snapshots does not tell a leak from a cache; give the "
                         "files of a TakeSnapshot run, e.g. tracemalloc-1234-*.pickle"
                         % len(options.snapshots))
        return
    # the leak section of --html takes the options that choose the leaks
    report = options.html or options.plot
    for dest, flag in _LEAKS_ONLY:
        if getattr(options, dest) and not (report and dest in ("key_type", "own_files")):
            parser.error("%s needs --leaks" % flag)
    for flag, dest, kind, metavar, text in _THRESHOLD_OPTIONS:
        if getattr(options, dest) != _leaks.DEFAULTS[dest] and not report:
            parser.error("%s needs --leaks" % flag)


def _error(message):
    # the message may hold a file name that the encoding of stderr cannot hold
    _write_text(sys.stderr, "%s: error: %s\n" % (PROG, message))
    sys.stderr.flush()


def _progress(done, total):
    sys.stderr.write("\rloading %d/%d ..." % (done, total))
    sys.stderr.flush()


def _run_leaks(options, stdout):
    tty = _leaks_tty()
    thresholds = dict((dest, getattr(options, dest)) for _, dest, _, _, _ in _THRESHOLD_OPTIONS)
    try:
        leaks = tracemalloc.find_leaks(
            options.snapshots, options.key_type or "lineno", include=options.include,
            exclude=options.exclude, own_files=options.own_files, everything=options.all,
            progress=_progress if tty else None, **thresholds)
    except ValueError as exc:  # SnapshotError too: a file that cannot be read or used
        _end_progress(tty)
        _error(str(exc))
        return 1
    _end_progress(tty)
    for warning in leaks.warnings:
        _write_text(sys.stderr, "%s: warning: %s\n" % (PROG, warning))
    if options.json:
        if options.number is not None:
            leaks[options.number:] = []
        _write_text(stdout, _leaks.leaks_to_json(leaks) + "\n")
        return 0
    lines = _leaks.format_leaks(leaks, limit=options.number or 10,
                                filename_parts=options.filename_parts)
    _write_text(stdout, "\n".join(lines) + "\n")
    return 0


def _leaks_tty():
    # the progress line only where someone watches it
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty and isatty())
    except Exception:
        return False


def _end_progress(tty):
    if tty:
        sys.stderr.write("\r%s\r" % (" " * 40))
        sys.stderr.flush()


def _run(options, stdout):
    if options.html or options.plot:
        from tracemalloc import _report
        status = _report.run_cli(options, _error)
        if status or not options.leaks:
            return status
    if options.leaks:
        return _run_leaks(options, stdout)
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

    top = tracemalloc.DisplayTop(options.number or 10, file=stdout,
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
        _check_options(parser, options)
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
