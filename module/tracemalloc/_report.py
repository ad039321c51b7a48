"""The report over a series of snapshots: what ``python -m tracemalloc --html``/``--plot`` and
write_report() show, computed here once and drawn by tracemalloc/_report_html.py (one
self-contained HTML file) and tracemalloc/_report_svg.py (memory over time as SVG).

The snapshots are read one at a time (ReportBuilder.add): only small columns per snapshot
are kept, plus the few snapshots the flame graph needs, so a series of hundreds of big
snapshots fits in memory. What is embedded is bounded (the top lines' series, the table's
rows, the flame graph's nodes), each cut said in the report's notes.
"""
from __future__ import absolute_import, division

import sys
import time
from array import array

import tracemalloc
from tracemalloc._compat import _INT_TYPES, _PY2, _TEXT_TYPES
from tracemalloc._grouping import _group_traces
from tracemalloc import _sampling
from tracemalloc._output import _Progress
from tracemalloc._types import _format_size

__all__ = ["write_report"]

# What the report embeds at most (ReportBuilder's defaults; the notes of the report say
# when a cut was made).
DEFAULT_TOP = 10  # lines drawn over time
TABLE_ROWS = 1000  # lines of the table
FLAME_SNAPSHOTS = 25  # snapshots whose flame graph is kept (first, last, evenly spaced)
FLAME_NODES = 5000  # nodes of the flame graph, all sources together
FLAME_MIN_FRACTION = 0.001  # a frame smaller than this in every source merges into "other"

_NUMBER_TYPES = _INT_TYPES + (float,)


def _number(value):
    """*value* if it is a number (not a bool), else None."""
    if isinstance(value, _NUMBER_TYPES) and not isinstance(value, bool):
        return value
    return None


def _text(value):
    """A file name or label as text for JSON and SVG: Python 2's bytes are decoded (UTF-8,
    undecodable bytes replaced); Python 3's surrogate escapes become U+FFFD."""
    if _PY2 and isinstance(value, str):
        return value.decode("utf-8", "replace")
    if not isinstance(value, _TEXT_TYPES):
        return u"%s" % (value,)
    if not _PY2:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace") \
            if any(u"\udc80" <= char <= u"\udcff" for char in value) else value
    return value


def snapshot_time(snapshot):
    """Seconds since the epoch of *snapshot*: its extra attribute ``time`` (a number) when
    set, else its ``timestamp`` ("YYYY-MM-DD HH:MM:SS", local time), else None."""
    value = _number(getattr(snapshot, "time", None))
    if value is not None:
        return float(value)
    timestamp = snapshot.timestamp
    if isinstance(timestamp, _TEXT_TYPES):
        try:
            return time.mktime(time.strptime(timestamp, "%Y-%m-%d %H:%M:%S"))
        except (ValueError, OverflowError):
            return None
    return None


def _freelist_size(snapshot):
    value = getattr(snapshot, "freelist_memory", None)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return _number(value[0])
    return None


class _FlameSource(object):
    """The tracebacks of one snapshot kept for the flame graph: (kind, [(frames, size)]),
    frames most recent first; kind "traceback" (from traces) or "lines" (from stats: one
    frame per group)."""

    def __init__(self, index, snapshot):
        self.index = index
        if snapshot.traces is not None:
            self.kind = "traceback"
            self.groups = [(key, size) for key, size, count
                           in _group_traces(snapshot.traces._traces, "traceback", False)]
        else:
            self.kind = "lines"
            self.groups = [(((filename, lineno),), size)
                           for filename, lines in snapshot.stats.items()
                           for lineno, (size, count) in lines.items()]

    def line_groups(self):
        """The groups by the most recent frame only (a traceback source seen as lines)."""
        if self.kind == "lines":
            return self.groups
        sizes = {}
        for frames, size in self.groups:
            frame = frames[0] if frames else ("<unknown>", 0)
            sizes[frame] = sizes.get(frame, 0) + size
        return [((frame,), size) for frame, size in sizes.items()]


