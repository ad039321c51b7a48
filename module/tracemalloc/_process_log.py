"""The process log of tracemalloc.process: ProcessLogger, a daemon thread that records the
memory of this process every *interval* seconds, at its start and stop and at each label;
log_process() (context manager) and log_process_dec() (decorator) around it; add_label(); the
record and its JSON line (schema version 1, README "process: a memory log"); reading the
records back from a file.

A record is a dict of JSON values. Every record has every key of RECORD_KEYS, None where the
value cannot be known (not tracing, no free-list hooks, no psutil, no /proc...). The
command line (tracemalloc/_process_cli.py) writes records of the same shape for another
process, where what only the process itself knows is None, and adds "exit_status" to its
last record.

The thread's work runs with tracing suspended (tracemalloc._suspended()): its records, its
file and the labels it keeps are the tracer's memory (get_tracemalloc_memory()), in no
trace. A record costs a read of /proc/self/status, a few counters of the engine and one
json.dumps(): no snapshot, nothing proportional to the number of traces. Between records
the thread sleeps in select() on a pipe, which add_label() and stop() write to.
"""
from __future__ import absolute_import

import atexit
import datetime
import functools
import io
import json
import logging
import os
import select
import stat
import sys
import threading
import time

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None

import tracemalloc
from tracemalloc import _procmem
from tracemalloc._compat import _INT_TYPES, _TEXT_TYPES, _RecursionError
from tracemalloc._errors import _one_line, _safe_repr
from tracemalloc._suspend import _suspended

FORMAT = "pytracemalloc.process"
VERSION = 1
DEFAULT_INTERVAL = 1.0
DEFAULT_LOGGER = "tracemalloc.process"
# What a record logged through `logging` starts with; read_records() finds records after it.
LOG_MARKER = "process memory: "
# pymemtrace's timestamp format (local time, microseconds).
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
# The environment variable naming a file to which add_label() appends its labels, one JSON
# line each, for `python -m tracemalloc.process -- CMD` (which sets it) to read.
LABELS_ENV = "TRACEMALLOC_PROCESS_LABELS"

RECORD_KEYS = (
    "event",               # "start", "interval", "label" or "stop"
    "timestamp",           # local time, TIMESTAMP_FORMAT
    "elapsed_time",        # seconds since the log's start record (monotonic clock)
    "pid",
    "label",               # the label of a "label" record, else None
    "rss", "peak_rss",     # bytes: VmRSS and VmHWM of /proc/PID/status
    "tracing",             # the process traces its allocations (None: cannot tell)
    "traced", "traced_peak",  # get_traced_memory(), while tracing
    "freelist_memory",     # [size, count] of get_freelist_memory(): track variant, tracing
    "tracemalloc_memory",  # get_tracemalloc_memory(), while tracing
    "memory_info", "cpu_times",  # psutil's, as dicts, when psutil can be imported
    "logger_cpu",          # CPU seconds used by the logger's thread so far
    "breakdown",           # get_memory_breakdown().as_dict(), where RSS goes: breakdown=True
)
EVENTS = ("start", "interval", "label", "stop")

# The loggers running in this process, for add_label(). Protected by _running_lock.
_running = []
_running_lock = threading.Lock()


def timestamp(now=None):
    """Local date and time of *now* (time.time()) as TIMESTAMP_FORMAT."""
    moment = datetime.datetime.fromtimestamp(time.time() if now is None else now)
    return moment.strftime(TIMESTAMP_FORMAT)


def new_record(event, elapsed, pid, label=None, now=None):
    """A record of *event* with the keys every record has, the memory ones None."""
    record = dict.fromkeys(RECORD_KEYS)
    record["event"] = event
    record["timestamp"] = timestamp(now)
    record["elapsed_time"] = round(elapsed, 6)
    record["pid"] = pid
    record["label"] = label
    return record


