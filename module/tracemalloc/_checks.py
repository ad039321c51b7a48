"""The checks of a snapshot's content, read from a file or about to be written.

Stats, user data and metadata; raw traces (the older stock layouts converted, and on Python
2 the filenames of a file of Python 3 made native; the engine's check_traces() in C first
skips the leading traces already in the final shape when the C loops are in use); extra
attributes, with the shapes of those pytracemalloc sets itself (lost_traces, and the peak's:
peak, peak_stats, peak_traces); and the Frame, Traceback and Trace stand-ins of a stock dump
(as LoadedObject).
A value that does not fit raises _Problem. _new_data() is the dict that carries a
snapshot's content between the file modules and Snapshot.
"""
from __future__ import absolute_import

import operator

from tracemalloc import _accel
from tracemalloc._compat import _INT_TYPES, _PY2, _TEXT_TYPES, _map, _native, _zip
from tracemalloc._errors import _Problem, _safe_repr
from tracemalloc._unpickler import _STUB_TYPES, _StubFrame, _StubTrace, _StubTraceback


# No size, count, line number, domain or process ID of a snapshot reaches 2**128 (the
# engine's are 64 bits); a larger int in a file is refused: an int of 5,000 digits cannot be
# printed (str() refuses it on 3.11+) and one beyond 1e308 breaks the size formatting.
_INT_LIMIT = 2 ** 128


def _is_int(value):
    """True for an int (not a bool) of at most 128 bits, False for another type; _Problem for
    a larger int."""
    if not isinstance(value, _INT_TYPES) or isinstance(value, bool):
        return False
    if -_INT_LIMIT < value < _INT_LIMIT:
        return True
    raise _Problem("invalid snapshot: an int of %d bits (at most 128)" % value.bit_length())



def _new_data():
    """The dict exchanged with Snapshot (tracemalloc/_snapshot.py): a snapshot's content."""
    return {
        "pid": None, "timestamp": None, "process_memory": None, "tracemalloc_memory": None,
        "user_data": [], "stats": None, "traces": None, "traceback_limit": None,
        "attributes": {},
    }


def _fail(what, expected):
    raise _Problem("invalid snapshot: %s must be %s" % (what, expected))


def _check_dict(value, what, expected):
    """The items of the dict *value* (else _fail(what, expected))."""
    if not isinstance(value, dict):
        _fail(what, expected)
    return value.items()


def _check_text(value, what):
    """*value* as a native str (else _fail(what, "a str"))."""
    value = _native(value)
    if not isinstance(value, _TEXT_TYPES):
        _fail(what, "a str")
    return value


def _check_stats(stats, what="stats"):
    """*stats* {filename: {lineno: (size, count)}} (named *what* in the problem), with native
    filenames."""
    result = {}
    for filename, lines in _check_dict(stats, what,
                                       "a dict {filename: {lineno: (size, count)}}"):
        filename = _check_text(filename, "a filename in %s" % what)
        file_stats = {}
        for lineno, stat in _check_dict(lines, "%s[%s]" % (what, _safe_repr(filename)),
                                        "a dict {lineno: (size, count)}"):
            if not _is_int(lineno):
                _fail("a line number of %s[%s]" % (what, _safe_repr(filename)), "an int")
            if (not isinstance(stat, tuple) or len(stat) != 2
                    or not _is_int(stat[0]) or not _is_int(stat[1])):
                _fail("%s[%s][%s]" % (what, _safe_repr(filename), lineno),
                      "a (size, count) tuple of ints")
            file_stats[lineno] = stat
        result[filename] = file_stats
    return result


def _check_user_data(user_data):
    if not isinstance(user_data, (list, tuple)):
        _fail("user_data", "a list of (title, format, value) tuples")
    result = []
    for index, item in enumerate(user_data):
        if not isinstance(item, tuple) or len(item) != 3:
            _fail("user_data[%d]" % index, "a (title, format, value) tuple")
        title, fmt, value = _native(item[0]), _native(item[1]), item[2]
        if (not isinstance(title, _TEXT_TYPES) or not isinstance(fmt, _TEXT_TYPES)
                or not _is_int(value)):
            _fail("user_data[%d]" % index, "a (str, str, int) tuple")
        result.append((title, fmt, value))
    return result


