/* The PEP 445 allocator hooks of the three domains (RAW, MEM, OBJ): each allocation is
 * captured and recorded in the store, each free forgets its trace. The rules that keep the
 * engine from tracing itself are in engine.h; in a thread where tracing is suspended, the
 * blocks go to the tracer's store instead (suspend.c). In sampling mode (sample.h), an
 * allocation that is not sampled, and the free or resize of a block that no store can have,
 * call the saved allocator and nothing else: no capture, no lock, no lookup. Also pymalloc's
 * statistics with the OBJ hook taken away for the call (tm_engine_debug_malloc_stats,
 * tracer.h). */
#include "engine.h"
#include "sample.h"
#include "timer.h"
#include "tracer.h"

#include <errno.h>

__thread TmThread tm_thread __attribute__((tls_model("initial-exec")));
__thread int tm_lock_held __attribute__((tls_model("initial-exec")));

/* The allocators that were installed before ours. Written by tm_hooks_install() with the GIL
 * held, before the hooks are installed. Never cleared: a RAW hook still running in a thread
 * without the GIL after tm_hooks_uninstall() keeps valid allocators to call.
 *
 * Our hooks never read their ctx argument: each domain's hooks call that domain's saved
 * allocator, and the ctx we install is the saved allocator's own. PyMem_SetAllocator() writes
 * the fields of a domain one by one, and a thread of a subinterpreter with a GIL of its own
 * (3.12+) reads them while the tracing interpreter installs or removes our hooks: it may
 * pair our function with the old ctx (pymalloc's is NULL) or the old function with ours. Both
 * pairs then work. */
static PyMemAllocatorEx tm_orig_raw, tm_orig_mem, tm_orig_obj;

/* The block at ptr is no longer allocated: drop its trace, or its parked entry. tm_lock held.
 * Returns TRUE and its size if it had a trace. */
static inline gboolean
tm_forget_locked(void *ptr, gsize *size)
{
    return tm_store_remove(tm_store, TM_DEFAULT_DOMAIN, (guintptr)ptr, size);
}

/* Leave a hook: clear the reentrancy flag, run the timers that are due (only in a thread of
 * the tracing interpreter holding its GIL) and give errno back as the allocator left it. */
static inline void
tm_hook_leave(PyThreadState *tstate, int saved_errno)
{
    tm_thread.reentrant = 0;
    if (tstate != NULL)
        tm_timer_poll();
    errno = saved_errno;
}

/* How a hook knows whether its thread holds a GIL: MEM and OBJ always do (PEP 445); RAW asks
 * (tm_gil_held()), and only on its slow path. */
#define TM_GIL_HELD 1
#define TM_GIL_ASK 2

#define TM_INLINE static inline __attribute__((always_inline))
#define TM_SLOW static __attribute__((noinline))

/* The allocation of size bytes (calloc's product, saturated): recorded if it is sampled
 * (always in exact mode, or while suspended), with the size weighted. */
TM_SLOW void *
tm_alloc_slow(PyMemAllocatorEx *alloc, int gil_mode, size_t nelem, size_t elsize,
              gboolean zero, gsize size)
{
    PyThreadState *tstate;
    guint nframe = 0, total = 0;
    void *ptr;
    int saved_errno;
    gsize weighted = size;

    tm_thread.reentrant = 1;
    if (tm_thread.suspend_depth == 0 && !tm_sample_decide(size, &weighted)) {
        /* A first countdown, just drawn, did not run out: not sampled. */
        ptr = zero ? alloc->calloc(alloc->ctx, nelem, elsize)
                   : alloc->malloc(alloc->ctx, elsize);
        tm_thread.reentrant = 0;
        return ptr;
    }
    ptr = zero ? alloc->calloc(alloc->ctx, nelem, elsize) : alloc->malloc(alloc->ctx, elsize);
    saved_errno = errno;  /* as the allocator left it (engine.h) */
    tstate = gil_mode == TM_GIL_HELD || tm_gil_held() ? tm_tracing_tstate() : NULL;
    if (G_UNLIKELY(tm_thread.suspend_depth != 0)) {
        /* The tracer's work: its memory, no traceback to capture. */
        if (ptr != NULL) {
            tm_lock_acquire();
            if (tm_tracing)
                tm_own_add_locked(TM_DEFAULT_DOMAIN, (guintptr)ptr, size);
            tm_lock_release();
        }
    }
    else if (ptr != NULL) {
        if (tstate != NULL) {
            /* Under the GIL that start, stop and clear take, tm_store stays (store.h). */
            if (G_LIKELY(tm_tracing))
                tm_store_prefetch(tm_store, (guintptr)ptr);
            nframe = tm_capture(tstate, &total);
        }
        tm_lock_acquire();
        if (tm_tracing)
            tm_add_locked(ptr, weighted, nframe, total);
        tm_lock_release();
    }
    tm_hook_leave(tstate, saved_errno);
    return ptr;
}

