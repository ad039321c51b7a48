/* The tracing engine as module.c sees it: starting, stopping, counters and the Python views of
 * the traces. Implemented by tracer.c (state and transitions), export.c (Python views),
 * freelists.c (variant, free-list memory), native.c (the native domain), suspend.c (suspension, the tracer's memory),
 * hooks.c (pymalloc's statistics under the hooks) and method.c (tracer_method, calls into the
 * package that are the tracer's work); see doc/internals.rst for the contract and the locking rules. Every function needs the
 * GIL. */
#ifndef PYTRACEMALLOC_TRACER_H
#define PYTRACEMALLOC_TRACER_H

#include "compat.h"
#include "store.h"

/* Register the fork handlers, find the interpreter's variant and create the constants. Call
 * once, from module init. Returns 0, or -1 with an exception set. */
int tm_engine_init(void);

/* Start tracing with nframe frames (1..TM_MAX_NFRAME), or change the limit while tracing.
 * sample_bytes: 0 records every allocation (exact), N > 0 samples one every N bytes on
 * average and records weighted sizes (sample.h); while tracing it must be the current value
 * (ValueError otherwise: stop first). The native domain is traced in exact mode only.
 * Returns 0, or -1 with an exception set (nothing changed). */
int tm_engine_start(guint nframe, gsize sample_bytes);

/* The sample_bytes of the current tracing session; 0 when exact or not tracing. */
gsize tm_engine_sample_bytes(void);

/* Stop tracing: restore the allocators, forget every trace, free all the engine's memory. */
void tm_engine_stop(void);

gboolean tm_engine_is_tracing(void);

/* Tracing, native domain included: the preloadable library is loaded and
 * PYTRACEMALLOC_NATIVE was set when tracing started (native.h). */
gboolean tm_engine_is_native_tracing(void);
/* The domain of the blocks taken from malloc & co. by C code (native.h). */
guint tm_engine_native_domain(void);

guint tm_engine_traceback_limit(void);

/* Forget all traces, keep tracing. */
void tm_engine_clear(void);

void tm_engine_traced_memory(gsize *current, gsize *peak);
void tm_engine_reset_peak(void);
/* Bytes the engine holds (its tables, the capture buffer, the sampling mode's filter) plus
 * the tracer's memory: the blocks allocated while tracing was suspended (suspend.c) and the
 * table that records them. */
gsize tm_engine_memory(void);

/* How many traces the engine failed to record for lack of memory since tracing last started:
 * blocks seen by the allocator hooks, blocks reused from a free list, and calls of
 * PyTraceMalloc_Track() that returned -1. Reset to 0 by tm_engine_start() when it starts
 * tracing (not when it only changes the limit); kept by clear and stop. */
guint64 tm_engine_lost_traces(void);

/* Tests only (the fault switch): the n-th allocation attempted for the current store from
 * now on (its tables, its tracebacks, the copies made of it for Python: the sites of
 * TmAllocSite, store.h) fails once as if memory ran out; n = 0 cancels. Returns 0, or -1
 * when not tracing (no exception set). clear and start make a new store, without it. */
int tm_engine_fail_allocation(guint n);
/* The sites made to fail so far in the current store (bit 1 << TmAllocSite each) and the
 * allocations attempted for it; FALSE when not tracing. */
gboolean tm_engine_allocation_faults(guint *failed_sites, guint64 *attempts);

/* How many tracebacks the hooks captured since the module was loaded (one walk of the frames
 * each), for the tests: a new object costs exactly one. */
guint64 tm_engine_capture_count(void);

/* Suspension of tracing in the calling thread (suspend.c; doc/internals.rst, "Suspension"):
 * nestable, per thread. While suspended, what the thread allocates is the tracer's memory,
 * counted by tm_engine_memory() and not traced. suspend: 0, or -1 with an exception set (the
 * depth would overflow). resume: 0, or -1 with RuntimeError set when the thread is not
 * suspended. */
int tm_engine_suspend(void);
int tm_engine_resume(void);
/* The calling thread's depth (0: traced), and its replacement: the timer runner runs every
 * callback at depth 0 (a user's callback is traced even when it fires inside the tracer's
 * work) and puts the depth back after it. */
guint tm_engine_suspend_depth(void);
void tm_engine_set_suspend_depth(guint depth);
/* Sum of sizes and number of the blocks in the tracer's store (0, 0 when not tracing). */
void tm_engine_own_memory(gsize *size, gsize *count);
/* The memory block of obj, allocated by the user's thread for the tracer's work (the argument
 * tuple of a call into the package, a frame on 2.7), becomes the tracer's: it leaves the
 * user's traces for the tracer's store, and when its allocation was the store's last event
 * that allocation is undone (traced memory and the peak as if it had never been traced).
 * TRUE if it was traced as the user's; FALSE (nothing changes) otherwise or when not
 * tracing. Never fails. */
gboolean tm_engine_own_object(PyObject *obj);

/* tracer_method (method.c): the type of the package's methods that the interpreter calls in
 * the middle of the user's code, whose binding and call are the tracer's work. Readied and
 * added to the module by module.c. */
extern PyTypeObject tm_tracer_method_type;

/* The interpreter's variant: "stock", "plain", "track" or "disabled". */
const char *tm_engine_variant(void);

/* Bytes and blocks parked on free lists; FALSE without free-list hooks (not "track"), or
 * while sampling (the blocks pushed are not parked then). */
gboolean tm_engine_freelist_memory(gsize *size, gsize *count);

/* Call the interpreter's sys._debugmallocstats(), which writes pymalloc's statistics (arenas,
 * pools, blocks per size class) and some free lists' to the C stderr (fd 2). pymalloc writes
 * its part only when it is the OBJ domain's allocator (CPython's _PyMem_PymallocEnabled()
 * compares the allocator with its own), and while tracing our hook is: for the call, the
 * allocator that was there before ours is put back, then ours again. The builtin allocates
 * nothing through the OBJ domain (it formats into stack buffers and writes with fprintf), so
 * no trace is missed; the GIL, held throughout, keeps every other thread out of the MEM and
 * OBJ domains (RAW is not touched). The C stderr is flushed before the return. Returns 1 once
 * called, 0 if the interpreter has no builtin sys._debugmallocstats (Python 2.7, or sys's
 * attribute replaced), -1 with an exception set if it raised. GIL held. */
int tm_engine_debug_malloc_stats(void);

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
