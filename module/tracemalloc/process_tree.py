"""process_tree: the memory of a process and of all its child processes, at regular intervals,
until the process exits (pymemtrace's process_tree, with a command to run and a summary).

    python -m tracemalloc.process_tree [-i SECONDS] [--json PATH] [options] -p PID
    python -m tracemalloc.process_tree [-i SECONDS] [--json PATH] [options] -- COMMAND [ARG...]

This module owns the command: its options, the sampling loop (a sleeping loop: one sample per
interval, on a fixed schedule), what a sample is compared with (the previous one: new and
gone processes, differences, CPU percent), the tree's peak and each process's, and the three
outputs: the table on stdout, the JSON lines of --json (schema below) and the summary.
Reading the processes, from /proc or psutil, is _proctree.py's.

main(argv) returns the exit status: with a COMMAND, the command's (128 + N when a signal N
killed it), else 0; 1 when the process cannot be watched (no such PID, no /proc and no
psutil, a --json file that cannot be written); 2 for a usage error (one line on stderr:
"python -m tracemalloc.process_tree: error: ..."); 126 or 127 when the command cannot be
run (not executable, not found), as a shell says. Ctrl-C (SIGINT) ends the sampling with
the summary; a COMMAND that is still running 1 second later gets SIGINT too and is waited
for (a second Ctrl-C stops waiting: exit status 130).

The JSON lines (--json PATH; one JSON object per line, written and flushed as it is known,
so that the file is readable while the command runs)::

    {"record": "start", "format": "pytracemalloc.process_tree", "version": 1,
     "pid": int, "command": [str, ...] | null, "interval": float, "source": "/proc" | "psutil",
     "fields": [str, ...],             # the optional values asked for (FIELDS of _proctree)
     "time": float}                    # Unix time of the start; the other times are seconds
                                       # from it
    {"record": "sample", "index": int, "time": float,
     "processes": [                    # in tree order: the root, each child and its subtree
       {"pid": int, "ppid": int, "name": str, "cmdline": [str, ...], "depth": int,
        "new": bool,                   # not in the previous sample
        "rss": int | null, "rss_diff": int | null,   # bytes; the diff from the previous
                                                     # sample, from 0 for a new process,
                                                     # null in the first sample
        "cpu_percent": float | null,   # of one CPU, over the interval; null when new
        ... the keys of the fields asked for (_proctree.FIELD_KEYS), with "uss_diff" and
        "page_faults_diff" beside "uss" and "page_faults"}, ...],
     "gone": [{"pid": int, "ppid": int, "name": str, "last_rss": int | null}, ...],
                                       # in the previous sample, not in this one
     "total": {"processes": int, "rss": int, "rss_diff": int | null,
               "cpu_percent": float | null, ... the sums of the numeric fields}}
    {"record": "summary", "time": float, "samples": int,
     "end": "exited" | "interrupted", "exit_status": int | null,
     "peak": {"rss": int, "time": float, "index": int, "processes": int} | null,
     "peak_uss": {...} | null,         # with --uss
     "processes": [{"pid": int, "ppid": int, "name": str, "cmdline": [str, ...],
                    "peak_rss": int | null, "peak_rss_time": float | null,
                    "peak_uss": int | null, "peak_uss_time": float | null,   # with --uss
                    "seen": float,     # the first sample that had it
                    "gone": float | null}, ...]}   # the first sample that no longer had it
                                                   # (null: still running at the end)

Within version 1 keys are only added. Strings are written with ASCII escapes, a byte of a
command line that is not UTF-8 as U+DC80 + byte, by Python 2 as by 3.
"""
from __future__ import absolute_import

import argparse
import errno
import json
import os
import signal
import subprocess
import sys
import time

import tracemalloc
from tracemalloc import _cliargs, _proctree
from tracemalloc._cli_json import _text
from tracemalloc._output import _write_text
from tracemalloc._suspend import _suspended

