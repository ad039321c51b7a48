"""Leaks over a series of snapshots: find_leaks(), its result Leak and LeakList, the text
table and the JSON of ``python -m tracemalloc --leaks`` (format_leaks(), leaks_to_json()).

The series is read once, in order, one snapshot at a time (files are loaded one by one and
dropped): per key (a line, a file or a traceback) only running sums are kept, never the
series itself, so memory is bounded by the number of distinct keys, not by the number of
snapshots times their traces. doc/internals.rst, "Finding leaks", describes the algorithm.

What is a leak (LEAK_DEFINITION: the same words in ``--help`` and in the README): memory
that grows steadily, slowly or in steps until the end of the series; not a cache that fills
and then stays the same, nor memory that rises and falls back.
"""
from __future__ import absolute_import, division

import fnmatch
import json
import math
import time

import tracemalloc
from tracemalloc import _sampling
from tracemalloc._compat import _INT_TYPES, _PY2, _TEXT_TYPES
from tracemalloc._grouping import _group_traces
from tracemalloc._output import _display_filename, _shorten_filename
from tracemalloc._types import Traceback, _format_size

__all__ = ["find_leaks", "Leak"]

# The words of --help and of the README.
LEAK_DEFINITION = """\
A leak is memory that keeps growing until the end of the series: steady
growth, slow growth and growth in steps are leaks; a cache that fills and
then plateaus, or memory that rises and falls back, is not. A key (a line,
a file or a traceback) is a leak when, from the first snapshot to the last:
  - it grew by at least --min-growth bytes and --min-growth-share of the
    memory of the last snapshot (not a few bytes);
  - its last size is near its maximum: it fell back by at most
    --max-fallback of its growth (memory that falls back is not a leak);
  - it still grew in the last third of the series, by at least
    --min-late-growth of its growth (a cache that plateaued does not);
  - it grew in at least --min-grew-share of the intervals between two
    snapshots (steady and slow growth), or in at least --min-steps of them
    (growth in steps), not once (a spike, a one-time load);
  - a straight line fits its sizes against the snapshot times, or against
    their order when that fits better (memory that grows with the work
    done rather than with time): positive slope, R2 at least --min-r2
    (noise that goes up and down fits badly).
Leaks are ranked by their score, the growth that the straight line explains
(growth x R2): the most memory gained the most steadily first."""

# Thresholds of the rules, their defaults and the one line each option's help gives.
DEFAULTS = {
    "min_growth": 4096,
    "min_growth_share": 0.0005,
    "max_fallback": 0.25,
    "min_late_growth": 0.1,
    "min_grew_share": 0.5,
    "min_steps": 3,
    "min_r2": 0.5,
}

# The part of the series, at its end, where a leak must still grow.
LATE_PART = 1.0 / 3

# The package's own files, left out unless own_files is true: the work of TakeSnapshot and
# of snapshots themselves (the traces list of a snapshot grows with the traces of a leaking
# program) would otherwise look like leaks of the program. The names of the package's
# modules, so that a user directory that happens to be called "tracemalloc" is kept.
OWN_FILES = ("*/tracemalloc/__init__.py", "*/tracemalloc/__main__.py", "*/tracemalloc/_*.py")

# The clocks a fit can use, best first: the precise ``time`` attribute, the ``timestamp``
# (to the second), the index of the snapshot in the series.
CLOCKS = ("time", "timestamp", "index")

# Verdicts of keys that are not leaks, the first rule they fail, in the order of the rules.
LEAK = "leak"
NO_GROWTH = "no growth"
SMALL = "small"
FELL_BACK = "fell back"
PLATEAU = "plateau"
RARE = "rare"
NOISY = "noisy"