/* The largest request that the MEM and OBJ domains' allocators serve without calling the RAW
 * domain: pymalloc (3.x) takes only requests above 512 bytes from PyMem_RawMalloc, the debug
 * allocator adds at most 32 bytes before it asks pymalloc, the arenas come from mmap, and on
 * 2.7 (patches/2.7/0001) neither ever calls the RAW domain; mimalloc and malloc never do. */
#define TM_NO_RAW_BELOW 256

/* The fast path, inlined in each hook: reentrant calls and allocations not sampled go
 * straight to the saved allocator. */
TM_INLINE void *
tm_alloc_common(PyMemAllocatorEx *alloc, int gil_mode, size_t nelem, size_t elsize,
                gboolean zero)
{
    void *ptr;
    gsize size;

    if (tm_thread.reentrant)
        return zero ? alloc->calloc(alloc->ctx, nelem, elsize)
                    : alloc->malloc(alloc->ctx, elsize);
    /* calloc's product, saturated: a calloc that overflows fails anyway. */
    if (!zero)
        size = elsize;
    else if (elsize != 0 && nelem > G_MAXSIZE / elsize)
        size = G_MAXSIZE;
    else
        size = nelem * elsize;
    if (G_LIKELY(tm_thread.suspend_depth == 0) && tm_sample_skip(size)) {
        /* Not sampled. A small block of MEM or OBJ (a float, a small dict or list: most of
         * them) goes to the allocator in a tail call: no hook is entered under it. */
        if (gil_mode == TM_GIL_HELD && size <= TM_NO_RAW_BELOW)
            return zero ? alloc->calloc(alloc->ctx, nelem, elsize)
                        : alloc->malloc(alloc->ctx, elsize);
        /* Still reentrant for the call: pymalloc falling back to the RAW domain must not be
         * sampled on its own (nor count the block's bytes a second time). */
        tm_thread.reentrant = 1;
        ptr = zero ? alloc->calloc(alloc->ctx, nelem, elsize)
                   : alloc->malloc(alloc->ctx, elsize);
        tm_thread.reentrant = 0;
        return ptr;
    }
    return tm_alloc_slow(alloc, gil_mode, nelem, elsize, zero, size);
}

/* The resize of ptr (not NULL) into size bytes. skipped: the fast path found the new block
 * not sampled (and the old one maybe recorded); else it is decided here (always recorded in
 * exact mode or while suspended, with the size weighted). */
TM_SLOW void *
tm_realloc_slow(PyMemAllocatorEx *alloc, int gil_mode, void *ptr, size_t size,
                gboolean skipped)
{
    PyThreadState *tstate;
    void *ptr2;
    guint nframe = 0, total = 0;
    gboolean suspended = tm_thread.suspend_depth != 0, record = !skipped;
    gsize weighted = size;
    int saved_errno;

    if (record && !suspended)
        record = tm_sample_decide(size, &weighted);
    tm_thread.reentrant = 1;
    tstate = gil_mode == TM_GIL_HELD || tm_gil_held() ? tm_tracing_tstate() : NULL;
    if (tstate != NULL && !suspended && record)
        nframe = tm_capture(tstate, &total);
    /* Hold the lock across the realloc: once it moved the block, the old address may be
     * handed to a RAW allocation in a thread without the GIL, whose trace must not be the
     * one we then remove. */
    saved_errno = errno;
    tm_lock_acquire();
    tm_lock_held = 1;
    errno = saved_errno;
    ptr2 = alloc->realloc(alloc->ctx, ptr, size);
    saved_errno = errno;
    tm_lock_held = 0;
    if (ptr2 != NULL && tm_tracing) {
        if (G_UNLIKELY(suspended)) {
            /* The user's block moves with its traceback; another becomes the tracer's. */
            tm_own_realloc_locked((guintptr)ptr, (guintptr)ptr2, size);
        }
        else {
            if (ptr2 != ptr || !record)
                tm_forget_locked(ptr, NULL);
            /* As the stock tracemalloc does, the block is charged to the line that resized
             * it: a block of the tracer's too, which leaves the tracer's store. */
            if (record)
                tm_add_locked(ptr2, weighted, nframe, total);
            if (G_UNLIKELY(tm_own_count != 0))
                tm_own_forget_locked(TM_DEFAULT_DOMAIN, (guintptr)ptr, NULL);
            if (ptr2 != ptr || !record)
                tm_sample_forget_locked(ptr);
        }
    }
    tm_lock_release();
    tm_hook_leave(tstate, saved_errno);
    return ptr2;
}

