/* The pickle scanner of snapshot files (tracemalloc/_pickle_scan.py): a function of the module
 * tracemalloc._engine, see doc/internals.rst. */
#ifndef PYTRACEMALLOC_PICKLE_SCAN_H
#define PYTRACEMALLOC_PICKLE_SCAN_H

#include "compat.h"

#include <glib.h>

/* _engine.scan_pickle(data, max_nesting) -> (status, value) */
PyObject *tm_pickle_scan(PyObject *self, PyObject *args);

#endif /* PYTRACEMALLOC_PICKLE_SCAN_H */
