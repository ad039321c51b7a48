"""Work on a timer of the engine: _Periodic, the start(delay) and stop() of DisplayTop and
TakeSnapshot, and TakeSnapshot, which writes a snapshot into a file at each tick.

Everything a task does, from its construction to its ticks, runs with tracing suspended
(tracemalloc/_suspend.py): its memory is the tracer's, in no snapshot and no top.
"""
from __future__ import absolute_import

import string
import sys

import tracemalloc
from tracemalloc import _peak
from tracemalloc._snapshot import Snapshot
from tracemalloc._suspend import _suspended

__all__ = ["TakeSnapshot"]


class _Periodic(object):
    """A task that a timer of its own runs every *delay* seconds, from start() to stop().

    A subclass sets ``_timer_id`` to None in its __init__, and its start(delay) calls
    _start_timer(delay, func) with tracing suspended (the bound method *func*, which the
    timer keeps, is then the tracer's memory); *func* suspends tracing itself when it runs.
    """

    def _start_timer(self, delay, func):
        self.stop()
        self._timer_id = tracemalloc.start_timer(delay, func)

    def stop(self):
        """Stop the task started by start()."""
        with _suspended():
            if self._timer_id is not None:
                timer_id, self._timer_id = self._timer_id, None
                tracemalloc.stop_timer(timer_id)


class TakeSnapshot(_Periodic):
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
    - ``peak`` (bool, default False): each file also holds the peak of traced memory since
      tracing started or reset_peak() (taking a snapshot does not reset it), as the extra
      attributes ``peak_stats`` and, with ``traces``, ``peak_traces``;
      Snapshot.peak_snapshot() of the file's snapshot gives it back
    - ``memory_breakdown`` (bool, default False): each file also holds where the resident
      memory of the process went (Snapshot.create(memory_breakdown=True), a capture of
      sys._debugmallocstats() each time); ``python -m tracemalloc`` shows it

    Its work runs with tracing suspended: the snapshots it takes (also the one its
    take_snapshot() returns) and the files it writes are the tracer's memory, counted by
    get_tracemalloc_memory(), and none of it is in the snapshots.
    """

    __module__ = "tracemalloc"

    def __init__(self, filename_template="tracemalloc-$pid-$counter.pickle",
                 user_data_callback=None):
        with _suspended():
            self.filename_template = filename_template
            self.counter = 1
            self.user_data_callback = user_data_callback
            self.traces = False
            self.format = None
            self.peak = False
            self.memory_breakdown = False
            self._timer_id = None

    def _filename(self, snapshot):
        stamp = snapshot.timestamp.replace("-", "").replace(":", "").replace(" ", "-")
        return string.Template(self.filename_template).safe_substitute(
            pid=str(snapshot.pid), timestamp=stamp, counter="%04d" % self.counter)

    def take_snapshot(self):
        """Take a snapshot, write it; return (snapshot, filename). Tracing is suspended
        meanwhile: the snapshot holds none of this work, and is the tracer's memory."""
        with _suspended():
            snapshot = Snapshot.create(self.user_data_callback, traces=self.traces,
                                       memory_breakdown=self.memory_breakdown)
            if self.peak and tracemalloc.is_tracing():
                for name, value in _peak.file_attributes(self.traces).items():
                    setattr(snapshot, name, value)
            filename = self._filename(snapshot)
            snapshot.write(filename, self.format)
            self.counter += 1
            return snapshot, filename

    def _task(self):
        with _suspended():
            snapshot, filename = self.take_snapshot()
            sys.stderr.write("%s: Write a snapshot of memory allocations into %s\n"
                             % (snapshot.timestamp, filename))

    def start(self, delay):
        """Take a snapshot every *delay* seconds (with a timer of its own)."""
        with _suspended():
            self._start_timer(delay, self._task)