TM_INLINE void *
tm_realloc_common(PyMemAllocatorEx *alloc, int gil_mode, void *ptr, size_t size)
{
    void *ptr2;
    gboolean skipped = FALSE;

    if (tm_thread.reentrant)
        return alloc->realloc(alloc->ctx, ptr, size);
    if (ptr == NULL)
        return tm_alloc_common(alloc, gil_mode, 1, size, FALSE);
    /* The new block is sampled as an allocation of its new size (sample.h). */
    if (G_LIKELY(tm_thread.suspend_depth == 0) && (skipped = tm_sample_skip(size))
        && !tm_sample_maybe_recorded(ptr)) {
        /* Neither the old block nor the new one is recorded. */
        tm_thread.reentrant = 1;
        ptr2 = alloc->realloc(alloc->ctx, ptr, size);
        tm_thread.reentrant = 0;
        return ptr2;
    }
    return tm_realloc_slow(alloc, gil_mode, ptr, size, skipped);
}

/* obj: the OBJ domain, where code objects live: the line cache forgets the code object that
 * goes, unless the block was traced with a size too small for one (most frees). gil: the
 * calling thread holds a GIL (MEM, OBJ). */
TM_SLOW void
tm_free_slow(PyMemAllocatorEx *alloc, void *ptr, gboolean obj, gboolean gil)
{
    int saved_errno;
    gboolean traced = FALSE;
    gsize size = 0;

    tm_thread.reentrant = 1;
    /* Free with the lock held, then forget the trace: another thread may get the address as
     * soon as it is freed, but cannot record its trace before we forgot ours. Freeing first
     * lets the debug allocator (PYTHONMALLOC=debug) report where a corrupted block was
     * allocated: its fatal error asks us (capi.c) from inside this free. */
    saved_errno = errno;  /* free() must not change errno: nor may our lock */
    /* The entry loads while the allocator frees (tm_store stays: see tm_alloc_slow). */
    if (gil && tm_tracing && tm_tracing_tstate() != NULL)
        tm_store_prefetch(tm_store, (guintptr)ptr);
    tm_lock_acquire();
    tm_lock_held = 1;
    alloc->free(alloc->ctx, ptr);
    if (tm_tracing) {
        traced = tm_forget_locked(ptr, &size);
        /* Not the user's: maybe the tracer's, whoever frees it. */
        if (!traced && G_UNLIKELY(tm_own_count != 0))
            traced = tm_own_forget_locked(TM_DEFAULT_DOMAIN, (guintptr)ptr, &size);
        tm_sample_forget_locked(ptr);
    }
    tm_lock_held = 0;
    tm_lock_release();
    /* Only this thread, holding the GIL, can build a code object at ptr before this. */
    if (obj && (!traced || size >= tm_code_min_block) && tm_tracing_tstate() != NULL)
        tm_linecache_forget(ptr);
    tm_thread.reentrant = 0;
    errno = saved_errno;
}

TM_INLINE void
tm_free_common(PyMemAllocatorEx *alloc, void *ptr, gboolean obj, gboolean gil)
{
    if (ptr == NULL || !tm_sample_maybe_recorded(ptr) || tm_thread.reentrant) {
        /* No store has the block (its bit is clear: sampling), or reentrant. (The line
         * cache, not used while sampling, need not forget it: linecache.c.) Not reentrant
         * for the call: if the allocator frees through the RAW domain, that hook finds the
         * same answer. */
        alloc->free(alloc->ctx, ptr);
        return;
    }
    tm_free_slow(alloc, ptr, obj, gil);
}

/* MEM and OBJ: always called with the GIL held (PEP 445). ctx is unused (see tm_orig_raw). */
static void *
tm_malloc_mem(void *ctx, size_t size)
{
    (void)ctx;
    return tm_alloc_common(&tm_orig_mem, TM_GIL_HELD, 1, size, FALSE);
}

