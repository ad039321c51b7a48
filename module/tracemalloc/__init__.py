"""pytracemalloc: trace the memory blocks allocated by Python.

The tracing itself is done by the C extension ``tracemalloc._engine`` (see doc/internals.rst);
this package is the policy on top of it, with two APIs over one engine:

- the stdlib ``tracemalloc`` API of Python 3.4 to 3.13, to the letter: start(), stop(),
  take_snapshot(), Snapshot.statistics()/compare_to()/filter_traces()/dump()/load(),
  Filter, DomainFilter, Frame, Traceback, Trace, Statistic, StatisticDiff, ... On a patched
  3.x this package replaces the stock module, so programs and tests written for it run
  unchanged;
- the pytracemalloc API: enable(), DisplayTop, TakeSnapshot, DisplayGarbage, Snapshot.create()
  and write(), user data, timers, find_leaks() over a series of snapshots, and the ``python
  -m tracemalloc`` command.

This module is the package's face: the functions over the engine, then the classes, each
re-exported from the module that owns its concern (doc/internals.rst, "Layout", lists them).
One Snapshot class serves both APIs. One source runs unchanged on Python 2.7 and Python 3.

The names that tests replace live here, and everything reads them here at call time: the
engine ``_engine`` (a fake in our tests), ``get_process_memory``, ``_psutil``,
``_import_psutil``, ``_USE_C_STATS``, and the stdlib functions that CPython's tests patch
with ``unittest.mock.patch.object(tracemalloc, ...)`` (``_get_traces``, ``is_tracing``,
``get_traceback_limit``, ``_get_object_traceback``), and the peak's ``_get_peak_traces``
and ``_get_peak_stats``. The functions here call each other
through module globals, as the stock module does (take_snapshot() calls is_tracing(),
_get_traces() and get_traceback_limit()); the other modules call them as
``tracemalloc.NAME``, never binding them at import.
"""
from __future__ import absolute_import

import atexit
import linecache  # noqa: F401 (CPython's test_tracemalloc patches tracemalloc.linecache.getline)
import os
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

from tracemalloc import (_block, _breakdown, _compat, _display, _errors, _filters, _leaks,
                         _limits, _native, _pymalloc, _report, _sampling, _snapshot, _tasks,
                         _types)
from tracemalloc._block import TraceBlock, trace_block
from tracemalloc._breakdown import MemoryBreakdown, get_memory_breakdown
from tracemalloc._display import DisplayGarbage, DisplayTop
from tracemalloc._errors import SnapshotError
from tracemalloc._filters import BaseFilter, DomainFilter, Filter
from tracemalloc._leaks import Leak, find_leaks
from tracemalloc._limits import limit_leaks, limit_memory
from tracemalloc._native import NATIVE_DOMAIN, is_native_tracing
from tracemalloc._pymalloc import (DebugMallocArenas, DebugMallocPoolsBlocks, DebugMallocStat,
                                   DebugTypeStat, DiffSysDebugMallocStats, SysDebugMallocStats,
                                   compare_debugmallocstats, diff_debugmallocstats,
                                   get_debugmallocstats)
from tracemalloc._report import write_report
from tracemalloc._snapshot import Snapshot
from tracemalloc._suspend import _suspended
from tracemalloc._tasks import TakeSnapshot
from tracemalloc._types import Frame, Statistic, StatisticDiff, Trace, Traceback
# Private names of the stock module, which code written for it may use.
from tracemalloc._filters import _normalize_filename  # noqa: F401
from tracemalloc._types import _compare_grouped_stats, _format_size, _Traces  # noqa: F401

__version__ = "1.0.0.dev0"

__all__ = [
    # the stdlib tracemalloc API (Python 3.4 to 3.13); its classes come below
    "start", "stop", "is_tracing", "clear_traces", "get_object_traceback",
    "get_traceback_limit", "get_traced_memory", "reset_peak", "get_tracemalloc_memory",
    "take_snapshot",
    # the peak with its tracebacks
    "get_peak_snapshot",
    # names of the PEP 454 draft
    "get_object_trace", "get_stats", "get_traces",
    # pytracemalloc API
    "enable", "disable", "is_enabled", "get_process_memory", "start_timer", "stop_timer",
    "get_freelist_memory", "get_interpreter_info", "get_lost_traces", "get_sample_bytes",
] + (_types.__all__ + _filters.__all__ + _snapshot.__all__ + _errors.__all__
     + _display.__all__ + _tasks.__all__ + _limits.__all__ + _leaks.__all__
     + _report.__all__ + _pymalloc.__all__ + _breakdown.__all__ + _block.__all__
     + _native.__all__)

