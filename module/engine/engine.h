/* The tracing engine's shared state, for the files of the engine only: lock.c, linecache.c,
 * capture.c, hooks.c, freelists.c, capi.c, export.c, suspend.c, native.c and tracer.c, and
 * reftrace.c for tm_thread.suspend_depth and the frame functions of compat.h (module.c sees
 * tracer.h, and native.h to mark the engine's own work).
 * Each variable is defined in the file named next to it and says what protects it; the
 * dependencies run one way: tracer.c -> hooks.c, freelists.c, capi.c, native.c -> capture.c ->
 * linecache.c, and hooks.c, freelists.c, capi.c, native.c, tracer.c -> suspend.c, with lock.c (the lock
 * and the state it protects) under all of them.
 *
 * States of the engine:
 *
 *   NOT_STARTED --start--> TRACING --stop--> STOPPED --start--> TRACING ...
 *
 * TRACING: hooks installed, store allocated, tm_tracing TRUE. STOPPED and NOT_STARTED differ
 * only in that the fork handlers are registered once the engine has been started. Every
 * transition happens with the GIL held (tracer.c).
 *
 * Never trace ourselves:
 *   - tm_thread.reentrant is set while a hook runs; a hook entered while it is set (pymalloc
 *     falling back to the hooked RAW domain, an allocation made by code we call) goes straight
 *     to the original allocator and never takes tm_lock.
 *   - All of the engine's own memory comes from glib, i.e. the system allocator (and mmap
 *     for the biggest trace tables).
 *   - Nothing in a hook creates a Python object or touches the error indicator.
 *   - No Python object is created, and no reference dropped, while tm_lock is held: either
 *     could re-enter the allocator and deadlock on tm_lock.
 *   - The package's own work runs with tracing suspended in its thread (suspend.c): what that
 *     thread allocates is recorded in the tracer's store, tm_own_store, not in tm_store.
 *   - A hook keeps errno as the allocator left it: taking tm_lock may change it (a contended
 *     futex returns EAGAIN), and code such as getpath reads errno after a call that allocates.
 */
#ifndef PYTRACEMALLOC_ENGINE_H
#define PYTRACEMALLOC_ENGINE_H

#include "compat.h"
#include "store.h"

/* A variable of the engine that no other object reads: the hooks then load it with one
 * instruction, relative to the instruction pointer, instead of finding its address first. */
#define TM_HIDDEN __attribute__((visibility("hidden")))

/* ------------------------------------------------------------------ the table lock (lock.c) */

/* The table lock: every hook takes it around the store. A spin lock of our own rather than a
 * GMutex: its release is a plain store, where g_mutex_unlock() is an atomic exchange that waits
 * for the table writes before it (profiles of free-list churn put a third of the time in
 * g_mutex_lock/unlock). A thread that finds it taken spins briefly, then yields, then sleeps:
 * the lock is held for one table operation, longer only while a snapshot copies the tables.
 * It protects tm_store, the store's content, tm_tracing (written), tm_lost, and the tracer's
 * store of suspend.c (tm_own_store, tm_own_count). */
extern int tm_lock;

/* Set while the calling thread holds tm_lock (lock.c): the native hooks (native.c), which see
 * every malloc of the process, let through the store's own allocations under the lock rather
 * than wait for a lock their thread holds. */
extern __thread int tm_lock_owned __attribute__((tls_model("initial-exec")));

/* Wait until tm_lock is free and take it (the slow path of tm_lock_acquire). */
void tm_lock_wait(void);

/* Take tm_lock if it is free: TRUE if taken. */
static inline gboolean
tm_lock_try(void)
{
    if (__atomic_exchange_n(&tm_lock, 1, __ATOMIC_ACQUIRE))
        return FALSE;
    tm_lock_owned = 1;
    return TRUE;
}

static inline void
tm_lock_acquire(void)
{
    if (G_UNLIKELY(!tm_lock_try()))
        tm_lock_wait();
}

static inline void
tm_lock_release(void)
{
    tm_lock_owned = 0;
    __atomic_store_n(&tm_lock, 0, __ATOMIC_RELEASE);
}

/* Make fork() take tm_lock in the parent and release it on both sides. Returns 0, or -1
 * (no exception set). */
int tm_lock_register_fork(void);

/* ------------------------------------------------------------------ the state (lock.c) */

/* Protected by tm_lock, and only written with the GIL held too. */
extern TmStore *tm_store;  /* NULL unless tracing; also holds the blocks parked on free lists */
extern guint64 tm_lost;    /* traces not recorded for lack of memory (tm_engine_lost_traces) */