static void *
tm_calloc_mem(void *ctx, size_t nelem, size_t elsize)
{
    (void)ctx;
    return tm_alloc_common(&tm_orig_mem, TM_GIL_HELD, nelem, elsize, TRUE);
}

static void *
tm_realloc_mem(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    return tm_realloc_common(&tm_orig_mem, TM_GIL_HELD, ptr, size);
}

static void
tm_free_mem(void *ctx, void *ptr)
{
    (void)ctx;
    tm_free_common(&tm_orig_mem, ptr, FALSE, TRUE);
}

static void *
tm_malloc_obj(void *ctx, size_t size)
{
    (void)ctx;
    return tm_alloc_common(&tm_orig_obj, TM_GIL_HELD, 1, size, FALSE);
}

static void *
tm_calloc_obj(void *ctx, size_t nelem, size_t elsize)
{
    (void)ctx;
    return tm_alloc_common(&tm_orig_obj, TM_GIL_HELD, nelem, elsize, TRUE);
}

/* OBJ, where code objects live: the line cache forgets a code object that goes. */
static void *
tm_realloc_obj(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (ptr != NULL && !tm_thread.reentrant && !tm_sample_active() && tm_tracing_tstate() != NULL)
        tm_linecache_forget(ptr);
    return tm_realloc_common(&tm_orig_obj, TM_GIL_HELD, ptr, size);
}

static void
tm_free_obj(void *ctx, void *ptr)
{
    (void)ctx;
    tm_free_common(&tm_orig_obj, ptr, TRUE, TRUE);
}

/* RAW: may be called without the GIL. Without it the Python frames of the thread cannot be
 * read safely, so the trace gets the empty traceback ("<unknown>"). */
static void *
tm_malloc_raw(void *ctx, size_t size)
{
    (void)ctx;
    return tm_alloc_common(&tm_orig_raw, TM_GIL_ASK, 1, size, FALSE);
}

static void *
tm_calloc_raw(void *ctx, size_t nelem, size_t elsize)
{
    (void)ctx;
    return tm_alloc_common(&tm_orig_raw, TM_GIL_ASK, nelem, elsize, TRUE);
}

static void *
tm_realloc_raw(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    return tm_realloc_common(&tm_orig_raw, TM_GIL_ASK, ptr, size);
}

static void
tm_free_raw(void *ctx, void *ptr)
{
    (void)ctx;
    tm_free_common(&tm_orig_raw, ptr, FALSE, FALSE);
}

void
tm_hooks_install(void)
{
    PyMemAllocatorEx raw, mem, obj;

    PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &tm_orig_raw);
    PyMem_GetAllocator(PYMEM_DOMAIN_MEM, &tm_orig_mem);
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &tm_orig_obj);
    /* Each with the ctx of the allocator it replaces (see tm_orig_raw). */
    raw = (PyMemAllocatorEx){ tm_orig_raw.ctx, tm_malloc_raw, tm_calloc_raw, tm_realloc_raw,
                              tm_free_raw };
    mem = (PyMemAllocatorEx){ tm_orig_mem.ctx, tm_malloc_mem, tm_calloc_mem, tm_realloc_mem,
                              tm_free_mem };
    obj = (PyMemAllocatorEx){ tm_orig_obj.ctx, tm_malloc_obj, tm_calloc_obj, tm_realloc_obj,
                              tm_free_obj };
    PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &raw);
    PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &mem);
    PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &obj);
}

void
tm_hooks_uninstall(void)
{
    PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &tm_orig_raw);
    PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &tm_orig_mem);
    PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &tm_orig_obj);
}

int
tm_engine_debug_malloc_stats(void)
{
    PyMemAllocatorEx current;
    PyObject *func, *result;

    /* sys's own function, not whatever replaced it: only a builtin is known to allocate
     * nothing while our OBJ hook is away. */
    func = PySys_GetObject("_debugmallocstats");  /* borrowed */
    if (func == NULL || !PyCFunction_Check(func))
        return 0;
    Py_INCREF(func);
    if (tm_tracing) {
        /* Our hooks are installed while tm_tracing is TRUE (the GIL orders both). */
        PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &current);
        PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &tm_orig_obj);
        result = PyObject_CallObject(func, NULL);
        PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &current);
    }
    else {
        result = PyObject_CallObject(func, NULL);
    }
    /* Written before the caller moves fd 2 back, had anyone made stderr buffered. */
    fflush(stderr);
    Py_DECREF(func);
    if (result == NULL)
        return -1;
    Py_DECREF(result);
    return 1;
}