def own_memory(record):
    """Fill *record* with what only this process knows: tracing, traced memory and its peak,
    the free lists and the tracer's memory (None for what does not apply)."""
    tracing = tracemalloc.is_tracing()
    record["tracing"] = tracing
    if tracing:
        record["traced"], record["traced_peak"] = tracemalloc.get_traced_memory()
        freelists = tracemalloc.get_freelist_memory()
        record["freelist_memory"] = list(freelists) if freelists is not None else None
        record["tracemalloc_memory"] = tracemalloc.get_tracemalloc_memory()


def dumps(record):
    """The JSON line of *record* (keys sorted, ASCII), without the newline."""
    return json.dumps(record, sort_keys=True)


def _check_label(label):
    if not isinstance(label, _TEXT_TYPES):
        raise TypeError("a label must be a string, not %s" % type(label).__name__)


def add_label(label):
    """Mark a phase of the program: *label* (a string) is written with a record of the
    memory right now by every ProcessLogger running in this process and, when the
    environment variable TRACEMALLOC_PROCESS_LABELS names a file (``python -m
    tracemalloc.process -- CMD`` sets it for its command), appended to that file with the
    memory right now, for the command to log. pymemtrace's name for it (a method there):
    add_message_to_queue()."""
    _check_label(label)
    with _suspended():
        with _running_lock:
            loggers = list(_running)
        for logger in loggers:
            logger.add_label(label)
        path = os.environ.get(LABELS_ENV)
        if path:
            _append_label(path, label)


# The keys of a line of the labels file besides "label" and "time" (seconds since the epoch):
# what the process knows of itself at the label, which the command cannot read from outside
# at that moment.
LABEL_KEYS = ("rss", "peak_rss", "tracing", "traced", "traced_peak", "freelist_memory",
              "tracemalloc_memory")


def _append_label(path, label):
    """One line {"label": ..., "time": ..., "rss": ...} (LABEL_KEYS) appended to *path* in one
    write (O_APPEND: the reader never sees half a line of it). An error is reported once on
    stderr, not raised: a label must not stop the program."""
    entry = dict.fromkeys(LABEL_KEYS)
    entry["label"] = label
    entry["time"] = time.time()
    try:
        entry["rss"], entry["peak_rss"] = _procmem.memory()
    except Exception:
        pass
    own_memory(entry)
    line = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except EnvironmentError as exc:
        if path not in _label_errors:
            _label_errors.add(path)
            sys.stderr.write("tracemalloc.process: cannot write labels to %s (%s=%s): %s\n"
                             % (path, LABELS_ENV, path, exc.strerror or exc))


_label_errors = set()


