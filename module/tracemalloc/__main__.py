"""Command line: display and compare snapshot files, or find the leaks over a series.

    python -m tracemalloc snapshot1.pickle [snapshot2.pickle ...]
    python -m tracemalloc --leaks snapshot1.pickle snapshot2.pickle snapshot3.pickle ...

The files are those of TakeSnapshot and Snapshot.write()/dump() in any format, by Python 2.7
or 3, and those of the stock Snapshot.dump() of Python 3.4+.

main(argv) returns the exit status: 0 on success, 1 if a snapshot cannot be loaded (one line
"python -m tracemalloc: error: FILE: PROBLEM" on stderr), 2 for a usage error (argparse, or
an option that a file cannot serve, e.g. --cumulative on a snapshot without traces, --peak
on a snapshot without a peak).
It runs with tracing suspended (tracemalloc/_suspend.py): when the interpreter traces (e.g.
PYTRACEMALLOC=1), the work of the command is the tracer's memory, not traced.

This module wires the arguments; the work is done by _cli.py (loading, checks, comparisons),
DisplayTop (the text) and _cli_json.py (the JSON document); for --leaks, by _leaks.py
(finding the leaks, their table and their JSON); for --html and --plot, by _report.py.
"""
from __future__ import absolute_import

import argparse
import errno
import os
import sys

import tracemalloc
from tracemalloc import _cli, _cli_json, _cliargs, _leaks
from tracemalloc._output import _Progress, _write_text
from tracemalloc._suspend import _suspended

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

  %(prog)s --traceback -n 5 snap.tms
  %(prog)s --json -l snap1.tms snap2.tms > top.json

  the 5 tracebacks that allocated the most (snapshots with traces: TakeSnapshot
  with its attribute traces = True, or take_snapshot()); the top per line of two
  snapshots as a JSON document for scripts (the README describes its schema).

A warning line flags two compared snapshots taken by different processes, and
another one a snapshot whose tracer lost traces for lack of memory (its
statistics are incomplete).
Colors are used when the output is a terminal, unless the NO_COLOR environment
variable is set; --color and --no-color force them on or off. On a terminal, a
progress line on stderr tells which file is loading when loading lasts.

leaks example:
  %(prog)s --leaks tracemalloc-1234-*.pickle

  ranks the lines whose memory leaked over the series of snapshots that
  TakeSnapshot wrote. Its $counter has 4 digits, so a shell glob lists the
  files in time order (up to 9999 snapshots; beyond, sort them with "ls -v").
  A row per leak: the rank, the size growth from the first snapshot to the
  last, the slope per second (per snapshot when the snapshots do not tell
  their time), in how many of the N-1 intervals it grew, R2 of the fit, the
  count growth and the line (with --traceback, the traceback's frames).
  --json writes the leaks as JSON, for scripts; --all shows every line with
  its verdict. The package's own files are left out (--own-files keeps
  them): a program that keeps its last snapshot keeps its traces, which grow
  with the traces of its leaks.

%(definition)s

report example:
  %(prog)s --html report.html --plot memory.svg tracemalloc-1234-*.pickle

  writes one HTML file over the series, which opens with no network (charts,
  tables, leaks and a flame graph), and the memory over time as an SVG image.

