/* The native domain's hooks: malloc & co. of the whole process, as the preloadable library
 * (module/native/preload.c) forwards them once registered, traced in TM_NATIVE_DOMAIN with
 * the Python traceback of the moment (native.h).
 *
 * Never counted twice, never ourselves. A call is let through untraced when the calling
 * thread
 *   - runs inside one of the engine's hooks (tm_reentrant): PyMem_RawMalloc, pymalloc's
 *     large blocks, a free list's or PyTraceMalloc_Track's work, all traced in their own
 *     domain already, and the glib allocations of the hooks themselves;
 *   - holds tm_lock (tm_lock_owned): the store's tables growing under the lock (and waiting
 *     for the lock we hold would never end);
 *   - runs the engine's own work (tm_native_engine_depth, module.c).
 * A thread where tracing is suspended (the package's own work) records its blocks in the
 * tracer's store, as its Python allocations are. A block malloc'd natively then handed to
 * PyTraceMalloc_Track() leaves the native domain for the tracked one (capi.c).
 *
 * What is safe inside malloc: only initial-exec TLS, tm_lock (never held across a call that
 * waits for anything but the lock), the store (glib, whose allocations come back here with
 * tm_reentrant set and pass through), and the Python frames of a thread that holds the GIL of
 * the tracing interpreter (tm_gil_held_in_malloc(): on 2.7 without the thread module's lock),
 * read exactly as the RAW hook reads them. A thread without the GIL
 * (a C library's worker, the interpreter before it takes the GIL) gets the empty traceback.
 * Nothing here creates a Python object, takes the GIL, or runs a timer. errno is kept as the
 * allocator left it. */
#include "engine.h"
#include "native.h"
#include "../native/preload.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

__thread guint tm_native_engine_depth __attribute__((tls_model("initial-exec")));

/* glibc's functions, filled by the library when the hooks are first registered, then never
 * changed (the hooks of a thread still running after uninstall keep valid functions).
 * Written with the GIL held before the hooks are registered. */
static TmNativeAllocator tm_real;
/* The library's entry point, NULL if not loaded. Protected by the GIL. */
static TmNativeSetHooks tm_set_hooks;
/* See tm_native_active(). */
static gboolean tm_native_on;

gboolean
tm_native_active(void)
{
    return __atomic_load_n(&tm_native_on, __ATOMIC_RELAXED);
}

/* The call is the engine's, or made under a hook that traces it elsewhere. */
static inline gboolean
tm_native_skip(void)
{
    return tm_reentrant || tm_lock_owned || tm_native_engine_depth != 0 || !tm_tracing_peek();
}

/* Record the new block ptr of size bytes: with the Python traceback when the thread holds the
 * GIL of the tracing interpreter, the empty one otherwise; in the tracer's store when the
 * thread is suspended. */
static void
tm_native_record(void *ptr, size_t size)
{
    PyThreadState *tstate;
    guint nframe = 0, total = 0;
    int saved_errno = errno;

    tm_reentrant = 1;
    if (G_UNLIKELY(tm_suspend_depth != 0)) {
        tm_lock_acquire();
        if (tm_tracing)
            tm_own_add_locked(TM_NATIVE_DOMAIN, (guintptr)ptr, size);
        tm_lock_release();
    }
    else {
        tstate = tm_gil_held_in_malloc() ? tm_tracing_tstate() : NULL;
        if (tstate != NULL)
            nframe = tm_capture(tstate, &total);
        tm_lock_acquire();
        if (tm_tracing) {
            const TmTraceback *tb = tm_intern_locked(nframe, total);
            if (tb == NULL
                || tm_store_add(tm_store, TM_NATIVE_DOMAIN, (guintptr)ptr, size, tb) < 0) {
                tm_store_remove(tm_store, TM_NATIVE_DOMAIN, (guintptr)ptr, NULL);
                tm_lost++;
            }
        }
        tm_lock_release();
    }
    tm_reentrant = 0;
    errno = saved_errno;
}

static void *
tm_native_malloc(size_t size)
{
    void *ptr = tm_real.malloc(size);

    if (ptr != NULL && !tm_native_skip())
        tm_native_record(ptr, size);
    return ptr;
}

static void *
tm_native_calloc(size_t nelem, size_t elsize)
{
    void *ptr = tm_real.calloc(nelem, elsize);

    /* calloc checked nelem * elsize for overflow: it cannot overflow here. */
    if (ptr != NULL && !tm_native_skip())
        tm_native_record(ptr, nelem * elsize);
    return ptr;
}

static void *
tm_native_memalign(size_t alignment, size_t size)
{
    void *ptr = tm_real.memalign(alignment, size);

    if (ptr != NULL && !tm_native_skip())
        tm_native_record(ptr, size);
    return ptr;
}

/* Forget the trace of ptr (the user's, else the tracer's): nothing if it had none (allocated
 * before tracing started, or under another domain's hook). tm_lock held. */
