"""The command ``python -m tracemalloc.process``: log the memory of another process, by pid or
by running a command, until it exits (a table on stdout, JSON lines with --json, an SVG
picture with --plot), or show the table and the picture of a log written before
(--from-json). Its arguments, the watch loop, the table and its exit statuses.

main(argv) returns the exit status: 0, or the command's own (128 + N when a signal N
killed it); 1 when the process, a file or a log cannot be used (one line on stderr); 2
for a usage error (one line); 126/127 when the command cannot be run (as a shell says);
130 when Ctrl-C stopped the logging of a process given by -p.
"""
from __future__ import absolute_import

import argparse
import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

from tracemalloc import _cliargs, _process_log, _process_plot, _procmem
from tracemalloc._compat import _TEXT_TYPES, _native
from tracemalloc._output import _format_top_size, _write_text
from tracemalloc._snapfile import _kind
from tracemalloc._suspend import _suspended

PROG = "python -m tracemalloc.process"
# How often the watch looks whether the process ended and for new labels, at most.
POLL = 0.05

DESCRIPTION = """\
Log the memory of a process over time: its resident set size (RSS) and peak
RSS, every INTERVAL seconds, at its start and at its end, and the labels it
marks its phases with. Either run a command and log it until it exits (the
exit status is the command's), or log a running process given by -p until it
exits or Ctrl-C. A table goes to stdout as the records come; --json writes the
records as JSON lines, --plot draws memory over time as an SVG picture with the
labels on the time axis. --from-json shows the table and the picture of a log
written before (by --json, or by the logger inside a program)."""

EPILOG = """\
examples:
  %(prog)s --json build.jsonl --plot build.svg -- make -j2
  %(prog)s -i 0.5 -p 1234
  %(prog)s --from-json app.jsonl --plot app.svg

labels: a Python program run as the command marks its phases with
  import tracemalloc.process
  tracemalloc.process.add_label("phase 2")
  (the command gives it the file of labels in the environment variable
  TRACEMALLOC_PROCESS_LABELS; to log a process given by -p that way, start it
  with TRACEMALLOC_PROCESS_LABELS=PATH and give --labels PATH).

traced memory: from outside, the command sees the memory the system gives the
process (RSS), not what its tracer knows. For the traced memory, its peak, the
free lists and the tracer's own memory of a Python program, log it from inside:
  with tracemalloc.process.log_process(file="app.jsonl") as log: ...
and draw that log with --from-json.

exit status: the command's (128 + N if signal N killed it); 0 when the process
given by -p exited, 130 after Ctrl-C; 1 when the process, a file or a log
cannot be used; 2 for a usage error; 126 or 127 when the command cannot be
run."""


class _Problem(Exception):
    """A runtime problem: one line on stderr, exit status 1 (or args[1])."""

    def __init__(self, message, status=1):
        Exception.__init__(self, message, status)


def make_parser():
    parser = _cliargs.Parser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG,
        usage="%(prog)s [-i INTERVAL] [--json PATH] [--plot PATH] (-p PID | -- CMD [ARG ...])\n"
              "       %(prog)s --from-json PATH [--plot PATH]",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-i", "--interval", type=_cliargs.seconds,
                        default=_process_log.DEFAULT_INTERVAL, metavar="INTERVAL",
                        help="seconds between two records (default: %(default)s)")
    parser.add_argument("-p", "--pid", type=_cliargs.pid, metavar="PID",
                        help="log the running process PID (instead of a command after --)")
    parser.add_argument("--json", metavar="PATH",
                        help="write the records to PATH, one JSON object a line")
    parser.add_argument("--plot", metavar="PATH",
                        help="draw memory over time into PATH, an SVG picture")
    parser.add_argument("--labels", metavar="PATH",
                        help="read the labels of the process from PATH, where "
                             "tracemalloc.process.add_label() appends them when the process "
                             "runs with TRACEMALLOC_PROCESS_LABELS=PATH (a command run here "
                             "gets a file of its own)")
    parser.add_argument("--from-json", metavar="PATH", dest="from_json",
                        help="log nothing: show the table of the log in PATH (JSON lines of "
                             "--json or of tracemalloc.process.log_process(), or a logging "
                             "output), and draw it with --plot")
    parser.add_argument("stray", nargs="*", help=argparse.SUPPRESS)
    return parser


def _error(message):
    _write_text(sys.stderr, "%s: error: %s\n" % (PROG, message))
    sys.stderr.flush()