class ProcessLogger(object):
    """Record the memory of this process every *interval* seconds (default 1.0), at start(),
    at stop() and at each add_label(), from a daemon thread.

    Where the records go: *file*, a path (rewritten) or a file object open for writing text,
    gets one JSON line per record; *logger*, a logging.Logger or the name of one, gets one
    message "process memory: {json}" per record at *level* (default INFO). With neither,
    the records are kept in the list ``records``.

    With *breakdown* true, each record also says where RSS goes: the key "breakdown" holds
    tracemalloc.get_memory_breakdown().as_dict() (traced, free lists, pymalloc free space,
    the tracer's own memory and the rest, which add up to its RSS). It costs a capture of
    sys._debugmallocstats() per record (a few milliseconds), which redirects the file
    descriptor 2 meanwhile: what another thread writes to stderr then is lost. Off by
    default.

    ``records`` (without file and logger), ``last_record`` (the latest record written),
    ``error`` (the exception that stopped the thread, if one did: it is also written once on
    stderr) and ``cpu_time`` (CPU seconds used by the thread, None where the system cannot
    tell) can be read at any time; start() and stop() may be called once each. A context
    manager: ``with ProcessLogger(...) as log:`` starts and stops it.
    """

    def __init__(self, interval=DEFAULT_INTERVAL, file=None, logger=None, level=logging.INFO,
                 breakdown=False):
        with _suspended():  # its lock, lists, event... are the tracer's memory
            self._init(interval, file, logger, level)
            self.breakdown = bool(breakdown)

    def _init(self, interval, file, logger, level):
        try:
            interval = float(interval)
        except (TypeError, ValueError):
            raise ValueError("interval must be a number of seconds, not %r" % (interval,))
        if not (0 < interval < float("inf")):
            raise ValueError("interval must be a number of seconds > 0, not %r" % (interval,))
        if isinstance(logger, _TEXT_TYPES):
            logger = logging.getLogger(logger)
        self.interval = interval
        self.file = file
        self.logger = logger
        self.level = level
        self.records = [] if file is None and logger is None else None
        self.last_record = None
        self.error = None
        self.cpu_time = None
        self.pid = os.getpid()
        self._stream = None
        self._own_stream = False
        self._labels = []  # the label records to write
        self._lock = threading.Lock()  # protects _labels and _stopping
        # Held while a record is taken and until it is written or queued, so that the
        # records are written in the order of their times.
        self._record_lock = threading.Lock()
        self._stopping = False
        self._wake_r = self._wake_w = None
        self._thread = None
        self._started = threading.Event()
        self._process = None
        self._start = None

    # -- the user's thread --------------------------------------------------------------------

    def start(self):
        """Open the file, write the start record and start the thread (it writes the start
        record before this returns). RuntimeError if already started."""
        with _suspended():
            if self._thread is not None:
                raise RuntimeError("this ProcessLogger was already started")
            if isinstance(self.file, _TEXT_TYPES):
                self._stream = open(self.file, "w")
                self._own_stream = True
            else:
                self._stream = self.file
            self._wake_r, self._wake_w = os.pipe()
            self._process = _procmem.psutil_process()
            self._start = time.time(), _monotonic()
            thread = threading.Thread(target=self._run, name="tracemalloc.process")
            thread.daemon = True
            self._thread = thread
            with _running_lock:
                _running.append(self)
            thread.start()
            self._started.wait()
        return self

    def add_label(self, label):
        """Record the memory now, with *label* (a string) in the record (pymemtrace:
        add_message_to_queue). The record is taken in the calling thread, so that it shows
        the memory at the label, and written by the logger's thread. Ignored once the logger
        stopped."""
        _check_label(label)
        with _suspended():
            with self._lock:
                if self._stopping or self._thread is None:
                    return
            with self._record_lock:
                record = self._record("label", label)
                with self._lock:
                    self._labels.append(record)
            self._wake()

    add_message_to_queue = add_label

    def stop(self):
        """Write the stop record, end the thread and close the file it opened. Does nothing
        if not started or already stopped."""
        with _suspended():
            with self._lock:
                if self._thread is None or self._stopping:
                    return
                self._stopping = True
            with _running_lock:
                if self in _running:
                    _running.remove(self)
            self._wake()
            self._thread.join()
            for fd in (self._wake_r, self._wake_w):
                os.close(fd)
            if self._own_stream:
                self._stream.close()
            self._stream = None

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc_value, traceback):
        self.stop()
        return False

    def _wake(self):
        try:
            os.write(self._wake_w, b"x")
        except EnvironmentError:
            pass  # the pipe is full: the thread has wake-ups pending anyway

    # -- the logger's thread -------------------------------------------------------------------

    def _run(self):
        with _suspended():
            try:
                self._loop()
            except Exception as exc:
                self.error = exc
                sys.stderr.write("tracemalloc.process: the process log stopped: %s: %s\n"
                                 % (type(exc).__name__, exc))
            finally:
                self._started.set()
                with _running_lock:
                    if self in _running:
                        _running.remove(self)

    def _loop(self):
        self._write("start")
        self._started.set()
        interval = self.interval
        start = self._start[1]
        ticks = 1
        while True:
            timeout = start + ticks * interval - _monotonic()
            if timeout > 0:
                ready = _select([self._wake_r], timeout)
                if ready:
                    os.read(self._wake_r, 512)
            with self._record_lock:
                with self._lock:
                    labels, self._labels = self._labels, []
                    stopping = self._stopping
                for record in labels:
                    self._write_record(record)
                if stopping:
                    self._write("stop")
                    return
                now = _monotonic()
                if now >= start + ticks * interval:
                    self._write("interval")
                    # a late wake-up (a loaded machine, a suspended process) skips the
                    # ticks it missed rather than writing them all at once
                    ticks = int((now - start) / interval) + 1

    def _record(self, event, label=None):
        now = time.time()
        record = new_record(event, _monotonic() - self._start[1], self.pid, label, now)
        record["rss"], record["peak_rss"] = _procmem.memory(None, self._process)
        own_memory(record)
        record.update(_procmem.psutil_fields(self._process))
        if self.breakdown:
            record["breakdown"] = tracemalloc.get_memory_breakdown().as_dict()
        return record

    def _write(self, event):
        self._write_record(self._record(event))

    def _write_record(self, record):
        cpu = _procmem.thread_cpu()
        self.cpu_time = record["logger_cpu"] = round(cpu, 6) if cpu is not None else None
        if record["event"] == "start":
            record["format"] = FORMAT
            record["version"] = VERSION
        line = dumps(record)
        if self._stream is not None:
            self._stream.write(line + "\n")
            self._stream.flush()
        if self.logger is not None:
            self.logger.log(self.level, "%s%s", LOG_MARKER, line)
        if self.records is not None:
            self.records.append(record)
        self.last_record = record


