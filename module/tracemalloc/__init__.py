"""pytracemalloc: trace the memory blocks allocated by Python.

The tracing itself is done by the C extension ``tracemalloc._engine`` (see doc/internals.rst);
this module is the policy on top of it: the pytracemalloc API (enable(), DisplayTop,
Snapshot, TakeSnapshot, DisplayGarbage, ...) and the stdlib-style basics that map one to
one to the engine (start(), stop(), get_traced_memory(), ...).

One source runs unchanged on Python 2.7 and Python 3. Every engine call goes through the
module attribute ``_engine`` at call time, so that tests can replace it by a fake.
"""
from __future__ import absolute_import

import atexit
import errno
import fnmatch
import functools
import gc
import io
import linecache
import os
import pickle
import string
import sys
import time

try:
    from tracemalloc import _engine
except ImportError:
    # Python 2 does not bind a submodule found in sys.modules (a fake engine installed by the
    # tests before the package is imported) as an attribute of its package, so "from package
    # import submodule" fails there even though the import itself succeeded.
    _engine = sys.modules.get("tracemalloc._engine")
    if _engine is None:
        raise

try:
    from collections.abc import Sequence
except ImportError:  # Python 2
    from collections import Sequence

try:
    import reprlib
except ImportError:  # Python 2
    import repr as reprlib

try:
    import cPickle
except ImportError:  # Python 3
    cPickle = None

__version__ = "1.0.0.dev0"

__all__ = [
    # pytracemalloc API
    "enable", "disable", "is_enabled", "get_process_memory", "start_timer", "stop_timer",
    "DisplayTop", "DisplayGarbage", "Snapshot", "SnapshotError", "TakeSnapshot",
    # stdlib-style basics
    "start", "stop", "is_tracing", "clear_traces", "get_traceback_limit", "get_traced_memory",
    "reset_peak", "get_tracemalloc_memory", "get_object_traceback", "Frame", "Traceback",
]

_PY2 = sys.version_info[0] == 2
if _PY2:
    _TEXT_TYPES = (str, unicode)  # noqa: F821 (Python 2 only)
    _INT_TYPES = (int, long)  # noqa: F821 (Python 2 only)
else:
    _TEXT_TYPES = (str,)
    _INT_TYPES = (int,)


# ---------------------------------------------------------------------------------------------
# Functions mapping 1:1 to the engine
# ---------------------------------------------------------------------------------------------

def start(nframe=1):
    """Start tracing Python memory allocations, storing at most *nframe* frames per trace.

    ValueError unless 1 <= nframe <= 65535. While tracing, only changes the limit of the
    traces recorded from now on.
    """
    _engine.start(nframe)


def stop():
    """Stop tracing, stop every timer and forget every trace."""
    _engine.stop()


def is_tracing():
    """True if Python memory allocations are being traced."""
    return _engine.is_tracing()


def clear_traces():
    """Forget every trace collected so far; tracing goes on."""
    _engine.clear_traces()


def get_traceback_limit():
    """The maximum number of frames stored in the traceback of a new trace."""
    return _engine.get_traceback_limit()


def get_traced_memory():
    """(current, peak): total size in bytes of the traced memory blocks, now and at the peak."""
    return _engine.get_traced_memory()


def reset_peak():
    """Set the peak returned by get_traced_memory() to the current size."""
    _engine.reset_peak()


def get_tracemalloc_memory():
    """Bytes of memory held by the engine itself to store the traces."""
    return _engine.get_tracemalloc_memory()


def get_object_traceback(obj):
    """Traceback where *obj* was allocated, or None if its allocation was not traced."""
    frames = _engine.get_object_traceback(obj)
    if frames is None:
        return None
    return Traceback(frames)


# ---------------------------------------------------------------------------------------------
# pytracemalloc functions
# ---------------------------------------------------------------------------------------------

def enable():
    """Start tracing Python memory allocations (1 frame per trace).

    Does nothing if tracing is already on: the traceback limit chosen by start(nframe) or
    PYTRACEMALLOC=N is kept.
    """
    if not _engine.is_tracing():
        _engine.start(1)


def disable():
    """Stop tracing Python memory allocations and stop every timer.

    The traces are forgotten. Called automatically at exit.
    """
    _engine.stop_timer(None)
    _engine.stop()


def is_enabled():
    """True if Python memory allocations are being traced (same as is_tracing())."""
    return _engine.is_tracing()


def _disable_at_exit():
    if _engine.is_tracing():
        disable()


atexit.register(_disable_at_exit)


def _startup(nframe, quiet=False):
    """Called by the patched interpreter at startup, before site is imported.

    PYTRACEMALLOC=N calls it with quiet=False: "tracemalloc enabled" goes to stderr. On 3.x,
    -X tracemalloc=N and PYTHONTRACEMALLOC=N call it with quiet=True, as silent as the stock
    module they replace.
    """
    _engine.start(nframe)
    if not quiet and sys.stderr is not None:  # None without a console (pythonw)
        sys.stderr.write("tracemalloc enabled\n")
        sys.stderr.flush()