# False: grouping and filtering run their Python twins even with the engine's C loops
# (tracemalloc/_accel.py); the tests switch it to compare the two.
_USE_C_STATS = True


# ---------------------------------------------------------------------------------------------
# Functions mapping 1:1 to the engine
# ---------------------------------------------------------------------------------------------

def start(nframe=1, sample_bytes=0):
    """Start tracing Python memory allocations, storing at most *nframe* frames per trace.

    ValueError unless 1 <= nframe <= 65535. While tracing, only changes the limit of the
    traces recorded from now on.

    *sample_bytes* 0 (the default) traces every allocation. N > 0 samples them: an
    allocation of s bytes is recorded with probability 1 - exp(-s/N), one every N bytes
    allocated on average, and stands for the blocks and bytes it represents, so that
    get_traced_memory(), snapshots and their statistics are unbiased estimates at a fraction
    of the cost (README, "Sampling"). While tracing, *sample_bytes* must be the current
    value (get_sample_bytes()): ValueError otherwise, stop() first.
    """
    if isinstance(sample_bytes, bool) or not isinstance(sample_bytes, _compat._INT_TYPES):
        raise TypeError("sample_bytes must be an int, not %s" % type(sample_bytes).__name__)
    _engine.start(nframe, sample_bytes)


def get_sample_bytes():
    """The mean sampling interval in bytes of the current tracing (start(sample_bytes=N)):
    0 when every allocation is traced, or when not tracing."""
    return _engine.get_sample_bytes()


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
    """Bytes of memory held by the tracer: the engine's tables, and the memory that the
    package's own work (DisplayTop, TakeSnapshot, DisplayGarbage, Snapshot.write(), the
    command line) allocated with tracing suspended and still holds: the snapshots a
    DisplayTop keeps to compare with, for example. None of it is traced."""
    return _engine.get_tracemalloc_memory()


def get_freelist_memory():
    """(size, count) of the memory blocks parked on the interpreter's free lists since tracing
    started: memory the interpreter keeps in reserve, not held by your objects.

    None when the interpreter does not tell the tracer about its free lists (any variant but
    "track": see get_interpreter_info()), and in sampling mode (start(sample_bytes=N)), where
    the blocks pushed onto free lists are not followed.
    """
    return _engine.get_freelist_memory()


def get_lost_traces():
    """Number of traces the engine failed to record for lack of memory since tracing last
    started (0: the traces are complete): allocations and free-list reuses that went
    untraced, PyTraceMalloc_Track() calls that returned -1.

    start() resets it to 0 when it starts tracing; clear_traces() and stop() keep it, so it
    can still be read after tracing stopped.
    """
    return _engine.get_lost_traces()


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


def _get_peak_traces():
    """The traces that were live when traced memory last reached its peak
    (get_traced_memory()[1]) since tracing started, clear_traces() or reset_peak(), grouped
    by domain and traceback: a list of (domain, size, count, traceback, total_nframe), the
    sizes summing to the peak (empty when not tracing)."""
    return _engine.get_peak_traces()


def _get_peak_stats():
    """The same peak as ``{filename: {lineno: (size, count)}}`` by the most recent frame
    (counts estimated while sampling: tracemalloc/_sampling.py)."""
    return _sampling.estimate_stats(_engine.get_peak_stats(), get_sample_bytes())


def get_object_traceback(obj):
    """Traceback where *obj* was allocated, or None if its allocation was not traced."""
    frames = _get_object_traceback(obj)
    if frames is None:
        return None
    return Traceback(frames)


def take_snapshot(peak=False):
    """Take a snapshot of the traces of the memory blocks allocated by Python.

    RuntimeError if not tracing. The snapshot also has the pytracemalloc metadata (timestamp,
    pid, process and tracemalloc memory), so DisplayTop and the command line show it.
    With *peak* true, the snapshot of the peak instead: get_peak_snapshot().

    The snapshot is your memory: it is traced, and shows in the next snapshots while you keep
    it (unlike those that DisplayTop and TakeSnapshot take, which are the tracer's).
    """
    if peak:
        return get_peak_snapshot()
    if not is_tracing():
        raise RuntimeError("the tracemalloc module must be tracing memory allocations to "
                           "take a snapshot")
    traces = _get_traces()
    traceback_limit = get_traceback_limit()
    snapshot = Snapshot(traces, traceback_limit)
    _record_moment(snapshot)
    return snapshot


