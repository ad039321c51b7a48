"""The JSON output of ``python -m tracemalloc --json``: the tops and their differences as a
document for scripts, with a stable schema (README, "Command line", describes it).

Version 1 of the document ("format": "pytracemalloc.top")::

    {"format": "pytracemalloc.top", "version": 1,
     "group_by": "filename" | "lineno" | "traceback", "cumulative": bool,
     "compare_to": "previous" | "first", "number": N, "peak": bool,
     "snapshots": [                         # one per file, in the order of the command line
       {"file": FILE, "compared_to": FILE | null,
        "metadata": {"timestamp": str | null, "pid": int | null,
                     "process_memory": int | null, "tracemalloc_memory": int | null,
                     "traceback_limit": int | null, "lost_traces": int | null,
                     "freelist_memory": {"size": int, "count": int} | null,
                     "has_traces": bool, "peak": bool, "sample_bytes": int,
                     "user_data": [{"title": str, "format": str, "value": int}, ...],
                     "memory_breakdown": {"rss", "traced", "freelists", "pymalloc_free",
                                          "tracer", "rest", "pymalloc_used": int | null,
                                          "unknown": {str: str}} | null},
        "warnings": [str, ...],             # the WARNING lines of the text output
        "top": [{"filename": str, "lineno": int | null,   # null per file
                 "traceback": [{"filename": str, "lineno": int}, ...],  # "traceback" only,
                                                                        # most recent first
                 "size": int, "count": int,
                 "size_diff": int | null, "count_diff": int | null}, ...],
        "other": {"entries": int, "size": int | null, "count": int | null,
                  "size_diff": int | null, "count_diff": int | null},
        "total": {"size": int, "count": int, "size_diff": int | null,
                  "count_diff": int | null}}]}

With "peak" (--peak), each snapshot is the peak recorded in its file (its "metadata" are
those of the file's snapshot, "peak": true). Sizes are bytes, exact when "sample_bytes" is
0; a snapshot taken in sampling mode (start(sample_bytes=N)) has "sample_bytes": N, and its
sizes and counts are estimates (the text top says "estimated"). The diffs are null for
a snapshot compared to nothing (the first). "top" holds at most N entries, in the order of
the text top; "other" sums the rest (its sizes and counts are null with "cumulative", where
an allocation is in several entries); "total" is all the memory of the snapshot, counted
once. "memory_breakdown" is where the resident memory went, when the file recorded it
(TakeSnapshot.memory_breakdown): the parts add up to "rss", an unknown part is null and
"unknown" names it with the reason. Strings are written with ASCII escapes; a byte of a
file name that was not UTF-8 is written as the character U+DC80 + byte, by Python 2 as by
Python 3 (Python 3's surrogateescape).

Within version 1, keys are only ever added (later options add keys of their own to a
snapshot's object), never removed or changed in meaning; a change that would break a
reader makes version 2.
"""
from __future__ import absolute_import

import json

from tracemalloc import _breakdown
from tracemalloc._compat import _INT_TYPES, _PY2
from tracemalloc._display import (_freelist_memory_of, _lost_traces_of, _lost_traces_warning,
                                  _sample_bytes_of, _top_entries, _top_totals)
from tracemalloc._cli import comparisons, different_processes

FORMAT = "pytracemalloc.top"
VERSION = 1


if _PY2:
    def _text(value):
        """A native str of Python 2 (bytes) as unicode: UTF-8, and each byte that is not
        UTF-8 as U+DC80 + byte, which is how Python 3 reads such a file name."""
        if not isinstance(value, str):
            return value
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            pass
        chars = []
        index = 0
        while index < len(value):
            # the longest valid UTF-8 sequence starting here, else one escaped byte
            for length in (4, 3, 2, 1):
                try:
                    chars.append(value[index:index + length].decode("utf-8"))
                except UnicodeDecodeError:
                    continue
                index += length
                break
            else:
                chars.append(unichr(0xdc00 + ord(value[index])))  # noqa: F821 (Python 2)
                index += 1
        return u"".join(chars)
else:
    def _text(value):
        return value


