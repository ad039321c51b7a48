/* The tracing engine: PEP 445 allocator hooks, traceback capture, and the export of traces
 * to Python objects. See doc/internals.rst for the contract and the locking rules. */
#ifndef PYTRACEMALLOC_HOOKS_H
#define PYTRACEMALLOC_HOOKS_H

#include "compat.h"
#include "store.h"

/* States of the engine:
 *
 *   NOT_STARTED --start--> TRACING --stop--> STOPPED --start--> TRACING ...
 *
 * TRACING: hooks installed, store allocated. STOPPED and NOT_STARTED differ only in that the
 * fork handlers are registered once the engine has been started. Every transition happens
 * with the GIL held. */

/* Register the fork handlers and create the constants. Call once, from module init.
 * Returns 0, or -1 with an exception set. */
int tm_engine_init(void);

/* Start tracing with nframe frames (1..TM_MAX_NFRAME), or change the limit while tracing.
 * Returns 0, or -1 with an exception set (nothing changed). */
int tm_engine_start(guint nframe);

/* Stop tracing: restore the allocators, forget every trace, free all the engine's memory. */
void tm_engine_stop(void);

gboolean tm_engine_is_tracing(void);

/* Does the calling thread hold the GIL of the interpreter that started tracing? */
gboolean tm_engine_in_tracing_interpreter(void);
guint tm_engine_traceback_limit(void);

/* Forget all traces, keep tracing. */
void tm_engine_clear(void);

void tm_engine_traced_memory(gsize *current, gsize *peak);
void tm_engine_reset_peak(void);
gsize tm_engine_memory(void);

/* How many tracebacks the hooks captured since the module was loaded (one walk of the frames
 * each), for the tests: a new object costs exactly one. GIL held. */
guint64 tm_engine_capture_count(void);

/* The interpreter's variant: "stock", "plain", "track" or "disabled". */
const char *tm_engine_variant(void);

/* Bytes and blocks parked on free lists; FALSE without free-list hooks (not "track"). */
gboolean tm_engine_freelist_memory(gsize *size, gsize *count);

/* Python views (new references, NULL with an exception set on error). */
PyObject *tm_engine_object_traceback(PyObject *obj);  /* tuple of (filename, lineno) or None */
PyObject *tm_engine_traces(void);                      /* list of (domain, size, tb, total_nframe) */
PyObject *tm_engine_stats(void);                       /* {filename: {lineno: (size, count)}} */

/* Called by the allocator hooks (GIL held) to let the timers notice their deadlines. Defined
 * in timer.c. */
void tm_timer_poll(void);

#endif /* PYTRACEMALLOC_HOOKS_H */