class Leak(object):
    """One key of a series of snapshots and how its memory evolved, with the verdict.

    - ``key_type``: "lineno", "filename" or "traceback"
    - ``traceback``: the key as a Traceback, as Statistic has it: one frame (filename,
      lineno) per line, (filename, 0) per file, the frames of the traces per traceback
    - ``filename``, ``lineno``: those of the most recent frame ("<unknown>", 0 without one)
    - ``size_growth``, ``count_growth``: last - first, in bytes and in memory blocks
    - ``first_size``, ``last_size``, ``max_size``, ``first_count``, ``last_count``: a key
      absent from a snapshot has size 0 there
    - ``late_growth``: the growth in bytes over the last third of the series
    - ``grew``: in how many of the ``intervals`` (N - 1 for N snapshots) it grew
    - ``slope_per_snapshot``: bytes per snapshot, least squares against the index
    - ``slope_per_second``: bytes per second, least squares against the snapshot times
      (None when the snapshots do not tell their time)
    - ``r2``: R squared, 0.0 to 1.0, of the better of the two fits, against the times
      (when known) and against the index: the one the rules use
    - ``fit``: which fit gave ``r2``: "time", "timestamp" (the clock of the series, see
      LeakList.clock) or "index"
    - ``verdict``: "leak", or the first rule the key fails: "no growth", "small", "fell back",
      "plateau", "rare", "noisy"
    - ``score``: growth x R2 (bytes), the rank of leaks: most likely leak first
    """

    __module__ = "tracemalloc"
    __slots__ = ("key_type", "traceback", "size_growth", "count_growth", "first_size",
                 "last_size", "max_size", "first_count", "last_count", "late_growth",
                 "grew", "intervals", "slope_per_snapshot", "slope_per_second", "r2", "fit",
                 "verdict", "score")

    def __init__(self, **values):
        for name in self.__slots__:
            setattr(self, name, values.pop(name))
        if values:
            raise TypeError("Leak() got unexpected arguments: %s" % ", ".join(sorted(values)))

    @property
    def is_leak(self):
        return self.verdict == LEAK

    @property
    def filename(self):
        return self.traceback[-1].filename if len(self.traceback) else "<unknown>"

    @property
    def lineno(self):
        return self.traceback[-1].lineno if len(self.traceback) else 0

    def _where(self):
        if self.key_type == "filename":
            return str(self.filename)
        return "%s:%s" % (self.filename, self.lineno)

    def __str__(self):
        rate = _format_size(self.slope_per_snapshot, True) + "/snapshot"
        if self.slope_per_second is not None:
            rate += ", %s/s" % _format_size(self.slope_per_second, True)
        return ("%s: %s (%s), grew in %d/%d intervals, R2=%.2f, count %+d: %s"
                % (self._where(), _format_size(self.size_growth, True), rate, self.grew,
                   self.intervals, self.r2, self.count_growth, self.verdict))

    def __repr__(self):
        return ("<Leak %s size_growth=%d grew=%d/%d r2=%.3f verdict=%r>"
                % (self._where(), self.size_growth, self.grew, self.intervals, self.r2,
                   self.verdict))

    def to_dict(self):
        """The leak as a dict of builtins, for JSON (file names as text)."""
        frames = [[_text(frame.filename), frame.lineno] for frame in self.traceback]
        result = dict((name, getattr(self, name)) for name in self.__slots__
                      if name not in ("traceback",))
        result["filename"] = _text(self.filename)
        result["lineno"] = self.lineno
        result["traceback"] = frames  # oldest frame first, as Traceback
        return result


class LeakList(list):
    """The result of find_leaks(): a list of Leak, most likely leak first, with what was
    learnt about the series:

    - ``key_type``; ``snapshots``: N
    - ``clock``: what the fits used, "time" (the ``time`` attribute of every snapshot),
      "timestamp" (every ``timestamp``, to the second) or "index" (neither)
    - ``duration``: seconds from the first snapshot to the last (None with "index")
    - ``pids``: the process ids the snapshots name, sorted (several: not one run)
    - ``keys``: how many distinct keys the series had (after the filters)
    - ``first_total``, ``last_total``: the memory of the first and last snapshots (after
      the filters)
    - ``warnings``: one-line messages about the series (several processes, times going back)
    - ``thresholds``: the rules' thresholds used (DEFAULTS, with what was given)
    - ``sample_bytes``: the largest ``sample_bytes`` of the snapshots (0: all exact; else the
      sizes and counts are estimates, tracemalloc/_sampling.py)
    """

    def __init__(self, leaks=(), **info):
        list.__init__(self, leaks)
        self.key_type = info.get("key_type")
        self.snapshots = info.get("snapshots")
        self.clock = info.get("clock")
        self.duration = info.get("duration")
        self.pids = info.get("pids", [])
        self.keys = info.get("keys")
        self.first_total = info.get("first_total")
        self.last_total = info.get("last_total")
        self.warnings = info.get("warnings", [])
        self.thresholds = info.get("thresholds", dict(DEFAULTS))
        self.sample_bytes = info.get("sample_bytes", 0)