def _select(fds, timeout):
    """select() for reading, retried on EINTR (Python 2 does not retry it)."""
    while True:
        try:
            return select.select(fds, [], [], timeout)[0]
        except (select.error, EnvironmentError) as exc:
            code = exc.args[0] if exc.args else None
            if code != 4:  # EINTR
                raise
            return []


def _monotonic():
    clock = getattr(time, "monotonic", None)
    return clock() if clock is not None else time.time()


def log_process(interval=DEFAULT_INTERVAL, file=None, logger=None, level=logging.INFO,
                breakdown=False):
    """Context manager: a ProcessLogger started for the block and stopped after it::

        with log_process(file="memory.jsonl") as log:
            load()
            log.add_label("compute")
            compute()

    (pymemtrace's name; its interval and log_level arguments are interval and level).
    """
    return ProcessLogger(interval, file=file, logger=logger, level=level, breakdown=breakdown)


def log_process_dec(interval=DEFAULT_INTERVAL, file=None, logger=None, level=logging.INFO,
                    breakdown=False):
    """Decorator: each call of the function runs inside its own log_process(...) (a path
    given as *file* is rewritten at each call). Inside, tracemalloc.process.add_label()
    marks phases."""
    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with log_process(interval, file=file, logger=logger, level=level,
                             breakdown=breakdown):
                return func(*args, **kwargs)
        return wrapper
    return decorator


def _stop_all():
    """At exit: stop the loggers still running, so that their logs end with a stop
    record."""
    with _running_lock:
        loggers = list(_running)
    for logger in loggers:
        try:
            logger.stop()
        except Exception:
            pass


atexit.register(_stop_all)


# -- reading a log back ------------------------------------------------------------------------

class LogFormatError(Exception):
    """A file that holds no process records, or a record that cannot be read: args are
    (filename, reason)."""

    def __str__(self):
        return "%s: %s" % self.args


# A record is a line of a few KiB (a breakdown included): a longer line is no record, and is
# not read whole (a file of zeros, /dev/zero, has no newline).
MAX_LINE = 1 << 20

# The values of a record that are numbers or None: a huge int or an infinity read from a file
# made the table's and the plot's arithmetic fail.
_NUMBER_KEYS = ("pid", "rss", "peak_rss", "traced", "traced_peak", "tracemalloc_memory",
                "logger_cpu")
_NUMBER_LIMIT = 2 ** 63


def _is_number(value):
    # NaN compares false: refused
    return (isinstance(value, (float,) + _INT_TYPES) and not isinstance(value, bool)
            and -_NUMBER_LIMIT < value < _NUMBER_LIMIT)


