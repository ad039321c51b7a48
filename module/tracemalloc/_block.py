"""A measured block: trace_block(), a context manager and a decorator giving the allocations
of a piece of code that it still holds at its end (net size, count and the lines, as
StatisticDiff per key_type) and the peak of traced memory above its start with the lines
there, exact at the source: none of the tracer's own memory is in them.

pymemtrace's trace_malloc.TraceMalloc takes two snapshots with the stock tracemalloc and
subtracts the tracer's growth afterwards. Here the tracer's part is never traced:

- the block's work (its snapshots at entry and exit, the comparisons, its results) runs with
  tracing suspended in its thread (tracemalloc/_suspend.py): the tracer's memory;
- what the interpreter allocates in the user's thread to call into the block (the bound
  __enter__ and __exit__, the argument tuple of __exit__ and the frames on 2.7) is the
  tracer's too: __enter__ and __exit__ are tracer_method objects of the engine (method.c),
  and trace_block() hands its own 2.7 frame to the engine (own_object()); an allocation
  taken that way is undone, in traced memory and in the peak, when it was the last one;
- the engine's peak is reset at the entry of each block, and carried: the blocks and the
  limit_memory() meters running around it (one list, _limits._running_meters) first take
  the peak so far, and its lines (``seen``);
- the garbage collector is paused during the block's work (in Python), so that the tracer's
  allocations do not collect the user's garbage in the middle of a measure.

So an empty block gives 0 B, 0 blocks and a peak of 0, every time, on every interpreter
and variant that traces. doc/internals.rst, "A measured block", says why.

The engine's tracer_method and own_object are read when this module is imported (the class
needs its methods then); the rest reads tracemalloc._engine at each use, as the other
modules do (the tests replace it).
"""
from __future__ import absolute_import

import functools
import gc
import sys

import tracemalloc
from tracemalloc import _grouping, _limits, _peak
from tracemalloc._compat import _INT_TYPES, _PY2
from tracemalloc._output import (_display_filename, _format_top_size, _shorten_filename,
                                 _write_text)
from tracemalloc._types import StatisticDiff, Traceback, _statistic_diff_fast_key

__all__ = ["trace_block", "TraceBlock"]

# Tracing started by a block (when nothing traces yet) keeps this many frames per trace.
DEFAULT_NFRAME = 1

_KEY_TYPES = ("lineno", "filename", "traceback")
_KEY_TITLES = {"lineno": "file and line", "filename": "file", "traceback": "traceback"}

# How many path components format() keeps of a file name, as DisplayTop.
_FILENAME_PARTS = 3

_tracer_method = getattr(tracemalloc._engine, "tracer_method", None)
if _tracer_method is None:
    def _tracer_method(func):
        # An engine without it (the tests' fake engine): a plain method. The work still
        # runs suspended; only the interpreter's call into it is the user's.
        return func


def trace_block(key_type="lineno", cumulative=False, nframe=DEFAULT_NFRAME, callback=None):
    """A measured block: ``with trace_block() as block:`` or ``@trace_block()``.

    At the end of the block, ``block.statistics`` lists the allocations that the block made
    and still holds, and what it freed, per *key_type* ("lineno", "filename" or
    "traceback"; *cumulative* as Snapshot.compare_to()): StatisticDiff objects, biggest
    change first, only the keys that changed. ``block.diff`` is the net size in bytes,
    ``block.count_diff`` the net number of memory blocks, ``block.peak`` the peak of traced
    memory during the block above its level at the start, ``block.peak_statistics`` the
    changes from the start to that peak. block.format() and block.display() give them as
    text. An exception raised in the block propagates; the block has its results all the
    same (the exception and its traceback, alive at the end, are in them).

    Exact: nothing the tracer allocates, for the block or to enter and leave it, is in the
    figures; an empty block gives 0. If nothing traces, the block starts tracing with
    *nframe* frames per trace and stops it at the end (already tracing: the limit in use
    stays). Every thread's allocations during the block count (the engine does not record
    which thread allocated a block). The block resets the peak of traced memory at its
    start (reset_peak()): afterwards get_traced_memory()[1] is the peak since then; blocks
    nest, each with its own peak, and so do limit_memory() checks.

    As a decorator, every call is a block of its own: the last one that ended is the
    decorated function's ``last_block`` attribute, and *callback*, if given, is called with
    each one after the call (also when the function raised, before the exception goes on).
    *callback* is for the decorator only.

    The block and its results are the tracer's memory, like DisplayTop's snapshots: another
    block around it, a snapshot or a top does not count them.
    """
    engine = tracemalloc._engine
    engine.suspend()
    try:
        if _PY2:
            # 2.7 allocated the frame of this call in the user's thread before its first
            # line: the tracer's (undone, as this was the last allocation)
            own = getattr(engine, "own_object", None)
            if own is not None:
                own(sys._getframe())
        collecting = _pause_collector()
        try:
            return TraceBlock(key_type, cumulative, nframe, callback)
        finally:
            _restore_collector(collecting)
    finally:
        engine.resume()