def _text(value):
    """*value* as text for JSON: on Python 2 a str file name is decoded from UTF-8, bytes
    that are not UTF-8 becoming U+DC80..U+DCFF as Python 3 decodes them."""
    if not _PY2 or not isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return u"".join(unichr(ord(char)) if ord(char) < 128  # noqa: F821 (Python 2 only)
                        else unichr(0xdc00 + ord(char)) for char in value)  # noqa: F821


class _KeySums(object):
    """The running sums of one key: all that is kept of its series.

    Sizes are Python ints (exact sums of squares); the sums against the clocks "time" and
    "timestamp" are floats of times relative to the first snapshot, against "index" ints.
    A key absent from a snapshot has size 0 there, which adds nothing to the sums."""

    __slots__ = ("sum_y", "sum_yy", "sum_xy", "first_size", "first_count", "prev_index",
                 "prev_size", "prev_count", "grew", "max_size", "late_size")

    def __init__(self):
        self.sum_y = 0
        self.sum_yy = 0
        self.sum_xy = [0.0, 0.0, 0]  # per clock of CLOCKS
        self.first_size = 0
        self.first_count = 0
        self.prev_index = -1  # the last snapshot that had the key
        self.prev_size = 0
        self.prev_count = 0
        self.grew = 0
        self.max_size = 0
        self.late_size = 0  # the size at the first snapshot of the last part


class _Clock(object):
    """The sums of one clock over the snapshots, while it is usable: given by every snapshot
    so far and never going back."""

    __slots__ = ("name", "usable", "origin", "last", "sum_x", "sum_xx")

    def __init__(self, name):
        self.name = name
        self.usable = True
        self.origin = None
        self.last = None
        self.sum_x = 0
        self.sum_xx = 0


