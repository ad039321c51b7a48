/* The tracing engine as module.c sees it: starting, stopping, counters and the Python views of
 * the traces. Implemented by tracer.c (state and transitions), export.c (Python views) and
 * freelists.c (variant, free-list memory); see doc/internals.rst for the contract and the
 * locking rules. Every function needs the GIL. */
#ifndef PYTRACEMALLOC_TRACER_H
#define PYTRACEMALLOC_TRACER_H

#include "compat.h"
#include "store.h"

/* Register the fork handlers, find the interpreter's variant and create the constants. Call
 * once, from module init. Returns 0, or -1 with an exception set. */
int tm_engine_init(void);

/* Start tracing with nframe frames (1..TM_MAX_NFRAME), or change the limit while tracing.
 * Returns 0, or -1 with an exception set (nothing changed). */
int tm_engine_start(guint nframe);

/* Stop tracing: restore the allocators, forget every trace, free all the engine's memory. */
void tm_engine_stop(void);

gboolean tm_engine_is_tracing(void);

guint tm_engine_traceback_limit(void);

/* Forget all traces, keep tracing. */
void tm_engine_clear(void);

void tm_engine_traced_memory(gsize *current, gsize *peak);
void tm_engine_reset_peak(void);
gsize tm_engine_memory(void);

/* How many traces the engine failed to record for lack of memory since tracing last started:
 * blocks seen by the allocator hooks, blocks reused from a free list, and calls of
 * PyTraceMalloc_Track() that returned -1. Reset to 0 by tm_engine_start() when it starts
 * tracing (not when it only changes the limit); kept by clear and stop. */
guint64 tm_engine_lost_traces(void);

/* How many tracebacks the hooks captured since the module was loaded (one walk of the frames
 * each), for the tests: a new object costs exactly one. */
guint64 tm_engine_capture_count(void);

/* The interpreter's variant: "stock", "plain", "track" or "disabled". */
const char *tm_engine_variant(void);

/* Bytes and blocks parked on free lists; FALSE without free-list hooks (not "track"). */
gboolean tm_engine_freelist_memory(gsize *size, gsize *count);

/* Python views (new references, NULL with an exception set on error). */
PyObject *tm_engine_object_traceback(PyObject *obj);  /* tuple of (filename, lineno) or None */
PyObject *tm_engine_traces(void);                      /* list of (domain, size, tb, total_nframe) */
/* {filename: {lineno: (size, count)}} by the most recent frame: of the live traces, or (at_peak)
 * of the traces live when traced memory reached its peak (tm_store_foreach_group). */
PyObject *tm_engine_stats(gboolean at_peak);
/* The traces live at the peak, grouped by domain and traceback: a list of (domain, size, count,
 * tb, total_nframe); their sizes sum to the peak of tm_engine_traced_memory() at the call. */
PyObject *tm_engine_peak_traces(void);

#endif /* PYTRACEMALLOC_TRACER_H */