static inline void
tm_native_forget_trace_locked(guintptr ptr)
{
    if (!tm_store_remove(tm_store, TM_NATIVE_DOMAIN, ptr, NULL) && G_UNLIKELY(tm_own_count != 0))
        tm_own_forget_locked(TM_NATIVE_DOMAIN, ptr, NULL);
}

/* The trace goes before the block: once freed, the address may come back to another thread,
 * whose new trace must not be the one we remove. */
static void
tm_native_free(void *ptr)
{
    if (ptr != NULL && !tm_native_skip()) {
        int saved_errno = errno;

        tm_reentrant = 1;
        tm_lock_acquire();
        if (tm_tracing)
            tm_native_forget_trace_locked((guintptr)ptr);
        tm_lock_release();
        tm_reentrant = 0;
        errno = saved_errno;
    }
    tm_real.free(ptr);
}

/* As the default domain's hook: the lock is held across the realloc (glibc's realloc calls
 * no hook), so that the old address, once released, cannot be traced by another thread
 * before its trace is gone. A moved block is a free and a new trace; a resized one is traced
 * again with the size and traceback of the resize, as the stock tracemalloc does. A thread
 * where tracing is suspended keeps a user's block with its traceback. realloc(ptr, 0) frees
 * (glibc) and returns NULL. */
static void *
tm_native_realloc(void *ptr, size_t size)
{
    PyThreadState *tstate;
    guint nframe = 0, total = 0;
    gboolean suspended;
    void *ptr2;
    int saved_errno;

    if (ptr == NULL)
        return tm_native_malloc(size);
    if (tm_native_skip())
        return tm_real.realloc(ptr, size);
    tm_reentrant = 1;
    suspended = tm_suspend_depth != 0;
    tstate = !suspended && tm_gil_held_in_malloc() ? tm_tracing_tstate() : NULL;
    if (tstate != NULL)
        nframe = tm_capture(tstate, &total);
    saved_errno = errno;
    tm_lock_acquire();
    tm_lock_held = 1;
    errno = saved_errno;
    ptr2 = tm_real.realloc(ptr, size);
    saved_errno = errno;
    tm_lock_held = 0;
    if (tm_tracing) {
        if (ptr2 == NULL) {
            if (size == 0)  /* freed */
                tm_native_forget_trace_locked((guintptr)ptr);
        }
        else if (G_UNLIKELY(suspended)) {
            if (!tm_store_move(tm_store, TM_NATIVE_DOMAIN, (guintptr)ptr, (guintptr)ptr2, size)) {
                tm_own_forget_locked(TM_NATIVE_DOMAIN, (guintptr)ptr, NULL);
                tm_own_add_locked(TM_NATIVE_DOMAIN, (guintptr)ptr2, size);
            }
        }
        else {
            const TmTraceback *tb;

            if (ptr2 != ptr)
                tm_store_remove(tm_store, TM_NATIVE_DOMAIN, (guintptr)ptr, NULL);
            if (G_UNLIKELY(tm_own_count != 0))
                tm_own_forget_locked(TM_NATIVE_DOMAIN, (guintptr)ptr, NULL);
            tb = tm_intern_locked(nframe, total);
            if (tb == NULL
                || tm_store_add(tm_store, TM_NATIVE_DOMAIN, (guintptr)ptr2, size, tb) < 0) {
                tm_store_remove(tm_store, TM_NATIVE_DOMAIN, (guintptr)ptr2, NULL);
                tm_lost++;
            }
        }
    }
    tm_lock_release();
    tm_reentrant = 0;
    errno = saved_errno;
    return ptr2;
}

static const TmNativeAllocator tm_native_hooks = {
    tm_native_malloc, tm_native_calloc, tm_native_realloc, tm_native_free, tm_native_memalign
};

static gboolean
tm_native_requested(void)
{
    const char *value = getenv("PYTRACEMALLOC_NATIVE");
    return value != NULL && value[0] != '\0' && strcmp(value, "0") != 0;
}

gboolean
tm_native_install(void)
{
    if (!tm_native_requested())
        return FALSE;
    if (tm_set_hooks == NULL) {
        /* The library, preloaded, is in the global scope; dlsym's own allocations come
         * before any hook is registered. */
        tm_set_hooks = (TmNativeSetHooks)dlsym(RTLD_DEFAULT, TM_NATIVE_SET_HOOKS_SYMBOL);
        if (tm_set_hooks == NULL)
            return FALSE;
        tm_set_hooks(NULL, &tm_real);
    }
    __atomic_store_n(&tm_native_on, TRUE, __ATOMIC_RELAXED);
    tm_set_hooks(&tm_native_hooks, NULL);
    return TRUE;
}

void
tm_native_uninstall(void)
{
    if (!tm_native_active())
        return;
    tm_set_hooks(NULL, NULL);
    __atomic_store_n(&tm_native_on, FALSE, __ATOMIC_RELAXED);
}

void
tm_native_forget_locked(guintptr ptr)
{
    if (tm_native_active())
        tm_native_forget_trace_locked(ptr);
}