def _pause_collector():
    """Pause the garbage collector for the tracer's work (its allocations would run it, and
    with it the finalizers and weakref callbacks of the user's garbage, in the middle of a
    measure); returns whether it ran, for _restore_collector()."""
    collecting = gc.isenabled()
    gc.disable()
    return collecting


def _restore_collector(collecting):
    if collecting:
        gc.enable()


class TraceBlock(object):
    """The measure of a block, made by trace_block() (see it for the figures and how they
    are exact). Its results are None until the block ends; a block can run again, one with
    statement at a time, and its results are then those of the last run. Make it with
    trace_block(): TraceBlock(...) called by your code is your memory, and its call (a tuple
    or a dict of its arguments, a frame on 2.7) counts in a block around it.

    Results: ``statistics`` (list of StatisticDiff: the keys whose size or count changed
    between the start and the end, sorted as Snapshot.compare_to() sorts), ``diff`` (net
    bytes, pymemtrace's name), ``count_diff`` (net memory blocks), ``peak`` (bytes of traced
    memory at the peak above the start), ``peak_statistics`` (StatisticDiff of the keys that
    changed between the start and the peak). Settings: ``key_type``, ``cumulative``,
    ``nframe``, ``callback``.
    """

    __module__ = "tracemalloc"
    __slots__ = ("key_type", "cumulative", "nframe", "callback", "statistics", "diff",
                 "count_diff", "peak", "peak_statistics", "_running", "_started_tracing",
                 "_start", "_base", "_seen", "_carried")

    def __init__(self, key_type="lineno", cumulative=False, nframe=DEFAULT_NFRAME,
                 callback=None):
        if key_type not in _KEY_TYPES:
            raise ValueError("trace_block: unknown key_type %r (expected 'lineno', "
                             "'filename' or 'traceback')" % (key_type,))
        if cumulative and key_type == "traceback":
            raise ValueError("trace_block: cumulative needs key_type 'lineno' or "
                             "'filename', not 'traceback'")
        if (not isinstance(nframe, _INT_TYPES) or isinstance(nframe, bool)
                or not 1 <= nframe <= tracemalloc._engine.MAX_NFRAME):
            raise ValueError("trace_block: nframe must be an int from 1 to %d, not %r"
                             % (tracemalloc._engine.MAX_NFRAME, nframe))
        if callback is not None and not callable(callback):
            raise TypeError("trace_block: callback must be callable, not %r" % (callback,))
        self.key_type = key_type
        self.cumulative = bool(cumulative)
        self.nframe = nframe
        self.callback = callback
        self.statistics = self.diff = self.count_diff = None
        self.peak = self.peak_statistics = None
        self._running = self._started_tracing = False
        self._start = self._carried = None
        self._base = self._seen = 0

    # -- the with statement ------------------------------------------------------------------

    def _enter(self):
        with tracemalloc._suspended():
            if self._running:
                raise RuntimeError("trace_block: this block is running already (use one "
                                   "trace_block() per with statement)")
            if self.callback is not None:
                raise ValueError("trace_block: callback is for the decorator (a with "
                                 "block gives its results itself)")
            collecting = _pause_collector()
            try:
                self._begin()
            except BaseException:
                self._start = None
                if self._started_tracing:
                    self._started_tracing = False
                    tracemalloc.stop()
                raise
            finally:
                _restore_collector(collecting)
        return self

    def _begin(self):
        if not tracemalloc.is_tracing():
            tracemalloc.start(self.nframe)
            self._started_tracing = True
        self.statistics = self.diff = self.count_diff = None
        self.peak = self.peak_statistics = None
        self._start = self._now()
        # The blocks and limit_memory meters running take the peak so far, and its lines,
        # before it is reset (as _limits._PeakMeter.start does).
        peak = tracemalloc.get_traced_memory()[1]
        for meter in list(_limits._running_meters):
            meter.seen = max(meter.seen, peak)
        tracemalloc.reset_peak()
        self._base = self._seen = tracemalloc.get_traced_memory()[0]
        self._carried = None
        self._running = True
        _limits._running_meters.append(self)

    def _exit(self, exc_type, exc_value, traceback):
        with tracemalloc._suspended():
            if not self._running:
                raise RuntimeError("trace_block: this block is not running (__exit__ without "
                                   "__enter__)")
            collecting = _pause_collector()
            try:
                self._end(exc_type is None)
            finally:
                self._running = False
                self._start = self._carried = None
                if self in _limits._running_meters:
                    _limits._running_meters.remove(self)
                if self._started_tracing:
                    self._started_tracing = False
                    tracemalloc.stop()
                _restore_collector(collecting)
        return False

    # Bound and called by the interpreter with tracing suspended, the call included
    # (method.c): what it allocates to enter and leave the block is the tracer's.
    __enter__ = _tracer_method(_enter)
    __exit__ = _tracer_method(_exit)

    def _end(self, raise_if_stopped):
        if not tracemalloc.is_tracing():
            if raise_if_stopped:
                raise RuntimeError("trace_block: tracing was stopped inside the block: "
                                   "nothing to measure")
            return
        current, engine_peak = tracemalloc.get_traced_memory()
        end = self._now()
        if self._carried is not None and engine_peak <= self._seen:
            # an inner block (or limit_memory) reset the peak after this block's own
            peak, at_peak = self._seen, self._carried
        else:
            peak, at_peak = engine_peak, self._at_peak()
        start = self._groups(self._start)
        self.statistics = _changes(self._groups(end), start)
        self.diff = sum(stat.size_diff for stat in self.statistics)
        self.count_diff = sum(stat.count_diff for stat in self.statistics)
        self.peak = peak - self._base
        self.peak_statistics = _changes(self._groups(at_peak), start)

    # -- the peak, as _limits._PeakMeter: a block about to reset it raises ``seen`` ----------

    @property
    def seen(self):
        """The highest traced memory this block has seen so far, in absolute bytes."""
        return self._seen

    @seen.setter
    def seen(self, value):
        # Called with the engine's peak just before another block or limit_memory() resets
        # it: if it is above what this block saw, it is this block's peak so far, and its
        # lines are read now, while the engine still has them.
        if value > self._seen:
            with tracemalloc._suspended():
                self._carried = self._at_peak()
                self._seen = value

    # -- taking and comparing --------------------------------------------------------------

    def _with_traces(self):
        return self.key_type == "traceback" or self.cumulative

    def _now(self):
        """The allocations now: raw traces, or statistics per line (enough per line and per
        file, and much smaller)."""
        if self._with_traces():
            return tracemalloc._get_traces()
        return tracemalloc.get_stats()

    def _at_peak(self):
        """The allocations at the engine's peak, in the form of _now()."""
        if self._with_traces():
            return _peak.traces_from_groups(tracemalloc._get_peak_traces())
        return tracemalloc._get_peak_stats()

    def _groups(self, taken):
        """{raw key: (size, count)} of what _now() or _at_peak() returned, grouped by
        key_type as Snapshot.statistics() groups."""
        groups = {}
        if self._with_traces():
            for key, size, count in _grouping._group_traces(taken, self.key_type,
                                                            self.cumulative):
                groups[key] = (size, count)
            return groups
        for filename, lines in taken.items():
            if self.key_type == "lineno":
                for lineno, size_count in lines.items():
                    groups[((filename, lineno),)] = size_count
            else:
                groups[((filename, 0),)] = (sum(size for size, count in lines.values()),
                                            sum(count for size, count in lines.values()))
        return groups

    # -- the decorator ---------------------------------------------------------------------

    def __call__(self, func):
        """Decorate *func*: each call is measured by a block of its own (see trace_block())."""
        if not callable(func):
            raise TypeError("trace_block() decorates a callable, not %r" % (func,))
        settings = (self.key_type, self.cumulative, self.nframe)
        callback = self.callback
        # (2.7's wraps() fails on a callable without __name__, a partial for example)
        names = [name for name in functools.WRAPPER_ASSIGNMENTS if hasattr(func, name)]

        @functools.wraps(func, names)
        def measured(*args, **kwargs):
            block = trace_block(*settings)
            try:
                with block:
                    if kwargs:
                        return func(*args, **kwargs)
                    return func(*args)
            finally:
                measured.last_block = block
                if callback is not None:
                    callback(block)

        measured.last_block = None
        return measured

    # -- text ------------------------------------------------------------------------------

    def format(self, limit=10):
        """The results as text: a summary line, then the *limit* keys whose size changed the
        most, from the start to the end and from the start to the peak, each as
        "#N: file:line: size=SIZE (+DIFF), count=N (+DIFF), average=SIZE" (DisplayTop's
        sizes), the rest summed on a "N more" line. RuntimeError before the block ended."""
        if self.statistics is None:
            raise RuntimeError("trace_block: the block has no results yet (it has not "
                               "ended)")
        what = _KEY_TITLES[self.key_type] + (" (cumulative)" if self.cumulative else "")
        lines = ["Measured block: %s in %+d blocks, peak %s above the start"
                 % (_format_top_size(self.diff, sign=True), self.count_diff,
                    _format_top_size(self.peak))]
        lines.extend(self._format_top("Net allocations per %s" % what, self.statistics,
                                      limit))
        lines.extend(self._format_top("At the peak, per %s (from the start)" % what,
                                      self.peak_statistics, limit))
        return "\n".join(lines) + "\n"

    def display(self, limit=10, file=None):
        """Write format(*limit*) to *file* (default: sys.stdout), with tracing suspended."""
        with tracemalloc._suspended():
            stream = file if file is not None else sys.stdout
            _write_text(stream, self.format(limit))
            stream.flush()

    def _format_top(self, title, statistics, limit):
        shown = statistics[:limit]
        lines = ["%s: %d changed" % (title, len(statistics))]
        for index, stat in enumerate(shown, 1):
            # a Traceback lists its frames oldest first: the allocation site is the last
            frames = list(stat.traceback)
            head = frames[-1] if frames else None
            lines.append("#%d: %s: %s" % (index, _format_frame(head, self.key_type),
                                          _format_stat(stat.size, stat.size_diff, stat.count,
                                                       stat.count_diff)))
            if self.key_type == "traceback":
                # its callers, most recent first, as DisplayTop shows them
                for frame in reversed(frames[:-1]):
                    lines.append("    %s" % _format_frame(frame, "traceback"))
        rest = statistics[limit:]
        if rest:
            lines.append("%d more: %s" % (len(rest), _format_stat(
                sum(stat.size for stat in rest), sum(stat.size_diff for stat in rest),
                sum(stat.count for stat in rest), sum(stat.count_diff for stat in rest))))
        return lines

    def __repr__(self):
        if self.statistics is None:
            return "<TraceBlock key_type=%r: no results yet>" % (self.key_type,)
        return "<TraceBlock key_type=%r diff=%+d B count_diff=%+d peak=%d B>" % (
            self.key_type, self.diff, self.count_diff, self.peak)


