"""The work of ``python -m tracemalloc`` beyond its arguments (which __main__.py wires):
loading the snapshot files with a progress line on a terminal, what an option needs of each
file (traces, a peak), the snapshots of the peaks (--peak), the traces of some domains
(--domain), the snapshot each top is
compared to, and the warning of snapshots of different processes. The text tops are
DisplayTop's (_display.py), the JSON document _cli_json.py's.
"""
from __future__ import absolute_import

import os

from tracemalloc._errors import SnapshotError
from tracemalloc._filters import DomainFilter
from tracemalloc._output import _Progress
from tracemalloc._snapshot import Snapshot

# A file at least this large shows the progress line at once (the compact format loads
# about 25 MB of a million traces per second): smaller ones show it only when the whole
# loading lasts longer than PROGRESS_DELAY seconds.
LARGE_FILE = 8 * 1024 ** 2
PROGRESS_DELAY = 0.5

# What --traceback, --cumulative and --peak need, and how a file gets it.
_NEEDS_TRACES = ("%s needs the traces of the allocations, and this snapshot holds statistics "
                 "per line only (take snapshots with traces: TakeSnapshot.traces = True, "
                 "Snapshot.create(traces=True) or take_snapshot())")
_NEEDS_PEAK_TRACES = ("%s needs the traces of the allocations, and the peak recorded in this "
                      "snapshot holds statistics per line only (write snapshots with "
                      "TakeSnapshot.peak = True and TakeSnapshot.traces = True)")
_NEEDS_PEAK = ("--peak needs the peak of traced memory recorded in the file, and this snapshot "
               "holds none (write snapshots with TakeSnapshot.peak = True)")


class UsageProblem(Exception):
    """An option that the given files cannot serve: one line, exit status 2."""


def load_snapshots(filenames, progress_stream, prog):
    """Load every file of *filenames*: a list of (filename, Snapshot).

    SnapshotError for the first file that cannot be loaded. On a terminal
    (*progress_stream*, stderr), the line "PROG: loading N/TOTAL: FILENAME" tells which file
    is being loaded once loading lasts, and is erased before returning or raising."""
    progress = _Progress(progress_stream, delay=PROGRESS_DELAY)
    snapshots = []
    try:
        for index, filename in enumerate(filenames, 1):
            if progress.enabled:
                try:
                    size = os.stat(filename).st_size
                except (OSError, ValueError):  # the loader tells what is wrong
                    size = 0
                progress.step("%s: loading %d/%d: %s" % (prog, index, len(filenames),
                                                         filename),
                              long_step=size >= LARGE_FILE)
            snapshots.append((filename, Snapshot.load(filename)))
    finally:
        progress.done()
    return snapshots


def filter_snapshots(snapshots, include, exclude):
    """Apply --include and --exclude (fnmatch patterns of file names) to every snapshot."""
    for filename, snapshot in snapshots:
        if include:
            snapshot.filter_filenames(include, True)
        if exclude:
            snapshot.filter_filenames(exclude, False)


def filter_domains(snapshots, domains):
    """Keep the traces of the *domains* only (--domain: a list of domain numbers, empty for
    every domain): a new list of (filename, snapshot)."""
    if not domains:
        return snapshots
    filters = [DomainFilter(True, domain) for domain in domains]
    return [(filename, snapshot.filter_traces(filters)) for filename, snapshot in snapshots]


def check_traces(snapshots, option):
    """UsageProblem naming the first snapshot that has no traces, which *option* needs."""
    for filename, snapshot in snapshots:
        if snapshot.traces is None:
            needs = _NEEDS_PEAK_TRACES if snapshot.peak is True else _NEEDS_TRACES
            raise UsageProblem("%s: %s" % (filename, needs % option))


def peak_snapshots(snapshots):
    """The snapshots of the peaks recorded in *snapshots* (Snapshot.peak_snapshot(): with
    traces when the file has them), in the same (filename, snapshot) list. UsageProblem
    naming the first file without a peak; SnapshotError for a peak of a wrong shape."""
    peaks = []
    for filename, snapshot in snapshots:
        try:
            peak = snapshot.peak_snapshot()
        except ValueError as exc:  # set by hand: a file's peak was checked when read
            raise SnapshotError(filename, str(exc))
        if peak is None:
            raise UsageProblem("%s: %s" % (filename, _NEEDS_PEAK))
        peaks.append((filename, peak))
    return peaks


def comparisons(snapshots, first=False):
    """(filename, snapshot, previous_filename, previous_snapshot) for each snapshot in order:
    the previous ones are those of the snapshot it is compared to, the one before it (or the
    first one, with *first*), None for the first snapshot. DisplayTop compares the same."""
    result = []
    for index, (filename, snapshot) in enumerate(snapshots):
        if index == 0:
            previous = (None, None)
        elif first:
            previous = snapshots[0]
        else:
            previous = snapshots[index - 1]
        result.append((filename, snapshot) + tuple(previous))
    return result


def different_processes(filename, snapshot, previous_filename, previous):
    """The warning that *snapshot* and the *previous* one it is compared to come from
    different processes, or None (same process, or a pid unknown)."""
    if (previous is None or previous.pid is None or snapshot.pid is None
            or previous.pid == snapshot.pid):
        return None
    return ("WARNING: %s (pid %s) and %s (pid %s) come from different processes"
            % (filename, snapshot.pid, previous_filename, previous.pid))
