"""Limits in test suites: limit_memory() and limit_leaks(), each a context manager and a
decorator that raises AssertionError (a failure for unittest) naming the top lines, and the
checks behind them, which the pytest plugin (tracemalloc/pytest_plugin.py) shares: sizes
such as "24 MB" (parse_size), the peak of a piece of code (_PeakMeter), the memory it still
holds afterwards (_LeakMeter), and running a function under both (run_limited).

How the two are measured (README, "Limits in test suites", says it for users):

- limit_memory: the peak of the traced memory while the code runs, above the traced memory
  when it starts: reset_peak() at the start, get_traced_memory()[1] at the end, minus
  get_traced_memory()[0] at the start. Meters nest: one that resets the engine's peak
  first hands the peak so far to the meters running around it.
- limit_leaks: the memory that the code still holds when it returns: a snapshot with
  traces before and after (each after gc.collect()), grouped per traceback; the growths of
  the groups that filter_fn accepts are summed (a group that shrank counts 0), leaving out
  the memory allocated by this package itself (the snapshots). As a decorator, the function
  runs twice and the second run is measured: the first one (the warm-up) fills what a first
  run fills once (caches, interned strings, the interpreter's free lists and
  specializations, imports), which is no leak; warmup=N runs it N times first. As a
  context manager, the block runs once: warm it up before.
"""
from __future__ import absolute_import

import functools
import gc
import os
import re

import tracemalloc
from tracemalloc._compat import _INT_TYPES, _TEXT_TYPES
from tracemalloc._filters import Filter
from tracemalloc._types import _format_size

__all__ = ["limit_memory", "limit_leaks"]

# Sizes: a number and a unit; K, M, G and T are powers of 1024 with or without the "i"
# ("24 MB" == "24 MiB"), as pytest-memray reads them.
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([KMGT]?)(i?)B\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}

# How many lines a failure message names.
TOP_LINES = 5

# Tracing started by a limit (when nothing traces yet) keeps this many frames per trace.
DEFAULT_NFRAME = 1


def warmup_runs(warmup):
    """The number of warm-up runs that *warmup* asks for: True is 1, False 0, an int that
    many. ValueError (one line) otherwise."""
    if isinstance(warmup, bool):
        return int(warmup)
    if isinstance(warmup, _INT_TYPES) and warmup >= 0:
        return warmup
    raise ValueError("invalid warmup %r: expected True, False or a number of runs"
                     % (warmup,))


def parse_size(size):
    """Bytes of *size*: an int (bytes), or a str of a number and a unit, "512 B", "1 KB",
    "24 MB", "1.5 MiB", "2GB" (K, M, G, T: powers of 1024, with or without the "i"; the case
    does not matter). ValueError with a one-line message otherwise (a negative size, no
    unit, an unknown unit)."""
    if isinstance(size, _INT_TYPES) and not isinstance(size, bool):
        if size < 0:
            raise ValueError("invalid size %r: must not be negative" % (size,))
        return size
    match = _SIZE.match(size) if isinstance(size, _TEXT_TYPES) else None
    if match is None:
        raise ValueError("invalid size %r: expected a number and a unit, B, KB, MB, GB or TB "
                         "(powers of 1024; KiB, MiB, GiB, TiB are the same), e.g. '24 MB'"
                         % (size,))
    number, prefix, _ = match.groups()
    return int(float(number) * _UNITS[prefix.upper()])


def _describe(size):
    """The size as a message shows it: "24.0 MiB", and the text given when it was one."""
    text = _format_size(parse_size(size))
    if isinstance(size, _TEXT_TYPES):
        return "%s (%s)" % (text, " ".join(size.split()))
    return text


class _LimitExceeded(AssertionError):
    """A limit was exceeded: the message names the limit, the measure and the top lines."""


def _own_files():
    """The fnmatch pattern of this package's files: the snapshots the checks take are
    allocated there, and are not the measured code's memory."""
    return os.path.join(os.path.dirname(_own_files.__code__.co_filename), "*")


def _format_lines(title, stats, limit=TOP_LINES):
    """*title* and one indented line per (filename, lineno, size, count) of *stats*."""
    lines = [title]
    for filename, lineno, size, count in stats[:limit]:
        lines.append("    %s:%s: %s in %d block%s" % (filename, lineno, _format_size(size), count,
                                                     "" if count == 1 else "s"))
    if len(stats) > limit:
        lines.append("    ... %d more line%s" % (len(stats) - limit,
                                                 "" if len(stats) - limit == 1 else "s"))
    return lines


# The meters running, outermost first (a meter of the pytest plugin around a limit of the
# test's own code, say): a meter resetting the engine's peak tells them the peak so far.
_running_meters = []