__all__ = ["main", "FORMAT", "VERSION"]

PROG = "python -m tracemalloc.process_tree"
FORMAT = "pytracemalloc.process_tree"
VERSION = 1
_MIB = 1024.0 * 1024.0
# a monotonic clock (Python 3.3+) for the schedule; Python 2 has only the wall clock
_clock = getattr(time, "monotonic", time.time)
# how long a COMMAND may take to exit after Ctrl-C before it gets SIGINT from us
_INTERRUPT_GRACE = 1.0

USAGE = """\
%(prog)s [-h] [-i SECONDS] [--json PATH] [options] -p PID
       %(prog)s [-h] [-i SECONDS] [--json PATH] [options] -- COMMAND [ARG ...]"""

DESCRIPTION = """\
Show the memory of a process and of all its child processes at regular
intervals, until the process exits: one block of lines per interval, a line
per process (its RSS, the change since the previous interval, its CPU use),
a total line for the tree, the processes that appeared (+) and left (-)
since the previous interval; at the end, a summary: each process's peak RSS,
when it was first and last seen, and the peak of the whole tree. Give the PID
of a running process with -p, or a command to run after --.

Values come from psutil when it can be imported, else from Linux's /proc
(everything but --net-connections, which needs psutil)."""

EPILOG = """\
example:
  %(prog)s -i 0.5 --json build.jsonl -- make -j2

  runs "make -j2" and shows, every half second, the memory of make and of
  every compiler it starts; build.jsonl gets the same as JSON lines (a
  "start" record, a "sample" record per interval, a "summary" record), and
  the exit status is make's.

  %(prog)s -p 4242 -u -c

  watches the running process 4242 and its children, with their USS (the
  memory that ending the process would free) and CPU times, until it exits
  or Ctrl-C.

columns: Time(s) from the start; + a process new since the previous
interval, - one gone since then (its last RSS counted as a decrease);
RSS(MiB), dRSS(MiB) its change; CPU(%%) of one CPU over the interval; then
the values asked for; Name, indented under its parent.

exit status: the command's (128 + N if signal N killed it) with --, else 0;
1 if the process cannot be watched (no such PID, no /proc and no psutil, a
--json file that cannot be written); 2 for a usage error; 126 or 127 if the
command cannot be run (not executable, not found)."""


class _Failure(Exception):
    """The process cannot be watched: one line, exit status 1 (or the status given)."""

    def __init__(self, message, status=1):
        Exception.__init__(self, message)
        self.status = status


def make_parser():
    parser = _cliargs.Parser(prog=PROG, usage=USAGE, description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-i", "--interval", type=_cliargs.seconds, default=1.0, metavar="SECONDS",
                        help="time between two samples (default: 1.0; 0.1 is fine)")
    parser.add_argument("-p", "--pid", type=_cliargs.pid, metavar="PID",
                        help="the process to watch, with its children (or give a command "
                             "to run after --)")
    parser.add_argument("--json", metavar="PATH",
                        help="also write the samples to PATH as JSON lines, one object per "
                             "line: start, a sample per interval, summary (the module's "
                             "docstring and the README have the schema)")
    parser.add_argument("-u", "--uss", action="store_true",
                        help="show the USS: the memory private to the process, which ending "
                             "it would free (slower: the kernel walks its memory map)")
    parser.add_argument("-g", "--page-faults", action="store_true",
                        help="show the page faults (minor + major) and their change")
    parser.add_argument("-c", "--cpu-times", action="store_true",
                        help="show the user and system CPU times")
    parser.add_argument("-x", "--context-switches", action="store_true",
                        help="show the context switches (voluntary + involuntary)")
    parser.add_argument("-t", "--threads", action="store_true",
                        help="show the number of threads")
    parser.add_argument("-s", "--status", action="store_true",
                        help="show the status (running, sleeping, ...)")
    parser.add_argument("-f", "--open-files", action="store_true",
                        help="show the number of open regular files")
    parser.add_argument("-n", "--net-connections", action="store_true",
                        help="show the number of network connections (needs psutil)")
    parser.add_argument("-a", "--all", action="store_true",
                        help="the same as -cfgstn (-n only with psutil)")
    parser.add_argument("--cmdline", action="store_true",
                        help="show the command line of each process")
    parser.add_argument("--sep", metavar="SEP",
                        help="separate the columns with SEP (e.g. ',') instead of aligning "
                             "them")
    parser.add_argument("-1", "--omit-first", action="store_true",
                        help="do not show the first sample (it is the base of the changes "
                             "of the second)")
    parser.add_argument("--source", choices=("auto", "psutil", "proc"), default="auto",
                        help="where the values come from: psutil, /proc (Linux), or auto "
                             "(default): psutil when it can be imported, else /proc")
    return parser