def main(argv=None):
    """Run the command with *argv* (default: sys.argv[1:]); return the exit status. Tracing,
    if on in this interpreter, is suspended meanwhile."""
    with _suspended():
        try:
            return _main(sys.argv[1:] if argv is None else list(argv))
        except _cliargs.UsageError as exc:
            _error("%s (see --help)" % exc)
            return 2
        except _Problem as exc:
            _error(exc.args[0])
            return exc.args[1]
        except KeyboardInterrupt:
            return 130
        except EnvironmentError as exc:
            if exc.errno != errno.EPIPE:
                raise
            # the reader of stdout went away ("| head"): stop quietly, and make sure the
            # final flush of sys.stdout at exit does not fail again
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except Exception:
                pass
            return 1


def _main(argv):
    command = None
    if "--" in argv:
        index = argv.index("--")
        argv, command = argv[:index], argv[index + 1:]
    parser = make_parser()
    try:
        options = parser.parse_args(argv)
    except SystemExit as exc:  # --help
        return exc.code
    if options.stray:
        raise _cliargs.UsageError("unexpected argument %r: a command goes after --, e.g. %s -- %s"
                          % (options.stray[0], PROG, " ".join(options.stray)))
    if command is not None and not command:
        raise _cliargs.UsageError("no command after --")
    sources = [name for name, given in (("-p", options.pid is not None),
                                        ("a command", command is not None),
                                        ("--from-json", options.from_json is not None))
               if given]
    if not sources:
        raise _cliargs.UsageError("nothing to log: give -p PID, a command after --, or --from-json")
    if len(sources) > 1:
        raise _cliargs.UsageError("give one of -p PID, a command after -- and --from-json, not %s"
                          % " and ".join(sources))
    if options.from_json is not None:
        for option in ("json", "labels"):
            if getattr(options, option) is not None:
                raise _cliargs.UsageError("--%s does not apply to --from-json" % option)
        return _from_json(options)
    if options.labels is not None and command is None and options.pid is None:
        raise _cliargs.UsageError("--labels needs -p PID or a command")
    if options.labels is not None and os.path.exists(options.labels):
        mode = os.stat(options.labels).st_mode
        if not stat.S_ISREG(mode):
            # /dev/zero would be read without end, a directory never holds a label
            raise _Problem("--labels %s: cannot read it: it is %s"
                           % (options.labels, _kind(mode)))
    return _watch(options, command)


# -- --from-json -----------------------------------------------------------------------------

def _from_json(options):
    try:
        with _process_log.open_log(options.from_json) as fp:
            records = _process_log.read_records(fp, options.from_json)
    except EnvironmentError as exc:
        raise _Problem("%s: %s" % (options.from_json, exc.strerror or exc))
    except _process_log.LogFormatError as exc:
        raise _Problem(str(exc))
    if options.plot is not None:
        _check_writable(options.plot)
    records, runs = _process_plot.last_run(records)
    if runs > 1:
        _write_text(sys.stderr, "%s: %s holds %d logs: the last one is shown\n"
                    % (PROG, options.from_json, runs))
    stdout = sys.stdout
    table = Table(records)
    _write_text(stdout, table.header() + "\n")
    previous = None
    for record in records:
        _write_text(stdout, table.row(record, previous) + "\n")
        previous = record
    stdout.flush()
    if options.plot is not None:
        _write_plot(options.plot, records)
    return 0


# -- the table -------------------------------------------------------------------------------

class Table(object):
    """The text table of records: elapsed time, RSS, peak RSS, and, when the records have
    them, the CPU use between two records (psutil's cpu_times), the traced memory and its
    peak, the free lists and the tracer's memory; then the event and label."""

    COLUMNS = (
        ("traced", "traced"), ("traced_peak", "peak traced"),
        ("freelist_memory", "free lists"), ("tracemalloc_memory", "tracer"),
    )

    def __init__(self, records=(), cpu=False):
        self.cpu = cpu or any(record.get("cpu_times") for record in records)
        self.columns = [(key, title) for key, title in self.COLUMNS
                        if any(record.get(key) is not None for record in records)]

    def header(self):
        cells = ["%9s" % "time (s)", "%10s" % "RSS", "%10s" % "peak RSS"]
        if self.cpu:
            cells.append("%6s" % "CPU")
        cells.extend("%11s" % title for key, title in self.columns)
        cells.append("event")
        return "  ".join(cells)

    def row(self, record, previous=None):
        cells = ["%9.2f" % record["elapsed_time"], _size(record.get("rss")),
                 _size(record.get("peak_rss"))]
        if self.cpu:
            cells.append("%6s" % _cpu(record, previous))
        for key, title in self.columns:
            value = record.get(key)
            if key == "freelist_memory" and isinstance(value, list) and value:
                value = value[0]
            cells.append(_size(value, 11))
        cells.append(_event(record))
        return "  ".join(cells).rstrip()


def _size(value, width=10):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "%*s" % (width, "-")
    return "%*s" % (width, _format_top_size(int(value)))