class _PeakMeter(object):
    """The peak of traced memory between start() and stop(), above the traced memory at
    start(). Starts tracing (DEFAULT_NFRAME frames) if nothing traces, and then stops it
    at stop()."""

    def __init__(self, nframe=None):
        self.nframe = nframe or DEFAULT_NFRAME
        self.started_tracing = False
        self.base = self.seen = 0
        self.start_stats = None
        self.result = None  # (peak, held) once stopped
        self.engine_peak_is_ours = False

    def start(self, want_lines=False):
        if not tracemalloc.is_tracing():
            tracemalloc.start(self.nframe)
            self.started_tracing = True
        if want_lines:
            # per line only (the engine's statistics, no traces): cheap, and enough to
            # subtract from the peak what was there before
            self.start_stats = tracemalloc.Snapshot.create()
        peak = tracemalloc.get_traced_memory()[1]
        for meter in _running_meters:
            meter.seen = max(meter.seen, peak)
        tracemalloc.reset_peak()
        self.base = self.seen = tracemalloc.get_traced_memory()[0]
        _running_meters.append(self)

    def stop(self):
        """(peak, held): the peak above the start, and the traced memory at the end above
        the start (negative if the code freed more than it allocated)."""
        if self.result is not None:
            return self.result
        current, peak = tracemalloc.get_traced_memory()
        if self in _running_meters:  # not if start() failed
            _running_meters.remove(self)
        self.engine_peak_is_ours = peak >= self.seen
        peak = max(peak, self.seen)
        self.result = (peak - self.base, current - self.base)
        return self.result

    def peak_lines(self):
        """(filename, lineno, size, count) of the lines whose memory grew the most from the
        start to the peak, biggest first; None when the engine's peak is not this meter's
        (an inner meter reset it after this meter's peak)."""
        if self.start_stats is None or not self.engine_peak_is_ours:
            return None
        # per line only: the engine's statistics of the peak, no traces to build
        peak = tracemalloc.get_peak_snapshot(traces=False)
        peak = peak.filter_traces([Filter(False, _own_files())])
        lines = []
        for diff in peak.compare_to(self.start_stats, "lineno"):
            if diff.size_diff > 0:
                frame = diff.traceback[-1]
                lines.append((frame.filename, frame.lineno, diff.size_diff,
                              max(diff.count_diff, 0)))
        lines.sort(key=lambda line: -line[2])
        return lines

    def end_tracing(self):
        """Stop tracing if start() started it (after the messages were made)."""
        if self.started_tracing:
            self.started_tracing = False
            tracemalloc.stop()


def _traces_snapshot():
    """A snapshot of the traces and nothing else: take_snapshot() also records the process
    memory, whose lookup of psutil imports (and fails to import) at each call, allocating in
    importlib, where the filter of the package's own files does not see it."""
    return tracemalloc.Snapshot(tracemalloc._get_traces(), tracemalloc.get_traceback_limit())


class _LeakMeter(object):
    """The memory allocated between before() and after() and still held, per traceback
    (see the module's docstring)."""

    def __init__(self, filter_fn=None, nframe=None):
        self.filter_fn = filter_fn
        self.nframe = nframe or DEFAULT_NFRAME
        self.started_tracing = False
        self.snapshot = None

    def start_tracing(self):
        """Start tracing if nothing traces: before a warm-up run, so that what it leaves
        on free lists is traced as what the measured run leaves there."""
        if not tracemalloc.is_tracing():
            tracemalloc.start(self.nframe)
            self.started_tracing = True

    def before(self):
        self.start_tracing()
        gc.collect()
        self.snapshot = _traces_snapshot()

    def after(self):
        """(held, lines): the bytes still held, and the (filename, lineno, size, count) of
        the lines holding them, biggest first."""
        gc.collect()
        after = _traces_snapshot()
        own = [Filter(False, _own_files())]
        before, self.snapshot = self.snapshot, None
        diffs = after.filter_traces(own).compare_to(before.filter_traces(own), "traceback")
        del after, before
        held = 0
        per_line = {}
        for diff in diffs:
            if diff.size_diff <= 0:
                continue
            if self.filter_fn is not None and not self.filter_fn(diff.traceback):
                continue
            held += diff.size_diff
            frame = diff.traceback[-1] if len(diff.traceback) else None
            key = (frame.filename, frame.lineno) if frame is not None else ("<unknown>", 0)
            size, count = per_line.get(key, (0, 0))
            per_line[key] = (size + diff.size_diff, count + max(diff.count_diff, 0))
        lines = sorted(((key[0], key[1], size, count) for key, (size, count)
                        in per_line.items()), key=lambda line: (-line[2], line[:2]))
        return held, lines

    def end_tracing(self):
        if self.started_tracing:
            self.started_tracing = False
            tracemalloc.stop()


def _memory_failure(limit, peak, lines):
    message = ["limit_memory: the peak of traced memory was %s above its start, more than "
               "the limit of %s" % (_format_size(peak), _describe(limit))]
    if lines:
        message.extend(_format_lines("Top lines at the peak (growth since the start):", lines))
    return "\n".join(message)


def _leaks_failure(limit, held, lines):
    message = ["limit_leaks: %s allocated and still held at the end, more than the limit "
               "of %s" % (_format_size(held), _describe(limit))]
    message.extend(_format_lines("Top lines still holding memory:", lines))
    return "\n".join(message)