class _LeakFinder(object):
    """Streaming: add() each snapshot of the series in time order, then leaks().

    Memory: one _KeySums per distinct key (``len(finder.sums)``), whatever the number of
    snapshots; the snapshots themselves are not kept."""

    def __init__(self, count, key_type="lineno", include=(), exclude=(), own_files=False,
                 names=None):
        if key_type not in ("lineno", "filename", "traceback"):
            raise ValueError("unknown key_type: %r" % (key_type,))
        self.count = count
        self.key_type = key_type
        self.include = list(include or ())
        self.exclude = list(exclude or ())
        if not own_files:
            self.exclude.extend(OWN_FILES)
        self.names = names
        self.sums = {}
        self.clocks = [_Clock(name) for name in CLOCKS]
        self.index = 0
        # The last part of the series starts at this snapshot: the last third of the
        # intervals, at least one.
        intervals = count - 1
        self.late_index = intervals - max(1, int(math.ceil(intervals * LATE_PART)))
        self.decided = {}  # filename -> kept by the filters
        self.first_total = self.last_total = 0
        self.pids = set()
        self.sample_bytes = 0
        self.warnings = []

    def _name(self, index):
        if self.names is not None:
            return self.names[index]
        return "snapshot %d" % (index + 1)

    def _keep(self, filename):
        keep = self.decided.get(filename)
        if keep is None:
            keep = ((not self.include
                     or any(fnmatch.fnmatch(filename, pattern) for pattern in self.include))
                    and not any(fnmatch.fnmatch(filename, pattern) for pattern in self.exclude))
            self.decided[filename] = keep
        return keep

    def _groups(self, snapshot):
        """(key, size, count) of *snapshot* per key, after the filters."""
        keep = self._keep
        if self.key_type == "traceback":
            if snapshot.traces is None:
                raise ValueError(
                    "%s: leaks per traceback need the traces of the allocations, and this "
                    "snapshot holds statistics per line only (take snapshots with traces: "
                    "TakeSnapshot.traces = True, Snapshot.create(traces=True) or "
                    "take_snapshot(); per line or per file, statistics are enough)"
                    % self._name(self.index))
            sample_bytes = getattr(snapshot, "sample_bytes", 0)
            if sample_bytes:  # counts estimated from each trace's weight
                groups = _sampling.group_traces(snapshot.traces._traces, "traceback", False,
                                                sample_bytes)
            else:
                groups = _group_traces(snapshot.traces._traces, "traceback", False)
            for frames, size, count in groups:
                if keep(frames[0][0] if frames else "<unknown>"):
                    yield frames, size, count
            return
        for filename, lines in snapshot.stats.items():
            if not keep(filename):
                continue
            if self.key_type == "lineno":
                for lineno, (size, count) in lines.items():
                    yield (filename, lineno), size, count
            else:
                size = count = 0
                for line_size, line_count in lines.values():
                    size += line_size
                    count += line_count
                yield (filename, 0), size, count

    def _clock_values(self, snapshot):
        values = []
        moment = snapshot.time
        values.append(float(moment) if moment is not None else None)
        stamp = None
        if isinstance(snapshot.timestamp, _TEXT_TYPES):
            try:
                stamp = time.mktime(time.strptime(snapshot.timestamp, "%Y-%m-%d %H:%M:%S"))
            except (ValueError, OverflowError):
                stamp = None
        values.append(stamp)
        values.append(self.index)
        return values

    def add(self, snapshot):
        """Add the next snapshot of the series."""
        index = self.index
        if index >= self.count:
            raise ValueError("more snapshots than the %d announced" % self.count)
        xs = []
        for clock, value in zip(self.clocks, self._clock_values(snapshot)):
            if clock.usable and (value is None or (clock.last is not None
                                                   and value < clock.last)):
                clock.usable = False
                if clock.name == "time" and value is not None:
                    self.warnings.append(
                        "%s was taken %.3g s before %s: the snapshots are not in time order "
                        "(the fits use the order given)"
                        % (self._name(index), clock.last - value, self._name(index - 1)))
            if clock.usable:
                if clock.origin is None:
                    clock.origin = value
                clock.last = value
                x = value - clock.origin
                clock.sum_x += x
                clock.sum_xx += x * x
                xs.append(x)
            else:
                xs.append(0)
        if snapshot.pid is not None:
            self.pids.add(snapshot.pid)
        sample_bytes = getattr(snapshot, "sample_bytes", 0)
        if isinstance(sample_bytes, _INT_TYPES) and sample_bytes > self.sample_bytes:
            self.sample_bytes = sample_bytes

        sums = self.sums
        late = index == self.late_index
        total = 0
        x_time, x_stamp, x_index = xs
        for key, size, count in self._groups(snapshot):
            total += size
            entry = sums.get(key)
            if entry is None:
                entry = sums[key] = _KeySums()
            if index == 0:
                entry.first_size = size
                entry.first_count = count
            elif size > (entry.prev_size if entry.prev_index == index - 1 else 0):
                entry.grew += 1
            entry.sum_y += size
            entry.sum_yy += size * size
            sum_xy = entry.sum_xy
            sum_xy[0] += x_time * size
            sum_xy[1] += x_stamp * size
            sum_xy[2] += x_index * size
            if size > entry.max_size:
                entry.max_size = size
            if late:
                entry.late_size = size
            entry.prev_index = index
            entry.prev_size = size
            entry.prev_count = count
        if index == 0:
            self.first_total = total
        self.last_total = total
        self.index += 1

    def _clock(self):
        """The best clock usable over the whole series (it moved forward)."""
        for clock in self.clocks:
            if clock.usable and clock.last is not None and clock.last > clock.origin:
                return clock
        return self.clocks[-1]  # the index always is

    def leaks(self, everything=False, **thresholds):
        """The Leak of every key judged a leak (of every key, with *everything*), ranked."""
        if self.index != self.count:
            raise ValueError("%d snapshots added of the %d announced" % (self.index, self.count))
        rules = _thresholds(thresholds)
        n = self.count
        last_index = n - 1
        clock = self._clock()
        clock_number = CLOCKS.index(clock.name)
        index_clock = self.clocks[-1]
        # the spread of each clock: n * sum(x^2) - sum(x)^2 (> 0: the clock moved)
        spread = n * clock.sum_xx - clock.sum_x * clock.sum_x
        index_spread = n * index_clock.sum_xx - index_clock.sum_x * index_clock.sum_x
        second_clock = clock if clock.name != "index" else None
        floor = max(rules["min_growth"], rules["min_growth_share"] * self.last_total)
        min_grew = min(rules["min_steps"],
                       int(math.ceil(rules["min_grew_share"] * (n - 1))))
        results = []
        for key, entry in self.sums.items():
            last_size = entry.prev_size if entry.prev_index == last_index else 0
            last_count = entry.prev_count if entry.prev_index == last_index else 0
            growth = last_size - entry.first_size
            late_growth = last_size - entry.late_size
            # exact in ints: n * sum(y^2) - sum(y)^2
            y_spread = n * entry.sum_yy - entry.sum_y * entry.sum_y
            slope, r2 = _fit(n * entry.sum_xy[clock_number] - clock.sum_x * entry.sum_y,
                             spread, y_spread)
            slope_per_snapshot, r2_index = _fit(
                n * entry.sum_xy[2] - index_clock.sum_x * entry.sum_y, index_spread, y_spread)
            slope_per_second = slope if second_clock is not None else None
            fit = clock.name
            if r2_index > r2:
                # the work between snapshots, rather than the time, drives the growth (or
                # a snapshot came late: timers run when the program allocates)
                slope, r2, fit = slope_per_snapshot, r2_index, "index"
            verdict = _verdict(growth, last_size, entry.max_size, entry.first_size,
                               late_growth, entry.grew, slope, r2, floor, min_grew, rules)
            if verdict != LEAK and not everything:
                continue
            results.append(Leak(
                key_type=self.key_type, traceback=_traceback(self.key_type, key),
                size_growth=growth, count_growth=last_count - entry.first_count,
                first_size=entry.first_size, last_size=last_size, max_size=entry.max_size,
                first_count=entry.first_count, last_count=last_count,
                late_growth=late_growth, grew=entry.grew, intervals=n - 1,
                slope_per_snapshot=slope_per_snapshot, slope_per_second=slope_per_second,
                r2=r2, fit=fit, verdict=verdict, score=max(0, growth) * r2))
        results.sort(key=_rank_key)
        warnings = list(self.warnings)
        if len(self.pids) > 1:
            warnings.append("the snapshots come from %d processes (pids %s): leaks are found "
                            "in the series of one run"
                            % (len(self.pids), ", ".join(str(pid) for pid in sorted(self.pids))))
        duration = None
        if second_clock is not None:
            duration = clock.last - clock.origin
        return LeakList(results, key_type=self.key_type, snapshots=n, clock=clock.name,
                        duration=duration, pids=sorted(self.pids), keys=len(self.sums),
                        first_total=self.first_total, last_total=self.last_total,
                        warnings=warnings, thresholds=rules, sample_bytes=self.sample_bytes)


