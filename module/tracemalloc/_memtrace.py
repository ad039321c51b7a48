"""Profile and Trace of tracemalloc.memtrace: the context managers around the engine's memory
logs (tracemalloc._engine.MemtraceLog, module/engine/memtrace.c), their default file names
and their nesting.

Each use opens its own log file. Uses nest per thread and per kind: while an inner Profile
runs, the outer one is detached (the calling thread has one profile function), and its log
says so, as pymemtrace's do::

    MSG:  12           +3      0.000412     # Detaching this profile file wrapper. New file: ...
    MSG:  12           +3      0.001023     # Re-attaching this profile file wrapper.

A Profile and a Trace run side by side (a thread has one of each).
"""
from __future__ import absolute_import

import os
import sys
import threading
import time

import tracemalloc
from tracemalloc._compat import _INT_TYPES, _TEXT_TYPES, _native
from tracemalloc._suspend import _suspended

__all__ = ["Profile", "Trace"]

# The ordinal of the default file names (pymemtrace's): counts the logs opened by the process.
_ORDINAL_LOCK = threading.Lock()
_ordinal = [0]

# Per thread: the active uses of each kind, innermost last.
_ACTIVE = threading.local()


def _active(kind):
    stacks = getattr(_ACTIVE, "stacks", None)
    if stacks is None:
        stacks = _ACTIVE.stacks = {"P": [], "T": []}
    return stacks[kind]


def default_file_name(kind, depth):
    """pymemtrace's name: "YYYYMMDD_HHMMSS_ORDINAL_PID_KIND_DEPTH_PYVERSION.log", the date
    and time in UTC, KIND "P" (Profile) or "T" (Trace), DEPTH the number of active uses of
    that kind in the thread (0: the outermost)."""
    with _ORDINAL_LOCK:
        ordinal = _ordinal[0]
        _ordinal[0] += 1
    return "%s_%d_%d_%s_%d_PY%s.log" % (time.strftime("%Y%m%d_%H%M%S", time.gmtime()),
                                        ordinal, os.getpid(), kind, depth,
                                        sys.version.split()[0])


def _check_trigger(name, value, allow_none):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, _INT_TYPES) \
            or value < -1:
        raise ValueError("%s must be -1 (a page), 0 (every event) or a number of bytes%s, "
                         "not %r" % (name, " or None" if allow_none else "", value))


class _MemoryLog(object):
    """The common part of Profile and Trace."""

    _KIND = None   # "P" or "T"
    _NAME = None   # "profile" or "trace"

    def __init__(self, d_rss_trigger=-1, d_traced_trigger=None, message=None, filepath=None):
        _check_trigger("d_rss_trigger", d_rss_trigger, True)
        _check_trigger("d_traced_trigger", d_traced_trigger, True)
        if d_rss_trigger is None and d_traced_trigger is None:
            raise ValueError("d_rss_trigger and d_traced_trigger cannot both be None")
        if message is not None and not isinstance(message, _TEXT_TYPES):
            raise TypeError("message must be a str, not %s" % type(message).__name__)
        if message is not None:
            message = _native(message)
        self.d_rss_trigger = d_rss_trigger
        self.d_traced_trigger = d_traced_trigger
        self.message = message
        self.filepath = filepath
        self._log = None
        self._path = None

    def _open(self):
        stack = _active(self._KIND)
        path = self.filepath
        if path is None or os.path.isdir(path):
            name = default_file_name(self._KIND, len(stack))
            path = name if path is None else os.path.join(path, name)
        log = tracemalloc._engine.memtrace_open(path, self._KIND == "T", self.d_rss_trigger,
                                                self.d_traced_trigger, self.message)
        if stack:
            stack[-1]._log.write_message("Detaching this %s file wrapper. New file: %s"
                                         % (self._NAME, os.path.abspath(log.path)))
        stack.append(self)
        self._log = log
        self._path = log.path
        return log

    def __enter__(self):
        if self._log is not None:
            raise RuntimeError("this %s is already in use: make another one" % self._NAME)
        with _suspended():
            log = self._open()
        log.attach()
        return self

    def __exit__(self, exc_type=None, exc_value=None, traceback=None):
        log = self._log
        if log is None or log.closed:
            return False
        try:
            log.close()  # OSError if a write failed (a full disk)
        finally:
            with _suspended():
                stack = _active(self._KIND)
                if self in stack:
                    stack.remove(self)
                outer = stack[-1] if stack else None
                if outer is not None and not outer._log.closed:
                    outer._log.write_message("Re-attaching this %s file wrapper."
                                             % self._NAME)
            if outer is not None and not outer._log.closed:
                outer._log.attach()
        return False

    def write_message_to_log(self, text):
        """Write *text* into the log as MSG rows (one per line), numbered as the events."""
        if self._log is None:
            raise ValueError("the %s has not started" % self._NAME)
        self._log.write_message(text)

    # pymemtrace's name
    write_to_log = write_message_to_log

    @property
    def log_file_path(self):
        """The log file's path (None before the start, when no filepath was given)."""
        if self._path is not None:
            return self._path
        return None if self.filepath is None or os.path.isdir(self.filepath) else self.filepath

    @property
    def events(self):
        """Events seen so far (0 before the start)."""
        return self._log.events if self._log is not None else 0

    @property
    def rows(self):
        """Event rows written so far (FRST, PREV, NEXT, LAST)."""
        return self._log.rows if self._log is not None else 0

    def __repr__(self):
        return "<tracemalloc.memtrace.%s d_rss_trigger=%r d_traced_trigger=%r log=%r>" % (
            type(self).__name__, self.d_rss_trigger, self.d_traced_trigger,
            self.log_file_path)


class Profile(_MemoryLog):
    """Context manager: log the memory at the calls and returns of the calling thread
    (Python functions and C functions alike) into a file.

    ``Profile(d_rss_trigger=-1, d_traced_trigger=None, message=None, filepath=None)``:
    a row is written when RSS moved by *d_rss_trigger* bytes since the last row (-1: a page,
    0: at every event, None: RSS triggers nothing) or traced memory by *d_traced_trigger*
    bytes (None: never; tracing must be on); *message* is written at the top of the file;
    *filepath* is the file, or a directory for the default name (pymemtrace's), by default in
    the current directory. ``log_file_path`` is the file; ``write_message_to_log(text)``
    adds a message."""

    _KIND = "P"
    _NAME = "profile"


class Trace(_MemoryLog):
    """Context manager: as Profile, at the calls, returns and every line of Python code of the
    calling thread (C functions are not seen)."""

    _KIND = "T"
    _NAME = "trace"
