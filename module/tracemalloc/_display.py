"""DisplayTop (the biggest allocations, and how they changed since the previous top) and
DisplayGarbage (the objects of gc.garbage and where they were allocated).

Both do their work with tracing suspended (tracemalloc/_suspend.py): the snapshots they take
and keep, and the text they write, are the tracer's memory, in no top.
"""
from __future__ import absolute_import

import gc
import os
import sys

import tracemalloc
from tracemalloc import _breakdown, _sampling
from tracemalloc._compat import _INT_TYPES, reprlib
from tracemalloc._output import (_COLOR_BOLD, _COLOR_CYAN, _COLOR_YELLOW, _default_color,
                                 _display_filename, _format_top_size, _shorten_filename,
                                 _write_text)
from tracemalloc._snapshot import Snapshot
from tracemalloc._suspend import _suspended
from tracemalloc._tasks import _Periodic

__all__ = ["DisplayTop", "DisplayGarbage"]


class _FileAlias(object):
    """``file``: another name of the ``stream`` attribute, the output file."""

    @property
    def file(self):
        return self.stream

    @file.setter
    def file(self, value):
        self.stream = value


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


def _grouped(snapshot, key_type, cumulative):
    """{key: (size, count)} of *snapshot*: the key is (filename, None) per file ("filename"),
    (filename, lineno) per line ("lineno"), and per traceback ("traceback") the tuple of its
    raw frames, (filename, lineno) most recent first.

    Per file and per line without *cumulative*, from ``snapshot.stats`` (a snapshot of
    statistics only has them); *cumulative* (a trace counts for every frame of its
    traceback) and per traceback need traces (ValueError otherwise, from
    Snapshot.statistics())."""
    if key_type != "traceback" and not cumulative:
        return _group_stats(snapshot.stats, key_type == "filename")
    grouped = {}
    for traceback, stat in snapshot._group_by(key_type, cumulative).items():
        frames = tuple(reversed(traceback._frames))  # most recent first
        if key_type == "traceback":
            key = frames
        else:  # cumulative: one frame per group, never none
            key = (frames[0][0], None) if key_type == "filename" else frames[0]
        grouped[key] = (stat.size, stat.count)
    return grouped


def _top_entries(snapshot, previous=None, key_type="filename", cumulative=False):
    """The entries of the top of *snapshot* compared to *previous* (None: no comparison), all
    of them, in the order of the top: a list of (key, size, size_diff, count, count_diff),
    the key as _grouped() makes it.

    Sorted by size, then count, then key, biggest first; when comparing, by the absolute
    size difference first (as Snapshot.compare_to()), and the entries that disappeared since
    *previous* are listed with a size and count of 0. Without *previous* the differences
    are the sizes and counts themselves (DisplayTop and the JSON output do not show them)."""
    current = _grouped(snapshot, key_type, cumulative)
    old = _grouped(previous, key_type, cumulative) if previous is not None else {}
    entries = []
    for key, (size, count) in current.items():
        old_size, old_count = old.pop(key, (0, 0))
        entries.append((key, size, size - old_size, count, count - old_count))
    for key, (old_size, old_count) in old.items():
        entries.append((key, 0, -old_size, 0, -old_count))
    if previous is not None:
        entries.sort(key=lambda e: (-abs(e[2]), -e[1], -abs(e[4]), -e[3], e[0]))
    else:
        entries.sort(key=lambda e: (-e[1], -e[3], e[0]))
    return entries


def _top_totals(entries, snapshot, previous, cumulative):
    """(size, size_diff, count, count_diff) of all the memory of a top: the sums of its
    *entries*, except with *cumulative*, where an allocation is in several entries: then
    the memory of *snapshot* (and *previous*) per file, counted once."""
    if cumulative:
        entries = _top_entries(snapshot, previous, "filename", False)
    return tuple(sum(entry[i] for entry in entries) for i in range(1, 5))


def _freelist_memory_of(snapshot):
    """The (size, count) parked on free lists when *snapshot* was taken, or None (not known:
    no free-list hooks, or a snapshot of another tool)."""
    memory = getattr(snapshot, "freelist_memory", None)
    if (isinstance(memory, (tuple, list)) and len(memory) == 2
            and all(isinstance(value, _INT_TYPES) for value in memory)):
        return tuple(memory)
    return None


def _lost_traces_of(snapshot):
    """The traces lost for lack of memory before *snapshot* was taken (an int), or None (not
    known: a stock dump, a file of an older version, a snapshot made by hand)."""
    lost = getattr(snapshot, "lost_traces", None)
    if isinstance(lost, _INT_TYPES) and not isinstance(lost, bool):
        return lost
    return None


def _sample_bytes_of(snapshot):
    """The sample_bytes of a sampled *snapshot* (its sizes and counts are estimates), else
    0 (exact, or not known: a file without the attribute)."""
    value = getattr(snapshot, "sample_bytes", 0)
    if isinstance(value, _INT_TYPES) and not isinstance(value, bool) and value > 0:
        return value
    return 0


