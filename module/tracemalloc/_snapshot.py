"""Snapshot: the traces and/or the statistics per line of one moment, with both APIs (the
stdlib's statistics(), compare_to(), filter_traces(), dump() and load(); pytracemalloc's
create(), write(), filter_filenames(), peak_snapshot() and metadata). Its files go through
tracemalloc/_snapfile.py; the peak's traces through tracemalloc/_peak.py.
"""
from __future__ import absolute_import

import fnmatch

import tracemalloc
from tracemalloc import _checks, _peak, _sampling, _snapfile
from tracemalloc._compat import _TEXT_TYPES, Iterable
from tracemalloc._errors import SnapshotError, _Problem
from tracemalloc._filters import Filter, _filter_traces
from tracemalloc._grouping import _group_traces, _stats_from_traces
from tracemalloc._suspend import _suspended
from tracemalloc._types import Frame, Statistic, StatisticDiff, Trace, Traceback, _Traces

__all__ = ["Snapshot"]


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
    - ``time`` (float): the time of the creation in seconds since the epoch (time.time()),
      precise where ``timestamp`` has seconds only; None when unknown (a stock dump, a file
      of an older pytracemalloc, a snapshot built by hand)
    - ``pid`` (int): the process that created the snapshot
    - ``process_memory`` (int): get_process_memory() at creation
    - ``tracemalloc_memory`` (int): get_tracemalloc_memory() at creation: the engine's
      tables and the tracer's own memory (what its tools allocated with tracing suspended)
    - ``user_data``: list of ``(title, format, value)`` tuples, see create()
    - ``lost_traces`` (int): get_lost_traces() at creation, the traces the engine failed to
      record for lack of memory since tracing started (not 0: the statistics are
      incomplete); None when unknown (a stock dump, a file of an older pytracemalloc, a
      snapshot built by hand or taken while not tracing)
    - ``peak`` (bool, default False): True for a snapshot of the allocations at the peak
      of traced memory (get_peak_snapshot(), create(peak=True), peak_snapshot()); its
      other attributes are those of the moment it was taken
    - ``sample_bytes`` (int, default 0): taken while sampling (start(sample_bytes=N)), N:
      its sizes and counts are estimates (tracemalloc/_sampling.py); kept by snapshot files
      as an extra attribute, as lost_traces (a file without it is exact)
    - ``peak_stats``, ``peak_traces``: only in a snapshot of TakeSnapshot(peak=True), the
      peak since tracing started or was reset; peak_snapshot() makes a Snapshot of them

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

    __module__ = "tracemalloc"

    # Class-level defaults: a stock Snapshot unpickled with plain pickle.load() (only traces
    # and traceback_limit in its __dict__) still has every attribute.
    traces = None
    traceback_limit = None
    timestamp = None
    pid = None
    process_memory = None
    tracemalloc_memory = None
    user_data = ()
    # Set on the instance by take_snapshot() and create(), and kept by snapshot files as an
    # extra attribute (a file of another version reads it as one): the class default makes
    # it None on any other snapshot.
    lost_traces = None
    time = None  # the same, for the precise time of take_snapshot() and create()
    # Set to True on the instance by the snapshots of the peak, and kept by snapshot files
    # as an extra attribute, as lost_traces.
    peak = False
    # Set on the instance by take_snapshot() and create() while sampling, and kept by files.
    sample_bytes = 0
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
            if self.sample_bytes:
                stats = _sampling.stats_from_traces(raw, self.sample_bytes)
            else:
                stats = _stats_from_traces(raw)
            cached = self._derived_stats = (raw, stats)
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
        if "lost_traces" in vars(self):
            other.lost_traces = self.lost_traces  # the traces kept are no more complete
        if "time" in vars(self):
            other.time = self.time
        if "peak" in vars(self):
            other.peak = self.peak  # the traces kept are still those of the peak
        if "sample_bytes" in vars(self):
            other.sample_bytes = self.sample_bytes  # still weighted
        other._checked = self._checked

    # -- pytracemalloc ---------------------------------------------------------------------

    @classmethod
    def create(cls, user_data_callback=None, traces=False, peak=False, memory_breakdown=False):
        """Take a snapshot of the current allocations (empty when not tracing).

        Records ``stats`` (computed by the engine), and with *traces* the traces too (then
        ``stats`` is derived from them). *user_data_callback*, if set, is called without
        argument and must return a list of ``(title: str, format: str, value: int)``;
        format "size" displays value as a size, any other format as an integer. Items are
        matched by title to compute differences. Example: ``[('Video memory', 'size',
        234902)]``.

        With *peak*, the allocations at the peak of traced memory instead of the current
        ones (see get_peak_snapshot(), which raises when not tracing), and ``peak = True``.

        With *memory_breakdown*, also where the resident memory of the process goes now,
        get_memory_breakdown().as_dict(), as the extra attribute ``memory_breakdown``
        (kept by snapshot files; DisplayTop and the command line show it). It costs a
        capture of sys._debugmallocstats().

        A snapshot that you create and keep is your memory, as one of take_snapshot(): it
        is traced, and shows in the next snapshots while you keep it. DisplayTop and
        TakeSnapshot create theirs with tracing suspended: those are the tracer's memory.
        """
        if peak and traces:
            snapshot = cls(_peak.traces_from_groups(tracemalloc._get_peak_traces()),
                           tracemalloc.get_traceback_limit())
        elif peak:
            snapshot = cls(stats=tracemalloc._get_peak_stats())
        elif traces:
            snapshot = cls(tracemalloc._get_traces(), tracemalloc.get_traceback_limit())
        else:
            snapshot = cls(stats=tracemalloc.get_stats())
        if peak:
            snapshot.peak = True
        snapshot._checked = True
        if user_data_callback is not None:
            snapshot.user_data = [tuple(item) for item in user_data_callback()]
        tracemalloc._record_moment(snapshot)
        if memory_breakdown:
            snapshot.memory_breakdown = tracemalloc.get_memory_breakdown().as_dict()
        return snapshot

    def peak_snapshot(self, traces=True):
        """The snapshot of the peak that TakeSnapshot(peak=True) stored with this one (its
        ``peak_traces`` and ``peak_stats`` attributes): the allocations at the peak of
        traced memory since tracing started or the peak was reset, up to the moment this
        snapshot was taken. None if this snapshot holds no peak.

        The result has ``peak = True``, traces when this snapshot has ``peak_traces`` and
        *traces* is true (as get_peak_snapshot() builds them), else statistics per line, and
        the metadata of this snapshot (timestamp, pid, process memory...). ValueError if
        those attributes were set to values of the wrong shape (a file's are checked when
        it is read).
        """
        try:
            raw, stats = _peak.stored_peak(self, traces, self.sample_bytes)
        except _Problem as exc:
            raise ValueError(str(exc))
        if raw is None and stats is None:
            return None
        if raw is not None:
            snapshot = Snapshot(raw, self.traceback_limit)
        else:
            snapshot = Snapshot(stats=stats, traceback_limit=self.traceback_limit)
        self._copy_metadata(snapshot)
        if "freelist_memory" in vars(self):
            snapshot.freelist_memory = self.freelist_memory
        snapshot.peak = True
        snapshot._checked = True
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

    def _raw_groups(self, key_type, cumulative):
        """The groups of the traces by *key_type*, as the stdlib makes them: a list of (raw
        key, size, count), a raw key being the tuple of frames of a Traceback, most recent
        first (each key once)."""
        if key_type not in ("traceback", "filename", "lineno"):
            raise ValueError("unknown key_type: %r" % (key_type,))
        if cumulative and key_type not in ("lineno", "filename"):
            raise ValueError("cumulative mode cannot by used with key type %r" % key_type)
        if self.traces is None:
            return self._group_stats(key_type, cumulative)
        if self.sample_bytes:
            return _sampling.group_traces(self.traces._traces, key_type, cumulative,
                                          self.sample_bytes)
        return _group_traces(self.traces._traces, key_type, cumulative)

    def _group_by(self, key_type, cumulative):
        """{Traceback: Statistic} of the traces grouped by *key_type*, as the stdlib."""
        stats = {}
        for key, size, count in self._raw_groups(key_type, cumulative):
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
        # Sorted as raw tuples, compared in C, before any object is made: the order of
        # Statistic._sort_key() (a Traceback compares as its frames, oldest first); no two
        # groups have equal frames.
        rows = [(size, count, tuple(reversed(key)))
                for key, size, count in self._raw_groups(key_type, cumulative)]
        rows.sort(reverse=True)
        from_frames = Traceback._from_oldest_first
        return [Statistic(from_frames(frames), size, count) for size, count, frames in rows]

    def compare_to(self, old_snapshot, key_type, cumulative=False):
        """Differences with *old_snapshot*: a list of StatisticDiff grouped by *key_type*,
        biggest change first (sorted by absolute size difference, size, absolute count
        difference, count, then traceback, reversed)."""
        # As statistics(): the groups matched by their raw keys (tuples, hashed and compared
        # in C) and sorted as raw tuples in the order of StatisticDiff._sort_key(), then
        # made objects.
        new_groups = self._raw_groups(key_type, cumulative)
        old = {}
        for key, size, count in old_snapshot._raw_groups(key_type, cumulative):
            old[key] = (size, count)
        rows = []
        for key, size, count in new_groups:
            previous = old.pop(key, None)
            if previous is None:
                size_diff, count_diff = size, count
            else:
                size_diff, count_diff = size - previous[0], count - previous[1]
            rows.append((abs(size_diff), size, abs(count_diff), count, tuple(reversed(key)),
                         size_diff, count_diff))
        for key, (size, count) in old.items():
            rows.append((abs(size), 0, abs(count), 0, tuple(reversed(key)), -size, -count))
        rows.sort(reverse=True)
        from_frames = Traceback._from_oldest_first
        return [StatisticDiff(from_frames(frames), size, size_diff, count, count_diff)
                for _, size, _, count, frames, size_diff, count_diff in rows]

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
                problem = _checks.check_known_attribute(name, value)
                if problem is not None:
                    raise _Problem(problem)
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

        Runs with tracing suspended (it leaves nothing to keep): the memory it allocates is
        the tracer's, so that writing a snapshot never shows in the next one.
        """
        with _suspended():
            fmt = _snapfile.DEFAULT_FORMAT if format is None else format
            data = self._file_data(filename, fmt)
            stdlib_object = None
            if fmt == "stdlib":
                stdlib_object = Snapshot.__new__(Snapshot)
                stdlib_object.__dict__.update(data["attributes"])
                stdlib_object.traces = _Traces(
                    _snapfile.unicode_traces(list(data["traces"])))
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
# set as extra attributes (methods, properties). ``lost_traces``, ``time`` and ``peak``
# have a class default but are extra attributes in files (checked by
# _checks.check_known_attribute()).
_SNAPSHOT_OWN = frozenset(["traces", "traceback_limit", "stats", "timestamp", "pid",
                           "process_memory", "tracemalloc_memory", "user_data"])
_SNAPSHOT_RESERVED = (frozenset(dir(Snapshot)) - frozenset(_checks.KNOWN_ATTRIBUTES)
                      | _SNAPSHOT_OWN)
