"""pytracemalloc: trace the memory blocks allocated by Python.

The tracing itself is done by the C extension ``tracemalloc._engine`` (see doc/internals.rst);
this module is the policy on top of it, with two APIs over one engine:

- the stdlib ``tracemalloc`` API of Python 3.4 to 3.13, to the letter: start(), stop(),
  take_snapshot(), Snapshot.statistics()/compare_to()/filter_traces()/dump()/load(),
  Filter, DomainFilter, Frame, Traceback, Trace, Statistic, StatisticDiff, ... On a patched
  3.x this package replaces the stock module, so programs and tests written for it run
  unchanged;
- the pytracemalloc API: enable(), DisplayTop, TakeSnapshot, DisplayGarbage, Snapshot.create()
  and write(), user data, timers, and the ``python -m tracemalloc`` command.

One Snapshot class serves both. Snapshot files are read and written by
tracemalloc/_snapfile.py; the grouping and filtering loops run in C (_engine.group_traces,
_engine.filter_traces) when the traces have the engine's shape, with the same results as
the Python code here, which follows the stdlib's algorithm (tracemalloc/_accel.py decides).

One source runs unchanged on Python 2.7 and Python 3. Every engine call goes through the
module attribute ``_engine`` at call time, so that tests can replace it by a fake; the stdlib
functions call each other through module globals (take_snapshot() calls is_tracing(),
_get_traces() and get_traceback_limit()), as the stock module does, so that
``unittest.mock.patch.object(tracemalloc, "_get_traces", ...)`` works.
"""
from __future__ import absolute_import, division

import atexit
import codecs
import fnmatch
import functools
import gc
import linecache
import os
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

from tracemalloc import _accel, _checks, _snapfile
from tracemalloc._compat import (_INT_TYPES, _PY2, _TEXT_TYPES, Iterable, Sequence, _native,
                                 reprlib)
from tracemalloc._errors import SnapshotError, _Problem

__version__ = "1.0.0.dev0"

__all__ = [
    # the stdlib tracemalloc API (Python 3.4 to 3.13)
    "start", "stop", "is_tracing", "clear_traces", "get_object_traceback",
    "get_traceback_limit", "get_traced_memory", "reset_peak", "get_tracemalloc_memory",
    "take_snapshot", "BaseFilter", "Filter", "DomainFilter", "Frame", "Traceback", "Trace",
    "Snapshot", "Statistic", "StatisticDiff",
    # names of the PEP 454 draft
    "get_object_trace", "get_stats", "get_traces",
    # pytracemalloc API
    "enable", "disable", "is_enabled", "get_process_memory", "start_timer", "stop_timer",
    "DisplayTop", "DisplayGarbage", "SnapshotError", "TakeSnapshot",
    "get_freelist_memory", "get_interpreter_info",
]

# False: grouping and filtering run their Python twins even with the engine's C loops
# (tracemalloc/_accel.py); the tests switch it to compare the two.
_USE_C_STATS = True


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


def get_freelist_memory():
    """(size, count) of the memory blocks parked on the interpreter's free lists since tracing
    started: memory the interpreter keeps in reserve, not held by your objects.

    None when the interpreter does not tell the tracer about its free lists (any variant but
    "track": see get_interpreter_info()).
    """
    return _engine.get_freelist_memory()


# What each kind of interpreter cannot do; get_interpreter_info() says it.
_LIMITS = {
    "stock": [
        "not patched: PYTRACEMALLOC, -X tracemalloc and PYTHONTRACEMALLOC do not start this "
        "tracer (call tracemalloc.start() or enable())",
        "not patched: objects parked on free lists are counted as live at the line that "
        "last allocated them, and reused objects keep their first line",
        "not patched: PyTraceMalloc_Track() and the debug allocator's reports go to the "
        "stock engine",
    ],
    "plain": [
        "free lists not tracked (\"plain\" variant): objects parked on free lists are counted "
        "as live, and reused objects keep the line that first allocated them",
    ],
    "disabled": [],
    "track": [],
}


def get_interpreter_info():
    """What the interpreter lets the tracer see, as a dict:

    - ``variant``: "stock" (an unpatched 3.x), or the variant of the patch series it was
      built with: "track" (free lists tracked: recommended), "plain" (allocator hooks
      only) or "disabled" (no free lists);
    - ``startup_tracing``: PYTRACEMALLOC=N (and on 3.x -X tracemalloc, PYTHONTRACEMALLOC)
      start this tracer;
    - ``free_lists_tracked``: objects parked on and reused from free lists are seen;
    - ``limitations``: sentences saying what the tracer cannot see here (empty when nothing
      is missing).
    """
    variant = _engine.PATCH_VARIANT
    return {
        "variant": variant,
        "startup_tracing": variant != "stock",
        "free_lists_tracked": variant in ("track", "disabled"),
        "limitations": list(_LIMITS.get(variant, ["unknown interpreter variant %r" % variant])),
    }


def _get_object_traceback(obj):
    """The raw traceback of *obj*: a tuple of (filename, lineno), most recent first, or None."""
    return _engine.get_object_traceback(obj)


def _get_traces():
    """The raw traces: a list of (domain, size, traceback, total_nframe), where traceback is a
    tuple of (filename, lineno), most recent first (the stock module's internal format)."""
    return _engine.get_traces()


def get_object_traceback(obj):
    """Traceback where *obj* was allocated, or None if its allocation was not traced."""
    frames = _get_object_traceback(obj)
    if frames is None:
        return None
    return Traceback(frames)