def _optional_int(value):
    if isinstance(value, _INT_TYPES) and not isinstance(value, bool):
        return value
    return None


def _metadata(snapshot):
    freelist = _freelist_memory_of(snapshot)
    breakdown = _breakdown.of_snapshot(snapshot)
    user_data = []
    for item in snapshot.user_data:
        title, fmt, value = item
        user_data.append({"title": _text(title), "format": _text(fmt), "value": value})
    return {
        "timestamp": _text(snapshot.timestamp),
        "pid": _optional_int(snapshot.pid),
        "process_memory": _optional_int(snapshot.process_memory),
        "tracemalloc_memory": _optional_int(snapshot.tracemalloc_memory),
        "traceback_limit": _optional_int(snapshot.traceback_limit),
        "lost_traces": _lost_traces_of(snapshot),
        "freelist_memory": ({"size": freelist[0], "count": freelist[1]}
                            if freelist is not None else None),
        "has_traces": snapshot.traces is not None,
        "peak": snapshot.peak is True,
        "sample_bytes": _sample_bytes_of(snapshot),
        "user_data": user_data,
        "memory_breakdown": (dict(breakdown.as_dict(), unknown=dict(
            (_text(name), _text(reason)) for name, reason in breakdown.unknown.items()))
            if breakdown is not None else None),
    }


def _frame(frame):
    return {"filename": _text(frame[0]), "lineno": frame[1]}


def _entry(key, key_type, size, size_diff, count, count_diff, compare):
    if key_type == "traceback":
        head = key[0] if key else ("<unknown>", 0)
        entry = _frame(head)
        entry["traceback"] = [_frame(frame) for frame in key]
    else:
        entry = {"filename": _text(key[0]), "lineno": key[1]}
    entry.update(_sums(size, size_diff, count, count_diff, compare))
    return entry


def _sums(size, size_diff, count, count_diff, compare):
    return {"size": size, "count": count,
            "size_diff": size_diff if compare else None,
            "count_diff": count_diff if compare else None}


def snapshot_document(filename, snapshot, previous_filename, previous, key_type, cumulative,
                      number):
    """The object of one snapshot in the "snapshots" list (see the module's docstring)."""
    compare = previous is not None
    entries = _top_entries(snapshot, previous, key_type, cumulative)
    warnings = []
    message = different_processes(filename, snapshot, previous_filename, previous)
    if message is not None:
        warnings.append(_text(message))
    lost = _lost_traces_of(snapshot)
    if lost:
        warnings.append(_lost_traces_warning(lost))
    rest = entries[number:]
    if cumulative:
        other = _sums(None, None, None, None, False)
    else:
        other = _sums(*([sum(entry[i] for entry in rest) for i in range(1, 5)] + [compare]))
    other["entries"] = len(rest)
    totals = _top_totals(entries, snapshot, previous, cumulative)
    return {
        "file": _text(filename),
        "compared_to": _text(previous_filename) if compare else None,
        "metadata": _metadata(snapshot),
        "warnings": warnings,
        "top": [_entry(entry[0], key_type, *(tuple(entry[1:]) + (compare,)))
                for entry in entries[:number]],
        "other": other,
        "total": _sums(*(totals + (compare,))),
    }


def top_document(snapshots, key_type="filename", cumulative=False, number=10, first=False,
                 peak=False):
    """The JSON document (a dict) of the tops of *snapshots*, a list of (filename, Snapshot),
    each compared to the previous one (or the first one, with *first*) as the text tops."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "group_by": key_type,
        "cumulative": bool(cumulative),
        "compare_to": "first" if first else "previous",
        "number": number,
        "peak": bool(peak),
        "snapshots": [snapshot_document(filename, snapshot, previous_filename, previous,
                                        key_type, cumulative, number)
                      for filename, snapshot, previous_filename, previous
                      in comparisons(snapshots, first)],
    }


def write_json(stream, document):
    """Write *document* as JSON text (ASCII, keys sorted, indented) and a newline."""
    text = json.dumps(document, indent=2, sort_keys=True, separators=(",", ": "),
                      ensure_ascii=True)
    stream.write(text + "\n")
    stream.flush()