class ReportBuilder(object):
    """Build the report of a series of *count* snapshots given one at a time, in time order.

        builder = ReportBuilder(len(files))
        for name in files:
            builder.add(name, tracemalloc.Snapshot.load(name))
        report = builder.finish()   # a dict, see finish()

    *top*: lines drawn over time; *table_rows*: rows of the table of lines;
    *flame_snapshots*: snapshots selectable in the flame graph (first, last and evenly
    spaced; the peak is added); *flame_nodes*, *flame_min_fraction*: bounds of the flame
    graph (smaller frames merge into "other").
    """

    def __init__(self, count, top=DEFAULT_TOP, table_rows=TABLE_ROWS,
                 flame_snapshots=FLAME_SNAPSHOTS, flame_nodes=FLAME_NODES,
                 flame_min_fraction=FLAME_MIN_FRACTION, leaks=None, include=(),
                 exclude=()):
        if count < 1:
            raise ValueError("a report needs at least one snapshot")
        self.count = count
        self.top = top
        self.table_rows = table_rows
        self.flame_nodes = flame_nodes
        self.flame_min_fraction = flame_min_fraction
        wanted = max(2, min(count, flame_snapshots))
        self._flame_planned = set(int(round(k * (count - 1) / (wanted - 1)))
                                  for k in range(wanted))
        self.names = []
        self.timestamps = []
        self.times = []
        self.traced = []
        self.rss = []
        self.freelists = []
        self.tracer = []
        self.lost = []
        self.pids = []
        self.has_traces = []
        self.sample_bytes = []  # each snapshot's (0: exact)
        # lines: key -> index; per snapshot, the size of each line (array of doubles, indexed
        # by line, as long as the lines known then); each line's peak and where
        self._line_ids = {}
        self._line_keys = []
        self._sizes = []
        self._peak = array("d")
        self._peak_at = array("l")
        self._first_counts = {}
        self._last_counts = {}
        self._flame_sources = {}
        self._peak_snapshot = None  # (index, snapshot) with the highest traced total so far
        # the peaks that TakeSnapshot(peak=True) stored in the snapshots (Snapshot.peak_snapshot):
        # the total of each, and (index, snapshot) of the highest
        self.recorded_peaks = []
        self._recorded_peak = None
        self._recorded_problem = None
        self._include = list(include or ())  # the filters, applied to the stored peak
        self._exclude = list(exclude or ())
        # the leaks: find_leaks()'s streaming finder, fed the same snapshots (read once)
        self._leak_options = dict(leaks or {})
        self._leak_finder = None
        self._leak_problem = None
        if count < 3:
            self._leak_problem = ("leaks: a series of at least 3 snapshots is needed to tell "
                                  "a leak from a cache")
        else:
            from tracemalloc import _leaks
            self._leak_finder = _leaks._LeakFinder(
                count, self._leak_options.pop("key_type", None) or "lineno", (), (),
                self._leak_options.pop("own_files", False), self.names)

    def add(self, name, snapshot):
        """Add the next snapshot of the series (*name*: its label, e.g. the file name)."""
        index = len(self.names)
        if index >= self.count:
            raise ValueError("more snapshots than announced (%d)" % self.count)
        self.names.append(_text(name))
        timestamp = snapshot.timestamp
        self.timestamps.append(_text(timestamp) if timestamp is not None else None)
        self.times.append(snapshot_time(snapshot))
        self.rss.append(_number(snapshot.process_memory))
        self.tracer.append(_number(snapshot.tracemalloc_memory))
        self.freelists.append(_freelist_size(snapshot))
        self.lost.append(_number(getattr(snapshot, "lost_traces", None)))
        self.pids.append(_number(snapshot.pid))
        self.has_traces.append(snapshot.traces is not None)
        sample_bytes = getattr(snapshot, "sample_bytes", 0)
        self.sample_bytes.append(sample_bytes if isinstance(sample_bytes, _INT_TYPES) else 0)

        ids = self._line_ids
        keys = self._line_keys
        peak = self._peak
        peak_at = self._peak_at
        sizes = array("d", [0.0]) * len(keys)
        counts = {}
        total = 0
        for filename, lines in snapshot.stats.items():
            for lineno, (size, count) in lines.items():
                key = (filename, lineno)
                line = ids.get(key)
                if line is None:
                    line = ids[key] = len(keys)
                    keys.append(key)
                    sizes.append(0.0)
                    peak.append(0.0)
                    peak_at.append(0)
                # (filename, lineno) is unique in stats: one size per line and snapshot
                sizes[line] = size
                counts[line] = count
                total += size
                if size > peak[line]:
                    peak[line] = size
                    peak_at[line] = index
        self._sizes.append(sizes)
        self.traced.append(total)
        if index == 0:
            self._first_counts = counts
        self._last_counts = counts

        if self._leak_finder is not None:
            try:
                self._leak_finder.add(snapshot)
            except ValueError as exc:  # per traceback, a snapshot without traces
                self._leak_finder = None
                self._leak_problem = "leaks: %s" % exc
        if index in self._flame_planned:
            self._flame_sources[index] = _FlameSource(index, snapshot)
        if self._peak_snapshot is None or total > self.traced[self._peak_snapshot[0]]:
            self._peak_snapshot = (index, snapshot)
        recorded = self._stored_peak_total(index, snapshot)
        self.recorded_peaks.append(recorded)
        if recorded is not None and (self._recorded_peak is None
                                     or recorded > self.recorded_peaks[self._recorded_peak[0]]):
            self._recorded_peak = (index, snapshot)

    def _stored_peak_total(self, index, snapshot):
        """The total of the peak stored in *snapshot* by TakeSnapshot(peak=True), after the
        filters, or None."""
        from tracemalloc import _peak
        from tracemalloc._errors import _Problem
        try:
            raw, stats = _peak.stored_peak(snapshot, False)
        except _Problem as exc:  # attributes of the wrong shape, set by hand
            self._recorded_problem = "peak of %s: %s" % (self.names[index], exc)
            return None
        if stats is None:
            return None
        if self._include or self._exclude:
            stats = self._filtered(tracemalloc.Snapshot(stats=stats)).stats
        return sum(size for lines in stats.values() for size, count in lines.values())

    def _filtered(self, snapshot):
        if self._include:
            snapshot.filter_filenames(self._include, True)
        if self._exclude:
            snapshot.filter_filenames(self._exclude, False)
        return snapshot

    # -- the report --------------------------------------------------------------------------

    def finish(self):
        """The report as a dict of JSON-ready values: ``snapshots`` (name, timestamp, x),
        ``x_kind`` ("time": seconds since the first snapshot, or "index"), ``memory`` (the
        series of memory over time), ``top_lines``, ``table``, ``flame`` and ``notes``."""
        if len(self.names) != self.count:
            raise ValueError("%d snapshots announced, %d added" % (self.count, len(self.names)))
        # imported here: the package is imported at startup (PYTRACEMALLOC), ast is not needed
        from tracemalloc._scopes import ScopeFinder
        notes = []
        scopes = ScopeFinder()
        report = {
            "title": "Memory report: %d snapshot%s" % (self.count, "s" if self.count > 1 else ""),
            "generator": "pytracemalloc %s" % tracemalloc.__version__,
            "snapshots": [{"name": name, "timestamp": timestamp}
                          for name, timestamp in zip(self.names, self.timestamps)],
            "notes": notes,
        }
        report["x_kind"], report["x"], report["start"] = self._x_axis(notes)
        report["memory"] = self._memory()
        lines = self._lines(scopes, notes)
        report["top_lines"], report["table"] = lines
        report["flame"] = self._flame(scopes, notes)
        report["leaks"] = self._leaks(scopes, notes)
        sampled = [value for value in self.sample_bytes if value]
        if sampled:
            report["sample_bytes"] = max(sampled)
            which = ("all %d snapshots" % self.count if len(sampled) == self.count
                     else "%d of the %d snapshots" % (len(sampled), self.count))
            notes.insert(0, "%s: %s were taken in sampling mode, their sizes and counts are "
                         "estimates" % (_sampling.header(max(sampled)), which))
        lost = [value for value in self.lost if value]
        if lost:
            notes.append("%d snapshot%s lost traces for lack of memory (up to %d): their "
                         "statistics are incomplete" % (len(lost), "s" if len(lost) > 1 else "",
                                                         max(lost)))
        pids = set(pid for pid in self.pids if pid is not None)
        if len(pids) > 1:
            notes.append("the snapshots come from %d different processes (pids %s)"
                         % (len(pids), ", ".join(str(pid) for pid in sorted(pids)[:10])))
        return report

    def _x_axis(self, notes):
        """("time", seconds since the first snapshot, its timestamp) when every snapshot has a
        time and each is later than the one before, else ("index", 0..n-1, None).
        (timestamp has whole seconds: snapshots taken within a second are told apart by
        their number.)"""
        times = self.times
        if all(value is not None for value in times) and all(
                b > a for a, b in zip(times, times[1:])):
            start = times[0]
            return "time", [round(value - start, 3) for value in times], \
                self.timestamps[0] or time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(start))
        if self.count > 1:
            if any(value is None for value in times):
                why = "some snapshots have no time"
            else:
                why = "some snapshots were taken at the same second or out of order"
            notes.append("x axis: snapshot number (%s)" % why)
        return "index", list(range(self.count)), None

    def _memory(self):
        series = [
            ("traced", "traced memory", self.traced),
            ("rss", "process memory (RSS)", self.rss),
            ("freelists", "free lists", self.freelists),
            ("tracer", "tracemalloc memory", self.tracer),
        ]
        series.append(("peak", "peak of traced memory (recorded)", self.recorded_peaks))
        return [{"id": key, "label": label,
                 "values": [int(value) if value is not None else None for value in values]}
                for key, label, values in series
                if any(value is not None for value in values)]

    def _line_label(self, scopes, filename, lineno):
        return {"file": _text(filename), "line": lineno,
                "scope": scopes.scope(filename, lineno)}

    def _lines(self, scopes, notes):
        keys = self._line_keys
        peak = self._peak
        order = sorted(range(len(keys)), key=lambda line: (-peak[line], keys[line]))
        first = self._sizes[0]
        last = self._sizes[-1]

        def size_in(sizes, line):
            return int(sizes[line]) if line < len(sizes) else 0

        top = order[:self.top]
        other = list(self.traced)
        series = []
        for line in top:
            values = [size_in(sizes, line) for sizes in self._sizes]
            for index, value in enumerate(values):
                other[index] -= value
            item = self._line_label(scopes, *keys[line])
            item["values"] = values
            series.append(item)
        top_lines = {"lines": series, "other": [int(value) for value in other]}

        rows = []
        for line in order[:self.table_rows]:
            row = self._line_label(scopes, *keys[line])
            row["first"] = size_in(first, line)
            row["last"] = size_in(last, line)
            row["peak"] = int(peak[line])
            row["peak_at"] = self._peak_at[line]
            row["count"] = self._last_counts.get(line, 0)
            row["first_count"] = self._first_counts.get(line, 0)
            rows.append(row)
        table = {"rows": rows, "total_lines": len(keys)}
        if len(keys) > self.table_rows:
            notes.append("table: the %d lines of the highest peak out of %d (the rest are "
                         "left out to keep the report small)" % (self.table_rows, len(keys)))
        return top_lines, table

    # -- the leaks ----------------------------------------------------------------------------

    def _leaks(self, scopes, notes):
        """The leak table of find_leaks() (its _LeakFinder, fed by add()), or None."""
        finder = self._leak_finder
        if finder is None:
            if self._leak_problem:
                notes.append(self._leak_problem)
            return None
        self._leak_finder = None
        from tracemalloc import _leaks
        found = finder.leaks(**self._leak_options)
        notes.extend("leaks: %s" % warning for warning in found.warnings)
        rows = []
        for rank, leak in enumerate(found[:self.table_rows], 1):
            filename, lineno = leak.filename, leak.lineno
            row = {"rank": rank, "file": _text(filename),
                   "line": lineno if found.key_type != "filename" else None,
                   "scope": (scopes.scope(filename, lineno)
                             if found.key_type != "filename" else None),
                   "growth": leak.size_growth, "first": leak.first_size,
                   "last": leak.last_size, "count_growth": leak.count_growth,
                   "grew": leak.grew, "r2": round(leak.r2, 4), "score": int(leak.score),
                   "rate": (leak.slope_per_second if leak.slope_per_second is not None
                            else leak.slope_per_snapshot)}
            if found.key_type == "traceback":
                row["frames"] = [[_text(frame.filename), frame.lineno]
                                 for frame in leak.traceback]
            rows.append(row)
        if len(found) > self.table_rows:
            notes.append("leaks: the %d most likely of %d" % (self.table_rows, len(found)))
        return {"rows": rows, "count": len(found), "keys": found.keys,
                "key_type": found.key_type, "intervals": self.count - 1,
                "rate_unit": "s" if found.clock != "index" else "snapshot",
                "clock": found.clock, "definition": _leaks.LEAK_DEFINITION}

    # -- the flame graph ----------------------------------------------------------------------

    def _flame(self, scopes, notes):
        sources = dict(self._flame_sources)
        peak_index, peak_snapshot = self._peak_snapshot
        peak_label = ("peak: snapshot #%d, the highest traced memory of the series (the "
                      "snapshots hold no recorded peak)" % (peak_index + 1))
        peak_key = peak_index
        if self._recorded_problem:
            notes.append(self._recorded_problem)
        if self._recorded_peak is not None:
            index, snapshot = self._recorded_peak
            peak_key = "file"
            sources[peak_key] = _FlameSource(
                None, self._filtered(snapshot.peak_snapshot(traces=True)))
            peak_label = ("peak of traced memory, %s, recorded by snapshot #%d (%s)"
                          % (_format_size(self.recorded_peaks[index]), index + 1,
                             self.names[index]))
        elif peak_index not in sources:
            sources[peak_index] = _FlameSource(peak_index, peak_snapshot)
        self._peak_snapshot = self._recorded_peak = None  # no longer needed
        self._flame_sources = {}

        kind = "traceback"
        if any(source.kind != "traceback" for source in sources.values()):
            kind = "lines"
            if any(source.kind == "traceback" for source in sources.values()):
                notes.append("flame graph: some snapshots have no traces: every source is "
                             "shown per file and line")
        slots = sorted((key for key in sources if key != "file")) + \
            (["file"] if "file" in sources else [])
        tree = _FlameTree(len(slots))
        for slot, key in enumerate(slots):
            source = sources[key]
            groups = source.groups if kind == "traceback" else source.line_groups()
            tree.add(slot, groups, per_file=(kind == "lines"))
        first_slot = 0
        last_slot = slots.index(self.count - 1)
        kept, fraction = tree.prune(self.flame_nodes, self.flame_min_fraction,
                                    (first_slot, last_slot))
        if fraction > self.flame_min_fraction:
            notes.append("flame graph: frames below %.2g%% of their snapshot merged into "
                         "\"other\" to stay under %d nodes" % (fraction * 100, self.flame_nodes))
        flame = tree.export(kept, scopes)
        flame["kind"] = kind
        flame["slots"] = [{"snapshot": key if key != "file" else None} for key in slots]
        flame["first"] = first_slot
        flame["last"] = last_slot
        flame["peak"] = slots.index(peak_key)
        flame["peak_label"] = peak_label
        flame["min_fraction"] = fraction
        return flame


