"""The reader of the memory logs of tracemalloc.memtrace (Profile, Trace) and the command
``python -m tracemalloc.memtrace summary LOG``: which functions and lines made traced memory
and RSS grow.

A log (doc/internals.rst, "Profile and Trace") is: optional message lines, "SOF", one "HDR:"
row naming the columns, event rows "FRST:", "PREV:", "NEXT:", "LAST:", message rows "MSG:",
and "EOF". An event row's columns: Event, +dEvent, Clock, What, File, Line, Function, RSS,
dRSS, and in ours Traced and dTraced (pymemtrace's logs end at dRSS and are read too). File
names may hold spaces: the columns are read from both ends.
"""
from __future__ import absolute_import

import errno
import json
import os
import sys

from tracemalloc import _cliargs
from tracemalloc._suspend import _suspended
from tracemalloc._types import _format_size

__all__ = ["LogFormatError", "read_log", "summarize", "main"]

PROG = "python -m tracemalloc.memtrace"

ATTRIBUTION = (
    "Each event row's dRSS and dTraced are the change since the row written before it. "
    "When that row is the event just before (dEvent +1), the change happened while the "
    "code ran from that event to this one, so it goes to that earlier row's line (file, "
    "line) and function: a Trace's line event comes before its line runs, so a line's "
    "allocation shows on the next row and is credited to the line; a Profile's c_call row "
    "gets what the C function allocated before its c_return. A row with events skipped "
    "since the row before (dEvent above +1: a PREV row, written for the event just before "
    "one that moved memory by the trigger, or the LAST row) holds what crept up by less "
    "than the trigger at each step: it goes to that row's own line and function, the last "
    "of those events. Increases are summed, decreases left out; the FRST row (its change "
    "is from the start) and MSG rows are not counted.")

EVENT_KINDS = ("FRST", "PREV", "NEXT", "LAST")


class LogFormatError(ValueError):
    """The file is not a memory log: ``str(error)`` is "FILENAME: PROBLEM"."""


def _int(text):
    return None if text == "-" else int(text)


def read_log(path):
    """Read a memory log: a dict with "rows" (a list of dicts: kind, event, clock, what, file,
    line, function, rss, d_rss, traced, d_traced; None where a column is "-" or absent),
    "messages" (their texts), "header" (the lines before SOF), "complete" (EOF was read).
    Raises LogFormatError for a file that is not one, EnvironmentError if unreadable."""
    if os.path.isdir(path):
        raise LogFormatError("%s: is a directory, not a memory log" % path)
    with open(path, "rb") as fp:
        data = fp.read()
    if not data:
        raise LogFormatError("%s: empty file, not a memory log" % path)
    text = data.decode("utf-8", "replace")
    lines = text.splitlines()
    if "SOF" not in lines[:64]:
        raise LogFormatError("%s: not a memory log of tracemalloc.memtrace or pymemtrace "
                             "(no SOF line)" % path)
    start = lines.index("SOF")
    header = lines[:start]
    ncols = None
    rows, messages, complete = [], [], False
    for number, line in enumerate(lines[start + 1:], start + 2):
        if line.startswith("HDR:"):
            names = line[4:].split()
            if names[:4] != ["Event", "dEvent", "Clock", "What"] or "dRSS" not in names:
                raise LogFormatError("%s:%d: unknown columns %s" % (path, number, " ".join(names)))
            ncols = 4 if names[-1] == "dTraced" else 2
            continue
        kind = line[:4]
        if kind == "MSG:":
            messages.append(line.split(" # ", 1)[1] if " # " in line else "")
            continue
        if line == "EOF":
            complete = True
            continue
        if kind not in EVENT_KINDS or line[4:5] != ":":
            continue  # the text of a message of pymemtrace (it keeps their newlines)
        if ncols is None:
            raise LogFormatError("%s:%d: an event row before the HDR row" % (path, number))
        fields = line[5:].split()
        try:
            if len(fields) < 7 + ncols:
                raise ValueError
            tail = fields[len(fields) - ncols - 1:]  # Function, RSS, dRSS[, Traced, dTraced]
            figures = [_int(value) for value in tail[1:]]
            middle = fields[4:len(fields) - ncols - 1]  # File (may hold spaces), Line
            row = {"kind": kind, "event": int(fields[0]), "clock": float(fields[2]),
                   "what": fields[3].lower(), "file": " ".join(middle[:-1]),
                   "line": int(middle[-1]), "function": tail[0],
                   "rss": figures[0], "d_rss": figures[1],
                   "traced": figures[2] if ncols == 4 else None,
                   "d_traced": figures[3] if ncols == 4 else None}
        except (ValueError, IndexError):
            raise LogFormatError("%s:%d: not an event row: %s" % (path, number, line[:80]))
        rows.append(row)
    if ncols is None:
        raise LogFormatError("%s: not a memory log (no HDR row after SOF)" % path)
    return {"header": header, "rows": rows, "messages": messages, "complete": complete}