def start_timer(delay, func, args=(), kwargs=None):
    """Call ``func(*args, **kwargs)`` every *delay* seconds; return the timer id.

    The timer is driven by the memory allocator: *func* is called at the first safe point
    after at least *delay* seconds, in the main thread, and only while tracing. Several
    timers can run at once; a timer is never re-entered. An exception raised by *func* is
    reported on stderr and the timer goes on.
    """
    return _engine.start_timer(delay, func, tuple(args), kwargs)


def stop_timer(timer_id=None):
    """Stop the timer *timer_id* (an unknown id is ignored) or, with None, every timer.

    Can be called from inside a timer callback; a stopped timer never fires again.
    """
    _engine.stop_timer(timer_id)


_psutil = None  # the psutil module once imported


def _import_psutil():
    """The psutil module, or None if it cannot be imported.

    A failure is not remembered: psutil may become importable later (PYTRACEMALLOC starts
    tracing before site adds site-packages to sys.path).
    """
    global _psutil
    if _psutil is None:
        try:
            import psutil
        except ImportError:
            return None
        _psutil = psutil
    return _psutil


def get_process_memory():
    """Memory usage (resident set size) of the current process in bytes, or None.

    Uses psutil when it can be imported, otherwise /proc/self/statm (Linux). Returns None if
    neither is available. Nothing specific to a process is cached, so the value is right in
    the child after a fork().
    """
    psutil = _import_psutil()
    if psutil is not None:
        try:
            process = psutil.Process(os.getpid())
            memory_info = getattr(process, "memory_info", None)
            if memory_info is None:  # psutil < 2.0
                memory_info = process.get_memory_info
            return memory_info().rss
        except Exception:
            pass  # fall back to /proc
    try:
        with open("/proc/self/statm", "rb") as fp:
            fields = fp.read().split()
        return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")
    except (EnvironmentError, ValueError, IndexError, AttributeError):
        return None


# ---------------------------------------------------------------------------------------------
# Frame and Traceback (modelled on Lib/tracemalloc.py of Python 3.7+)
# ---------------------------------------------------------------------------------------------

@functools.total_ordering
class Frame(object):
    """One frame of a traceback: ``filename`` (str) and ``lineno`` (int)."""

    __slots__ = ("_frame",)

    def __init__(self, frame):
        # frame is a (filename, lineno) tuple, as returned by the engine
        self._frame = tuple(frame)

    @property
    def filename(self):
        return self._frame[0]

    @property
    def lineno(self):
        return self._frame[1]

    def __eq__(self, other):
        if not isinstance(other, Frame):
            return NotImplemented
        return self._frame == other._frame

    def __ne__(self, other):
        result = self.__eq__(other)
        if result is NotImplemented:
            return result
        return not result

    def __lt__(self, other):
        if not isinstance(other, Frame):
            return NotImplemented
        return self._frame < other._frame

    def __hash__(self):
        return hash(self._frame)

    def __str__(self):
        return "%s:%s" % (self.filename, self.lineno)

    def __repr__(self):
        return "<Frame filename=%r lineno=%r>" % (self.filename, self.lineno)


@functools.total_ordering
class Traceback(Sequence):
    """Sequence of Frame instances, sorted from the oldest to the most recent frame.

    As in the stdlib since Python 3.7: the engine returns frames most recent first, the
    sequence is reversed so that ``traceback[-1]`` is where the block was allocated.
    """

    __slots__ = ("_frames", "_total_nframe")

    def __init__(self, frames, total_nframe=None):
        self._frames = tuple(reversed(tuple(frames)))
        self._total_nframe = total_nframe

    @property
    def total_nframe(self):
        """Number of frames the stack had when the trace was taken (None if unknown)."""
        return self._total_nframe

    def __len__(self):
        return len(self._frames)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(Frame(frame) for frame in self._frames[index])
        return Frame(self._frames[index])

    def __contains__(self, frame):
        return isinstance(frame, Frame) and frame._frame in self._frames

    def __hash__(self):
        return hash(self._frames)

    def __eq__(self, other):
        if not isinstance(other, Traceback):
            return NotImplemented
        return self._frames == other._frames

    def __ne__(self, other):
        result = self.__eq__(other)
        if result is NotImplemented:
            return result
        return not result

    def __lt__(self, other):
        if not isinstance(other, Traceback):
            return NotImplemented
        return self._frames < other._frames

    def __str__(self):
        return str(self[0])

    def __repr__(self):
        text = "<Traceback %r" % (tuple(self),)
        if self._total_nframe is None:
            return text + ">"
        return text + " total_nframe=%s>" % self._total_nframe

    def format(self, limit=None, most_recent_first=False):
        """Format the traceback as a list of lines (without newlines), like traceback.format_tb.

        *limit*: if positive, only the *limit* most recent frames; if negative, the -limit
        oldest frames.
        """
        if limit is not None:
            frames = self[-limit:] if limit > 0 else self[:limit]
        else:
            frames = self[:]
        if most_recent_first:
            frames = reversed(frames)
        lines = []
        for frame in frames:
            lines.append('  File "%s", line %s' % (frame.filename, frame.lineno))
            line = linecache.getline(frame.filename, frame.lineno).strip()
            if line:
                lines.append("    %s" % line)
        return lines