exit status: 0 on success, 1 if a snapshot cannot be loaded (missing,
truncated, corrupt or foreign file) or a report cannot be written, 2 for a
usage error (also an option that a file cannot serve: --traceback,
--cumulative or --domain on a snapshot without traces, --peak on a snapshot without a
peak; --leaks with fewer than 3 snapshots)."""


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("invalid number: %r" % text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be a fraction from 0 to 1: %r" % text)
    return value


# --leaks options: (flag, dest, type, metavar, help); each default is in _leaks.DEFAULTS
_THRESHOLD_OPTIONS = (
    ("--min-growth", "min_growth", _cliargs.int_at_least(0), "BYTES",
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
    ("--min-steps", "min_steps", _cliargs.int_at_least(0), "N",
     "or: number of intervals in which a leak in steps grew (default: %(default)s)"),
    ("--min-r2", "min_r2", _fraction, "R2",
     "smallest R2 of the fit of a leak's size against time (default: %(default)s)"),
)
_TOP_ONLY = (("first", "--first"), ("hide_size", "--hide-size"),
             ("hide_count", "--hide-count"), ("hide_average", "--hide-average"),
             ("cumulative", "--cumulative"), ("peak", "--peak"), ("domain", "--domain"))
_LEAKS_ONLY = (("all", "--all"), ("own_files", "--own-files"), ("key_type", "--key-type"))


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
    parser.add_argument("-n", "--number", "--limit", type=_cliargs.int_at_least(1), default=None,
                        metavar="N",
                        help="number of entries displayed per top (default: 10), or of rows "
                             "of the --leaks table (default: 10; --leaks --json: every leak)")
    parser.add_argument("--first", action="store_true", default=False,
                        help="compare each snapshot with the first one, instead of with the "
                             "previous one")
    parser.add_argument("--include", metavar="PATTERN", action="append", default=[],
                        help="only include filenames matching the fnmatch PATTERN (e.g. "
                             "'*/myapp/*'); can be given several times")
    parser.add_argument("--exclude", metavar="PATTERN", action="append", default=[],
                        help="exclude filenames matching the fnmatch PATTERN; can be given "
                             "several times")
    parser.add_argument("--domain", metavar="DOMAIN", action="append", default=[],
                        type=_cliargs.domain,
                        help="only the traces of DOMAIN: python (Python's allocators), "
                             "native (C libraries' malloc, traced with tracemalloc.native) "
                             "or a number (a PyTraceMalloc_Track() domain, e.g. numpy's "
                             "389047); can be given several times (needs snapshots with "
                             "traces)")
    parser.add_argument("-S", "--hide-size", action="store_true", default=False,
                        help="hide the size of allocations")
    parser.add_argument("-C", "--hide-count", action="store_true", default=False,
                        help="hide the number of allocations")
    parser.add_argument("-A", "--hide-average", action="store_true", default=False,
                        help="hide the average size of allocations")
    parser.add_argument("-P", "--filename-parts", type=_cliargs.int_at_least(0), default=3,
                        metavar="N",
                        help="number of displayed filename components, 0 for full names "
                             "(default: 3)")
    grouping = parser.add_mutually_exclusive_group()
    grouping.add_argument("--traceback", action="store_true", default=False,
                          help="group allocations per traceback and list the callers of "
                               "each allocation site, most recent first (needs snapshots "
                               "with traces); with --leaks, find leaks per traceback")
    grouping.add_argument("--cumulative", action="store_true", default=False,
                          help="count the memory of an allocation for every frame of its "
                               "traceback, not only the most recent one: per file, or per "
                               "line with -l (needs snapshots with traces)")
    parser.add_argument("--peak", action="store_true", default=False,
                        help="show the top of the peak of traced memory recorded in each "
                             "file instead of its top (files of TakeSnapshot with its "
                             "attribute peak = True), compared as the tops are")
    parser.add_argument("--json", action="store_true", default=False,
                        help="write the tops and their differences as one JSON document "
                             "(for scripts; -S, -C, -A, -P and colors do not apply); with "
                             "--leaks, the leaks")
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
                       default=None, help="group per line (the default of --leaks), per "
                                          "file, or per traceback (as --traceback)")
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
        if options.traceback and options.key_type not in (None, "traceback"):
            parser.error("--traceback and --key-type %s disagree" % options.key_type)
        if len(options.snapshots) < 3:
            parser.error("--leaks needs a series of at least 3 snapshots (%d given): growth "
                         "between two snapshots does not tell a leak from a cache; give the "
                         "files of a TakeSnapshot run, e.g. tracemalloc-1234-*.pickle"
                         % len(options.snapshots))
        return
    # the leak section of --html takes the options that choose the leaks
    report = options.html or options.plot
    if report:
        # a report displays no top: the options of the text or JSON top have nothing to do
        for dest, flag in _TOP_ONLY + (("json", "--json"), ("peak", "--peak"),
                                       ("cumulative", "--cumulative")):
            if getattr(options, dest):
                parser.error("%s does not apply to --html/--plot (without --leaks)" % flag)
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


def _run_leaks(options, stdout):
    """--leaks: the files are read one at a time by find_leaks(), with the progress line of
    _cli.load_snapshots()."""
    progress = _Progress(sys.stderr, delay=_cli.PROGRESS_DELAY)

    def step(number, total, name):
        if progress.enabled:
            try:
                size = os.stat(name).st_size
            except (OSError, ValueError, TypeError):  # the loader tells what is wrong
                size = 0
            progress.step("%s: loading %d/%d: %s" % (PROG, number, total, name),
                          long_step=size >= _cli.LARGE_FILE)

    key_type = "traceback" if options.traceback else options.key_type or "lineno"
    thresholds = dict((dest, getattr(options, dest)) for _, dest, _, _, _ in _THRESHOLD_OPTIONS)
    try:
        try:
            leaks = tracemalloc.find_leaks(
                options.snapshots, key_type, include=options.include, exclude=options.exclude,
                own_files=options.own_files, everything=options.all, progress=step,
                **thresholds)
        finally:
            progress.done()  # before an error line, and on Ctrl+C
    except tracemalloc.SnapshotError as exc:
        _error(str(exc))
        return 1
    except ValueError as exc:  # a file that cannot serve the key type (no traces)
        _error(str(exc))
        return 2
    if options.json:
        if options.number is not None:
            leaks[options.number:] = []
        _write_text(stdout, _leaks.leaks_to_json(leaks) + "\n")
        return 0
    for warning in leaks.warnings:  # as the tops' warnings, above the table
        _write_text(stdout, "WARNING: %s\n" % warning)
    lines = _leaks.format_leaks(leaks, limit=options.number or 10,
                                filename_parts=options.filename_parts)
    _write_text(stdout, "\n".join(lines) + "\n")
    return 0


def _run(options, stdout):
    if options.html or options.plot:
        from tracemalloc import _report
        status = _report.run_cli(options, _error)
        if status or not options.leaks:
            return status
    if options.leaks:
        return _run_leaks(options, stdout)
    number = options.number or 10
    try:
        snapshots = _cli.load_snapshots(options.snapshots, sys.stderr, PROG)
    except tracemalloc.SnapshotError as exc:
        _error(str(exc))
        return 1
    key_type = ("traceback" if options.traceback
                else "lineno" if options.line_number else "filename")
    try:
        if options.peak:
            snapshots = _cli.peak_snapshots(snapshots)
        for option in ("--traceback", "--cumulative", "--domain"):
            if getattr(options, option[2:]):
                _cli.check_traces(snapshots, option)
    except _cli.UsageProblem as exc:
        _error(str(exc))
        return 2
    except tracemalloc.SnapshotError as exc:
        _error(str(exc))
        return 1
    _cli.filter_snapshots(snapshots, options.include, options.exclude)
    snapshots = _cli.filter_domains(snapshots, options.domain)

    if options.json:
        _cli_json.write_json(stdout, _cli_json.top_document(
            snapshots, key_type, options.cumulative, number, options.first, options.peak))
        return 0

    top = tracemalloc.DisplayTop(number, file=stdout,
                                 group_per_file=key_type == "filename")
    top.show_traceback = options.traceback
    top.cumulative = options.cumulative
    top.filename_parts = options.filename_parts
    top.show_size = not options.hide_size
    top.show_count = not options.hide_count
    top.show_average = not options.hide_average
    top.compare_with_previous = not options.first
    if options.color is not None:
        top.color = options.color

    for filename, snapshot, previous_filename, previous in _cli.comparisons(snapshots,
                                                                            options.first):
        warning = _cli.different_processes(filename, snapshot, previous_filename, previous)
        if warning is not None:
            _write_text(stdout, warning + "\n")
        top.display_snapshot(snapshot, name=filename)
    return 0


def main(argv=None):
    """Run the command line with *argv* (default: sys.argv[1:]); return the exit status.
    Tracing, if on, is suspended meanwhile."""
    with _suspended():
        return _main(argv)


def _main(argv):
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