/* TRUE between start and stop. Written with both tm_lock and the GIL held (relaxed atomic
 * stores), so a reader holding either sees a stable value. A reader holding neither
 * (PyTraceMalloc_Track, the debug allocator's report) peeks with tm_tracing_peek() and, as
 * CPython's PyTraceMalloc_Track does, checks again under tm_lock before it uses the store. */
extern gboolean tm_tracing;

static inline gboolean
tm_tracing_peek(void)
{
    return __atomic_load_n(&tm_tracing, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ reentrancy (hooks.c) */

/* What the hooks' fast paths read of the calling thread, in one thread-local struct: a hook
 * finds every field from one offset of the thread pointer, where each __thread variable of a
 * shared object costs a load of its own offset from the GOT. Only its own thread reads or
 * writes it. Defined in hooks.c. */
typedef struct {
    /* The sampling countdown: bytes the thread may still allocate before its next sample,
     * meaningful only when sample_epoch == tm_sample_epoch (sample.h). */
    guint64 sample_left;
    guint sample_epoch;
    /* Set while the thread runs inside a hook. */
    int reentrant;
    /* The thread's suspension of tracing (see "suspension" below, suspend.c). */
    guint suspend_depth;
} TmThread;
extern __thread TmThread tm_thread __attribute__((tls_model("initial-exec")));
/* Set while the calling thread holds tm_lock around a call into the allocator (free,
 * realloc), from which a fatal error report may ask for a traceback (capi.c). */
extern __thread int tm_lock_held __attribute__((tls_model("initial-exec")));

/* Install our allocators over the current ones / put the saved ones back. GIL held. */
void tm_hooks_install(void);
void tm_hooks_uninstall(void);

/* ------------------------------------------------------------------ suspension (suspend.c) */

/* How many times the calling thread suspended tracing and has not resumed it yet (0: it is
 * traced). While it is not 0, the hooks record what the thread allocates (and a block it
 * takes from a free list, or tracks with PyTraceMalloc_Track) in the tracer's store instead
 * of tm_store, without capturing a traceback; what it frees or resizes of the user's still
 * leaves or moves in tm_store. Written by tm_engine_suspend()/_resume() and the timer runner,
 * each in its own thread. That is tm_thread.suspend_depth (above). */

/* The number of blocks in the tracer's store. Protected by tm_lock: a hook reads it under the
 * lock and calls tm_own_forget_locked() only when it is not 0. */
extern gsize tm_own_count;

/* A suspended thread allocated the block ptr of size bytes in domain (or took it from a free
 * list, or tracked it): take it out of tm_store (a parked entry, a stale trace) and record
 * it in the tracer's store (created on first use). tm_lock held, tm_tracing TRUE. Out of
 * memory, the block goes unrecorded (nothing is counted lost: it is no trace of the user). */
void tm_own_add_locked(guint domain, guintptr ptr, gsize size);

/* The block ptr of domain, traced as the user's, becomes the tracer's: its trace leaves
 * tm_store, undone (tm_store_retract: traced memory and the peak as if it had never been
 * traced) when its allocation was the store's last event, and the block is recorded in the
 * tracer's store. FALSE if tm_store has no trace of it (nothing changes). tm_lock held,
 * tm_tracing TRUE. */
gboolean tm_own_take_locked(guint domain, guintptr ptr);

/* The block ptr of domain is freed or parked (by any thread), or resized by a thread that is
 * not suspended: if the tracer's store has it, forget it there. TRUE and its size in *size
 * (if not NULL) if it had it. tm_lock held. */
gboolean tm_own_forget_locked(guint domain, guintptr ptr, gsize *size);

/* A suspended thread resized the block ptr (default domain) into ptr2 of size bytes: a trace
 * of the user's moves in tm_store with its traceback (tm_store_move), anything else becomes
 * (or stays) the tracer's. tm_lock held, tm_tracing TRUE. */
void tm_own_realloc_locked(guintptr ptr, guintptr ptr2, gsize size);

/* Whether the tracer's store has the block ptr of domain. tm_lock held. */
gboolean tm_own_has_locked(guint domain, guintptr ptr);

/* Bytes of the tracer's store: its live blocks plus its own tables. tm_lock held. */
gsize tm_own_memory_locked(void);

/* Take the tracer's store away from the hooks (NULL after it). tm_lock not held; the caller
 * frees the result (tm_store_free, which accepts NULL). */
TmStore *tm_own_detach(void);

/* ------------------------------------------------------------------ capture (capture.c) */

/* The interpreter that started tracing. Written under its GIL; read by threads of other
 * interpreters too, which hold a GIL of their own (3.12+): relaxed atomic loads and stores
 * only (a reader compares it with its own interpreter; either value will do). */
extern PyInterpreterState *tm_interp;

/* The calling thread's state if it holds the GIL of the tracing interpreter, else NULL.
 * Call only when the thread is known to hold a GIL (tm_gil_held()): without it, 3.11
 * answers with another thread's state. Threads of other interpreters (3.12+ may run them
 * under a GIL of their own) get no frames and run no timer. */
static inline PyThreadState *
tm_tracing_tstate(void)
{
    PyThreadState *tstate = tm_tstate_gil();
    return tstate != NULL && tstate->interp == __atomic_load_n(&tm_interp, __ATOMIC_RELAXED)
           ? tstate : NULL;
}

/* Set the traceback limit (1..TM_MAX_NFRAME) and its capture buffer; when not tracing yet,
 * also make the calling thread's interpreter the traced one and empty the line cache. GIL
 * held. Returns 0, or -1 on out of memory (nothing changed, no exception set). */
int tm_capture_start(guint nframe, gboolean tracing);
/* Free the capture buffer. GIL held. */
void tm_capture_stop(void);
guint tm_capture_limit(void);
/* Bytes of the capture buffer. */
gsize tm_capture_memory(void);
guint64 tm_capture_count(void);

/* Capture at most tm_capture_limit() frames of tstate (from tm_tracing_tstate()), most
 * recent first, into the capture buffer. Returns the number stored; *total receives the depth
 * of the whole stack (saturated at TM_MAX_NFRAME). */
guint tm_capture(PyThreadState *tstate, guint *total);

/* The frames of the last tm_capture() (the capture buffer). GIL held. */
const TmFrame *tm_capture_frames(void);

/* Intern the nframe captured frames as a traceback of total frames. tm_lock held; GIL held if
 * nframe > 0. A new traceback brings its filenames into the store, which then holds a
 * reference on each new one. NULL on out of memory. */
const TmTraceback *tm_intern_locked(guint nframe, guint total);

/* Record the block ptr of size bytes in the default domain with the captured frames (size: its
 * weighted size when sampling, sample.h). tm_lock held, tm_tracing TRUE. Out of memory, the
 * block goes untraced (a stale trace at its address goes too) and tm_lost counts it. */
void tm_add_locked(void *ptr, size_t size, guint nframe, guint total);

/* ------------------------------------------------------------------ line cache (linecache.c) */

/* Compute the code objects' block layout. Call once, from module init. */
void tm_linecache_init(void);
/* Forget every line: code objects died unseen while nothing was traced. GIL held. */
void tm_linecache_reset(void);
/* The line the frame executes, from the cache. GIL of the tracing interpreter held. */
int tm_linecache_lineno(TmPyFrame *frame);
/* The OBJ block at ptr is freed or moved: if it was a code object, forget its lines. GIL of
 * the tracing interpreter held: threads of other interpreters (3.12+ may run them under a GIL
 * of their own) never put their code objects in the cache and must not touch it. */
void tm_linecache_forget(void *ptr);
/* The smallest block of a code object: a freed block traced with a smaller size was none. */
extern size_t tm_code_min_block;

/* ------------------------------------------------------------------ the other hooks */

/* freelists.c: find the free-list hooks and the variant in the interpreter (module init), and
 * install or remove ours (GIL held). */
void tm_freelists_init(void);
void tm_freelists_install(void);
void tm_freelists_uninstall(void);

/* capi.c: route PyTraceMalloc_Track() and friends to the engine, or back to nothing. GIL held.
 * No-ops on interpreters without the hooks (TM_HAVE_CAPI_HOOKS). */
void tm_capi_install(void);
void tm_capi_uninstall(void);

/* ------------------------------------------------------------------ export (export.c) */

/* Create the "<unknown>" filename. Returns 0, or -1 with an exception set. */
int tm_export_init(void);

/* The traceback of the block ptr in domain as a tuple of (filename, lineno), or None; NULL
 * with an exception set on error. GIL held, tm_lock not held. */
PyObject *tm_traceback_lookup(guint domain, guintptr ptr);

#endif /* PYTRACEMALLOC_ENGINE_H */
