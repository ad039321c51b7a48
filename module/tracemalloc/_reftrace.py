"""Reference tracing: ReferenceTracing, a context manager that counts the objects created and
destroyed during a block, per type, and logs each of them (NEW and DEL rows) to a file,
through the interpreter's reference tracer (PyRefTracer_SetTracer: CPython 3.13, and 2.7 and
3.11 built with our reftracer-hook patch). The engine's side is module/engine/reftrace.c;
doc/internals.rst, "Reference tracing", says how it sits beside the allocator hooks.

The engine is read as tracemalloc._engine at each use (the tests replace it).
"""
from __future__ import absolute_import

import gc
import os
import tempfile

import tracemalloc
from tracemalloc._compat import _PY2

__all__ = ["ReferenceTracing"]

# The columns of a log row (the log's first line names them), tab-separated.
LOG_COLUMNS = ("EVENT", "CLOCK", "ADDRESS", "LIVE", "TYPE", "FILE", "LINE", "FUNCTION",
               "RSS", "DRSS")

_NO_HOOK = ("reference tracing needs PyRefTracer_SetTracer(): CPython 3.13, or CPython 2.7 "
            "or 3.11 built with this project's reftracer-hook patch (build-aux/python-build)")


def _type_name(item, what):
    """The name a type is matched by: a str as given, a type's __name__."""
    if isinstance(item, type):
        return item.__name__
    if isinstance(item, str):
        return item
    if _PY2 and isinstance(item, unicode):  # noqa: F821 (Python 2 only)
        return item.encode("utf-8")
    raise TypeError("%s: expected type names or types, got %s" % (what, type(item).__name__))


def _type_names(items, what):
    if items is None:
        return ()
    if isinstance(items, (str, type)):
        items = (items,)
    return tuple(_type_name(item, what) for item in items)


class ReferenceTracing(object):
    """``with ReferenceTracing(...) as rt:`` counts and logs the objects created and destroyed
    in the block, per type (its ``__name__``, or the C type's tp_name).

    - *include_types*: type names or types; if given, only those types are traced (builtin
      ones too); *exclude_types*: never traced. A name matches a type's full name or its
      last dotted part ("OrderedDict" matches "collections.OrderedDict").
    - *include_builtins*: also trace the types of the builtins module (int, str, tuple,
      list, dict, function, frame, ...), excluded by default: they are most of the noise.
    - *gc_collect_at_exit*: run gc.collect() before the tracing stops, so that garbage in
      reference cycles is counted as deleted.
    - *filepath*: the log file (created, or truncated); by default a new file
      ``reftrace-*.log`` in the temporary directory. ``rt.log_file_path`` gives it.

    The log has one header line, then one tab-separated row per event: NEW or DEL, the
    seconds since the start, the object's address, the live count of its type after the
    event, the type, the file, line and function of the running Python code, the RSS and
    its change since the previous row (bytes).

    ``rt.new_counts``, ``rt.deleted_counts`` and ``rt.live_counts`` are dicts {type name:
    count} (live: new minus deleted, negative when the block deleted more objects made
    before it than it made); ``rt.grown_types()`` lists (name, live) of the types whose live
    count grew, most first, and ``rt.summary()`` gives them as text. They are read from the
    engine while the block runs, and kept once it ends. ``rt.suspend()`` and
    ``rt.resume()`` stop and restart the counting inside the block (nestable).

    One ReferenceTracing at a time. RuntimeError on an interpreter without a reference
    tracer (a stock 2.7 or 3.11).
    """

    def __init__(self, include_types=None, exclude_types=None, include_builtins=False,
                 gc_collect_at_exit=False, filepath=None):
        self.include_types = _type_names(include_types, "include_types")
        self.exclude_types = _type_names(exclude_types, "exclude_types")
        self.include_builtins = bool(include_builtins)
        self.gc_collect_at_exit = bool(gc_collect_at_exit)
        self._filepath = filepath
        self.log_file_path = None
        self._counts = {}
        self._active = False

    @staticmethod
    def is_available():
        """Does this interpreter have a reference tracer?"""
        return bool(tracemalloc._engine.reftrace_available())

    def __enter__(self):
        engine = tracemalloc._engine
        if not engine.reftrace_available():
            raise RuntimeError(_NO_HOOK)
        if engine.reftrace_is_active():
            raise RuntimeError("reference tracing is already running")
        path = self._filepath
        if path is None:
            fd, path = tempfile.mkstemp(prefix="reftrace-", suffix=".log")
            os.close(fd)
        path = os.path.abspath(path)
        self.log_file_path = path
        self._counts = {}
        # Last: what the block does from here on is counted.
        engine.reftrace_start(path, self.include_types, self.exclude_types,
                              self.include_builtins)
        self._active = True
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        engine = tracemalloc._engine
        if self.gc_collect_at_exit:
            gc.collect()
        self._active = False
        engine.reftrace_stop()
        self._counts = engine.reftrace_counts()
        return False

    def suspend(self):
        """Stop counting until resume(); nestable."""
        tracemalloc._engine.reftrace_suspend()

    def resume(self):
        """End one suspend()."""
        tracemalloc._engine.reftrace_resume()

    def counts(self):
        """{type name: (new, deleted)}."""
        if self._active:
            return tracemalloc._engine.reftrace_counts()
        return dict(self._counts)

    @property
    def new_counts(self):
        return dict((name, pair[0]) for name, pair in self.counts().items())

    @property
    def deleted_counts(self):
        return dict((name, pair[1]) for name, pair in self.counts().items())

    @property
    def live_counts(self):
        return dict((name, pair[0] - pair[1]) for name, pair in self.counts().items())

    def grown_types(self):
        """[(type name, live count)] of the types with more objects alive than at the start,
        most first (then by name)."""
        grown = [(name, live) for name, live in self.live_counts.items() if live > 0]
        grown.sort(key=lambda item: (-item[1], item[0]))
        return grown

    def summary(self):
        """The grown types as text: one line each, live count, new, deleted and the name."""
        counts = self.counts()
        grown = self.grown_types()
        if not grown:
            return "No type's live count grew."
        lines = ["Types whose live count grew: %d" % len(grown),
                 "%8s %8s %8s  %s" % ("live", "new", "deleted", "type")]
        for name, live in grown:
            new, deleted = counts[name]
            lines.append("%+8d %8d %8d  %s" % (live, new, deleted, name))
        return "\n".join(lines)