def _fields(options):
    """The optional values asked for, as names of _proctree.FIELDS."""
    every = options.all
    asked = [("uss", options.uss), ("page_faults", options.page_faults or every),
             ("cpu_times", options.cpu_times or every),
             ("ctx_switches", options.context_switches),
             ("threads", options.threads or every), ("status", options.status or every),
             ("open_files", options.open_files or every),
             ("net_connections", options.net_connections or every)]
    return [name for name, wanted in asked if wanted]


def _source(options, fields, stderr):
    """The source of the values (and the fields it serves), or _cliargs.UsageError/_Failure."""
    psutil = None
    if options.source != "proc":
        psutil = tracemalloc._import_psutil()
        if psutil is None and options.source == "psutil":
            raise _cliargs.UsageError("--source psutil: psutil cannot be imported by this "
                              "interpreter")
    if psutil is not None:
        source = _proctree.PsutilSource(psutil, fields)
        if "page_faults" in fields and not source.page_faults_available():
            raise _cliargs.UsageError("-g/--page-faults: this psutil gives no page faults here "
                              "(psutil 7 does, or Linux's /proc)")
        return source, fields
    if not _proctree.proc_available():
        raise _Failure("this system has no Linux /proc and psutil cannot be imported: "
                       "process_tree needs one of them")
    if "net_connections" in fields:
        if options.net_connections:
            raise _cliargs.UsageError("-n/--net-connections needs psutil, which this interpreter "
                              "cannot import (the other values come from /proc)")
        fields = [name for name in fields if name != "net_connections"]
        _write_text(stderr, "%s: note: -a without psutil leaves out the network "
                            "connections (-n needs psutil)\n" % PROG)
    return _proctree.ProcSource(fields), fields


def _split_command(argv):
    """(options, command): the arguments before and after the first "--"."""
    if "--" in argv:
        index = argv.index("--")
        return argv[:index], argv[index + 1:]
    return argv, None


def _quote(arg):
    if not arg or any(char.isspace() or char in "\"'\\$`" for char in arg):
        return '"%s"' % arg.replace("\\", "\\\\").replace('"', '\\"')
    return arg


def _command_line(cmdline):
    return " ".join(_quote(arg) for arg in cmdline)


# ---------------------------------------------------------------------------------------------
# Columns of the table
# ---------------------------------------------------------------------------------------------

def _mib(value):
    return "-" if value is None else "%.1f" % (value / _MIB)


def _mib_diff(value):
    return "-" if value is None else "%+.1f" % (value / _MIB)


def _integer(value):
    return "-" if value is None else "%d" % value


def _integer_diff(value):
    return "-" if value is None else "%+d" % value


def _seconds(value):
    return "-" if value is None else "%.2f" % value


def _percent(value):
    return "-" if value is None else "%.1f" % value


def _string(value):
    return "-" if value is None else value