# ---------------------------------------------------------------------------------------------
# Formatting helpers
# ---------------------------------------------------------------------------------------------

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")

_COLOR_BOLD = "\x1b[1m%s\x1b[0m"
_COLOR_CYAN = "\x1b[36m%s\x1b[0m"
_COLOR_YELLOW = "\x1b[1;33m%s\x1b[0m"


def _format_size(size, sign=False):
    """Format a number of bytes as an integer and a binary unit.

    Rule: start in bytes; while the (truncated) value is at least 10 * 1024 and a bigger unit
    exists, divide it by 1024, truncating, and take the next unit of B, KiB, MiB, GiB, TiB.
    So the printed number is below 10240 except in TiB, and it is never rounded up::

        0 -> "0 B"    10239 -> "10239 B"    10240 -> "10 KiB"    1048576 -> "1024 KiB"
        10 MiB - 1 -> "10239 KiB"    10 MiB -> "10 MiB"

    A negative size is formatted by its absolute value with a "-" sign; with *sign*, a "+"
    is written for zero and positive sizes ("+0 B", "+408 KiB").
    """
    value = abs(size)
    unit = 0
    while value >= 10 * 1024 and unit < len(_UNITS) - 1:
        value //= 1024
        unit += 1
    if size < 0:
        value = -value
    if sign:
        return "%+d %s" % (value, _UNITS[unit])
    return "%d %s" % (value, _UNITS[unit])