def _fit(covariance, spread, y_spread):
    """(slope, R2) of a least-squares line from n*Sxy - Sx*Sy, n*Sxx - Sx^2 (> 0) and
    n*Syy - Sy^2."""
    slope = covariance / spread
    if y_spread <= 0:
        return slope, 0.0  # a constant size: no trend to fit
    return slope, min(1.0, max(0.0, (covariance / spread) * (covariance / y_spread)))


def _verdict(growth, last_size, max_size, first_size, late_growth, grew, slope, r2, floor,
             min_grew, rules):
    """"leak", or the first rule the key fails (LEAK_DEFINITION, in its order)."""
    if growth <= 0:
        return NO_GROWTH
    if growth < floor:
        return SMALL
    if max_size - last_size > rules["max_fallback"] * (max_size - first_size):
        return FELL_BACK
    if late_growth < rules["min_late_growth"] * growth:
        return PLATEAU
    if grew < min_grew:
        return RARE
    if slope <= 0 or r2 < rules["min_r2"]:
        return NOISY
    return LEAK


def _rank_key(leak):
    # leaks first, then by score; ties by growth, then by key for a stable order
    return (leak.verdict != LEAK, -leak.score, -leak.size_growth, leak.traceback)


def _traceback(key_type, key):
    if key_type == "traceback":
        return Traceback(key)
    return Traceback((key,))


def _thresholds(given):
    """DEFAULTS updated with *given* (None: the default), checked: ValueError names the
    first that is out of range."""
    rules = dict(DEFAULTS)
    for name, value in given.items():
        if name not in DEFAULTS:
            raise TypeError("unexpected keyword argument %r" % name)
        if value is not None:
            rules[name] = value
    for name, value in rules.items():
        if isinstance(value, bool) or not isinstance(value, (float,) + _INT_TYPES):
            raise TypeError("%s must be a number, not %s" % (name, type(value).__name__))
        if not value >= 0:  # also refuses NaN
            raise ValueError("%s must be 0 or more, not %r" % (name, value))
        if name in ("min_growth_share", "max_fallback", "min_late_growth", "min_grew_share",
                    "min_r2") and value > 1:
            raise ValueError("%s must be a fraction from 0 to 1, not %r" % (name, value))
    return rules



