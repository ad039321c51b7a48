"""The two pickle formats of snapshot files, read into checked content (_checks._new_data()).

- "pickle": a protocol 2 pickle of a dict of builtins,
  ``{"format": "pytracemalloc.snapshot", "version": 2, ...}``; version 1 (statistics only,
  pytracemalloc 1.0.0.dev0) is still read. _write_pickle() writes version 2.
- "stdlib": a pickled tracemalloc.Snapshot, as the stock ``Snapshot.dump()`` of Python 3.4+
  writes it (and pickled pytracemalloc Snapshot objects); Snapshot.write() writes it with
  pickle itself.

Both are loaded by tracemalloc/_unpickler.py first; what it built is taken apart here.
"""
from __future__ import absolute_import

from tracemalloc._checks import (_check_attributes, _check_metadata, _check_optional_int,
                                _check_stats, _check_traces, _is_int, _new_data)
from tracemalloc._compat import _dumps, _native
from tracemalloc._errors import _Problem, _safe_repr
from tracemalloc._unpickler import _StubTraces


FORMAT_NAME = "pytracemalloc.snapshot"
PICKLE_VERSION = 2  # the version written in the "pickle" format; 1 and 2 are read


_V1_KEYS = frozenset(["format", "version", "pid", "timestamp", "stats", "process_memory",
                      "tracemalloc_memory", "user_data"])
_V2_KEYS = _V1_KEYS | frozenset(["traces", "traceback_limit", "attributes"])

# Attributes of a stock Snapshot that are its data, not extra attributes; the pytracemalloc
# ones are read from a pickled pytracemalloc Snapshot object.
_SNAPSHOT_STATE = frozenset(["traces", "traceback_limit", "timestamp", "pid", "process_memory",
                             "tracemalloc_memory", "user_data", "stats"])


def _from_builtins(data, reserved):
    """The pytracemalloc pickle format, versions 1 and 2 (a dict of builtins)."""
    if not isinstance(data, dict):
        raise _Problem("not a pytracemalloc snapshot (a pickled %s, expected a dict)"
                       % type(data).__name__)
    data = dict((_native(key), value) for key, value in data.items())
    fmt = _native(data.get("format"))
    if fmt != FORMAT_NAME:
        raise _Problem("not a pytracemalloc snapshot (format %s)"
                       % (_safe_repr(fmt) if "format" in data else "missing"))
    version = data.get("version")
    if not _is_int(version) or version not in (1, 2):
        raise _Problem("unsupported snapshot format version %s (this pytracemalloc reads "
                       "versions 1 and 2)" % _safe_repr(version))
    expected = _V1_KEYS if version == 1 else _V2_KEYS
    keys = set(data)
    if keys != expected:
        problems = []
        missing = sorted(expected - keys)
        unknown = sorted(_safe_repr(key) for key in keys - expected)
        if missing:
            problems.append("missing keys: %s" % ", ".join(missing))
        if unknown:
            problems.append("unknown keys: %s" % ", ".join(unknown))
        raise _Problem("invalid snapshot: %s" % "; ".join(problems))
    result = _new_data()
    _check_metadata(data, result)
    if version == 1 or data["stats"] is not None:
        result["stats"] = _check_stats(data["stats"])
    if version == 2:
        if data["traces"] is not None:
            result["traces"] = _check_traces(data["traces"])
        result["traceback_limit"] = _check_optional_int("traceback_limit",
                                                        data["traceback_limit"])
        result["attributes"] = _check_attributes(data["attributes"], reserved)
        if result["stats"] is None and result["traces"] is None:
            raise _Problem("invalid snapshot: it has neither stats nor traces")
    return result, version



def _from_stock(stub, reserved):
    """A pickled tracemalloc.Snapshot: stock dumps ({"traces": _Traces, "traceback_limit":
    int} and any attribute set on it) and pickled pytracemalloc Snapshot objects."""
    if stub.args or not isinstance(stub.state, dict):
        raise _Problem("invalid snapshot: a Snapshot object without its attributes")
    state = dict((_native(key), value) for key, value in stub.state.items())
    result = _new_data()
    traces = state.get("traces")
    if isinstance(traces, _StubTraces):
        if traces.args or not isinstance(traces.state, dict):
            raise _Problem("invalid snapshot: a _Traces object without its traces")
        traces = dict((_native(key), value) for key, value in traces.state.items()).get(
            "_traces")
    if traces is None and "_stats" not in state:
        raise _Problem("invalid snapshot: a Snapshot object without traces")
    if traces is not None:
        result["traces"] = _check_traces(traces)
    result["traceback_limit"] = _check_optional_int("traceback_limit",
                                                    state.get("traceback_limit"))
    metadata = {"pid": None, "timestamp": None, "process_memory": None,
                "tracemalloc_memory": None, "user_data": []}
    for key in metadata:
        if key in state:
            metadata[key] = state[key]
    _check_metadata(metadata, result)
    if state.get("_stats") is not None:
        result["stats"] = _check_stats(state["_stats"])
    attributes = dict((key, value) for key, value in state.items()
                      if key not in _SNAPSHOT_STATE)
    result["attributes"] = _check_attributes(attributes, reserved)
    return result


def _write_pickle(data):
    payload = {
        "format": FORMAT_NAME, "version": PICKLE_VERSION, "pid": data["pid"],
        "timestamp": data["timestamp"], "process_memory": data["process_memory"],
        "tracemalloc_memory": data["tracemalloc_memory"],
        "user_data": [tuple(item) for item in data["user_data"]],
        "stats": data["stats"], "traces": data["traces"],
        "traceback_limit": data["traceback_limit"], "attributes": data["attributes"],
    }
    return _dumps(payload, 2)