def _cpu(record, previous):
    """The CPU use of the process between *previous* and *record* (psutil's cpu_times,
    user + system), as a percentage of one CPU."""
    if previous is None:
        return "-"
    try:
        used = (record["cpu_times"]["user"] + record["cpu_times"]["system"]
                - previous["cpu_times"]["user"] - previous["cpu_times"]["system"])
        elapsed = record["elapsed_time"] - previous["elapsed_time"]
    except (KeyError, TypeError):
        return "-"
    if elapsed <= 0:
        return "-"
    return "%.0f%%" % (100.0 * used / elapsed)


def _event(record):
    event = record["event"]
    if event == "label":
        return "label: %s" % record["label"]
    if event == "interval":
        return ""
    if event == "stop" and record.get("exit_status") is not None:
        return "stop (exit status %d)" % record["exit_status"]
    return event


# -- files -----------------------------------------------------------------------------------

def _check_writable(path):
    """_Problem unless *path* can be written (tried now: the picture is written at the end,
    and an error then would lose the run)."""
    existed = os.path.exists(path)
    try:
        with open(path, "a"):
            pass
    except EnvironmentError as exc:
        raise _Problem("cannot write %s: %s" % (path, exc.strerror or exc))
    if not existed:
        os.unlink(path)


def _write_plot(path, records):
    text = _process_plot.render(records)
    try:
        with open(path, "wb") as fp:
            fp.write(text.encode("utf-8"))
    except EnvironmentError as exc:
        raise _Problem("cannot write %s: %s" % (path, exc.strerror or exc))


