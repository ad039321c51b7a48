/* Grouping and filtering raw traces in C, for Snapshot.statistics(), compare_to() and
 * filter_traces() (tracemalloc/_grouping.py and _filters.py): two functions of the module
 * tracemalloc._engine, see doc/internals.rst.
 *
 * Raw traces are the list _engine.get_traces() returns: tuples (domain, size, traceback,
 * total_nframe), traceback a tuple of (filename, lineno), most recent first. The functions that
 * may answer None do so for any trace off the fast path (stats.c); the Python code then decides.
 * Every function needs the GIL and returns a new reference, or NULL with an exception set (out of
 * memory, a bad argument, an exception raised by a filter's matcher). */
#ifndef PYTRACEMALLOC_STATS_H
#define PYTRACEMALLOC_STATS_H

#include "compat.h"

#include <glib.h>

/* _engine.group_traces(traces, key_type, cumulative) -> [(key, size, count), ...] or None */
PyObject *tm_stats_group_traces(PyObject *self, PyObject *args);

/* _engine.filter_traces(traces, include, exclude) -> [trace, ...] or None */
PyObject *tm_stats_filter_traces(PyObject *self, PyObject *args);

#endif /* PYTRACEMALLOC_STATS_H */