def take_snapshot():
    """Take a snapshot of the traces of the memory blocks allocated by Python.

    RuntimeError if not tracing. The snapshot also has the pytracemalloc metadata (timestamp,
    pid, process and tracemalloc memory), so DisplayTop and the command line show it.
    """
    if not is_tracing():
        raise RuntimeError("the tracemalloc module must be tracing memory allocations to "
                           "take a snapshot")
    traces = _get_traces()
    traceback_limit = get_traceback_limit()
    snapshot = Snapshot(traces, traceback_limit)
    snapshot.timestamp = _timestamp()
    snapshot.pid = os.getpid()
    snapshot.process_memory = get_process_memory()
    snapshot.tracemalloc_memory = get_tracemalloc_memory()
    _set_freelist_memory(snapshot)
    return snapshot


def _set_freelist_memory(snapshot):
    """Record get_freelist_memory() in *snapshot* as its extra attribute ``freelist_memory``
    ((size, count)), which snapshot files keep; nothing without free-list hooks. Not a class
    attribute: the loader does not restore attributes that the class defines."""
    memory = get_freelist_memory()
    if memory is not None:
        snapshot.freelist_memory = tuple(memory)


# The names of the PEP 454 draft (2013).

def get_object_trace(obj):
    """PEP 454 draft name of get_object_traceback()."""
    return get_object_traceback(obj)


def get_stats():
    """PEP 454 draft: ``{filename: {lineno: (size, count)}}``, the traced memory grouped by
    the most recent frame, computed in C (empty when not tracing)."""
    return _engine.get_stats()


def get_traces():
    """PEP 454 draft: every trace, raw: a list of (domain, size, traceback, total_nframe)
    as _get_traces() (empty when not tracing). Wrap one in Trace() for the object API."""
    return _get_traces()


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
# Frame, Traceback, Trace, Statistic, StatisticDiff (the stdlib classes, Python 3.7+ semantics)
# ---------------------------------------------------------------------------------------------

class _CompareMixin(object):
    """Python 2 does not derive != from ==."""

    __slots__ = ()

    def __ne__(self, other):
        result = self.__eq__(other)
        if result is NotImplemented:
            return result
        return not result


@functools.total_ordering
class Frame(_CompareMixin):
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
class Traceback(Sequence, _CompareMixin):
    """Sequence of Frame instances, sorted from the oldest to the most recent frame.

    As in the stdlib since Python 3.7: the engine returns frames most recent first, the
    sequence is reversed so that ``traceback[-1]`` is where the block was allocated.
    ``total_nframe``: how many frames the stack had when the trace was taken (None if
    unknown).
    """

    __slots__ = ("_frames", "_total_nframe")

    def __init__(self, frames, total_nframe=None):
        self._frames = tuple(reversed(tuple(frames)))
        self._total_nframe = total_nframe

    @property
    def total_nframe(self):
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
        oldest frames. *most_recent_first*: reverse the order of the frames.
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


class Trace(_CompareMixin):
    """Trace of a memory block: ``domain``, ``size`` and ``traceback``."""

    __slots__ = ("_trace",)

    def __init__(self, trace):
        # trace is a raw tuple (domain, size, traceback, total_nframe), see _get_traces()
        self._trace = trace

    @property
    def domain(self):
        return self._trace[0]

    @property
    def size(self):
        return self._trace[1]

    @property
    def traceback(self):
        return Traceback(*self._trace[2:])

    def __eq__(self, other):
        if not isinstance(other, Trace):
            return NotImplemented
        return self._trace == other._trace

    def __hash__(self):
        return hash(self._trace)

    def __str__(self):
        return "%s: %s" % (self.traceback, _format_size(self.size, False))

    def __repr__(self):
        return "<Trace domain=%s size=%s, traceback=%r>" % (
            self.domain, _format_size(self.size, False), self.traceback)


class _Traces(Sequence, _CompareMixin):
    """The traces of a snapshot: a read-only sequence of Trace over the raw list ``_traces``."""

    def __init__(self, traces):
        self._traces = traces

    def __len__(self):
        return len(self._traces)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(Trace(trace) for trace in self._traces[index])
        return Trace(self._traces[index])

    def __contains__(self, trace):
        return trace._trace in self._traces

    def __eq__(self, other):
        if not isinstance(other, _Traces):
            return NotImplemented
        return self._traces == other._traces

    __hash__ = None

    def __repr__(self):
        return "<Traces len=%s>" % len(self)


class Statistic(_CompareMixin):
    """Memory allocated at one key of Snapshot.statistics(): ``traceback``, ``size`` (bytes)
    and ``count`` (number of memory blocks)."""

    __slots__ = ("traceback", "size", "count")

    def __init__(self, traceback, size, count):
        self.traceback = traceback
        self.size = size
        self.count = count

    def __hash__(self):
        return hash((self.traceback, self.size, self.count))

    def __eq__(self, other):
        if not isinstance(other, Statistic):
            return NotImplemented
        return (self.traceback == other.traceback and self.size == other.size
                and self.count == other.count)

    def __str__(self):
        text = "%s: size=%s, count=%i" % (self.traceback, _format_size(self.size, False),
                                         self.count)
        if self.count:
            text += ", average=%s" % _format_size(self.size / self.count, False)
        return text

    def __repr__(self):
        return "<Statistic traceback=%r size=%i count=%i>" % (
            self.traceback, self.size, self.count)

    def _sort_key(self):
        return (self.size, self.count, self.traceback)