def get_peak_snapshot(traces=True):
    """Take a snapshot of the memory blocks that were allocated when traced memory was at
    its peak, get_traced_memory()[1]: the highest since tracing started, clear_traces() or
    reset_peak() (the first moment it reached that value). Its total is that peak, and
    statistics() gives the exact size and count per traceback, line or file at that moment.

    With *traces* (the default), the snapshot has traces: each group of traces of one
    traceback and domain at the peak becomes as many traces, whose sizes are the group's
    average (their sums are exact). Without, statistics per line only, as
    Snapshot.create(). The snapshot has ``peak = True``, and the metadata of now (timestamp,
    pid, process memory...). RuntimeError if not tracing.
    """
    if not is_tracing():
        raise RuntimeError("the tracemalloc module must be tracing memory allocations to "
                           "take a snapshot")
    return Snapshot.create(traces=traces, peak=True)


def _record_moment(snapshot):
    """Record in *snapshot* what take_snapshot() and Snapshot.create() keep besides the
    traces: the time (``timestamp``, to the second, and the extra attribute ``time``, float
    seconds since the epoch, which find_leaks() fits sizes against), the process (pid,
    process_memory), the tracer's own memory (tracemalloc_memory: get_tracemalloc_memory()),
    get_freelist_memory() as the extra attribute ``freelist_memory`` ((size, count)),
    nothing without free-list hooks, and while tracing get_lost_traces() as the extra
    attribute ``lost_traces``. Snapshot files keep the three extra attributes.
    ``freelist_memory`` is not a class attribute: the loader does not restore attributes
    that the class defines (``lost_traces`` and ``time``, None at class level, are the
    exceptions: tracemalloc/_snapshot.py).

    The lost traces are read after the traces were taken: a trace lost in between makes the
    snapshot say it may be incomplete rather than hide it."""
    now = time.time()
    snapshot.time = now
    snapshot.timestamp = _timestamp(now)
    snapshot.pid = os.getpid()
    snapshot.process_memory = get_process_memory()
    snapshot.tracemalloc_memory = get_tracemalloc_memory()
    memory = get_freelist_memory()
    if memory is not None:
        snapshot.freelist_memory = tuple(memory)
    if is_tracing():
        # not tracing (an empty Snapshot.create()): the count of a past run says nothing
        # about this snapshot
        snapshot.lost_traces = get_lost_traces()
        sample_bytes = get_sample_bytes()
        if sample_bytes:
            snapshot.sample_bytes = sample_bytes


def _timestamp(now=None):
    """Local date and time as "YYYY-MM-DD HH:MM:SS"."""
    if now is None:
        now = time.time()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))


# The names of the PEP 454 draft (2013).

def get_object_trace(obj):
    """PEP 454 draft name of get_object_traceback()."""
    return get_object_traceback(obj)


def get_stats():
    """PEP 454 draft: ``{filename: {lineno: (size, count)}}``, the traced memory grouped by
    the most recent frame, computed in C (empty when not tracing). While sampling, estimates
    grouped from the sampled traces, each counting for the blocks it stands for
    (tracemalloc/_sampling.py)."""
    sample_bytes = get_sample_bytes()
    if sample_bytes:
        return _sampling.stats_from_traces(_engine.get_traces(), sample_bytes)
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

    PYTRACEMALLOC_SAMPLE=SIZE (bytes, or with a suffix k, M or G: 512k), or on 3.x
    -X tracemalloc_sample=SIZE (which wins), starts the sampling mode, start(nframe,
    sample_bytes=SIZE); unset, empty or 0: exact. A bad value raises ValueError naming the
    variable or option, which the interpreter reports on one line before it goes on
    untraced.
    """
    sample_bytes = _sampling.from_environment(os.environ, getattr(sys, "_xoptions", None))
    _engine.start(nframe, sample_bytes)
    if not quiet and sys.stderr is not None:  # None without a console (pythonw)
        if sample_bytes:
            sys.stderr.write("tracemalloc enabled, sampled every %d bytes on average\n"
                             % sample_bytes)
        else:
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
            with _suspended():  # the tracer's memory, even for the user's take_snapshot()
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