def _check_optional_int(what, value):
    if value is not None and not _is_int(value):
        _fail(what, "an int or None")
    return value


def _check_frames(frames, cache):
    """A raw traceback: a tuple of (filename, lineno), most recent first. *cache* maps the
    id of every traceback already checked to its checked version (equal tracebacks stay one
    object, as the engine returns them)."""
    key = id(frames)
    hit = cache.get(key)
    if hit is not None and hit[0] is frames:
        return hit[1]
    if not isinstance(frames, tuple):
        _fail("a traceback", "a tuple of (filename, lineno) tuples")
    result = frames
    for index, frame in enumerate(frames):
        if (not isinstance(frame, tuple) or len(frame) != 2
                or not isinstance(frame[0], _TEXT_TYPES) or not _is_int(frame[1])):
            _fail("a frame", "a (filename: str, lineno: int) tuple")
        if _PY2 and isinstance(frame[0], unicode):  # noqa: F821 (Python 2 only)
            if result is frames:
                result = list(frames)
            result[index] = (_native(frame[0]), frame[1])
    if result is not frames:
        result = tuple(result)
    cache[key] = (frames, result)
    return result


def _check_traces(traces):
    """Raw traces: a list of (domain, size, traceback, total_nframe). The older layouts of
    the stock module are converted: (domain, size, traceback) of Python 3.6-3.8 and
    (size, traceback) of 3.4-3.5 (total_nframe None, domain 0). A Trace object of a stock
    pickle becomes its raw tuple.

    The engine's check_traces() (C) skips the leading traces that are already in the final
    shape (on Python 3: all of a valid file), so that only the others are checked here.
    """
    if not isinstance(traces, (list, tuple)):
        _fail("traces", "a list of (domain, size, traceback, total_nframe) tuples")
    result = traces if type(traces) is list else list(traces)
    start = 0
    if _accel.use_c():
        start = _accel.check_traces(result)
        if start is None:
            return result
        if _PY2 and _accel.check_traces(result, True) is None:
            # of the right shape but for unicode filenames (a file of Python 3): only the
            # distinct tracebacks need converting
            return _native_tracebacks(result)
    cache = {}
    for index in range(start, len(result)):
        trace = original = result[index]
        if isinstance(trace, _StubTrace):
            trace = _stub_slot(trace, "_trace")
        if not isinstance(trace, tuple) or not 2 <= len(trace) <= 4:
            _fail("a trace", "a (domain, size, traceback, total_nframe) tuple")
        if len(trace) == 2:
            trace = (0, trace[0], trace[1], None)
        elif len(trace) == 3:
            trace = trace + (None,)
        domain, size, frames, total_nframe = trace
        if not _is_int(domain) or not _is_int(size) or (total_nframe is not None
                                                          and not _is_int(total_nframe)):
            _fail("a trace", "a (domain: int, size: int, traceback, total_nframe: int or "
                             "None) tuple")
        checked = _check_frames(frames, cache)
        if checked is not frames:
            trace = (domain, size, checked, total_nframe)
        if trace is not original:
            if result is traces:
                result = list(traces)
            result[index] = trace
    return result


def _native_tracebacks(traces):
    """Python 2: *traces* (of the engine's shape but for unicode filenames) with native str
    filenames; each distinct traceback is converted once."""
    frames_of = list(_map(operator.itemgetter(2), traces))
    by_id = dict(_zip(_map(id, frames_of), frames_of))
    cache = {}
    converted = dict((key, _check_frames(frames, cache)) for key, frames in by_id.items())
    if all(converted[key] is frames for key, frames in by_id.items()):
        return traces
    get = converted.__getitem__
    return [(domain, size, get(id(frames)), total)
            for domain, size, frames, total in traces]