class StatisticDiff(_CompareMixin):
    """Difference of Snapshot.compare_to() at one key: ``traceback``, ``size`` and ``count``
    in the new snapshot, ``size_diff`` and ``count_diff`` from the old one."""

    __slots__ = ("traceback", "size", "size_diff", "count", "count_diff")

    def __init__(self, traceback, size, size_diff, count, count_diff):
        self.traceback = traceback
        self.size = size
        self.size_diff = size_diff
        self.count = count
        self.count_diff = count_diff

    def __hash__(self):
        return hash((self.traceback, self.size, self.size_diff, self.count, self.count_diff))

    def __eq__(self, other):
        if not isinstance(other, StatisticDiff):
            return NotImplemented
        return (self.traceback == other.traceback and self.size == other.size
                and self.size_diff == other.size_diff and self.count == other.count
                and self.count_diff == other.count_diff)

    def __str__(self):
        text = "%s: size=%s (%s), count=%i (%+i)" % (
            self.traceback, _format_size(self.size, False), _format_size(self.size_diff, True),
            self.count, self.count_diff)
        if self.count:
            text += ", average=%s" % _format_size(self.size / self.count, False)
        return text

    def __repr__(self):
        return "<StatisticDiff traceback=%r size=%i (%+i) count=%i (%+i)>" % (
            self.traceback, self.size, self.size_diff, self.count, self.count_diff)

    def _sort_key(self):
        return (abs(self.size_diff), self.size, abs(self.count_diff), self.count,
                self.traceback)


# Sort keys giving the same order as _sort_key(), faster: a Traceback compares as its
# _frames tuple (its __eq__ and __lt__ compare _frames), so the tuples are compared in C.
def _statistic_fast_key(stat):
    return (stat.size, stat.count, stat.traceback._frames)


def _statistic_diff_fast_key(stat):
    return (abs(stat.size_diff), stat.size, abs(stat.count_diff), stat.count,
            stat.traceback._frames)


def _compare_grouped_stats(old_group, new_group):
    """StatisticDiff of every key of *new_group* and of the keys only in *old_group* (which
    is emptied of the others), in that order."""
    statistics = []
    for traceback, stat in new_group.items():
        previous = old_group.pop(traceback, None)
        if previous is not None:
            statistics.append(StatisticDiff(traceback, stat.size, stat.size - previous.size,
                                            stat.count, stat.count - previous.count))
        else:
            statistics.append(StatisticDiff(traceback, stat.size, stat.size,
                                            stat.count, stat.count))
    for traceback, stat in old_group.items():
        statistics.append(StatisticDiff(traceback, 0, -stat.size, 0, -stat.count))
    return statistics


# ---------------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------------

def _normalize_filename(filename):
    """os.path.normcase(), and "x.pyc" matches as "x.py" (not ".pyo", as of 3.5)."""
    filename = os.path.normcase(filename)
    if filename.endswith(".pyc"):
        filename = filename[:-1]
    return filename


class BaseFilter(object):
    """Base class of Filter and DomainFilter: ``inclusive`` (bool)."""

    def __init__(self, inclusive):
        self.inclusive = inclusive

    def _match(self, trace):
        raise NotImplementedError


class Filter(BaseFilter):
    """Filter on the traces of memory blocks, for Snapshot.filter_traces().

    *inclusive*: True keeps the matching traces, False drops them. *filename_pattern*: an
    fnmatch pattern of the filename (normalized: normcase, ".pyc" as ".py"). *lineno*: a line
    number, or None for any. *all_frames*: match any frame of the traceback, not only the
    most recent one. *domain*: an address space (int), or None for any.
    """

    def __init__(self, inclusive, filename_pattern, lineno=None, all_frames=False,
                 domain=None):
        super(Filter, self).__init__(inclusive)
        self.inclusive = inclusive
        self._filename_pattern = _normalize_filename(filename_pattern)
        self.lineno = lineno
        self.all_frames = all_frames
        self.domain = domain

    @property
    def filename_pattern(self):
        return self._filename_pattern

    def _match_filename(self, filename):
        return fnmatch.fnmatch(_normalize_filename(filename), self._filename_pattern)

    def _match_frame_impl(self, filename, lineno):
        if not self._match_filename(filename):
            return False
        if self.lineno is None:
            return True
        return lineno == self.lineno

    def _match_frame(self, filename, lineno):
        return self._match_frame_impl(filename, lineno) ^ (not self.inclusive)

    def _match_traceback(self, traceback):
        if self.all_frames:
            if any(self._match_frame_impl(filename, lineno) for filename, lineno in traceback):
                return self.inclusive
            return not self.inclusive
        filename, lineno = traceback[0]
        return self._match_frame(filename, lineno)

    def _match(self, trace):
        domain, size, traceback, total_nframe = trace
        result = self._match_traceback(traceback)
        if self.domain is not None:
            if self.inclusive:
                return result and domain == self.domain
            return result or domain != self.domain
        return result


class DomainFilter(BaseFilter):
    """Filter on the domain (address space) of the traces: *inclusive* and *domain*."""

    def __init__(self, inclusive, domain):
        super(DomainFilter, self).__init__(inclusive)
        self._domain = domain

    @property
    def domain(self):
        return self._domain

    def _match(self, trace):
        domain, size, traceback, total_nframe = trace
        return (domain == self.domain) ^ (not self.inclusive)