def _record_problem(record):
    """None if the values of *record* (a dict with every key of RECORD_KEYS) have the types
    the table and the plot use, else the first key that does not."""
    if not _is_number(record["elapsed_time"]):
        return "elapsed_time"
    for key in _NUMBER_KEYS:
        if record[key] is not None and not _is_number(record[key]):
            return key
    for key in ("label", "timestamp"):
        if record[key] is not None and not isinstance(record[key], _TEXT_TYPES):
            return key
    if record["tracing"] not in (None, True, False):
        return "tracing"
    value = record["freelist_memory"]
    if value is not None and not (isinstance(value, list)
                                  and all(_is_number(item) for item in value)):
        return "freelist_memory"
    for key in ("memory_info", "cpu_times"):
        value = record[key]
        if value is not None and not (isinstance(value, dict)
                                      and all(_is_number(item) for item in value.values())):
            return key
    if record["breakdown"] is not None and not isinstance(record["breakdown"], dict):
        return "breakdown"
    return None


def open_log(path):
    """The file *path* opened for read_records(): a regular file or a pipe only (a device
    such as /dev/zero would be read forever, opening a FIFO without a writer would block:
    it is opened non-blocking, then read as an empty file), as UTF-8 text where bytes that
    are not UTF-8 become U+FFFD (the lines of a logging output around the records may have
    another encoding). EnvironmentError, or LogFormatError for another kind of file."""
    from tracemalloc._snapfile import _kind
    mode = os.stat(path).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        raise LogFormatError(path, "cannot read the file: it is %s" % _kind(mode))
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if fcntl is not None:
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        return io.open(fd, "r", encoding="utf-8", errors="replace")
    except BaseException:
        os.close(fd)
        raise


def _lines(fp):
    """(line, overlong) for each line of *fp*: a file object is read MAX_LINE characters at
    most at a time, and of a longer line only the start is given (overlong true), the rest
    is skipped; any other iterable of lines is taken as it is."""
    readline = getattr(fp, "readline", None)
    if readline is None:
        for line in fp:
            yield line, False
        return
    while True:
        line = readline(MAX_LINE)
        if not line:
            return
        if len(line) < MAX_LINE or line.endswith("\n"):
            yield line, False
            continue
        yield line, True
        rest = line
        while rest and not rest.endswith("\n"):
            rest = readline(MAX_LINE)


def read_records(fp, name):
    """The records of a JSON lines file *fp* (text, or an iterable of lines) written by a
    ProcessLogger or the command line, or of a log file whose lines hold "process memory:
    {json}" (the logging output; other lines are skipped). Records of schema versions above
    VERSION are read as far as their keys are known. LogFormatError when a line that starts
    with "{" is not a JSON object or a record is not one of ours (its values included), or
    when there is no record at all. A file is read MAX_LINE characters at most at a time."""
    records = []
    for number, (line, overlong) in enumerate(_lines(fp), 1):
        if overlong:
            if line.lstrip().startswith("{") or LOG_MARKER + "{" in line:
                raise LogFormatError(name, "line %d: longer than %d characters, not a "
                                           "record of a process log" % (number, MAX_LINE))
            continue
        text = line.strip()
        if not text:
            continue
        if not text.startswith("{"):
            position = text.find(LOG_MARKER + "{")
            if position < 0:
                continue
            text = text[position + len(LOG_MARKER):]
        try:
            record = json.loads(text)
        except ValueError as exc:
            raise LogFormatError(name, "line %d: not JSON (%s)" % (number, _one_line(str(exc))))
        except _RecursionError:
            raise LogFormatError(name, "line %d: not JSON (nested too deeply)" % number)
        if (not isinstance(record, dict) or record.get("event") not in EVENTS
                or not isinstance(record.get("elapsed_time"), (int, float))):
            raise LogFormatError(name, "line %d: not a record of a process log (a JSON "
                                       "object with \"event\" and \"elapsed_time\")" % number)
        for key in RECORD_KEYS:
            record.setdefault(key, None)
        problem = _record_problem(record)
        if problem is not None:
            raise LogFormatError(name, "line %d: not a record of a process log (%s: %s)"
                                 % (number, problem, _safe_repr(record[problem])))
        records.append(record)
    if not records:
        raise LogFormatError(name, "no record of a process log in this file")
    return records