class _FlameTree(object):
    """The union of the call trees of several snapshots (slots): node 0 is the root, each
    other node a frame under its parent (a file then a line for "lines" sources); each slot
    gives each node its self size (the memory allocated at that frame as the most recent)."""

    def __init__(self, slots):
        self.slots = slots
        self.parent = [-1]
        self.frame = [None]
        self.children = [{}]
        self.selfs = [{} for _ in range(slots)]  # per slot: {node: size}

    def _child(self, node, frame):
        child = self.children[node].get(frame)
        if child is None:
            child = len(self.parent)
            self.parent.append(node)
            self.frame.append(frame)
            self.children.append({})
            self.children[node][frame] = child
        return child

    def add(self, slot, groups, per_file):
        selfs = self.selfs[slot]
        for frames, size in groups:
            node = 0
            if not frames:
                frames = (("<unknown>", 0),)
            if per_file:
                filename, lineno = frames[0]
                node = self._child(node, (filename, None))
                node = self._child(node, (filename, lineno))
            else:
                for frame in reversed(frames):  # the outermost frame first
                    node = self._child(node, tuple(frame))
            selfs[node] = selfs.get(node, 0) + size

    def _inclusive(self, slot):
        values = array("d", [0.0]) * len(self.parent)
        for node, size in self.selfs[slot].items():
            values[node] = size
        parent = self.parent
        for node in range(len(parent) - 1, 0, -1):  # children come after their parent
            values[parent[node]] += values[node]
        return values

    def prune(self, max_nodes, fraction, growth_pair):
        """The nodes kept (a set, the root and every ancestor of a kept node included) and
        the fraction used: a node is kept when it is at least *fraction* of its slot's total
        in some slot, or of the growth of the pair *growth_pair* (old, new slots); the
        fraction doubles until at most *max_nodes* are kept."""
        inclusive = [self._inclusive(slot) for slot in range(self.slots)]
        old, new = growth_pair
        grown = array("d", [0.0]) * len(self.parent)
        old_selfs, new_selfs = self.selfs[old], self.selfs[new]
        for node in set(old_selfs) | set(new_selfs):
            grown[node] = max(0, new_selfs.get(node, 0) - old_selfs.get(node, 0))
        for node in range(len(self.parent) - 1, 0, -1):
            grown[self.parent[node]] += grown[node]
        measures = inclusive + [grown]
        while True:
            kept = set([0])
            for values in measures:
                limit = values[0] * fraction
                if values[0] <= 0:
                    continue
                for node in range(1, len(values)):
                    if values[node] >= limit and values[node] > 0:
                        kept.add(node)
            if len(kept) <= max_nodes or fraction >= 1:
                return kept, fraction
            fraction = min(1.0, fraction * 2)

    def export(self, kept, scopes):
        """JSON-ready: ``nodes`` (parent index, file, line, scope; parents first),
        ``values`` (per slot: [node, self size, node, self size...]) and ``totals``. A kept
        node's dropped children become one child "other" holding their whole size."""
        inclusive = [self._inclusive(slot) for slot in range(self.slots)]
        new_index = {}
        nodes = []
        other_of = {}
        values = [[] for _ in range(self.slots)]
        for node in range(len(self.parent)):
            if node not in kept:
                continue
            new_index[node] = len(nodes)
            frame = self.frame[node]
            parent = new_index[self.parent[node]] if node else -1
            if frame is None:
                nodes.append([parent, None, None, None])
            else:
                filename, lineno = frame
                scope = scopes.scope(filename, lineno) if lineno is not None else None
                nodes.append([parent, _text(filename), lineno, scope])
            for slot in range(self.slots):
                size = self.selfs[slot].get(node)
                if size:
                    values[slot].extend((new_index[node], int(size)))
        # the dropped children of kept nodes
        for node in range(1, len(self.parent)):
            if node in kept or self.parent[node] not in kept:
                continue
            parent = self.parent[node]
            other = other_of.get(parent)
            if other is None:
                other = other_of[parent] = len(nodes)
                nodes.append([new_index[parent], "other", None, None])
            for slot in range(self.slots):
                size = inclusive[slot][node]
                if size:
                    values[slot].extend((other, int(size)))
        return {"nodes": nodes, "values": values,
                "totals": [int(inclusive[slot][0]) for slot in range(self.slots)]}


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------