def find_leaks(snapshots, key_type="lineno", include=None, exclude=None, own_files=False,
               everything=False, progress=None, **thresholds):
    """Find the leaks over a series of snapshots, taken in this order (time order).

    *snapshots*: a sequence of at least 3 Snapshot objects or snapshot file names (any
    format and version; files are loaded one at a time with Snapshot.load(), so thousands
    of them fit in the memory of a few). *key_type*: "lineno" (per line: snapshots of
    statistics only work), "filename" or "traceback" (needs snapshots with traces).

    Returns a LeakList, a list of Leak ranked most likely leak first, with what was learnt
    about the series. A leak (LEAK_DEFINITION) keeps growing until the end of the series:
    steadily, slowly or in steps; a cache that fills then plateaus, or memory that rises
    and falls back, is not. The thresholds of the rules are keyword arguments, each None
    or left out for its default (DEFAULTS):

    - ``min_growth`` (4096 bytes) and ``min_growth_share`` (0.0005 of the memory of the
      last snapshot): the growth, last - first, must reach both;
    - ``max_fallback`` (0.25): the last size is at most this share of the growth below the
      maximum;
    - ``min_late_growth`` (0.1): at least this share of the growth happens in the last
      third of the series;
    - ``min_grew_share`` (0.5) or ``min_steps`` (3): grew in at least this share of the N-1
      intervals, or in at least this many of them;
    - ``min_r2`` (0.5): R squared of the least-squares line of the size against the
      snapshot times (the ``time`` attribute, else the ``timestamp``) or against the index,
      the better of the two, whose slope must be positive.

    *include*, *exclude*: fnmatch patterns of file names (the most recent frame's), as
    ``python -m tracemalloc --include/--exclude``. The package's own files (OWN_FILES:
    the work of TakeSnapshot and of the snapshots) are left out unless *own_files*.
    *everything*: return every key, each with its verdict, leaks first. *progress*: called
    as progress(number, total, name) before each snapshot is read (number from 1; name: the
    file name, or "snapshot NUMBER" for a Snapshot object).

    ValueError: fewer than 3 snapshots, an unknown key type, a threshold out of range,
    "traceback" with a snapshot without traces; SnapshotError: a file cannot be loaded.
    """
    if isinstance(snapshots, _TEXT_TYPES):
        raise TypeError("snapshots must be a sequence of snapshots or file names, not a str")
    if not hasattr(snapshots, "__len__"):
        snapshots = list(snapshots)
    count = len(snapshots)
    if count < 3:
        raise ValueError("find_leaks() needs a series of at least 3 snapshots (%d given): "
                         "growth from one snapshot to the next does not tell a leak from a "
                         "cache" % count)
    rules = _thresholds(thresholds)  # refused before the first file is read
    if isinstance(include, _TEXT_TYPES):
        include = [include]
    if isinstance(exclude, _TEXT_TYPES):
        exclude = [exclude]
    names = [item if isinstance(item, _TEXT_TYPES) else "snapshot %d" % (index + 1)
             for index, item in enumerate(snapshots)]
    finder = _LeakFinder(count, key_type, include, exclude, own_files, names)
    for index, item in enumerate(snapshots):
        if progress is not None:
            progress(index + 1, count, names[index])
        if isinstance(item, _TEXT_TYPES):
            snapshot = tracemalloc.Snapshot.load(item)
        elif isinstance(item, tracemalloc.Snapshot):
            snapshot = item
        else:
            raise TypeError("snapshots[%d] is a %s, not a Snapshot or a file name"
                            % (index, type(item).__name__))
        finder.add(snapshot)
        del snapshot  # before the next one is loaded
    return finder.leaks(everything, **rules)


# ---------------------------------------------------------------------------------------------
# Output: the table of python -m tracemalloc --leaks, and JSON
# ---------------------------------------------------------------------------------------------

_KEY_WORDS = {"lineno": ("per line", "lines", "line"),
              "filename": ("per file", "files", "file"),
              "traceback": ("per traceback", "tracebacks", "traceback")}