def _stub_slot(stub, name):
    """The value of slot *name* in the state of a stub of a __slots__ class (Frame, Trace,
    Traceback): the state is (None, {slot: value}) or {slot: value}."""
    state = stub.state
    if stub.args:
        raise _Problem("invalid snapshot: a %s built with arguments"
                       % type(stub).__name__[5:])
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
        state = state[1]
    if not isinstance(state, dict) or name not in state:
        raise _Problem("invalid snapshot: a %s object without %s"
                       % (type(stub).__name__[5:], name))
    return state[name]


_ATTRIBUTE_TYPES = (type(None), bool, float, list, tuple, dict) + _INT_TYPES + _TEXT_TYPES


def check_attribute_value(value):
    """None if *value* can be stored as an extra attribute of a snapshot (None, bool, int,
    float, str, and tuples, lists and dicts of them), else the name of the type that
    cannot. Walks the value once per container (shared or cyclic data is fine)."""
    seen = set()
    todo = [value]
    while todo:
        item = todo.pop()
        if type(item) not in _ATTRIBUTE_TYPES:
            return type(item).__name__
        if isinstance(item, (list, tuple, dict)):
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, dict):
                todo.extend(item.keys())
                todo.extend(item.values())
            else:
                todo.extend(item)
    return None


def _check_lost_traces(value):
    if value is None or (_is_int(value) and value >= 0):
        return None
    return "the attribute 'lost_traces' must be an int >= 0 or None, not %s" % _safe_repr(value)


def _check_sample_bytes(value):
    if _is_int(value) and value >= 0:
        return None
    return "the attribute 'sample_bytes' must be an int >= 0, not %s" % _safe_repr(value)


def _check_time(value):
    # seconds since the epoch: finite (a NaN or an infinity would poison the fits of
    # find_leaks()) and not negative
    if value is None:
        return None
    if (isinstance(value, (float,) + _INT_TYPES) and not isinstance(value, bool)
            and 0 <= value < float("inf")):
        return None
    return ("the attribute 'time' must be a number of seconds since the epoch (a float >= 0) "
            "or None, not %s" % _safe_repr(value))


def _check_peak(value):
    if isinstance(value, bool):
        return None
    return "the attribute 'peak' must be True or False, not %s" % _safe_repr(value)


def _problem_of(check, value):
    """None if check(value) passes, else the text of its _Problem without "invalid
    snapshot: " (the callers of check_known_attribute() add their own prefix)."""
    try:
        check(value)
    except _Problem as exc:
        text = str(exc)
        prefix = "invalid snapshot: "
        return text[len(prefix):] if text.startswith(prefix) else text
    return None


def check_peak_traces(groups):
    """*groups*: the traces at the peak grouped by domain and traceback, as
    tracemalloc._get_peak_traces() returns them and TakeSnapshot(peak=True) stores them: a list
    of (domain, size, count, traceback, total_nframe) with ints domain >= 0, size >= 0, count
    >= 1, and total_nframe an int or None. Returns the list with native filenames (Python 2
    reading a file of Python 3); raises _Problem."""
    what = "the attribute 'peak_traces'"
    shape = "a list of (domain, size, count, traceback, total_nframe) tuples"
    if not isinstance(groups, (list, tuple)):
        _fail(what, shape)
    result = groups if type(groups) is list else list(groups)
    cache = {}
    for index, group in enumerate(result):
        if not isinstance(group, tuple) or len(group) != 5:
            _fail("%s[%d]" % (what, index), "a (domain, size, count, traceback, total_nframe) "
                                             "tuple")
        domain, size, count, frames, total = group
        if (not _is_int(domain) or domain < 0 or not _is_int(size) or size < 0
                or not _is_int(count) or count < 1
                or (total is not None and not _is_int(total))):
            _fail("%s[%d]" % (what, index), "a (domain >= 0, size >= 0, count >= 1, traceback, "
                                             "total_nframe: int or None) tuple")
        try:
            checked = _check_frames(frames, cache)
        except _Problem as exc:
            raise _Problem("invalid snapshot: the traceback of %s[%d]: %s"
                           % (what, index, str(exc)[len("invalid snapshot: "):]))
        if checked is not frames:
            if result is groups:
                result = list(groups)
            result[index] = (domain, size, count, checked, total)
    return result