# (header, width, key, format) of the columns of each optional field
_FIELD_COLUMNS = {
    "uss": [("USS(MiB)", 9, "uss", _mib), ("dUSS(MiB)", 9, "uss_diff", _mib_diff)],
    "page_faults": [("PFaults", 9, "page_faults", _integer),
                    ("dPFaults", 8, "page_faults_diff", _integer_diff)],
    "cpu_times": [("User(s)", 8, "cpu_user", _seconds), ("Sys(s)", 8, "cpu_system", _seconds)],
    "ctx_switches": [("CtxSw", 9, "ctx_switches", _integer)],
    "threads": [("Thrds", 5, "threads", _integer)],
    "status": [("Status", 11, "status", _string)],
    "open_files": [("Files", 5, "open_files", _integer)],
    "net_connections": [("Net", 5, "net_connections", _integer)],
}

# the values that the total line of a sample sums (all but the status)
_SUMMED = ("rss", "rss_diff", "cpu_percent", "uss", "uss_diff", "page_faults",
           "page_faults_diff", "major_page_faults", "cpu_user", "cpu_system", "ctx_switches",
           "threads", "open_files", "net_connections")


def _sum(values):
    known = [value for value in values if value is not None]
    return sum(known) if known else None


def _diff(value, previous):
    if value is None or previous is None:
        return None
    return value - previous


class _Table(object):
    """The text of the table and the summary: aligned columns, or joined by *sep*."""

    def __init__(self, fields, cmdline, sep, decimals):
        self.columns = [("Time(s)", 7, "time", None), ("", 1, "mark", None),
                        ("PID", 7, "pid", _integer), ("PPID", 7, "ppid", _integer),
                        ("RSS(MiB)", 8, "rss", _mib), ("dRSS(MiB)", 9, "rss_diff", _mib_diff),
                        ("CPU(%)", 6, "cpu_percent", _percent)]
        for name in _proctree.FIELDS:
            if name in fields:
                self.columns.extend(_FIELD_COLUMNS[name])
        self.cmdline = cmdline
        self.sep = sep
        self.time_format = "%%.%df" % decimals

    def format_time(self, value):
        return "-" if value is None else self.time_format % value

    def line(self, cells, name, depth, cmdline, columns=None):
        """One line: *cells* {key: text}, then the name (indented by *depth*) and, with
        --cmdline, the command line."""
        columns = self.columns if columns is None else columns
        if self.sep is not None:
            parts = [cells.get(key, "") for header, width, key, fmt in columns]
            parts.append(name)
            if self.cmdline:
                parts.append(cmdline)
            return self.sep.join(parts) + "\n"
        parts = [cells.get(key, "").rjust(width) for header, width, key, fmt in columns]
        name = "  " * depth + name
        if self.cmdline:
            name = name.ljust(15) + "  " + cmdline
        return " ".join(parts) + "  " + name.rstrip() + "\n"

    def header(self, columns=None):
        columns = self.columns if columns is None else columns
        cells = dict((key, header) for header, width, key, fmt in columns)
        return self.line(cells, "Name", 0, "Command line", columns)

    def row(self, values, columns=None):
        columns = self.columns if columns is None else columns
        cells = {}
        for header, width, key, fmt in columns:
            if fmt is not None:
                cells[key] = fmt(values.get(key))
        return cells


