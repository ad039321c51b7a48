"""The stdlib's value classes: Frame, Traceback, Trace, _Traces (the traces of a Snapshot),
Statistic and StatisticDiff, with Python 3.7+ semantics, their formatting (_format_size, the
stdlib's size format) and their sort keys.

They wrap the engine's raw tuples, whose shapes their constructors give. Their __module__ is
"tracemalloc", where they are re-exported: pickles name tracemalloc.Frame, Traceback, Trace
and _Traces, as those of the stock module do.
"""
from __future__ import absolute_import, division

import functools
import linecache

from tracemalloc._compat import Sequence

__all__ = ["Frame", "Traceback", "Trace", "Statistic", "StatisticDiff"]

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def _format_size(size, sign=False):
    """The stdlib's size format (Statistic, StatisticDiff, Trace): 3 or 4 significant digits
    and a binary unit, "12 B", "10.0 KiB", "512 KiB", "+1.5 MiB"."""
    for unit in _UNITS:
        if abs(size) < 100 and unit != "B":
            return ("%+.1f %s" if sign else "%.1f %s") % (size, unit)
        if abs(size) < 10 * 1024 or unit == _UNITS[-1]:
            return ("%+.0f %s" if sign else "%.0f %s") % (size, unit)
        size /= 1024


class _CompareMixin(object):
    """Equality and hash by the tuple ``_value()``, between instances of one class (Python 2
    does not derive != from ==: __ne__ is here too)."""

    __slots__ = ()

    def _comparable(self, other):
        return isinstance(other, type(self)) or isinstance(self, type(other))

    def __eq__(self, other):
        if not self._comparable(other):
            return NotImplemented
        return self._value() == other._value()

    def __ne__(self, other):
        result = self.__eq__(other)
        if result is NotImplemented:
            return result
        return not result

    def __hash__(self):
        return hash(self._value())


class _OrderMixin(_CompareMixin):
    """Order by ``_value()`` too (with functools.total_ordering for the other operators)."""

    __slots__ = ()

    def __lt__(self, other):
        if not self._comparable(other):
            return NotImplemented
        return self._value() < other._value()


@functools.total_ordering
class Frame(_OrderMixin):
    """One frame of a traceback: ``filename`` (str) and ``lineno`` (int)."""

    __module__ = "tracemalloc"
    __slots__ = ("_frame",)

    def __init__(self, frame):
        # frame is a (filename, lineno) tuple, as returned by the engine
        self._frame = tuple(frame)

    def _value(self):
        return self._frame

    @property
    def filename(self):
        return self._frame[0]

    @property
    def lineno(self):
        return self._frame[1]

    def __str__(self):
        return "%s:%s" % (self.filename, self.lineno)

    def __repr__(self):
        return "<Frame filename=%r lineno=%r>" % (self.filename, self.lineno)


@functools.total_ordering
class Traceback(Sequence, _OrderMixin):
    """Sequence of Frame instances, sorted from the oldest to the most recent frame.

    As in the stdlib since Python 3.7: the engine returns frames most recent first, the
    sequence is reversed so that ``traceback[-1]`` is where the block was allocated.
    ``total_nframe``: how many frames the stack had when the trace was taken (None if
    unknown).
    """

    __module__ = "tracemalloc"
    __slots__ = ("_frames", "_total_nframe")

    def __init__(self, frames, total_nframe=None):
        self._frames = tuple(reversed(tuple(frames)))
        self._total_nframe = total_nframe

    def _value(self):
        return self._frames

    @classmethod
    def _from_oldest_first(cls, frames):
        """Traceback(tuple(reversed(frames))) for a tuple *frames* already oldest first,
        without reversing it twice (statistics() and compare_to() sort on it)."""
        traceback = cls.__new__(cls)
        traceback._frames = frames
        traceback._total_nframe = None
        return traceback

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
            try:
                line = linecache.getline(frame.filename, frame.lineno).strip()
            except (ValueError, TypeError):
                # a filename that is no path (a NUL byte in it, read from a file): os.stat()
                # refuses it and linecache does not catch that
                line = ""
            if line:
                lines.append("    %s" % line)
        return lines


class Trace(_CompareMixin):
    """Trace of a memory block: ``domain``, ``size`` and ``traceback``."""

    __module__ = "tracemalloc"
    __slots__ = ("_trace",)

    def __init__(self, trace):
        # trace is a raw tuple (domain, size, traceback, total_nframe), see _get_traces()
        self._trace = trace

    def _value(self):
        return self._trace

    @property
    def domain(self):
        return self._trace[0]

    @property
    def size(self):
        return self._trace[1]

    @property
    def traceback(self):
        return Traceback(*self._trace[2:])

    def __str__(self):
        return "%s: %s" % (self.traceback, _format_size(self.size, False))

    def __repr__(self):
        return "<Trace domain=%s size=%s, traceback=%r>" % (
            self.domain, _format_size(self.size, False), self.traceback)


class _Traces(Sequence, _CompareMixin):
    """The traces of a snapshot: a read-only sequence of Trace over the raw list ``_traces``."""

    __module__ = "tracemalloc"

    def __init__(self, traces):
        self._traces = traces

    def _value(self):
        return self._traces

    def __len__(self):
        return len(self._traces)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(Trace(trace) for trace in self._traces[index])
        return Trace(self._traces[index])

    def __contains__(self, trace):
        return trace._trace in self._traces


    __hash__ = None

    def __repr__(self):
        return "<Traces len=%s>" % len(self)


class Statistic(_CompareMixin):
    """Memory allocated at one key of Snapshot.statistics(): ``traceback``, ``size`` (bytes)
    and ``count`` (number of memory blocks)."""

    __module__ = "tracemalloc"
    __slots__ = ("traceback", "size", "count")

    def __init__(self, traceback, size, count):
        self.traceback = traceback
        self.size = size
        self.count = count

    def _value(self):
        return (self.traceback, self.size, self.count)

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

    __module__ = "tracemalloc"
    __slots__ = ("traceback", "size", "size_diff", "count", "count_diff")

    def __init__(self, traceback, size, size_diff, count, count_diff):
        self.traceback = traceback
        self.size = size
        self.size_diff = size_diff
        self.count = count
        self.count_diff = count_diff

    def _value(self):
        return (self.traceback, self.size, self.size_diff, self.count, self.count_diff)

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
