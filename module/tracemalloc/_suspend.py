"""The package's work out of the user's memory: _suspended(), the context in which the tools of
the package (DisplayTop, TakeSnapshot, DisplayGarbage, their timers, Snapshot.write() and the
command line) run, with tracing suspended in the calling thread.

While suspended, what the thread allocates is the tracer's memory: not traced (it is in no
snapshot, top or total), counted by get_tracemalloc_memory() instead. What it frees or resizes
of the user's still leaves or moves in the user's traces, and the other threads stay traced.
The rule, and why a snapshot that the user takes is the user's: doc/internals.rst,
"Suspension".
"""
from __future__ import absolute_import

import tracemalloc


class _Suspended(object):
    """The context manager of _suspended(), one instance for every use: the depth of the
    suspension is the engine's, per thread, so that entering it allocates nothing (its
    __enter__ and __exit__ are static methods: looking them up creates no bound method, which
    would otherwise be a block of the user's alive during the suspended work, and in the
    snapshot it takes)."""

    __slots__ = ()

    @staticmethod
    def __enter__():
        tracemalloc._engine.suspend()

    @staticmethod
    def __exit__(exc_type, exc_value, traceback):
        tracemalloc._engine.resume()
        return False


_SUSPENDED = _Suspended()


def _suspended():
    """Context manager: suspend tracing in this thread for the block, then resume it, also
    when the block raises. Nestable. The engine is read at each use (tests replace it)."""
    return _SUSPENDED