class _TreeLog(object):
    """What one run has seen: the previous sample, each process's history, the tree's peak;
    and its outputs. sample() takes the records of each interval ([] once the root is gone),
    finish() writes the summary."""

    def __init__(self, stdout, json_file, fields, options, source_name, root_pid, command):
        self.stdout = stdout
        self.json_file = json_file
        self.fields = fields
        self.omit_first = options.omit_first
        self.interval = options.interval
        self.table = _Table(fields, options.cmdline, options.sep,
                            2 if options.interval < 1 else 1)
        self.root_pid = root_pid
        self.command = command
        self.with_uss = "uss" in fields
        self.previous = None  # {key: record} of the previous sample
        self.previous_order = []  # its keys in tree order
        self.previous_time = None
        self.history = {}  # {key: summary entry}
        self.order = []  # keys in the order first seen
        self.peak = None  # {"rss", "time", "index", "processes"}
        self.peak_uss = None
        self.index = 0
        self.source_name = source_name
        self.started = False
        self.start_wall = time.time()
        # the keys of the total line: the numeric values of every sample's records
        self.total_keys = ["rss", "rss_diff", "cpu_percent"]
        for name in fields:
            self.total_keys.extend(key for key in _proctree.FIELD_KEYS[name]
                                   if key in _SUMMED)
            if name in ("uss", "page_faults"):
                self.total_keys.append(name + "_diff")

    # -- outputs

    def _out(self, text):
        """Write the table's text; a reader gone away (EPIPE: "| head") only ends the
        table, the sampling and the JSON go on."""
        if self.stdout is None:
            return
        try:
            _write_text(self.stdout, text)
            self.stdout.flush()
        except EnvironmentError as exc:
            if exc.errno != errno.EPIPE:
                raise
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self.stdout.fileno())  # the flush at exit must not fail
                os.close(devnull)
            except Exception:
                pass
            self.stdout = None

    def _json(self, record):
        if self.json_file is not None:
            self.json_file.write(json.dumps(record, sort_keys=True, separators=(",", ":"),
                                            ensure_ascii=True) + "\n")
            self.json_file.flush()

    def _start(self, records):
        """The first lines: what is watched, and the columns; the JSON "start" record."""
        cmdline = self.command
        if cmdline is None and records:
            cmdline = records[0]["cmdline"]
        what = "PID %d" % self.root_pid
        if cmdline:
            what += " (%s)" % _command_line(cmdline)
        self._out("process_tree: %s and its children, every %g s, values from %s\n"
                  % (what, self.interval, self.source_name))
        self._out(self.table.header())
        self._json({"record": "start", "format": FORMAT, "version": VERSION,
                    "pid": self.root_pid,
                    "command": ([_text(arg) for arg in self.command]
                                if self.command is not None else None),
                    "interval": self.interval, "source": self.source_name,
                    "fields": list(self.fields), "time": self.start_wall})
        self.started = True

    # -- the samples

    def sample(self, now, records):
        """Compare *records* (the tree now, [] once the root is gone) with the previous
        sample, record the peaks, write the lines and the JSON record."""
        if not self.started:
            self._start(records)
        first = self.previous is None
        previous = self.previous or {}
        elapsed = now - self.previous_time if self.previous_time is not None else None
        present = set(record["key"] for record in records)
        for record in records:
            before = previous.get(record["key"])
            record["new"] = not first and before is None
            if first:
                record["rss_diff"] = None
            else:
                record["rss_diff"] = _diff(record["rss"], before["rss"] if before else 0)
            if before is not None and elapsed:
                spent = _diff(record["cpu"], before["cpu"])
                record["cpu_percent"] = (None if spent is None
                                         else round(100.0 * spent / elapsed, 1))
            else:
                record["cpu_percent"] = None
            for key in ("uss", "page_faults"):
                if key in record:
                    record[key + "_diff"] = (None if first else
                                             _diff(record[key], before[key] if before else 0))
        gone = [previous[key] for key in self.previous_order if key not in present]
        total = {"processes": len(records)}
        for key in self.total_keys:
            if key.endswith("_diff") and first:
                total[key] = None
                continue
            values = [record.get(key) for record in records]
            if key in ("rss_diff", "uss_diff"):  # a process gone: its memory, less
                values += [-record[key[:-5]] for record in gone
                           if record.get(key[:-5]) is not None]
            total[key] = _sum(values) if values else 0  # an empty tree holds nothing
        if total["cpu_percent"] is not None:
            total["cpu_percent"] = round(total["cpu_percent"], 1)
        self._remember(now, records, gone)
        if not (self.omit_first and self.index == 0):
            self._write_sample(now, records, gone, total)
        self.previous = dict((record["key"], record) for record in records)
        self.previous_order = [record["key"] for record in records]
        self.previous_time = now
        self.index += 1

    def _remember(self, now, records, gone):
        for record in records:
            entry = self.history.get(record["key"])
            if entry is None:
                entry = {"pid": record["pid"], "seen": now, "gone": None, "peak_rss": None,
                         "peak_rss_time": None, "peak_uss": None, "peak_uss_time": None,
                         "depth": record["depth"]}
                self.history[record["key"]] = entry
                self.order.append(record["key"])
            entry.update(ppid=record["ppid"], name=record["name"], cmdline=record["cmdline"])
            for key in ("rss", "uss"):
                value = record.get(key)
                if value is not None and (entry["peak_" + key] is None
                                          or value > entry["peak_" + key]):
                    entry["peak_" + key] = value
                    entry["peak_%s_time" % key] = now
        for record in gone:
            self.history[record["key"]]["gone"] = now
        rss = _sum(record["rss"] for record in records)
        if rss is not None and (self.peak is None or rss > self.peak["rss"]):
            self.peak = {"rss": rss, "time": now, "index": self.index,
                         "processes": len(records)}
        if self.with_uss:
            uss = _sum(record.get("uss") for record in records)
            if uss is not None and (self.peak_uss is None or uss > self.peak_uss["uss"]):
                self.peak_uss = {"uss": uss, "time": now, "index": self.index,
                                 "processes": len(records)}

    def _write_sample(self, now, records, gone, total):
        table = self.table
        lines = []
        when = table.format_time(now)
        for record in records:
            cells = table.row(record)
            cells["time"], when = when, ""
            cells["mark"] = "+" if record["new"] else ""
            lines.append(table.line(cells, record["name"], record["depth"],
                                    _command_line(record["cmdline"])))
        for record in gone:
            cells = table.row({"pid": record["pid"], "ppid": record["ppid"],
                               "rss_diff": (-record["rss"] if record["rss"] is not None
                                            else None)})
            cells["time"], when = when, ""
            cells["mark"] = "-"
            lines.append(table.line(cells, record["name"], record["depth"],
                                    _command_line(record["cmdline"])))
        cells = table.row(total)
        cells["time"] = when
        cells["mark"] = "="
        cells["pid"] = cells["ppid"] = ""
        count = total["processes"]
        lines.append(table.line(cells, "total: %d process%s" % (count, "es"[:2 * (count != 1)]),
                                0, ""))
        self._out("".join(lines))
        self._json({
            "record": "sample", "index": self.index, "time": round(now, 6),
            "processes": [self._json_process(record) for record in records],
            "gone": [{"pid": record["pid"], "ppid": record["ppid"],
                      "name": _text(record["name"]), "last_rss": record["rss"]}
                     for record in gone],
            "total": total,
        })

    def _json_process(self, record):
        document = dict((key, value) for key, value in record.items() if key != "key")
        document["name"] = _text(record["name"])
        document["cmdline"] = [_text(arg) for arg in record["cmdline"]]
        del document["cpu"]
        return document

    # -- the end

    def finish(self, now, end, exit_status):
        """Write the summary: *end* is "exited" or "interrupted"; *exit_status* the
        command's, or None."""
        table = self.table
        columns = [("PID", 7, "pid", _integer), ("PPID", 7, "ppid", _integer),
                   ("Peak RSS(MiB)", 13, "peak_rss", _mib), ("at(s)", 7, "peak_rss_time",
                                                            table.format_time)]
        if self.with_uss:
            columns += [("Peak USS(MiB)", 13, "peak_uss", _mib),
                        ("at(s)", 7, "peak_uss_time", table.format_time)]
        columns += [("Seen(s)", 7, "seen", table.format_time),
                    ("Gone(s)", 7, "gone", table.format_time)]
        lines = ["\n", "Summary: %d process%s in %d sample%s over %s s\n"
                 % (len(self.order), "es"[:2 * (len(self.order) != 1)], self.index,
                    "s"[:self.index != 1], table.format_time(now))]
        if self.peak is not None:
            lines.append("Peak of the tree: %s MiB RSS at %s s (%d process%s)\n"
                         % (_mib(self.peak["rss"]), table.format_time(self.peak["time"]),
                            self.peak["processes"],
                            "es"[:2 * (self.peak["processes"] != 1)]))
        if self.peak_uss is not None:
            lines.append("Peak of the tree: %s MiB USS at %s s (%d process%s)\n"
                         % (_mib(self.peak_uss["uss"]),
                            table.format_time(self.peak_uss["time"]),
                            self.peak_uss["processes"],
                            "es"[:2 * (self.peak_uss["processes"] != 1)]))
        lines.append(table.header(columns))
        for key in self.order:
            entry = self.history[key]
            lines.append(table.line(table.row(entry, columns), entry["name"], entry["depth"],
                                    _command_line(entry["cmdline"]), columns))
        if end == "interrupted":
            lines.append("Interrupted")
            if exit_status is not None:
                lines.append("; the command exited with status %d.\n" % exit_status)
            else:
                lines.append(": PID %d may still be running.\n" % self.root_pid)
        elif exit_status is not None:
            lines.append("The command exited with status %d.\n" % exit_status)
        else:
            lines.append("PID %d exited.\n" % self.root_pid)
        self._out("".join(lines))
        processes = []
        for key in self.order:
            entry = self.history[key]
            document = {"pid": entry["pid"], "ppid": entry["ppid"],
                        "name": _text(entry["name"]),
                        "cmdline": [_text(arg) for arg in entry["cmdline"]],
                        "peak_rss": entry["peak_rss"], "peak_rss_time": entry["peak_rss_time"],
                        "seen": entry["seen"], "gone": entry["gone"]}
            if self.with_uss:
                document.update(peak_uss=entry["peak_uss"],
                                peak_uss_time=entry["peak_uss_time"])
            processes.append(document)
        record = {"record": "summary", "time": round(now, 6), "samples": self.index,
                  "end": end, "exit_status": exit_status, "peak": self.peak,
                  "processes": processes}
        if self.with_uss:
            record["peak_uss"] = self.peak_uss
        self._json(record)