def _load(filename, include=(), exclude=()):
    snapshot = tracemalloc.Snapshot.load(filename)
    if include:
        snapshot.filter_filenames(list(include), True)
    if exclude:
        snapshot.filter_filenames(list(exclude), False)
    return snapshot


def build_report(snapshots, names=None, progress=None, include=(), exclude=(), count=None,
                 **options):
    """The report (a dict, ReportBuilder.finish()) of *snapshots*, Snapshot objects or
    snapshot file names (loaded one at a time), in time order: a sequence, or any iterable
    when *count* says how many it yields. *names* labels them (default: the file names, or
    "snapshot N"). *progress*, if set, is called with (index, count, name) before each
    snapshot is read. *include*/*exclude*: fnmatch patterns of file names
    (Snapshot.filter_filenames). Other keywords go to ReportBuilder."""
    if count is None:
        snapshots = list(snapshots)
        count = len(snapshots)
    builder = ReportBuilder(count, include=include, exclude=exclude, **options)
    for index, item in enumerate(snapshots):
        if names is not None:
            name = names[index]
        elif isinstance(item, _TEXT_TYPES):
            name = item
        else:
            name = "snapshot %d" % (index + 1)
        if progress is not None:
            progress(index, count, name)
        if isinstance(item, _TEXT_TYPES):
            item = _load(item, include, exclude)
        elif include or exclude:
            item = item.filter_traces([])  # a copy: the caller's snapshot stays as it is
            if include:
                item.filter_filenames(list(include), True)
            if exclude:
                item.filter_filenames(list(exclude), False)
        builder.add(name, item)
        item = None
    return builder.finish()