def run_limited(func, args=(), kwargs=None, memory=None, leaks=None, filter_fn=None,
                warmup=True, nframe=None):
    """Call ``func(*args, **kwargs)`` under the limits: *memory*, the limit of its peak, and
    *leaks*, the limit of the memory it still holds (with *filter_fn* and *warmup*; see the
    module's docstring), each a size for parse_size() or None. With *leaks*, *func* runs
    warmup_runs(*warmup*) times before the measured run. Returns the result of the (last) call; an exception of *func*
    propagates; _LimitExceeded (an AssertionError) if a limit was exceeded, naming every
    limit exceeded and the top lines of each."""
    __tracebackhide__ = True  # noqa: F841 (pytest: not a frame of the test)
    kwargs = kwargs or {}
    memory_bytes = parse_size(memory) if memory is not None else None
    leaks_bytes = parse_size(leaks) if leaks is not None else None
    meter = _PeakMeter(nframe) if memory is not None else None
    leak_meter = _LeakMeter(filter_fn, nframe) if leaks is not None else None
    failures = []
    try:
        if meter is not None:
            meter.start(want_lines=True)
        if leak_meter is not None:
            if warmup_runs(warmup):
                leak_meter.start_tracing()
            for _ in range(warmup_runs(warmup)):
                func(*args, **kwargs)
            leak_meter.before()
        result = func(*args, **kwargs)
        if leak_meter is not None:
            held, lines = leak_meter.after()
            if held > leaks_bytes:
                failures.append(_leaks_failure(leaks, held, lines))
        if meter is not None:
            peak, _ = meter.stop()
            if peak > memory_bytes:
                failures.insert(0, _memory_failure(memory, peak, meter.peak_lines()))
    finally:
        if meter is not None:
            meter.stop()
            meter.end_tracing()
        if leak_meter is not None:
            leak_meter.end_tracing()
    if failures:
        raise _LimitExceeded("\n".join(failures))
    return result


class _Limit(object):
    """A limit usable as a context manager (the block runs once) and as a decorator."""

    def __init__(self):
        self._running = []  # the measures of the with-blocks running (they may nest)

    def _kwargs(self):
        raise NotImplementedError

    def __call__(self, func):
        kwargs = self._kwargs()

        @functools.wraps(func)
        def limited(*args, **call_kwargs):
            __tracebackhide__ = True  # noqa: F841 (pytest: not a frame of the test)
            return run_limited(func, args, call_kwargs, **kwargs)
        return limited


class limit_memory(_Limit):
    """Fail (AssertionError) when the peak of traced memory of the code, above the traced
    memory when it starts, is more than *size* ("24 MB": see parse_size()).

    As a context manager, ``with tracemalloc.limit_memory("24 MB"): ...``; as a decorator,
    ``@tracemalloc.limit_memory("24 MB")``. Starts tracing if nothing traces (and stops it
    at the end). The message names the lines whose memory grew the most up to the peak.
    Calling reset_peak() inside the code spoils the measure."""

    __module__ = "tracemalloc"

    def __init__(self, size):
        _Limit.__init__(self)
        parse_size(size)  # a bad size fails here, where it is written
        self.size = size

    def _kwargs(self):
        return {"memory": self.size}

    def __enter__(self):
        meter = _PeakMeter()
        meter.start(want_lines=True)
        self._running.append(meter)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        meter = self._running.pop()
        try:
            peak, _ = meter.stop()
            if exc_type is None and peak > parse_size(self.size):
                raise _LimitExceeded(_memory_failure(self.size, peak, meter.peak_lines()))
        finally:
            meter.end_tracing()
        return False


class limit_leaks(_Limit):
    """Fail (AssertionError) when the code allocated more than *size* ("1 KB": see
    parse_size()) that it still holds when it returns.

    *filter_fn*, if given, is called with the Traceback of each group of allocations still
    held and returns True to count it (e.g. to leave out a cache). As a decorator, the
    function runs twice and the second run is measured (*warmup*, default True: the first
    run fills caches and free lists, which is no leak; False: no warm-up; a number: that
    many warm-up runs); as a context manager, the block runs once and is measured. Starts
    tracing if nothing traces (and stops it at the end). The message names the lines still
    holding the most memory."""

    __module__ = "tracemalloc"

    def __init__(self, size, filter_fn=None, warmup=True):
        _Limit.__init__(self)
        parse_size(size)
        warmup_runs(warmup)
        self.size = size
        self.filter_fn = filter_fn
        self.warmup = warmup

    def _kwargs(self):
        return {"leaks": self.size, "filter_fn": self.filter_fn, "warmup": self.warmup}

    def __enter__(self):
        meter = _LeakMeter(self.filter_fn)
        meter.before()
        self._running.append(meter)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        meter = self._running.pop()
        try:
            if exc_type is None:
                held, lines = meter.after()
                if held > parse_size(self.size):
                    raise _LimitExceeded(_leaks_failure(self.size, held, lines))
        finally:
            meter.end_tracing()
        return False