def _describe(leaks):
    """The header line: the series, the clock, the count of leaks."""
    words = _KEY_WORDS.get(leaks.key_type, ("", "keys", "key"))
    pids = leaks.pids
    process = ("of pid %s" % pids[0] if len(pids) == 1
               else "of %d processes" % len(pids) if pids else "")
    if leaks.clock == "index":
        span = "(times unknown: fitted against the snapshot order)"
    else:
        span = "over %.1f s" % leaks.duration
        if leaks.clock == "timestamp":
            span += " (timestamps to the second)"
    found = sum(1 for leak in leaks if leak.is_leak)
    parts = ["%d snapshots" % leaks.snapshots]
    if process:
        parts.append(process)
    parts.append(span)
    text = ("%s, %s: %d %s among %d %s"
            % (" ".join(parts), words[0], found, "leak" if found == 1 else "leaks",
               leaks.keys, words[1]))
    estimated = _sampling.header(getattr(leaks, "sample_bytes", 0))
    return text + ", " + estimated if estimated is not None else text


def format_leaks(leaks, limit=None, filename_parts=0):
    """The text table of *leaks* (a LeakList), as lines without newline: a header line, then
    a row per leak: rank, size growth, the slope per second (or per snapshot when the times
    are unknown), grew k/N-1, R2, count growth, the verdict when not a leak, and the key
    (per traceback, its frames on the following lines). *limit*: the most rows shown."""
    lines = [_describe(leaks)]
    shown = list(leaks[:limit] if limit is not None else leaks)
    if not shown:
        lines.append("no leak found: nothing kept growing until the last snapshot "
                     "(python -m tracemalloc --help tells what a leak is)")
        return lines
    per_second = leaks.clock != "index"
    width = len(str(leaks.snapshots - 1))
    with_verdict = any(not leak.is_leak for leak in leaks)
    header = ["#", "growth", "per second" if per_second else "per snapshot", "grew", "R2",
              "count"]
    if with_verdict:
        header.append("verdict")
    rows = [header]
    for rank, leak in enumerate(shown, 1):
        rate = leak.slope_per_second if per_second else leak.slope_per_snapshot
        row = [str(rank), _format_size(leak.size_growth, True),
               _format_size(rate, True) + ("/s" if per_second else ""),
               "%*d/%d" % (width, leak.grew, leak.intervals), "%.2f" % leak.r2,
               "%+d" % leak.count_growth]
        if with_verdict:
            row.append(leak.verdict)
        rows.append(row)
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    # numbers to the right, the verdict to the left; the key last, unpadded
    verdict_column = 6 if with_verdict else None
    where_title = _KEY_WORDS.get(leaks.key_type, ("", "", "key"))[2]
    for number, row in enumerate(rows):
        cells = [cell.ljust(size) if column == verdict_column else cell.rjust(size)
                 for column, (cell, size) in enumerate(zip(row, widths))]
        if not number:
            lines.append("  ".join(cells) + "  " + where_title)
            continue
        leak = shown[number - 1]
        lines.append("  ".join(cells) + "  " + _where(leak, filename_parts))
        if leak.key_type == "traceback":
            # the frames, oldest first as Python prints them, with their source lines
            lines.extend("      " + _display_filename(line)
                         for line in leak.traceback.format())
    if len(shown) < len(leaks):
        lines.append("(%d more not shown)" % (len(leaks) - len(shown)))
    return lines


def _where(leak, parts):
    name = _display_filename(leak.filename)
    name = _shorten_filename(name, parts)
    if leak.key_type == "filename":
        return name
    return "%s:%s" % (name, leak.lineno)


def leaks_to_json(leaks):
    """The JSON text of *leaks* (a LeakList, or any list of Leak): an object with the
    series (format "pytracemalloc.leaks", version 1, key_type, snapshots, clock, duration,
    pids, keys, first_total, last_total, warnings, thresholds, sample_bytes; null when
    unknown) and
    "leaks", a list of objects with a "rank" (1 first) and every attribute of Leak (the
    traceback as [filename, lineno] pairs, oldest frame first)."""
    document = {"format": "pytracemalloc.leaks", "version": 1}
    for name in ("key_type", "snapshots", "clock", "duration", "pids", "keys", "first_total",
                 "last_total", "warnings", "thresholds", "sample_bytes"):
        document[name] = getattr(leaks, name, None)
    entries = []
    for rank, leak in enumerate(leaks, 1):
        entry = leak.to_dict()
        entry["rank"] = rank
        entries.append(entry)
    document["leaks"] = entries
    # the separators of Python 3 (Python 2 writes ", " at the end of lines with indent)
    return json.dumps(document, indent=2, sort_keys=True, separators=(",", ": "))