# ---------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------

class _Interrupt(object):
    """Ctrl-C (SIGINT) asks the loop to stop: during a sample, the sample ends first and
    is written whole; during the sleep, the sleep ends at once."""

    def __init__(self):
        self.requested = False
        self.sleeping = False
        self.installed = False
        self.saved = None

    def install(self):
        if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
            return  # started with SIGINT ignored (nohup, "&" in a script): so be it
        try:
            self.saved = signal.signal(signal.SIGINT, self._handler)
            self.installed = True
        except ValueError:  # not the main thread: KeyboardInterrupt cannot come here
            pass

    def restore(self):
        if self.installed:
            signal.signal(signal.SIGINT, self.saved)
            self.installed = False

    def _handler(self, signum, frame):
        self.requested = True
        if self.sleeping:
            self.sleeping = False
            raise KeyboardInterrupt

    def sleep(self, delay):
        if delay <= 0:
            return
        self.sleeping = True
        try:
            if not self.requested:
                time.sleep(delay)
        except KeyboardInterrupt:
            pass
        finally:
            self.sleeping = False


def _loop(log, source, root_key, interval, interrupt):
    """Sample every *interval* seconds until the root is gone or Ctrl-C; return the time
    of the end (seconds from the first sample) and whether the root exited."""
    start = _clock()
    tick = 0
    try:
        while True:
            now = round(_clock() - start, 6)
            records = source.sample(root_key)
            if records is None:  # the root exited: its last sample shows everyone gone
                log.sample(now, [])
                return now, True
            log.sample(now, records)
            if interrupt.requested:
                break
            # a fixed schedule; ticks missed by a slow sample are skipped, not caught up
            tick = max(tick + 1, int((_clock() - start) / interval) + 1)
            interrupt.sleep(start + tick * interval - _clock())
            if interrupt.requested:
                break
    except KeyboardInterrupt:  # a signal in the few instructions around the sleep
        interrupt.requested = True
    return round(_clock() - start, 6), False