def write_report(snapshots, html=None, plot=None, names=None, top=DEFAULT_TOP,
                 key_type="lineno"):
    """Write the report of a series of snapshots: *html*, a self-contained HTML file (memory
    over time, the top *top* lines over time, the table of lines with their growth, the
    leaks that find_leaks() finds per *key_type*, a flame graph of the last snapshot, the
    peak and the growth between two snapshots); *plot*, an SVG image of the memory over
    time. *snapshots*: Snapshot objects or snapshot file names, in time order (files are
    read one at a time). Raises SnapshotError for a file that cannot be read,
    EnvironmentError if an output cannot be written. Returns the report's data (a dict)."""
    if html is None and plot is None:
        raise ValueError("nothing to write: give html, plot or both")
    report = build_report(snapshots, names=names, top=top, leaks={"key_type": key_type})
    _write_outputs(report, html, plot)
    return report


def _write_outputs(report, html, plot):
    """Write the outputs asked for; EnvironmentError (its filename: the output's name) when
    one cannot be written."""
    from tracemalloc import _report_html, _report_svg
    from tracemalloc._snapfile import atomic_write
    for filename, render in ((html, _report_html.render), (plot, _report_svg.render)):
        if filename is None:
            continue
        payload = render(report).encode("utf-8")
        try:
            atomic_write(filename, payload)
        except EnvironmentError as exc:
            # atomic_write names its temporary file: say the name the user gave
            raise EnvironmentError(exc.errno, exc.strerror or str(exc), filename)