class _LabelReader(object):
    """The labels a process appends to a file (tracemalloc.process.add_label() with
    TRACEMALLOC_PROCESS_LABELS set), read as they come: complete lines only."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.pending = b""

    def read(self):
        """The new labels: a list of dicts with "label" (a string), "time" (a number or
        None) and the keys of _process_log.LABEL_KEYS that the line has."""
        try:
            with open(self.path, "rb") as fp:
                if not stat.S_ISREG(os.fstat(fp.fileno()).st_mode):
                    return []  # replaced by something that is not a file: nothing to read
                fp.seek(self.offset)
                data = fp.read(_process_log.MAX_LINE)  # the rest at the next call
        except EnvironmentError:
            return []  # not created yet
        self.offset += len(data)
        lines = (self.pending + data).split(b"\n")
        self.pending = lines.pop()
        if len(self.pending) > _process_log.MAX_LINE:
            self.pending = b""  # no label is that long: the line is dropped
        labels = []
        for line in lines:
            try:
                entry = json.loads(line.decode("utf-8"))
                label = entry["label"]
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                continue  # not a label line: ignored
            if not isinstance(label, _TEXT_TYPES):
                continue
            found = {"label": _native(label), "time": None}
            moment = entry.get("time")
            if isinstance(moment, (int, float)) and not isinstance(moment, bool):
                found["time"] = moment
            for key in _process_log.LABEL_KEYS:
                if key in entry:
                    found[key] = entry[key]
            labels.append(found)
        return labels


# -- the watch -------------------------------------------------------------------------------

def _watch(options, command):
    json_stream = None
    if options.json is not None:
        try:
            json_stream = open(options.json, "w")
        except EnvironmentError as exc:
            raise _Problem("cannot write %s: %s" % (options.json, exc.strerror or exc))
    try:
        if options.plot is not None:
            _check_writable(options.plot)
        watch = _Watch(options, command, json_stream)
        try:
            status = watch.run()
        finally:
            watch.cleanup()
        if options.plot is not None and watch.records:
            _write_plot(options.plot, watch.records)
        return status
    finally:
        if json_stream is not None:
            json_stream.close()


class _Watch(object):
    def __init__(self, options, command, json_stream):
        self.interval = options.interval
        self.command = command
        self.json_stream = json_stream
        self.records = []  # kept for --plot only
        self.keep = options.plot is not None
        self.out = sys.stdout
        self.table = Table(cpu=False)
        self.previous = None
        self.child = None
        self.interrupts = 0  # Ctrl-C seen
        self.tmpdir = None
        self.labels = None
        self.pid = options.pid
        self.process = None
        labels_path = options.labels
        if command is not None:
            if labels_path is None:
                self.tmpdir = tempfile.mkdtemp(prefix="tracemalloc-process-")
                labels_path = os.path.join(self.tmpdir, "labels")
            env = dict(os.environ)
            env[_process_log.LABELS_ENV] = os.path.abspath(labels_path)
            self.child = self._spawn(command, env)
            self.pid = self.child.pid
        elif not _procmem.is_running(self.pid):
            raise _Problem("no process %d" % self.pid)
        if labels_path is not None:
            self.labels = _LabelReader(labels_path)
        try:
            self.process = _procmem.psutil_process(self.pid)
        except _procmem.NoSuchProcess:
            self.process = None
        self.table.cpu = self.process is not None

    def _spawn(self, command, env):
        try:
            return subprocess.Popen(command, env=env, close_fds=True)
        except EnvironmentError as exc:
            if exc.errno == errno.ENOENT:
                raise _Problem("%s: command not found" % command[0], 127)
            raise _Problem("%s: cannot run: %s" % (command[0], exc.strerror or exc), 126)

    def cleanup(self):
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    # the loop

    def run(self):
        """Log until the process ends (its exit status, 0 for -p) or Ctrl-C (130)."""
        self.start = _process_log._monotonic()
        self.start_time = time.time() - (_process_log._monotonic() - self.start)
        _write_text(self.out, self.table.header() + "\n")
        self.write(self.record("start"))
        # Ctrl-C is noted by a handler and acted upon between two polls, never in the middle
        # of a record
        try:
            previous = signal.signal(signal.SIGINT, self.on_interrupt)
        except ValueError:  # main() called outside the main thread
            previous = None
        try:
            return self.loop()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    def on_interrupt(self, signum, frame):
        self.interrupts += 1

    def loop(self):
        ticks = 1
        while True:
            ended = self.wait_until(self.start + ticks * self.interval)
            if ended is None and self.interrupts >= (1 if self.child is None else 2):
                # -p: Ctrl-C ends the log; a command got the signal too (same process
                # group), so the log goes on to its end, unless Ctrl-C comes again
                self.write(self.record("stop"))
                return 130
            if ended is not None:
                self.write(ended)
                return ended.get("exit_status", 0) if self.child is not None else 0
            now = _process_log._monotonic()
            if now >= self.start + ticks * self.interval:
                self.write(self.record("interval"))
                ticks = int((now - self.start) / self.interval) + 1

    def wait_until(self, deadline):
        """Poll for the end of the process and for labels until *deadline*; the stop record
        if the process ended, else None."""
        while True:
            self.read_labels()
            ended = self.ended()
            if ended is not None:
                self.read_labels()
                return ended
            remaining = deadline - _process_log._monotonic()
            if remaining <= 0 or self.interrupts >= (1 if self.child is None else 2):
                return None
            time.sleep(min(POLL, remaining))

    def read_labels(self):
        """A record for each new label: the memory that the process wrote with its label,
        at the time of the label (else the memory now), never before the previous
        record."""
        if self.labels is None:
            return
        for entry in self.labels.read():
            record = self.record("label", entry["label"], memory="rss" not in entry)
            if entry["time"] is not None:
                elapsed = entry["time"] - self.start_time
                if elapsed < record["elapsed_time"]:
                    record["elapsed_time"] = round(max(elapsed, self.previous["elapsed_time"]),
                                                   6)
                    record["timestamp"] = _process_log.timestamp(entry["time"])
            for key in _process_log.LABEL_KEYS:
                if key in entry:
                    record[key] = entry[key]
            self.write(record)

    def ended(self):
        if self.child is not None:
            try:
                pid, status, usage = os.wait4(self.child.pid, os.WNOHANG)
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    return None
                raise
            if pid == 0:
                return None
            if os.WIFSIGNALED(status):
                code = 128 + os.WTERMSIG(status)
                self.child.returncode = -os.WTERMSIG(status)
            else:
                code = os.WEXITSTATUS(status)
                self.child.returncode = code
            record = self.record("stop", memory=False)
            # the peak of the whole run, from the kernel's accounting of the child
            record["peak_rss"] = usage.ru_maxrss * _procmem._MAXRSS_UNIT
            record["exit_status"] = code
            return record
        if _procmem.is_running(self.pid):
            return None
        return self.record("stop", memory=False)

    def record(self, event, label=None, memory=True):
        record = _process_log.new_record(event, _process_log._monotonic() - self.start,
                                         self.pid, label)
        if memory:
            try:
                record["rss"], record["peak_rss"] = _procmem.memory(self.pid, self.process)
            except _procmem.NoSuchProcess:
                pass
            record.update(_procmem.psutil_fields(self.process))
        return record

    def write(self, record):
        if record["event"] == "start":
            record["format"] = _process_log.FORMAT
            record["version"] = _process_log.VERSION
            if self.command is not None:
                record["command"] = list(self.command)
        _write_text(self.out, self.table.row(record, self.previous) + "\n")
        self.out.flush()
        self.previous = record
        if self.json_stream is not None:
            self.json_stream.write(_process_log.dumps(record) + "\n")
            self.json_stream.flush()
        if self.keep:
            self.records.append(record)

