/* The columns of the compact snapshot files in C (tracemalloc/_compact.py and _checks.py): four
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

/* _engine.trace_table(traces) -> (tracebacks, domains, sizes, tb_indexes, nframes, index,
 * width) or None: the TRCS columns of the compact format's version 2 */
PyObject *tm_columns_trace_table(PyObject *self, PyObject *args);

/* _engine.table_traces(tracebacks, n, domains, sizes, tb_indexes, nframes, index, width)
 * -> [trace, ...] (version 2; equal traces share one tuple) */
PyObject *tm_columns_table_traces(PyObject *self, PyObject *args);

/* _engine.build_traces(tracebacks, domains, sizes, indexes, nframes) -> [trace, ...]
 * (version 1) */
PyObject *tm_columns_build_traces(PyObject *self, PyObject *args);

#endif /* PYTRACEMALLOC_COLUMNS_H */