def _default_color(stream):
    """Colors by default only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    if isatty is None:
        return False
    try:
        return bool(isatty())
    except Exception:  # closed or unusual stream
        return False


def _shorten_filename(filename, parts):
    """Keep the last *parts* components of *filename*, prefixed by ".../".

    Only shortens when the name has more than *parts* components; *parts* < 1 disables it.
    """
    if not parts or parts < 1:
        return filename
    seps = [os.sep]
    if os.altsep:
        seps.append(os.altsep)
    normalized = filename
    for sep in seps[1:]:
        normalized = normalized.replace(sep, seps[0])
    components = normalized.split(seps[0])
    if len(components) <= parts:
        return filename
    return seps[0].join(["..."] + components[-parts:])


def _timestamp(now=None):
    """Local date and time as "YYYY-MM-DD HH:MM:SS"."""
    if now is None:
        now = time.time()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))


def _group_stats(stats, group_per_file):
    """Group raw stats {filename: {lineno: (size, count)}} into {key: (size, count)}.

    The key is (filename, None) per file, (filename, lineno) per line.
    """
    grouped = {}
    for filename, lines in stats.items():
        if group_per_file:
            size = count = 0
            for line_size, line_count in lines.values():
                size += line_size
                count += line_count
            grouped[(filename, None)] = (size, count)
        else:
            for lineno, line_stat in lines.items():
                grouped[(filename, lineno)] = tuple(line_stat)
    return grouped


# ---------------------------------------------------------------------------------------------
# DisplayTop
# ---------------------------------------------------------------------------------------------

class DisplayTop(object):
    """Display the *count* biggest memory allocations into *file* (default: sys.stdout).

    Attributes:

    - ``color`` (bool, default: file.isatty() and NO_COLOR not set): use ANSI colors
    - ``compare_with_previous`` (bool, default True): compare with the previous top;
      if False, compare with the first one
    - ``filename_parts`` (int, default 3): number of displayed filename components
      (".../2.7/Lib/linecache.py"); 0 displays full names
    - ``show_average``, ``show_count``, ``show_size`` (bool, default True)
    - ``show_lineno`` (bool): group per file and line instead of per file; it is the
      negation of ``group_per_file`` (constructor argument, default True), and setting
      either attribute updates the other
    - ``user_data_callback`` (callable or None): see Snapshot.create()
    - ``stream`` (also ``file``): the output file

    Output of display() (differences in parentheses only when there is a previous top)::

        2013-03-04 01:01:55: Top 10 allocations per file and line
        #1: .../2.7/Lib/linecache.py:128: size=408 KiB (+408 KiB), count=5379 (+5379), average=77 B
        ...
        3023 more: size=1580 KiB (+1138 KiB), count=12635 (+7801), average=128 B
        Total Python memory: size=3682 KiB (+3086 KiB), count=36987 (+29908), average=101 B
        Total process memory: size=10 MiB (+1024 KiB) (ignore tracemalloc: 23 KiB)
        Video memory: 229 KiB (+12 KiB)
        <empty line>

    Entries are sorted by size, then count, then name; when comparing, by the absolute size
    difference first (as stdlib's Snapshot.compare_to), and entries that disappeared since
    the previous top are listed with a size of 0. "N more" sums the entries beyond *count*.
    ``average`` (size // count) is omitted when count is 0. "Total process memory" is the
    process memory minus the engine's own memory ("ignore tracemalloc: ..."), printed only
    when the process memory is known. One line per user data item follows.
    See _format_size() for the units.
    """

    def __init__(self, count, file=None, group_per_file=True):
        self.count = count
        self.stream = file if file is not None else sys.stdout
        self.color = _default_color(self.stream)
        self.compare_with_previous = True
        self.filename_parts = 3
        self.show_average = True
        self.show_count = True
        self.show_size = True
        self.show_lineno = not group_per_file
        self.user_data_callback = None
        self._previous = None  # (snapshot, name) of the top to compare with
        self._timer_id = None

    @property
    def group_per_file(self):
        return not self.show_lineno

    @group_per_file.setter
    def group_per_file(self, value):
        self.show_lineno = not value

    @property
    def file(self):
        return self.stream

    @file.setter
    def file(self, value):
        self.stream = value

    # -- formatting -------------------------------------------------------------------------

    def _color(self, fmt, text):
        if self.color:
            return fmt % text
        return text

    def _format_size_diff(self, size, diff):
        text = _format_size(size)
        if diff is None:
            return self._color(_COLOR_YELLOW, text)
        return "%s (%s)" % (self._color(_COLOR_BOLD, text),
                            self._color(_COLOR_YELLOW, _format_size(diff, sign=True)))

    def _format_stat(self, size, size_diff, count, count_diff):
        """size_diff and count_diff are None when there is nothing to compare with."""
        parts = []
        if self.show_size:
            parts.append("size=%s" % self._format_size_diff(size, size_diff))
        if self.show_count:
            text = "count=%d" % count
            if count_diff is not None:
                text += " (%+d)" % count_diff
            parts.append(text)
        if self.show_average and count:
            parts.append("average=%s" % _format_size(size // count))
        return ", ".join(parts)

    def _format_key(self, key):
        filename, lineno = key
        filename = _shorten_filename(filename, self.filename_parts)
        if self.color:
            head, tail = os.path.split(filename)
            if head:
                head += os.sep
                filename = _COLOR_CYAN % head + tail
        if lineno is not None:
            filename = "%s:%s" % (filename, lineno)
        return filename

    def _lines(self, snapshot, previous=None, name=None, previous_name=None):
        """The lines (without newlines) of the top of *snapshot* compared to *previous*."""
        compare = previous is not None
        group_per_file = self.group_per_file
        current = _group_stats(snapshot.stats, group_per_file)
        if compare:
            old = _group_stats(previous.stats, group_per_file)
        else:
            old = {}
        # entries: (key, size, size_diff, count, count_diff)
        entries = []
        for key, (size, count) in current.items():
            old_size, old_count = old.pop(key, (0, 0))
            entries.append((key, size, size - old_size, count, count - old_count))
        for key, (old_size, old_count) in old.items():
            entries.append((key, 0, -old_size, 0, -old_count))
        if compare:
            entries.sort(key=lambda e: (-abs(e[2]), -e[1], -abs(e[4]), -e[3], e[0]))
        else:
            entries.sort(key=lambda e: (-e[1], -e[3], e[0]))

        def stat(size, size_diff, count, count_diff):
            if not compare:
                size_diff = count_diff = None
            return self._format_stat(size, size_diff, count, count_diff)

        def line(label, text):
            if text:
                return "%s: %s" % (label, text)
            return label

        lines = []
        shown = entries[:self.count]
        title = "Top %d allocations per %s" % (
            len(shown), "file" if group_per_file else "file and line")
        if name is not None:
            label = "%s (%s)" % (name, snapshot.timestamp)
        else:
            label = snapshot.timestamp
        header = "%s: %s" % (self._color(_COLOR_BOLD, label), self._color(_COLOR_CYAN, title))
        if compare and previous_name is not None:
            header += " (compared to %s)" % previous_name
        lines.append(header)

        for index, entry in enumerate(shown, 1):
            lines.append(line("#%d: %s" % (index, self._format_key(entry[0])), stat(*entry[1:])))

        rest = entries[self.count:]
        if rest:
            sums = [sum(entry[i] for entry in rest) for i in range(1, 5)]
            lines.append(line("%d more" % len(rest), stat(*sums)))

        totals = [sum(entry[i] for entry in entries) for i in range(1, 5)]
        lines.append(line("Total Python memory", stat(*totals)))

        if snapshot.process_memory is not None:
            ignore = snapshot.tracemalloc_memory
            size = snapshot.process_memory - (ignore or 0)
            diff = None
            if compare and previous.process_memory is not None:
                diff = size - (previous.process_memory - (previous.tracemalloc_memory or 0))
            text = "Total process memory: size=%s" % self._format_size_diff(size, diff)
            if ignore is not None:
                text += self._color(_COLOR_CYAN,
                                    " (ignore tracemalloc: %s)" % _format_size(ignore))
            lines.append(text)

        old_user_data = {}
        if compare:
            for title, fmt, value in previous.user_data:
                old_user_data[title] = value
        for title, fmt, value in snapshot.user_data:
            old_value = old_user_data.get(title)
            if fmt == "size":
                diff = value - old_value if old_value is not None else None
                text = self._format_size_diff(value, diff)
            else:
                text = "%d" % value
                if old_value is not None:
                    text += " (%+d)" % (value - old_value)
            lines.append("%s: %s" % (title, text))
        lines.append("")
        return lines

    # -- public methods ---------------------------------------------------------------------

    def display_snapshot(self, snapshot, name=None):
        """Display the top of *snapshot*, compared with the previous (or first) one.

        *name* (e.g. a file name) labels the snapshot in the header,
        "NAME (TIMESTAMP): Top ...", and a later top compared with it ends its header with
        "(compared to NAME)". Without a name the header starts with the timestamp alone.
        """
        previous, previous_name = self._previous if self._previous else (None, None)
        lines = self._lines(snapshot, previous, name, previous_name)
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        if previous is None or self.compare_with_previous:
            self._previous = (snapshot, name)

    def display(self):
        """Take a snapshot and display its top."""
        self.display_snapshot(Snapshot.create(self.user_data_callback))

    def start(self, delay):
        """Display the top every *delay* seconds (with a timer of its own)."""
        self.stop()
        self._timer_id = start_timer(delay, self.display)

    def stop(self):
        """Stop the task started by start()."""
        if self._timer_id is not None:
            timer_id, self._timer_id = self._timer_id, None
            stop_timer(timer_id)


# ---------------------------------------------------------------------------------------------
# Snapshot
# ---------------------------------------------------------------------------------------------

class SnapshotError(ValueError):
    """A snapshot file cannot be read or written: ``str(error)`` is "FILENAME: PROBLEM".

    Attributes: ``filename`` and ``reason`` (the problem, without the filename).
    """

    def __init__(self, filename, reason):
        ValueError.__init__(self, "%s: %s" % (filename, reason))
        self.filename = filename
        self.reason = reason


class _ForbiddenGlobal(Exception):
    """The pickle refers to a global (class, function): only builtins are accepted."""


_FORMAT_NAME = "pytracemalloc.snapshot"
_FORMAT_VERSION = 1
_PICKLE_PROTOCOL = 2
_SNAPSHOT_KEYS = frozenset(["format", "version", "pid", "timestamp", "stats",
                            "process_memory", "tracemalloc_memory", "user_data"])

if _PY2:
    def _restricted_load(fp):
        unpickler = cPickle.Unpickler(fp)
        # None forbids GLOBAL, INST, OBJ and extension codes; a missing persistent_load
        # makes PERSID/BINPERSID fail.
        unpickler.find_global = None
        return unpickler.load()

    def _is_forbidden_global(exc):
        message = str(exc)
        return ("Global and instance pickles are not supported" in message
                or "persistent" in message)
else:
    class _RestrictedUnpickler(pickle.Unpickler):
        def find_class(self, module, name):
            raise _ForbiddenGlobal("the global %s.%s" % (module, name))

        def persistent_load(self, pid):
            raise _ForbiddenGlobal("a persistent id")

    def _restricted_load(fp):
        # Python 2 str are decoded as UTF-8; undecodable bytes become surrogates, as in
        # Python 3 filenames.
        return _RestrictedUnpickler(fp, encoding="utf-8", errors="surrogateescape").load()

    def _is_forbidden_global(exc):
        return False


def _one_line(text):
    """*text* on one line of printable characters (messages of the pickle module may hold
    newlines or bytes of the file)."""
    text = " ".join(text.split())
    limit = 128 if _PY2 else 0x110000
    return "".join(char if 32 <= ord(char) < 127 or 160 <= ord(char) < limit
                   else "\\x%02x" % ord(char) if ord(char) < 256 else "\\u%04x" % ord(char)
                   for char in text)


def _native(value):
    """Python 2: a unicode loaded from a file written by Python 3 becomes a str again."""
    if _PY2 and isinstance(value, unicode):  # noqa: F821 (Python 2 only)
        return value.encode("utf-8")
    return value


def _is_int(value):
    return isinstance(value, _INT_TYPES) and not isinstance(value, bool)


def _check_data(data):
    """Validate and normalize the unpickled dict; return it or raise ValueError(problem)."""
    if not isinstance(data, dict):
        raise ValueError("not a pytracemalloc snapshot (a pickled %s, expected a dict)"
                         % type(data).__name__)
    data = dict((_native(key), value) for key, value in data.items())
    fmt = _native(data.get("format"))
    if fmt != _FORMAT_NAME:
        raise ValueError("not a pytracemalloc snapshot (format %s)"
                         % (reprlib.repr(fmt) if "format" in data else "missing"))
    version = data.get("version")
    if version != _FORMAT_VERSION or not _is_int(version):
        raise ValueError("unsupported snapshot format version %s (this pytracemalloc reads "
                         "version %d)" % (reprlib.repr(version), _FORMAT_VERSION))
    keys = set(data)
    if keys != _SNAPSHOT_KEYS:
        problems = []
        missing = sorted(_SNAPSHOT_KEYS - keys)
        unknown = sorted(repr(key) for key in keys - _SNAPSHOT_KEYS)
        if missing:
            problems.append("missing keys: %s" % ", ".join(missing))
        if unknown:
            problems.append("unknown keys: %s" % ", ".join(unknown))
        raise ValueError("invalid snapshot: %s" % "; ".join(problems))

    def fail(what, expected):
        raise ValueError("invalid snapshot: %s must be %s" % (what, expected))

    if not _is_int(data["pid"]):
        fail("pid", "an int")
    data["timestamp"] = _native(data["timestamp"])
    if not isinstance(data["timestamp"], _TEXT_TYPES):
        fail("timestamp", "a str")
    for key in ("process_memory", "tracemalloc_memory"):
        if data[key] is not None and not _is_int(data[key]):
            fail(key, "an int or None")

    if not isinstance(data["stats"], dict):
        fail("stats", "a dict {filename: {lineno: (size, count)}}")
    stats = {}
    for filename, lines in data["stats"].items():
        filename = _native(filename)
        if not isinstance(filename, _TEXT_TYPES):
            fail("a filename in stats", "a str")
        if not isinstance(lines, dict):
            fail("stats[%s]" % reprlib.repr(filename), "a dict {lineno: (size, count)}")
        file_stats = {}
        for lineno, stat in lines.items():
            if not _is_int(lineno):
                fail("a line number of stats[%s]" % reprlib.repr(filename), "an int")
            if (not isinstance(stat, tuple) or len(stat) != 2
                    or not _is_int(stat[0]) or not _is_int(stat[1])):
                fail("stats[%s][%s]" % (reprlib.repr(filename), lineno),
                     "a (size, count) tuple of ints")
            file_stats[lineno] = stat
        stats[filename] = file_stats
    data["stats"] = stats

    if not isinstance(data["user_data"], list):
        fail("user_data", "a list of (title, format, value) tuples")
    user_data = []
    for index, item in enumerate(data["user_data"]):
        if not isinstance(item, tuple) or len(item) != 3:
            fail("user_data[%d]" % index, "a (title, format, value) tuple")
        title, fmt, value = _native(item[0]), _native(item[1]), item[2]
        if (not isinstance(title, _TEXT_TYPES) or not isinstance(fmt, _TEXT_TYPES)
                or not _is_int(value)):
            fail("user_data[%d]" % index, "a (str, str, int) tuple")
        user_data.append((title, fmt, value))
    data["user_data"] = user_data
    return data


def _read_snapshot_data(filename):
    """Read, unpickle (without running any code) and validate a snapshot file."""
    try:
        with open(filename, "rb") as fp:
            raw = fp.read()
    except EnvironmentError as exc:
        raise SnapshotError(filename, "cannot read the file: %s" % (exc.strerror or exc))
    if not raw:
        raise SnapshotError(filename, "empty file, not a snapshot")
    # A snapshot is a protocol 2 pickle: refuse anything else before unpickling it.
    if raw[:2] != b"\x80\x02":
        raise SnapshotError(filename, "not a snapshot file (not a pickle of protocol 2)")
    fp = io.BytesIO(raw)
    try:
        data = _restricted_load(fp)
    except _ForbiddenGlobal as exc:
        raise SnapshotError(filename, "refused to load: the pickle refers to %s; a snapshot "
                                      "holds only builtin types" % exc)
    except EOFError:
        raise SnapshotError(filename, "truncated file (incomplete pickle data)")
    except MemoryError:
        raise SnapshotError(filename, "corrupt pickle data (out of memory while loading)")
    except Exception as exc:
        if _is_forbidden_global(exc):
            raise SnapshotError(filename, "refused to load: the pickle refers to a global "
                                          "(class or function) or a persistent id; a "
                                          "snapshot holds only builtin types")
        message = _one_line(str(exc))
        if "truncated" in message or "ran out of input" in message.lower():
            raise SnapshotError(filename, "truncated file (incomplete pickle data)")
        raise SnapshotError(filename, "corrupt pickle data (%s: %s)"
                                      % (type(exc).__name__, message))
    if fp.tell() != len(raw):
        raise SnapshotError(filename, "corrupt file (%d bytes of garbage after the pickle)"
                                      % (len(raw) - fp.tell()))
    try:
        return _check_data(data)
    except ValueError as exc:
        raise SnapshotError(filename, str(exc))


class Snapshot(object):
    """Snapshot of the Python memory allocations: statistics per file and line.

    Attributes:

    - ``stats``: ``{filename: {lineno: (size, count)}}``, sizes in bytes
    - ``timestamp`` (str): local time of the creation, "YYYY-MM-DD HH:MM:SS"
    - ``pid`` (int): the process that created the snapshot
    - ``process_memory`` (int or None): get_process_memory() at creation
    - ``tracemalloc_memory`` (int or None): get_tracemalloc_memory() at creation
    - ``user_data``: list of ``(title, format, value)`` tuples, see create()

    File format (write() and load()): a pickle of protocol 2 holding only builtin types, so
    that Python 2.7 and Python 3 read each other's files, and loading never runs code::

        {"format": "pytracemalloc.snapshot", "version": 1, "pid": int, "timestamp": str,
         "stats": {str: {int: (int, int)}}, "process_memory": int or None,
         "tracemalloc_memory": int or None, "user_data": [(str, str, int), ...]}
    """

    def __init__(self, stats, timestamp, pid, process_memory=None, tracemalloc_memory=None,
                 user_data=None):
        self.stats = stats
        self.timestamp = timestamp
        self.pid = pid
        self.process_memory = process_memory
        self.tracemalloc_memory = tracemalloc_memory
        self.user_data = list(user_data) if user_data else []

    def __repr__(self):
        return "<Snapshot pid=%s timestamp=%r files=%d>" % (
            self.pid, self.timestamp, len(self.stats))

    @classmethod
    def create(cls, user_data_callback=None):
        """Take a snapshot of the current allocations (empty stats when not tracing).

        *user_data_callback*, if set, is called without argument and must return a list of
        ``(title: str, format: str, value: int)``; format "size" displays value as a size,
        any other format as an integer. Items are matched by title to compute differences.
        Example: ``[('Video memory', 'size', 234902)]``.
        """
        stats = _engine.get_stats()
        user_data = []
        if user_data_callback is not None:
            user_data = [tuple(item) for item in user_data_callback()]
        return cls(stats, _timestamp(), os.getpid(), get_process_memory(),
                   _engine.get_tracemalloc_memory(), user_data)

    def _to_data(self):
        return {
            "format": _FORMAT_NAME,
            "version": _FORMAT_VERSION,
            "pid": self.pid,
            "timestamp": self.timestamp,
            "stats": self.stats,
            "process_memory": self.process_memory,
            "tracemalloc_memory": self.tracemalloc_memory,
            "user_data": [tuple(item) for item in self.user_data],
        }

    def write(self, filename):
        """Write the snapshot into *filename*, atomically.

        The data goes into a temporary file in the same directory, which is then renamed:
        a crash never leaves a partial snapshot under *filename*. SnapshotError if the
        snapshot holds something the file format cannot store; EnvironmentError (OSError)
        if the file cannot be written.
        """
        data = self._to_data()
        try:
            _check_data(data)
        except ValueError as exc:
            raise SnapshotError(filename, "cannot write: %s" % exc)
        payload = pickle.dumps(data, _PICKLE_PROTOCOL)
        _atomic_write(filename, payload)

    @classmethod
    def load(cls, filename):
        """Load a snapshot written by write(), by Python 2.7 or 3.

        Never runs code from the file. Raises SnapshotError ("FILENAME: PROBLEM") if the file
        is missing or unreadable, empty, truncated, not a pickle, refers to a global (class
        or function), has another format or version, or a wrong structure.
        """
        data = _read_snapshot_data(filename)
        return cls(data["stats"], data["timestamp"], data["pid"], data["process_memory"],
                   data["tracemalloc_memory"], data["user_data"])

    def filter_filenames(self, patterns, include):
        """Keep only the files matching a pattern (*include* true) or drop them (false).

        *patterns*: a str or a list of fnmatch.fnmatch() patterns. Modifies the snapshot.
        """
        if isinstance(patterns, _TEXT_TYPES):
            patterns = [patterns]
        patterns = list(patterns)
        stats = {}
        for filename, lines in self.stats.items():
            matched = any(fnmatch.fnmatch(filename, pattern) for pattern in patterns)
            if matched == bool(include):
                stats[filename] = lines
        self.stats = stats


def _atomic_write(filename, payload):
    directory = os.path.dirname(os.path.abspath(filename))
    base = os.path.basename(filename)
    counter = 0
    while True:
        tmp = os.path.join(directory, ".%s.%d-%d.tmp" % (base, os.getpid(), counter))
        try:
            # 0o666 and the umask, as for a file created by open()
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666)
            break
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
            counter += 1
    try:
        with os.fdopen(fd, "wb") as fp:
            fp.write(payload)
            fp.flush()
            os.fsync(fp.fileno())
        if hasattr(os, "replace"):
            os.replace(tmp, filename)
        else:  # Python 2: rename() replaces an existing file on POSIX
            os.rename(tmp, filename)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ---------------------------------------------------------------------------------------------
# TakeSnapshot
# ---------------------------------------------------------------------------------------------

class TakeSnapshot(object):
    """Task writing snapshots into files.

    Attributes:

    - ``filename_template`` (str, default "tracemalloc-$pid-$counter.pickle", in the current
      directory): ``$pid`` is the process id, ``$timestamp`` the snapshot time as
      "YYYYMMDD-HHMMSS", ``$counter`` the counter as 4 digits at least ("0001"); ``$$`` is a
      "$". Other "$names" are kept as they are (string.Template.safe_substitute).
    - ``counter`` (int): starts at 1, incremented after each snapshot
    - ``user_data_callback`` (callable or None): see Snapshot.create()
    """

    def __init__(self, filename_template="tracemalloc-$pid-$counter.pickle",
                 user_data_callback=None):
        self.filename_template = filename_template
        self.counter = 1
        self.user_data_callback = user_data_callback
        self._timer_id = None

    def _filename(self, snapshot):
        stamp = snapshot.timestamp.replace("-", "").replace(":", "").replace(" ", "-")
        return string.Template(self.filename_template).safe_substitute(
            pid=str(snapshot.pid), timestamp=stamp, counter="%04d" % self.counter)

    def take_snapshot(self):
        """Take a snapshot, write it; return (snapshot, filename)."""
        snapshot = Snapshot.create(self.user_data_callback)
        filename = self._filename(snapshot)
        snapshot.write(filename)
        self.counter += 1
        return snapshot, filename

    def _task(self):
        snapshot, filename = self.take_snapshot()
        sys.stderr.write("%s: Write a snapshot of memory allocations into %s\n"
                         % (snapshot.timestamp, filename))

    def start(self, delay):
        """Take a snapshot every *delay* seconds (with a timer of its own)."""
        self.stop()
        self._timer_id = start_timer(delay, self._task)

    def stop(self):
        """Stop the task started by start()."""
        if self._timer_id is not None:
            timer_id, self._timer_id = self._timer_id, None
            stop_timer(timer_id)


# ---------------------------------------------------------------------------------------------
# DisplayGarbage
# ---------------------------------------------------------------------------------------------

def _make_object_repr():
    # The same limits on Python 2 and 3 (Python 2 truncates instances to 20 characters).
    formatter = reprlib.Repr()
    formatter.maxstring = 100
    formatter.maxother = 100
    return formatter.repr


_format_object = _make_object_repr()


class DisplayGarbage(object):
    """Display the objects of gc.garbage and where they were allocated.

    By default gc.garbage holds the uncollectable objects; use gc.set_debug(gc.DEBUG_SAVEALL)
    to see every object freed by the garbage collector. One line per object::

        .../path/to/module.py:12: <Foo object at 0x7f...>
        unknown allocation site: [1, 2, 3]

    Attributes:

    - ``color`` (bool, default: file.isatty() and NO_COLOR not set)
    - ``cumulative`` (bool, default False): display() shows every object of gc.garbage; if
      False, only the objects added since the previous call (gc.garbage is taken as
      append-only: if it shrank, it is displayed again from its start)
    - ``format_object`` (callable, default: repr() truncated by reprlib, at most 100
      characters for a string or an object, 6 items for a container): formats an object
    - ``stream`` (also ``file``): the output file
    """

    def __init__(self, file=None):
        self.stream = file if file is not None else sys.stdout
        self.color = _default_color(self.stream)
        self.cumulative = False
        self.format_object = _format_object
        self._seen = 0

    @property
    def file(self):
        return self.stream

    @file.setter
    def file(self, value):
        self.stream = value

    def _format(self, obj):
        try:
            return self.format_object(obj)
        except Exception as exc:
            return "<%s object: formatting failed: %s: %s>" % (
                type(obj).__name__, type(exc).__name__, exc)

    def display(self):
        """Display the new objects of gc.garbage (every object if cumulative)."""
        garbage = list(gc.garbage)
        if self.cumulative or self._seen > len(garbage):
            start_index = 0
        else:
            start_index = self._seen
        self._seen = len(garbage)
        write = self.stream.write
        for obj in garbage[start_index:]:
            traceback = get_object_traceback(obj)
            if traceback is not None and len(traceback):
                where = str(traceback[-1])
            else:
                where = "unknown allocation site"
            if self.color:
                where = _COLOR_CYAN % where
            write("%s: %s\n" % (where, self._format(obj)))
        self.stream.flush()