def _exit_status(returncode):
    return 128 - returncode if returncode < 0 else returncode


def _wait_interrupted(popen):
    """The command's exit status after Ctrl-C, or None if a second Ctrl-C stopped the wait.
    A command run from a terminal got the same SIGINT and may be ending: it has
    _INTERRUPT_GRACE seconds, then gets SIGINT from us."""
    try:
        deadline = _clock() + _INTERRUPT_GRACE
        while popen.poll() is None and _clock() < deadline:
            time.sleep(0.02)
        if popen.poll() is None:
            try:
                popen.send_signal(signal.SIGINT)
            except EnvironmentError:
                pass
        return _exit_status(popen.wait())
    except KeyboardInterrupt:
        return None


def main(argv=None):
    """Run the command with *argv* (default: sys.argv[1:]); return the exit status.
    Tracing, if on, is suspended meanwhile."""
    with _suspended():
        return _main(sys.argv[1:] if argv is None else list(argv))


def _error(message):
    _write_text(sys.stderr, "%s: error: %s\n" % (PROG, message))
    sys.stderr.flush()


def _main(argv):
    argv, command = _split_command(argv)
    parser = make_parser()
    try:
        try:
            options = parser.parse_args(argv)
        except SystemExit as exc:  # --help
            return exc.code
        if (options.pid is None) == (command is None):
            raise _cliargs.UsageError("give either -p PID or a command after --")
        if command == []:
            raise _cliargs.UsageError("no command after --")
        fields = _fields(options)
        source, fields = _source(options, fields, sys.stderr)
    except _cliargs.UsageError as exc:
        _error("%s (%s --help explains)" % (exc, PROG))
        return 2
    except _Failure as exc:
        _error(str(exc))
        return exc.status
    json_file = None
    if options.json is not None:
        try:
            json_file = open(options.json, "w")
        except EnvironmentError as exc:
            _error("--json %s: cannot write it: %s" % (options.json, exc.strerror or exc))
            return 1
    try:
        return _watch(options, command, source, fields, json_file)
    except _Failure as exc:
        _error(str(exc))
        return exc.status
    finally:
        if json_file is not None:
            json_file.close()


