/* The fast path's shape of raw traces, shared by the C loops of stats.c (grouping, filtering)
 * and columns.c (the compact file columns): a frame is an exact (str, int) tuple, a traceback
 * an exact tuple of such frames. Need the GIL; run no Python code. */
#ifndef PYTRACEMALLOC_TRACESHAPE_H
#define PYTRACEMALLOC_TRACESHAPE_H

#include "compat.h"

/* A frame of the fast path: an exact (str, int) tuple. */
static inline int
tm_frame_ok(PyObject *frame)
{
    return PyTuple_CheckExact(frame) && PyTuple_GET_SIZE(frame) == 2
           && TmStr_CheckExact(PyTuple_GET_ITEM(frame, 0))
           && tm_int_exact(PyTuple_GET_ITEM(frame, 1));
}

static inline int
tm_traceback_ok(PyObject *traceback)
{
    Py_ssize_t i;

    if (!PyTuple_CheckExact(traceback))
        return 0;
    for (i = 0; i < PyTuple_GET_SIZE(traceback); i++) {
        if (!tm_frame_ok(PyTuple_GET_ITEM(traceback, i)))
            return 0;
    }
    return 1;
}

#endif /* PYTRACEMALLOC_TRACESHAPE_H */