def summarize(log, top=10):
    """The top lines and functions of a log read by read_log(), by the increase of traced
    memory and of RSS (ATTRIBUTION says how): a dict with "lines" and "functions", each
    {"traced": [...], "rss": [...]} of entries {"file", "line" (lines only), "function",
    "traced", "rss", "rows"}, largest first, at most *top* each; entries with no increase of
    that kind are left out."""
    lines, functions = {}, {}
    previous = None
    for row in log["rows"]:
        if previous is not None and row["kind"] != "FRST":
            # one step from the row before: that row's event ran the code; else the row's
            # own event ended the steps over which the change crept up
            source = previous if row["event"] - previous["event"] == 1 else row
            d_rss = row["d_rss"] if row["d_rss"] is not None and row["d_rss"] > 0 else 0
            d_traced = row["d_traced"] if row["d_traced"] is not None and row["d_traced"] > 0 else 0
            for table, key in ((lines, (source["file"], source["line"])),
                               (functions, (source["file"], source["function"]))):
                entry = table.get(key)
                if entry is None:
                    entry = table[key] = {"file": key[0], "function": source["function"],
                                          "traced": 0, "rss": 0, "rows": 0}
                    if table is lines:
                        entry["line"] = key[1]
                entry["traced"] += d_traced
                entry["rss"] += d_rss
                entry["rows"] += 1
        previous = row

    def best(table, field):
        entries = [e for e in table.values() if e[field] > 0]
        entries.sort(key=lambda e: (-e[field], e["file"], e.get("line", 0), e["function"]))
        return entries[:top]

    return {"lines": {"traced": best(lines, "traced"), "rss": best(lines, "rss")},
            "functions": {"traced": best(functions, "traced"), "rss": best(functions, "rss")}}


def _kind(log):
    whats = set(row["what"] for row in log["rows"])
    if "line" in whats:
        return "Trace"
    return "Profile" if whats & set(["c_call", "c_return", "call", "return"]) else "unknown"


def _text(path, log, summary, top):
    rows = log["rows"]
    tracing = any(row["traced"] is not None for row in rows)
    count = len(log["messages"])
    out = ["%s: %s, %d events, %d rows, %d message%s%s%s" % (
        path, _kind(log), rows[-1]["event"] if rows else 0, len(rows), count,
        "" if count == 1 else "s",
        "" if tracing else ", not tracing (no traced memory)",
        "" if log["complete"] else ", no EOF (cut short)")]
    for group, title in (("lines", "Lines"), ("functions", "Functions")):
        for field, what in (("traced", "traced memory"), ("rss", "RSS")):
            entries = summary[group][field]
            if field == "traced" and not tracing:
                continue
            out.append("")
            out.append("%s with the largest %s increase (top %d):" % (title, what, top))
            if not entries:
                out.append("  none")
                continue
            out.append("  %10s %10s  %s" % ("traced", "RSS", "line" if group == "lines"
                                            else "function"))
            for entry in entries:
                where = ("%s:%d %s" % (entry["file"], entry["line"], entry["function"])
                         if group == "lines" else "%s %s" % (entry["file"], entry["function"]))
                out.append("  %10s %10s  %s" % (
                    _format_size(entry["traced"]) if tracing else "-",
                    _format_size(entry["rss"]), where))
    return "\n".join(out) + "\n"


DESCRIPTION = """\
Summarise a memory log written by tracemalloc.memtrace's Profile or Trace (or pymemtrace's
cPyMemTrace): the lines and the functions with the largest increases of traced memory and of
RSS.

How a change is attributed: """ + ATTRIBUTION


def make_parser():
    parser = _cliargs.Parser(prog=PROG, description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    summary = commands.add_parser(
        "summary", help="the lines and functions with the largest traced and RSS increases",
        description=DESCRIPTION, prog=PROG + " summary")
    summary.add_argument("log", metavar="LOG", help="a log file of Profile or Trace")
    summary.add_argument("--top", metavar="N", type=_cliargs.int_at_least(1), default=10,
                         help="show N lines and N functions of each kind (default 10)")
    summary.add_argument("--json", action="store_true",
                         help="write JSON instead: {\"log\", \"kind\", \"events\", \"rows\", "
                              "\"messages\", \"lines\": {\"traced\": [...], \"rss\": [...]}, "
                              "\"functions\": {...}}, entries {\"file\", \"line\", "
                              "\"function\", \"traced\", \"rss\", \"rows\"} in bytes")
    return parser


def _error(message):
    sys.stderr.write("%s: error: %s\n" % (PROG, message))
    sys.stderr.flush()


def main(argv=None):
    """Run the command with *argv* (default sys.argv[1:]); return the exit status: 0, 1 for
    a log that cannot be read, 2 for a usage error."""
    with _suspended():
        try:
            return _main(sys.argv[1:] if argv is None else list(argv))
        except _cliargs.UsageError as exc:
            _error("%s (see --help)" % exc)
            return 2
        except LogFormatError as exc:
            _error(str(exc))
            return 1
        except EnvironmentError as exc:
            if exc.errno == errno.EPIPE:
                return 1
            _error("%s: %s" % (exc.filename, os.strerror(exc.errno) if exc.errno
                                else exc.strerror))
            return 1


def _main(argv):
    if not argv:
        raise _cliargs.UsageError("a command is required: summary")
    parser = make_parser()
    try:
        options = parser.parse_args(argv)
    except SystemExit as exc:  # --help
        return exc.code
    if options.command is None:  # only options, e.g. --top 3
        raise _cliargs.UsageError("a command is required: summary")
    log = read_log(options.log)
    summary = summarize(log, options.top)
    if options.json:
        rows = log["rows"]
        document = {"log": options.log, "kind": _kind(log),
                    "events": rows[-1]["event"] if rows else 0, "rows": len(rows),
                    "messages": log["messages"], "complete": log["complete"]}
        document.update(summary)
        sys.stdout.write(json.dumps(document, indent=1, sort_keys=True) + "\n")
    else:
        sys.stdout.write(_text(options.log, log, summary, options.top))
    sys.stdout.flush()
    return 0
