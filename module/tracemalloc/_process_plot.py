"""The picture of a process log (``python -m tracemalloc.process --plot FILE``): the records of
tracemalloc/_process_log.py as the report dict that tracemalloc/_report_svg.py draws (memory
over time, in SVG), with each label as a mark on the time axis; and which run of a file to
draw.
"""
from __future__ import absolute_import

from tracemalloc import _report_svg
from tracemalloc._compat import _PY2

# (key of the record, label of the series), in the order of the legend and of drawing: each
# peak before its current value, which is drawn over it where they are equal
SERIES = (
    ("peak_rss", "peak RSS"),
    ("rss", "process memory (RSS)"),
    ("traced_peak", "peak of traced memory"),
    ("traced", "traced memory"),
    ("freelist_memory", "free lists"),
    ("tracemalloc_memory", "tracemalloc memory"),
)


def _value(record, key):
    value = record.get(key)
    if key == "freelist_memory" and isinstance(value, (list, tuple)) and value:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if _PY2:
        return long(value)  # noqa: F821 (Python 2 only)
    return int(value)


def _text(value):
    if _PY2 and isinstance(value, str):
        return value.decode("utf-8", "replace")
    return value


def last_run(records):
    """(the records of the last log in *records*, the number of logs): a file can hold
    several logs one after the other (a logging output, a decorated function called
    several times), each beginning with its "start" record."""
    starts = [index for index, record in enumerate(records) if record["event"] == "start"]
    if not starts:
        return records, 1
    return records[starts[-1]:], len(starts)


def report(records):
    """The dict that _report_svg.render() draws, for the records of one log."""
    first = records[0]
    xs = [float(record["elapsed_time"]) for record in records]
    memory = []
    for key, label in SERIES:
        values = [_value(record, key) for record in records]
        if any(value is not None for value in values):
            memory.append({"id": key, "label": label, "values": values})
    marks = [{"x": float(record["elapsed_time"]), "label": _text(record["label"])}
             for record in records if record.get("label")]
    start = _text(first.get("timestamp") or u"")
    pid = first.get("pid")
    return {
        "title": u"process %s" % pid,
        "heading": u"Memory of process %s over time (%d record%s)"
                   % (pid, len(records), u"s" if len(records) > 1 else u""),
        "x_kind": "time",
        "x": xs,
        "start": start.split(u".")[0],
        "x_origin": u"the start of the log",
        "memory": memory,
        "marks": marks,
    }


def render(records):
    """The SVG image of the records of one log, as text."""
    return _report_svg.render(report(records))