def _leak_options(options):
    """The options of the leak section: those of --leaks (--key-type, --traceback,
    --own-files, the thresholds) that the command line has."""
    from tracemalloc import _leaks
    leaks = {"key_type": "traceback" if options.traceback else options.key_type,
             "own_files": options.own_files}
    for name in _leaks.DEFAULTS:
        leaks[name] = getattr(options, name)
    return leaks


def loading_step(progress):
    """The *progress* callback of build_report() that shows "loading 12/500: FILE" on the
    progress line *progress* (a tracemalloc._output._Progress)."""
    def step(index, count, name):
        progress.step("loading %d/%d: %s" % (index + 1, count, name))
    return step


def run_cli(options, error):
    """``python -m tracemalloc --html FILE --plot FILE SNAPSHOT...``: *options* from its
    parser; *error(message)* prints one error line. Returns the exit status: 0, or 1 when a
    snapshot cannot be read or an output cannot be written."""
    progress = _Progress(sys.stderr)
    try:
        report = build_report(options.snapshots, progress=loading_step(progress),
                              include=options.include, exclude=options.exclude,
                              top=options.number or DEFAULT_TOP, leaks=_leak_options(options))
    except tracemalloc.SnapshotError as exc:
        progress.done()
        error(str(exc))
        return 1
    progress.done()
    try:
        _write_outputs(report, options.html, options.plot)
    except EnvironmentError as exc:
        error("%s: cannot write: %s" % (exc.filename, exc.strerror))
        return 1
    return 0