def _changes(new, old):
    """StatisticDiff of the keys whose size or count differ between *new* and *old*
    ({raw key: (size, count)}), sorted as Snapshot.compare_to() sorts: the entries of
    compare_to() that are not unchanged."""
    changes = []
    for key, (size, count) in new.items():
        old_size, old_count = old.get(key, (0, 0))
        if size != old_size or count != old_count:
            changes.append(StatisticDiff(Traceback(key), size, size - old_size, count,
                                         count - old_count))
    for key, (old_size, old_count) in old.items():
        if key not in new and (old_size or old_count):
            changes.append(StatisticDiff(Traceback(key), 0, -old_size, 0, -old_count))
    changes.sort(reverse=True, key=_statistic_diff_fast_key)
    return changes


def _format_frame(frame, key_type):
    if frame is None:
        return "<unknown>"
    filename = _shorten_filename(_display_filename(frame.filename), _FILENAME_PARTS)
    if key_type == "filename":
        return filename
    return "%s:%s" % (filename, frame.lineno)


def _format_stat(size, size_diff, count, count_diff):
    text = "size=%s (%s), count=%d (%+d)" % (_format_top_size(size),
                                             _format_top_size(size_diff, sign=True),
                                             count, count_diff)
    if count:
        text += ", average=%s" % _format_top_size(size // count)
    return text
