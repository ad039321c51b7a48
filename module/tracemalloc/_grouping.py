"""Grouping raw traces for Snapshot.statistics(), compare_to() and stats: the engine's C loop
group_traces() when the C loops are in use (tracemalloc/_accel.py), else the stdlib's
algorithm in Python, with the same results in the same order.
"""
from __future__ import absolute_import

from tracemalloc import _accel

_KEY_TYPES = {"traceback": 0, "lineno": 1, "filename": 2}


def _key(item, key_type, cumulative):
    """The group key of *item*: a raw traceback, or with *cumulative* one of its frames."""
    if cumulative:
        return (item,) if key_type == "lineno" else ((item[0], 0),)
    if key_type == "traceback":
        return item
    if key_type == "lineno":
        return item[:1]
    return ((item[0][0], 0),)


def _group_traces_py(traces, key_type, cumulative, weight=None):
    """The stdlib's grouping (Snapshot._group_by) on raw traces: a list of
    [key, size, count], where key is the raw traceback of the group, in the order the groups
    were first seen. Same errors as the stdlib for malformed traces. *weight*, if given, is
    the number of blocks a trace of a size stands for (sampled snapshots), instead of 1."""
    groups = {}
    result = []
    keys = {}  # raw traceback (with cumulative: frame) -> its key
    for trace in traces:
        domain, size, frames, total_nframe = trace
        blocks = 1 if weight is None else weight(size)
        # with cumulative, the trace counts once per frame (a frame seen twice, twice)
        for item in (frames if cumulative else (frames,)):
            try:
                key = keys[item]
            except KeyError:
                key = keys[item] = _key(item, key_type, cumulative)
            try:
                group = groups[key]
                group[1] += size
                group[2] += blocks
            except KeyError:
                groups[key] = group = [key, size, blocks]
                result.append(group)
    return result


def _group_traces(traces, key_type, cumulative):
    if _accel.use_c(stats=True):
        result = _accel.group_traces(traces, _KEY_TYPES[key_type], bool(cumulative))
        if result is not None:
            return result
    # not the engine's shape (another type, an int beyond 64 bits...): the Python loop
    return _group_traces_py(traces, key_type, cumulative)


def _stats_from_traces(traces):
    """pytracemalloc stats {filename: {lineno: (size, count)}} of raw traces (most recent
    frame; a trace without frame counts as ("<unknown>", 0))."""
    stats = {}
    for key, size, count in _group_traces(traces, "lineno", False):
        filename, lineno = key[0] if key else ("<unknown>", 0)
        lines = stats.get(filename)
        if lines is None:
            lines = stats[filename] = {}
        previous = lines.get(lineno)
        if previous is not None:  # an empty traceback and a real ("<unknown>", 0)
            size += previous[0]
            count += previous[1]
        lines[lineno] = (size, count)
    return stats