# ---------------------------------------------------------------------------------------------
# Grouping and filtering raw traces: the engine's C loops, or the same algorithm in Python
# ---------------------------------------------------------------------------------------------

_KEY_TYPES = {"traceback": 0, "lineno": 1, "filename": 2}


def _group_traces_py(traces, key_type, cumulative):
    """The stdlib's grouping (Snapshot._group_by) on raw traces: a list of
    [key, size, count], where key is the raw traceback of the group, in the order the groups
    were first seen. Same errors as the stdlib for malformed traces."""
    groups = {}
    result = []
    keys = {}
    if not cumulative:
        for trace in traces:
            domain, size, frames, total_nframe = trace
            try:
                key = keys[frames]
            except KeyError:
                if key_type == "traceback":
                    key = frames
                elif key_type == "lineno":
                    key = frames[:1]
                else:
                    key = ((frames[0][0], 0),)
                keys[frames] = key
            try:
                group = groups[key]
                group[1] += size
                group[2] += 1
            except KeyError:
                groups[key] = group = [key, size, 1]
                result.append(group)
    else:
        for trace in traces:
            domain, size, frames, total_nframe = trace
            for frame in frames:
                try:
                    key = keys[frame]
                except KeyError:
                    key = (frame,) if key_type == "lineno" else ((frame[0], 0),)
                    keys[frame] = key
                try:
                    group = groups[key]
                    group[1] += size
                    group[2] += 1
                except KeyError:
                    groups[key] = group = [key, size, 1]
                    result.append(group)
    return result


def _group_traces(traces, key_type, cumulative):
    if _accel.use_c(stats=True):
        result = _accel.group_traces(traces, _KEY_TYPES[key_type], bool(cumulative))
        if result is not None:
            return result
    # not the engine's shape (another type, an int beyond 64 bits...): the Python loop
    return _group_traces_py(traces, key_type, cumulative)


def _stats_from_traces(traces):
    """pytracemalloc stats {filename: {lineno: (size, count)}} of raw traces (most recent
    frame; a trace without frame counts as ("<unknown>", 0))."""
    stats = {}
    for key, size, count in _group_traces(traces, "lineno", False):
        filename, lineno = key[0] if key else ("<unknown>", 0)
        lines = stats.get(filename)
        if lines is None:
            lines = stats[filename] = {}
        previous = lines.get(lineno)
        if previous is not None:  # an empty traceback and a real ("<unknown>", 0)
            size += previous[0]
            count += previous[1]
        lines[lineno] = (size, count)
    return stats


def _filter_traces_py(traces, include_filters, exclude_filters):
    def keep(trace):
        if include_filters and not any(trace_filter._match(trace)
                                       for trace_filter in include_filters):
            return False
        if exclude_filters and any(not trace_filter._match(trace)
                                   for trace_filter in exclude_filters):
            return False
        return True
    return [trace for trace in traces if keep(trace)]


def _c_filter_spec(trace_filter):
    """The tuple describing a filter to the C loop filter_traces, or None if the filter is not
    exactly a Filter or a DomainFilter with plain values (then Python decides)."""
    def plain(value):
        return value is None or (type(value) in _INT_TYPES)
    if type(trace_filter) is Filter:
        if not plain(trace_filter.lineno) or not plain(trace_filter.domain):
            return None
        return (0, bool(trace_filter.inclusive), trace_filter._match_filename,
                trace_filter.lineno, bool(trace_filter.all_frames), trace_filter.domain)
    if type(trace_filter) is DomainFilter:
        if type(trace_filter.domain) not in _INT_TYPES:
            return None
        return (1, bool(trace_filter.inclusive), None, None, False, trace_filter.domain)
    return None


def _filter_traces(traces, include_filters, exclude_filters):
    if _accel.use_c(stats=True):
        include = [_c_filter_spec(item) for item in include_filters]
        exclude = [_c_filter_spec(item) for item in exclude_filters]
        if None not in include and None not in exclude:
            result = _accel.filter_traces(traces, include, exclude)
            if result is not None:
                return result
    return _filter_traces_py(traces, include_filters, exclude_filters)


# ---------------------------------------------------------------------------------------------
# Formatting helpers
# ---------------------------------------------------------------------------------------------

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")

_COLOR_BOLD = "\x1b[1m%s\x1b[0m"
_COLOR_CYAN = "\x1b[36m%s\x1b[0m"
_COLOR_YELLOW = "\x1b[1;33m%s\x1b[0m"


def _format_size(size, sign=False):
    """The stdlib's size format (Statistic, StatisticDiff, Trace): 3 or 4 significant digits
    and a binary unit, "12 B", "10.0 KiB", "512 KiB", "+1.5 MiB"."""
    for unit in _UNITS:
        if abs(size) < 100 and unit != "B":
            return ("%+.1f %s" if sign else "%.1f %s") % (size, unit)
        if abs(size) < 10 * 1024 or unit == _UNITS[-1]:
            return ("%+.0f %s" if sign else "%.0f %s") % (size, unit)
        size /= 1024


def _format_top_size(size, sign=False):
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