def _watch(options, command, source, fields, json_file):
    popen = None
    if command is not None:
        try:
            popen = subprocess.Popen(command)
        except EnvironmentError as exc:
            raise _Failure("cannot run %s: %s" % (command[0], exc.strerror or exc),
                           127 if exc.errno == errno.ENOENT else 126)
        root_pid = popen.pid
    else:
        root_pid = options.pid
    root_key = source.identify(root_pid)
    if root_key is None and popen is None:
        raise _Failure("no process with PID %d" % root_pid)
    log = _TreeLog(sys.stdout, json_file, fields, options, source.name, root_pid, command)
    interrupt = _Interrupt()
    interrupt.install()
    try:
        if root_key is None:  # the command ended before it could be seen
            now, exited = 0.0, True
            log.sample(0.0, [])
        else:
            now, exited = _loop(log, source, root_key, options.interval, interrupt)
    finally:
        interrupt.restore()
    exit_status = None
    if popen is not None:
        if exited:
            exit_status = _exit_status(popen.wait())
        else:
            exit_status = _wait_interrupted(popen)
    log.finish(now, "exited" if exited else "interrupted", exit_status)
    if popen is None:
        return 0
    return 130 if exit_status is None else exit_status


if __name__ == "__main__":
    sys.exit(main())
