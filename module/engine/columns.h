/* The columns of the compact snapshot files in C (tracemalloc/_compact.py and _checks.py): three
 * functions of the module tracemalloc._engine, see doc/internals.rst.
 *
 * Raw traces are the list _engine.get_traces() returns: tuples (domain, size, traceback,
 * total_nframe), traceback a tuple of (filename, lineno), most recent first. Every function
 * needs the GIL and returns a new reference, or NULL with an exception set (out of memory, a
 * bad argument). */
#ifndef PYTRACEMALLOC_COLUMNS_H
#define PYTRACEMALLOC_COLUMNS_H

#include "compat.h"

#include <glib.h>

/* _engine.check_traces(traces) -> None, or the index of the first trace not of the engine's
 * shape (an int beyond 64 bits included: the Python checks decide) */
PyObject *tm_columns_check_traces(PyObject *self, PyObject *args);

/* _engine.trace_columns(traces) -> (tracebacks, domains, sizes, indexes, nframes) or None */
PyObject *tm_columns_trace_columns(PyObject *self, PyObject *args);

/* _engine.build_traces(tracebacks, domains, sizes, indexes, nframes) -> [trace, ...] */
PyObject *tm_columns_build_traces(PyObject *self, PyObject *args);

#endif /* PYTRACEMALLOC_COLUMNS_H */
