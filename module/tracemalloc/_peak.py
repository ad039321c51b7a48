"""The peak of traced memory: the traces that were live when traced memory last reached its
peak (get_traced_memory()[1]), as the engine gives them, grouped by domain and traceback
(``(domain, size, count, traceback, total_nframe)``, tracemalloc._get_peak_traces()), turned
into what a Snapshot holds (raw traces with exact sums per key, or statistics per line), and
the extra attributes that TakeSnapshot(peak=True) writes into its files.
"""
from __future__ import absolute_import

import tracemalloc
from tracemalloc import _checks, _sampling


def traces_from_groups(groups):
    """Raw traces ``(domain, size, traceback, total_nframe)`` of *groups*: a group of *count*
    traces and *size* bytes becomes *count* traces whose sizes differ by one byte at most and
    sum to *size*. The traces of a group share its domain and traceback, so every grouping
    (statistics() and compare_to() by traceback, line or file, cumulative or not) and every
    filter gives the exact size and count of the peak; only the size of one trace is the
    group's average. Equal traces are one tuple object: a list slot per trace."""
    traces = []
    for domain, size, count, traceback, total_nframe in groups:
        small, bigger = divmod(size, count)
        if bigger:
            traces.extend([(domain, small + 1, traceback, total_nframe)] * bigger)
        traces.extend([(domain, small, traceback, total_nframe)] * (count - bigger))
    return traces


def stats_from_groups(groups, sample_bytes=0):
    """``{filename: {lineno: (size, count)}}`` of *groups* by the most recent frame, as the
    engine's get_peak_stats(); with *sample_bytes*, the groups' counts estimated
    (tracemalloc/_sampling.py)."""
    stats = {}
    for domain, size, count, traceback, total_nframe in groups:
        count = _sampling.estimate_count(size, count, sample_bytes)
        filename, lineno = traceback[0] if traceback else ("<unknown>", 0)
        lines = stats.setdefault(filename, {})
        old = lines.get(lineno)
        lines[lineno] = (size, count) if old is None else (old[0] + size, old[1] + count)
    return stats


def file_attributes(traces):
    """The extra attributes of a TakeSnapshot(peak=True) file, made of builtins: the peak
    since tracing started or the peak was last reset (reading it resets nothing).
    ``peak_stats`` ({filename: {lineno: (size, count)}}) always, and with *traces*
    ``peak_traces`` (the groups, as _get_peak_traces() returns them), both from one read of
    the engine so that they describe the same peak."""
    if traces:
        groups = tracemalloc._get_peak_traces()
        return {"peak_traces": groups,
                "peak_stats": stats_from_groups(groups, tracemalloc.get_sample_bytes())}
    return {"peak_stats": tracemalloc._get_peak_stats()}


def stored_peak(snapshot, traces, sample_bytes=0):
    """(raw traces or None, stats or None) of the peak stored in *snapshot* by
    TakeSnapshot(peak=True), checked: the traces when *traces* is true and it has
    ``peak_traces``, else the statistics. (None, None) when it has neither attribute.
    Raises _errors._Problem for a value of the wrong shape (set by hand: a file's were
    checked when read)."""
    attributes = vars(snapshot)
    groups = attributes.get("peak_traces")
    stats = attributes.get("peak_stats")
    if groups is not None:
        groups = _checks.check_peak_traces(groups)
    if traces and groups is not None:
        return traces_from_groups(groups), None
    if stats is not None:
        return None, _checks._check_stats(stats, "peak_stats")
    if groups is not None:
        return None, stats_from_groups(groups, sample_bytes)
    return None, None