# Extra attributes that pytracemalloc itself sets, whose values must have a shape: name ->
# function returning None or the problem.
KNOWN_ATTRIBUTES = {
    "lost_traces": _check_lost_traces,
    "time": _check_time,
    "peak": _check_peak,
    "sample_bytes": _check_sample_bytes,
    "peak_stats": lambda value: _problem_of(lambda stats: _check_stats(stats, "peak_stats"),
                                            value),
    "peak_traces": lambda value: _problem_of(check_peak_traces, value),
    "time": _check_time,
}


def check_known_attribute(name, value):
    """None if *value* fits the extra attribute *name* (any value for a name that
    pytracemalloc does not set itself), else the problem."""
    check = KNOWN_ATTRIBUTES.get(name)
    return check(value) if check is not None else None


def _check_attributes(attributes, reserved):
    """Extra attributes of a snapshot (stock snapshots keep any attribute set on them):
    public names that are not the snapshot's own; values of _ATTRIBUTE_TYPES, where a
    Frame, Traceback or Trace of a stock pickle becomes ours."""
    result = {}
    for name, value in _check_dict(attributes, "attributes", "a dict"):
        name = _check_text(name, "an attribute name")
        if name.startswith("_") or name in reserved:
            continue  # private state of a pickled object, or a method name: not restored
        if isinstance(value, _STUB_TYPES):
            value = _convert_stub(value)
        else:
            problem = check_attribute_value(value)
            if problem is not None:
                raise _Problem("invalid snapshot: the attribute %s holds a %s"
                               % (_safe_repr(name), problem))
        problem = check_known_attribute(name, value)
        if problem is not None:
            raise _Problem("invalid snapshot: %s" % problem)
        result[name] = value
    return result


class LoadedObject(object):
    """A Frame, Traceback or Trace read from a stock pickle, checked, for tracemalloc to
    build: *kind* is the class name, *value* what it is built from: (filename, lineno) for
    a Frame, (frames most recent first, total_nframe) for a Traceback, a raw trace."""

    __slots__ = ("kind", "value")

    def __init__(self, kind, value):
        self.kind = kind
        self.value = value


def _convert_stub(stub):
    """The LoadedObject of a Frame, Traceback or Trace stub."""
    cache = {}
    if isinstance(stub, _StubFrame):
        frame = _check_frames((_stub_slot(stub, "_frame"),), cache)[0]
        return LoadedObject("Frame", frame)
    if isinstance(stub, _StubTraceback):
        frames = _stub_slot(stub, "_frames")
        if not isinstance(frames, tuple):
            _fail("a traceback", "a tuple")
        frames = _check_frames(tuple(reversed(frames)), cache)
        total = stub.state[1].get("_total_nframe") if isinstance(stub.state, tuple) else None
        return LoadedObject("Traceback", (frames, _check_optional_int("total_nframe", total)))
    if isinstance(stub, _StubTrace):
        return LoadedObject("Trace", _check_traces([stub])[0])
    raise _Problem("invalid snapshot: a nested %s object" % type(stub).__name__[5:])



def _check_metadata(data, result):
    """pid, timestamp, process_memory, tracemalloc_memory and user_data of *data*."""
    if data["pid"] is not None and not _is_int(data["pid"]):
        _fail("pid", "an int")
    result["pid"] = data["pid"]
    timestamp = _native(data["timestamp"])
    if timestamp is not None and not isinstance(timestamp, _TEXT_TYPES):
        _fail("timestamp", "a str")
    result["timestamp"] = timestamp
    for key in ("process_memory", "tracemalloc_memory"):
        result[key] = _check_optional_int(key, data[key])
    result["user_data"] = _check_user_data(data["user_data"])