def _escape_unencodable(exc):
    """Codec error handler "tracemalloc.escape": what an encoding cannot hold becomes \\xNN,
    \\uNNNN or \\UNNNNNNNN; a byte of a file name that was not UTF-8 (which Python 3 decodes
    to U+DC80..U+DCFF) becomes \\xNN, that byte."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    escaped = []
    for char in exc.object[exc.start:exc.end]:
        code = ord(char)
        if 0xdc80 <= code <= 0xdcff:
            code -= 0xdc00
        escaped.append(u"\\x%02x" % code if code < 0x100 else
                       u"\\u%04x" % code if code < 0x10000 else u"\\U%08x" % code)
    return u"".join(escaped), exc.end


codecs.register_error("tracemalloc.escape", _escape_unencodable)


def _write_text(stream, text):
    """stream.write(text), escaping what the stream's encoding cannot hold instead of raising
    UnicodeEncodeError: a file name that is not ASCII, or not UTF-8, written to a stdout
    whose encoding is ASCII (PYTHONIOENCODING=ascii, a C locale) or strict UTF-8. The
    encoding fails before anything is written, so nothing is written twice."""
    try:
        stream.write(text)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        escaped = text.encode(encoding, "tracemalloc.escape")
        # Python 2: a file takes the bytes as they are
        stream.write(escaped if _PY2 else escaped.decode(encoding))


def _display_filename(filename):
    """Python 2: a unicode file name (of a snapshot written by Python 3, or made by hand) as
    the native str the other names are (UTF-8, surrogates back to bytes), so that lines
    mixing both can be joined and written as bytes."""
    return _native(filename) if _PY2 else filename


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

def _freelist_memory_of(snapshot):
    """The (size, count) parked on free lists when *snapshot* was taken, or None (not known:
    no free-list hooks, or a snapshot of another tool)."""
    memory = getattr(snapshot, "freelist_memory", None)
    if (isinstance(memory, (tuple, list)) and len(memory) == 2
            and all(isinstance(value, _INT_TYPES) for value in memory)):
        return tuple(memory)
    return None


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
        Free lists: size=166 KiB (+12 KiB), count=3053 (+20), average=55 B
        Video memory: 229 KiB (+12 KiB)
        <empty line>

    Entries are sorted by size, then count, then name; when comparing, by the absolute size
    difference first (as stdlib's Snapshot.compare_to), and entries that disappeared since
    the previous top are listed with a size of 0. "N more" sums the entries beyond *count*.
    ``average`` (size // count) is omitted when count is 0. "Total process memory" is the
    process memory minus the engine's own memory ("ignore tracemalloc: ..."), printed only
    when the process memory is known. "Free lists" is the memory the interpreter keeps on its
    free lists for later objects (get_freelist_memory() when the snapshot was taken: only
    with the "track" variant); it is not held by any line above. One line per user data
    item follows.
    See _format_top_size() for the units.
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
        text = _format_top_size(size)
        if diff is None:
            return self._color(_COLOR_YELLOW, text)
        return "%s (%s)" % (self._color(_COLOR_BOLD, text),
                            self._color(_COLOR_YELLOW, _format_top_size(diff, sign=True)))

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
            parts.append("average=%s" % _format_top_size(size // count))
        return ", ".join(parts)

    def _format_key(self, key):
        filename, lineno = key
        filename = _shorten_filename(_display_filename(filename), self.filename_parts)
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
        if name is not None and snapshot.timestamp is not None:
            label = "%s (%s)" % (name, snapshot.timestamp)
        elif name is not None:
            label = name  # e.g. a stock dump: no timestamp
        else:
            label = snapshot.timestamp or "snapshot"
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
                                    " (ignore tracemalloc: %s)" % _format_top_size(ignore))
            lines.append(text)

        freelist = _freelist_memory_of(snapshot)
        if freelist is not None:
            old = _freelist_memory_of(previous) if compare else None
            if old is None:
                text = self._format_stat(freelist[0], None, freelist[1], None)
            else:
                text = self._format_stat(freelist[0], freelist[0] - old[0],
                                         freelist[1], freelist[1] - old[1])
            lines.append("Free lists: " + text)

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
        _write_text(self.stream, "\n".join(lines) + "\n")
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

_SNAPSHOT_FIELDS = ("traces", "traceback_limit", "stats", "timestamp", "pid", "process_memory",
                    "tracemalloc_memory", "user_data")
# Snapshot(stats_dict, timestamp, pid, ...): the constructor of pytracemalloc 1.0.0.dev0
_LEGACY_FIELDS = ("stats", "timestamp", "pid", "process_memory", "tracemalloc_memory",
                  "user_data")


class Snapshot(object):
    """Snapshot of the memory blocks allocated by Python: traces and/or statistics per line.

    Two ways to build one, and both APIs on every snapshot:

    - stdlib: ``take_snapshot()`` or ``Snapshot(traces, traceback_limit)``; ``traces`` is the
      sequence of Trace (``snapshot.traces._traces`` the raw list), and statistics(),
      compare_to() and filter_traces() work as in the stdlib;
    - pytracemalloc: ``Snapshot.create()`` records only ``stats``,
      ``{filename: {lineno: (size, count)}}`` grouped by the most recent frame (computed by
      the engine: small and fast); ``create(traces=True)`` records the traces too.

    Attributes (None when unknown):

    - ``traces``: the traces (None for a snapshot of statistics only)
    - ``traceback_limit`` (int): get_traceback_limit() when the traces were taken
    - ``stats``: ``{filename: {lineno: (size, count)}}``, sizes in bytes; derived from the
      traces when the snapshot has traces, until assigned
    - ``timestamp`` (str): local time of the creation, "YYYY-MM-DD HH:MM:SS"
    - ``pid`` (int): the process that created the snapshot
    - ``process_memory`` (int): get_process_memory() at creation
    - ``tracemalloc_memory`` (int): get_tracemalloc_memory() at creation
    - ``user_data``: list of ``(title, format, value)`` tuples, see create()

    Any other attribute set on a snapshot is written into its file and read back, as the
    stdlib's pickle does, if its value is made of None, bool, int, float, str, tuple, list
    and dict.

    A snapshot of statistics only answers statistics() and compare_to() per 'lineno' and
    'filename' without cumulative, and filter_traces() with Filters on the most recent frame
    and without domain; the rest raises ValueError.

    The constructor takes the stdlib's ``Snapshot(traces, traceback_limit)``, keywords for
    every attribute above, and pytracemalloc 1.0.0.dev0's
    ``Snapshot(stats, timestamp, pid, process_memory=None, tracemalloc_memory=None,
    user_data=None)`` (recognized by the dict in first position).
    """

    # Class-level defaults: a stock Snapshot unpickled with plain pickle.load() (only traces
    # and traceback_limit in its __dict__) still has every attribute.
    traces = None
    traceback_limit = None
    timestamp = None
    pid = None
    process_memory = None
    tracemalloc_memory = None
    user_data = ()
    _stats = None  # stats given or assigned; None: derived from the traces
    _derived_stats = None  # (traces list, stats derived from it)
    _checked = False  # the traces come from the engine or were checked by a loader

    def __init__(self, *args, **kwargs):
        names = _LEGACY_FIELDS if args and isinstance(args[0], dict) else _SNAPSHOT_FIELDS
        if len(args) > len(names):
            raise TypeError("Snapshot() takes at most %d positional arguments (%d given)"
                            % (len(names), len(args)))
        values = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in _SNAPSHOT_FIELDS:
                raise TypeError("Snapshot() got an unexpected keyword argument %r" % name)
            if name in values:
                raise TypeError("Snapshot() got multiple values for argument %r" % name)
            values[name] = value
        traces = values.get("traces")
        self.traces = _Traces(traces) if traces is not None else None
        self.traceback_limit = values.get("traceback_limit")
        stats = values.get("stats")
        if stats is None and traces is None:
            stats = {}
        if stats is not None:
            self._stats = stats
        self.timestamp = values.get("timestamp")
        self.pid = values.get("pid")
        self.process_memory = values.get("process_memory")
        self.tracemalloc_memory = values.get("tracemalloc_memory")
        user_data = values.get("user_data")
        self.user_data = list(user_data) if user_data else []

    def __getstate__(self):
        # pickle.dump(snapshot): the instance dict as the stock module pickles it, without
        # the cache of derived stats, nor the mark of checked traces (what a pickle holds
        # is checked again before it is written to a snapshot file)
        state = dict(self.__dict__)
        state.pop("_derived_stats", None)
        state.pop("_checked", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        if self.traces is not None:
            content = "traces=%d" % len(self.traces)
        else:
            content = "files=%d" % len(self.stats)
        return "<Snapshot pid=%s timestamp=%r %s>" % (self.pid, self.timestamp, content)

    @property
    def stats(self):
        if self._stats is not None:
            return self._stats
        if self.traces is None:
            self._stats = {}
            return self._stats
        raw = self.traces._traces
        cached = self._derived_stats
        if cached is None or cached[0] is not raw:
            cached = self._derived_stats = (raw, _stats_from_traces(raw))
        return cached[1]

    @stats.setter
    def stats(self, value):
        self._stats = value

    def _copy_metadata(self, other):
        other.timestamp = self.timestamp
        other.pid = self.pid
        other.process_memory = self.process_memory
        other.tracemalloc_memory = self.tracemalloc_memory
        other.user_data = list(self.user_data)
        other._checked = self._checked

    # -- pytracemalloc ---------------------------------------------------------------------

    @classmethod
    def create(cls, user_data_callback=None, traces=False):
        """Take a snapshot of the current allocations (empty when not tracing).

        Records ``stats`` (computed by the engine), and with *traces* the traces too (then
        ``stats`` is derived from them). *user_data_callback*, if set, is called without
        argument and must return a list of ``(title: str, format: str, value: int)``;
        format "size" displays value as a size, any other format as an integer. Items are
        matched by title to compute differences. Example: ``[('Video memory', 'size',
        234902)]``.
        """
        if traces:
            snapshot = cls(_get_traces(), get_traceback_limit())
        else:
            snapshot = cls(stats=_engine.get_stats())
        snapshot._checked = True
        if user_data_callback is not None:
            snapshot.user_data = [tuple(item) for item in user_data_callback()]
        snapshot.timestamp = _timestamp()
        snapshot.pid = os.getpid()
        snapshot.process_memory = get_process_memory()
        snapshot.tracemalloc_memory = _engine.get_tracemalloc_memory()
        _set_freelist_memory(snapshot)
        return snapshot

    def filter_filenames(self, patterns, include):
        """Keep only the files matching a pattern (*include* true) or drop them (false).

        *patterns*: a str or a list of fnmatch.fnmatch() patterns, matched against the
        filename of the most recent frame (the keys of ``stats``). Modifies the snapshot:
        its stats and its traces.
        """
        if isinstance(patterns, _TEXT_TYPES):
            patterns = [patterns]
        patterns = list(patterns)
        include = bool(include)
        decided = {}

        def keep(filename):
            result = decided.get(filename)
            if result is None:
                result = decided[filename] = (
                    any(fnmatch.fnmatch(filename, pattern) for pattern in patterns) == include)
            return result

        if self._stats is not None:
            self._stats = dict((filename, lines) for filename, lines in self._stats.items()
                               if keep(filename))
        if self.traces is not None:
            self.traces = _Traces([trace for trace in self.traces._traces
                                   if keep(trace[2][0][0] if trace[2] else "<unknown>")])

    # -- stdlib ----------------------------------------------------------------------------

    def _group_by(self, key_type, cumulative):
        """{Traceback: Statistic} of the traces grouped by *key_type*, as the stdlib."""
        if key_type not in ("traceback", "filename", "lineno"):
            raise ValueError("unknown key_type: %r" % (key_type,))
        if cumulative and key_type not in ("lineno", "filename"):
            raise ValueError("cumulative mode cannot by used with key type %r" % key_type)
        if self.traces is None:
            groups = self._group_stats(key_type, cumulative)
        else:
            groups = _group_traces(self.traces._traces, key_type, cumulative)
        stats = {}
        for key, size, count in groups:
            traceback = Traceback(key)
            stats[traceback] = Statistic(traceback, size, count)
        return stats

    def _group_stats(self, key_type, cumulative):
        """Groups of a snapshot of statistics only (per line and per file)."""
        if key_type == "traceback" or cumulative:
            raise ValueError("this snapshot has statistics per line only, no traces: group "
                             "by 'lineno' or 'filename', without cumulative")
        groups = []
        for filename, lines in self.stats.items():
            if key_type == "lineno":
                for lineno, (size, count) in lines.items():
                    groups.append((((filename, lineno),), size, count))
            else:
                size = count = 0
                for line_size, line_count in lines.values():
                    size += line_size
                    count += line_count
                groups.append((((filename, 0),), size, count))
        return groups

    def statistics(self, key_type, cumulative=False):
        """Statistics grouped by *key_type* ('filename', 'lineno' or 'traceback'): a list of
        Statistic, biggest first (sorted by size, count, then traceback, reversed).

        *cumulative*: count the memory of a trace for every frame of its traceback, not
        only the most recent one ('filename' and 'lineno' only).
        """
        statistics = list(self._group_by(key_type, cumulative).values())
        statistics.sort(reverse=True, key=_statistic_fast_key)
        return statistics

    def compare_to(self, old_snapshot, key_type, cumulative=False):
        """Differences with *old_snapshot*: a list of StatisticDiff grouped by *key_type*,
        biggest change first (sorted by absolute size difference, size, absolute count
        difference, count, then traceback, reversed)."""
        new_group = self._group_by(key_type, cumulative)
        old_group = old_snapshot._group_by(key_type, cumulative)
        statistics = _compare_grouped_stats(old_group, new_group)
        statistics.sort(reverse=True, key=_statistic_diff_fast_key)
        return statistics

    def filter_traces(self, filters):
        """A new Snapshot with the traces that pass *filters*, a list of Filter and
        DomainFilter (a trace passes if any inclusive filter matches it, when there are
        inclusive filters, and every exclusive filter does). With an empty list, a copy.
        """
        if not isinstance(filters, Iterable):
            raise TypeError("filters must be a list of filters, not %s"
                            % type(filters).__name__)
        filters = list(filters)
        include_filters = [item for item in filters if item.inclusive]
        exclude_filters = [item for item in filters if not item.inclusive]
        if self.traces is None:
            snapshot = Snapshot(stats=self._filter_stats(include_filters, exclude_filters))
        else:
            if filters:
                new_traces = _filter_traces(self.traces._traces, include_filters,
                                            exclude_filters)
            else:
                new_traces = list(self.traces._traces)
            snapshot = Snapshot(new_traces, self.traceback_limit)
        self._copy_metadata(snapshot)
        return snapshot

    def _filter_stats(self, include_filters, exclude_filters):
        for trace_filter in include_filters + exclude_filters:
            if type(trace_filter) is not Filter or trace_filter.all_frames \
                    or trace_filter.domain is not None:
                raise ValueError("this snapshot has statistics per line only, no traces: "
                                 "only Filters on the most recent frame, without domain, "
                                 "apply")
        stats = {}
        for filename, lines in self.stats.items():
            for lineno, stat in lines.items():
                trace = (0, stat[0], ((filename, lineno),), 1)
                if include_filters and not any(item._match(trace) for item in include_filters):
                    continue
                if any(not item._match(trace) for item in exclude_filters):
                    continue
                stats.setdefault(filename, {})[lineno] = stat
        return stats

    # -- files -----------------------------------------------------------------------------

    def _extra_attributes(self):
        return dict((name, value) for name, value in vars(self).items()
                    if not name.startswith("_") and name not in _SNAPSHOT_OWN)

    def _file_data(self, filename, fmt):
        """The content of the file, checked: a dict of _checks._new_data()."""
        data = _checks._new_data()
        try:
            if fmt not in _snapfile.FORMATS:
                raise ValueError("unknown snapshot format %r: expected one of %s"
                                 % (fmt, ", ".join(_snapfile.FORMATS)))
            metadata = {"pid": self.pid, "timestamp": self.timestamp,
                        "process_memory": self.process_memory,
                        "tracemalloc_memory": self.tracemalloc_memory,
                        "user_data": list(self.user_data)}
            _checks._check_metadata(metadata, data)
            if self._stats is not None:
                data["stats"] = _checks._check_stats(self._stats)
            if self.traces is not None:
                traces = self.traces._traces
                data["traces"] = (traces if self._checked
                                  else _checks._check_traces(traces))
            elif fmt == "stdlib":
                raise _Problem("the stdlib format holds traces and this snapshot has "
                               "statistics only")
            data["traceback_limit"] = _checks._check_optional_int("traceback_limit",
                                                                  self.traceback_limit)
            attributes = self._extra_attributes()
            for name, value in attributes.items():
                problem = _checks.check_attribute_value(value)
                if problem is not None:
                    raise _Problem(
                        "the attribute %r holds a %s; a snapshot file stores None, bool, "
                        "int, float, str, and tuples, lists and dicts of them" % (name, problem))
            data["attributes"] = attributes
        except _Problem as exc:
            raise SnapshotError(filename, "cannot write: %s" % exc)
        return data

    def write(self, filename, format=None):
        """Write the snapshot into *filename*, atomically (through a temporary file renamed
        over it: a crash never leaves a partial snapshot).

        *format*: "compact" (default), "pickle" (a pickle of builtins) or "stdlib" (a pickle
        of the Snapshot object, which the stock Snapshot.load() of Python 3.4+ reads; needs
        traces). SnapshotError if the snapshot holds something the file cannot store;
        EnvironmentError (OSError) if the file cannot be written.
        """
        fmt = _snapfile.DEFAULT_FORMAT if format is None else format
        data = self._file_data(filename, fmt)
        stdlib_object = None
        if fmt == "stdlib":
            stdlib_object = Snapshot.__new__(Snapshot)
            stdlib_object.__dict__.update(data["attributes"])
            stdlib_object.traces = _Traces(_snapfile.unicode_traces(list(data["traces"])))
            stdlib_object.traceback_limit = data["traceback_limit"]
        _snapfile.atomic_write(filename, _snapfile.encode(data, fmt, stdlib_object))

    def dump(self, filename, format=None):
        """Write the snapshot into *filename* (the stdlib name of write())."""
        self.write(filename, format)

    @classmethod
    def load(cls, filename):
        """Load a snapshot file: written by write()/dump() in any format, by Python 2.7 or 3,
        or by the stock Snapshot.dump() of Python 3.4+.

        Never runs code from the file. Raises SnapshotError ("FILENAME: PROBLEM") if the file
        is missing or unreadable, empty, truncated, corrupt, refers to anything but builtin
        types and the tracemalloc classes, has another format or version, or a wrong
        structure.
        """
        data, _ = _snapfile.read(filename, _SNAPSHOT_RESERVED)
        snapshot = cls.__new__(cls)
        if data["traces"] is not None:
            snapshot.traces = _Traces(data["traces"])
            snapshot._checked = True
        if data["stats"] is not None or data["traces"] is None:
            snapshot._stats = data["stats"] if data["stats"] is not None else {}
        snapshot.traceback_limit = data["traceback_limit"]
        snapshot.timestamp = data["timestamp"]
        snapshot.pid = data["pid"]
        snapshot.process_memory = data["process_memory"]
        snapshot.tracemalloc_memory = data["tracemalloc_memory"]
        snapshot.user_data = data["user_data"]
        for name, value in data["attributes"].items():
            if isinstance(value, _checks.LoadedObject):
                if value.kind == "Frame":
                    value = Frame(value.value)
                elif value.kind == "Traceback":
                    value = Traceback(*value.value)
                else:
                    value = Trace(value.value)
            setattr(snapshot, name, value)
        return snapshot


# The attributes of a Snapshot that are not "extra attributes", and the names a file cannot
# set as extra attributes (methods, properties).
_SNAPSHOT_OWN = frozenset(["traces", "traceback_limit", "stats", "timestamp", "pid",
                           "process_memory", "tracemalloc_memory", "user_data"])
_SNAPSHOT_RESERVED = frozenset(dir(Snapshot)) | _SNAPSHOT_OWN


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
    - ``traces`` (bool, default False): record the traces too (Snapshot.create(traces=True)),
      not only the statistics per line
    - ``format`` (str or None): the file format, see Snapshot.write() (None: the default,
      "compact", whatever the file name extension)
    """

    def __init__(self, filename_template="tracemalloc-$pid-$counter.pickle",
                 user_data_callback=None):
        self.filename_template = filename_template
        self.counter = 1
        self.user_data_callback = user_data_callback
        self.traces = False
        self.format = None
        self._timer_id = None

    def _filename(self, snapshot):
        stamp = snapshot.timestamp.replace("-", "").replace(":", "").replace(" ", "-")
        return string.Template(self.filename_template).safe_substitute(
            pid=str(snapshot.pid), timestamp=stamp, counter="%04d" % self.counter)

    def take_snapshot(self):
        """Take a snapshot, write it; return (snapshot, filename)."""
        snapshot = Snapshot.create(self.user_data_callback, traces=self.traces)
        filename = self._filename(snapshot)
        snapshot.write(filename, self.format)
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
        for obj in garbage[start_index:]:
            traceback = get_object_traceback(obj)
            if traceback is not None and len(traceback):
                where = str(traceback[-1])
            else:
                where = "unknown allocation site"
            if self.color:
                where = _COLOR_CYAN % where
            _write_text(self.stream, "%s: %s\n" % (where, self._format(obj)))
        self.stream.flush()