def _lost_traces_warning(lost):
    """The warning line of *lost* (> 0) traces lost for lack of memory."""
    if lost == 1:
        text = "1 trace was lost"
    else:
        text = "%d traces were lost" % lost
    return "WARNING: %s for lack of memory: the statistics below are incomplete" % text


class DisplayTop(_Periodic, _FileAlias):
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
    - ``show_traceback`` (bool, default False): group per traceback (the whole traceback of
      each allocation, as ``Snapshot.statistics('traceback')``) and list the callers of each
      allocation site under its line, most recent first; needs snapshots with traces
    - ``cumulative`` (bool, default False): count the memory of an allocation for every
      frame of its traceback, not only the most recent one (per file or per line, as
      ``Snapshot.statistics(key_type, cumulative=True)``); needs snapshots with traces
    - ``user_data_callback`` (callable or None): see Snapshot.create()
    - ``peak`` (bool, default False): display() shows the top at the peak of traced memory
      (get_peak_snapshot()) instead of the current one
    - ``show_memory_breakdown`` (bool, default False): display() also records where the
      resident memory of the process goes (Snapshot.create(memory_breakdown=True)), shown
      in a "Where RSS goes" line. Off by default: each top then costs a capture of
      sys._debugmallocstats(), which walks pymalloc's arenas and moves file descriptor 2
      to a temporary file meanwhile (what another thread writes to stderr then is lost)
    - ``stream`` (also ``file``): the output file

    Output of display() (differences in parentheses only when there is a previous top)::

        2013-03-04 01:01:55: Top 10 allocations per file and line
        WARNING: 12 traces were lost for lack of memory: the statistics below are incomplete
        #1: .../2.7/Lib/linecache.py:128: size=408 KiB (+408 KiB), count=5379 (+5379), average=77 B
        ...
        3023 more: size=1580 KiB (+1138 KiB), count=12635 (+7801), average=128 B
        Total Python memory: size=3682 KiB (+3086 KiB), count=36987 (+29908), average=101 B
        Total process memory: size=10 MiB (+1024 KiB) (ignore tracemalloc: 23 KiB)
        Free lists: size=166 KiB (+12 KiB), count=3053 (+20), average=55 B
        Where RSS goes: 10 MiB (+1024 KiB) = traced 3682 KiB (+3086 KiB) + free lists ...
        Video memory: 229 KiB (+12 KiB)
        <empty line>

    Entries are sorted by size, then count, then name; when comparing, by the absolute size
    difference first (as stdlib's Snapshot.compare_to), and entries that disappeared since
    the previous top are listed with a size of 0. The WARNING line comes only when the engine
    lost traces for lack of memory before the snapshot was taken (its ``lost_traces``, from
    get_lost_traces(), is not 0): the figures then miss those allocations.
    "N more" sums the entries beyond *count*. With show_traceback, the callers of each
    allocation site follow its line, indented, most recent first ("    .../Lib/x.py:12").
    With cumulative, an allocation counts in several entries, so "N more" gives only the
    number of entries and "Total Python memory" is the memory of the snapshot, counted once.
    The title of the top of a snapshot of the peak (its ``peak`` is True) ends with "at the
    peak"; that of a sampled snapshot (its ``sample_bytes``, start(sample_bytes=N)) with ",
    estimated (sampled every N bytes on average)": its figures are estimates.
    ``average`` (size // count) is omitted when count is 0. "Total process memory" is the
    process memory minus the tracer's own memory ("ignore tracemalloc: ..."), printed only
    when the process memory is known. "Free lists" is the memory the interpreter keeps on its
    free lists for later objects (get_freelist_memory() when the snapshot was taken: only
    with the "track" variant); it is not held by any line above. "Where RSS goes" comes
    when the snapshot holds a memory breakdown (``show_memory_breakdown``, or a file of
    TakeSnapshot with ``memory_breakdown``): the resident memory and its parts, traced,
    free lists, pymalloc free, tracer and rest (get_memory_breakdown(); "unknown" for a
    part that was not known). One line per user data item follows.
    See _format_top_size() for the units.

    Its work runs with tracing suspended: the snapshots it takes and keeps (to compare the
    next top with) are the tracer's memory, counted by get_tracemalloc_memory() ("ignore
    tracemalloc" above), and the top shows none of its own allocations.
    """

    __module__ = "tracemalloc"

    def __init__(self, count, file=None, group_per_file=True):
        with _suspended():
            self.count = count
            self.stream = file if file is not None else sys.stdout
            self.color = _default_color(self.stream)
            self.compare_with_previous = True
            self.filename_parts = 3
            self.show_average = True
            self.show_count = True
            self.show_size = True
            self.show_lineno = not group_per_file
            self.show_traceback = False
            self.cumulative = False
            self.user_data_callback = None
            self.peak = False
            self.show_memory_breakdown = False
            self._previous = None  # (snapshot, name) of the top to compare with
            self._timer_id = None

    @property
    def group_per_file(self):
        return not self.show_lineno

    @group_per_file.setter
    def group_per_file(self, value):
        self.show_lineno = not value

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

    def _format_breakdown(self, breakdown, old):
        """The parts of MemoryBreakdown *breakdown*, each with its difference from *old*
        (None: no difference shown)."""
        def size(name):
            value = getattr(breakdown, name)
            if value is None:
                return "unknown"
            before = getattr(old, name) if old is not None else None
            return self._format_size_diff(value, value - before if before is not None
                                          else None)
        parts = ["%s %s" % (_breakdown._LABELS[name], size(name))
                 for name, value in breakdown.parts()]
        return "%s = %s" % (size("rss"), " + ".join(parts))

    @property
    def key_type(self):
        """How the top groups allocations, as Snapshot.statistics() names it: "traceback"
        (show_traceback), "lineno" (show_lineno) or "filename"."""
        if self.show_traceback:
            return "traceback"
        return "lineno" if self.show_lineno else "filename"

    def _title(self, shown):
        what = {"traceback": "traceback", "lineno": "file and line",
                "filename": "file"}[self.key_type]
        title = "Top %d allocations per %s" % (shown, what)
        if self.cumulative:
            title += " (cumulative)"
        return title

    def _lines(self, snapshot, previous=None, name=None, previous_name=None):
        """The lines (without newlines) of the top of *snapshot* compared to *previous*."""
        compare = previous is not None
        key_type = self.key_type
        entries = _top_entries(snapshot, previous, key_type, self.cumulative)

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
        title = self._title(len(shown))
        if getattr(snapshot, "peak", False) is True:
            title += " at the peak"
        estimated = _sampling.header(_sample_bytes_of(snapshot))
        if estimated is not None:
            title += ", " + estimated
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
        lost = _lost_traces_of(snapshot)
        if lost:
            lines.append(_lost_traces_warning(lost))

        for index, entry in enumerate(shown, 1):
            key = entry[0]
            if key_type == "traceback":
                # the allocation site, then its callers, most recent first
                head = key[0] if key else ("<unknown>", 0)
                lines.append(line("#%d: %s" % (index, self._format_key(head)),
                                  stat(*entry[1:])))
                for frame in key[1:]:
                    lines.append("    %s" % self._format_key(frame))
            else:
                lines.append(line("#%d: %s" % (index, self._format_key(key)),
                                  stat(*entry[1:])))

        rest = entries[self.count:]
        if rest and self.cumulative:
            lines.append("%d more" % len(rest))
        elif rest:
            sums = [sum(entry[i] for entry in rest) for i in range(1, 5)]
            lines.append(line("%d more" % len(rest), stat(*sums)))

        lines.append(line("Total Python memory", stat(*_top_totals(
            entries, snapshot, previous, self.cumulative))))

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

        breakdown = _breakdown.of_snapshot(snapshot)
        if breakdown is not None:
            old = _breakdown.of_snapshot(previous) if compare else None
            lines.append("Where RSS goes: " + self._format_breakdown(breakdown, old))

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
        with _suspended():
            previous, previous_name = self._previous if self._previous else (None, None)
            lines = self._lines(snapshot, previous, name, previous_name)
            _write_text(self.stream, "\n".join(lines) + "\n")
            self.stream.flush()
            if previous is None or self.compare_with_previous:
                self._previous = (snapshot, name)

    def display(self):
        """Take a snapshot (of the peak if ``peak``; with traces when show_traceback or
        cumulative is set; with a memory breakdown when show_memory_breakdown is set) and
        display its top."""
        with _suspended():
            self.display_snapshot(Snapshot.create(
                self.user_data_callback, traces=self.show_traceback or self.cumulative,
                peak=self.peak, memory_breakdown=self.show_memory_breakdown))

    def start(self, delay):
        """Display the top every *delay* seconds (with a timer of its own)."""
        with _suspended():
            self._start_timer(delay, self.display)


def _make_object_repr():
    # The same limits on Python 2 and 3 (Python 2 truncates instances to 20 characters).
    formatter = reprlib.Repr()
    formatter.maxstring = 100
    formatter.maxother = 100
    return formatter.repr


_format_object = _make_object_repr()


class DisplayGarbage(_FileAlias):
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

    Its work runs with tracing suspended, as DisplayTop's.
    """

    __module__ = "tracemalloc"

    def __init__(self, file=None):
        with _suspended():
            self.stream = file if file is not None else sys.stdout
            self.color = _default_color(self.stream)
            self.cumulative = False
            self.format_object = _format_object
            self._seen = 0

    def _format(self, obj):
        try:
            return self.format_object(obj)
        except Exception as exc:
            return "<%s object: formatting failed: %s: %s>" % (
                type(obj).__name__, type(exc).__name__, exc)

    def display(self):
        """Display the new objects of gc.garbage (every object if cumulative)."""
        with _suspended():
            garbage = list(gc.garbage)
            if self.cumulative or self._seen > len(garbage):
                start_index = 0
            else:
                start_index = self._seen
            self._seen = len(garbage)
            for obj in garbage[start_index:]:
                traceback = tracemalloc.get_object_traceback(obj)
                if traceback is not None and len(traceback):
                    where = str(traceback[-1])
                else:
                    where = "unknown allocation site"
                if self.color:
                    where = _COLOR_CYAN % where
                _write_text(self.stream, "%s: %s\n" % (where, self._format(obj)))
            self.stream.flush()
