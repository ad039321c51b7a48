"""The engine's C loops, and the one place that decides whether they run.

Besides the tracer, the extension tracemalloc._engine holds seven loops of this package
(module/engine/stats.c, columns.c and pickle_scan.c): group_traces and filter_traces
(statistics(), compare_to() and filter_traces() of a Snapshot), check_traces, trace_table,
table_traces and build_traces (snapshot files), and scan_pickle (every pickle read). Each has a twin in
Python with the same results, next to the code that calls it, and the tests hold the two
against each other.

They are imported here by name, so that an engine without one of them fails at import
instead of running the slow path unnoticed. The twins run only when the package's engine is
not the extension: a FakeEngine of the tests, installed in sys.modules when the extension
cannot be imported, or assigned to tracemalloc._engine for one test. Grouping and filtering
also run their twins when tracemalloc._USE_C_STATS is false (the tests compare the two).

The loops stay in the engine rather than in an extension of their own (CPython's _json,
_pickle): doc/internals.rst, "The Python layer", says why.
"""
from __future__ import absolute_import

import sys
import types

import tracemalloc

# The package imported its engine (or the tests' stand-in) before any of its modules.
_EXTENSION = sys.modules["tracemalloc._engine"]
if isinstance(_EXTENSION, types.ModuleType):
    from tracemalloc._engine import (build_traces, check_traces, filter_traces,  # noqa: F401
                                     group_traces, scan_pickle, table_traces, trace_table)
else:
    _EXTENSION = None  # the FakeEngine of the tests: the Python twins only


def use_c(stats=False):
    """True when the C loops run: the package's engine is the extension, and for grouping
    and filtering (*stats*) tracemalloc._USE_C_STATS is true. Read at each call, as the
    tests change both."""
    return (_EXTENSION is not None and tracemalloc._engine is _EXTENSION
            and (not stats or tracemalloc._USE_C_STATS))
