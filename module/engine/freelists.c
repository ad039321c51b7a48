/* The free-list hooks of the "track" variant (doc/internals.rst, "Free-list hooks and
 * variants"): a block pushed onto a free list is freed for the tracer and parked in the store,
 * a block popped from one is allocated there and then (the tracer's, if the thread suspended
 * tracing: suspend.c). In sampling mode (sample.h) a pop is sampled as an allocation, and a
 * push of a block that no store can have costs nothing; a sampled block pushed loses its trace
 * and is not parked (get_freelist_memory() then sees no parked block). Also the variant of
 * the interpreter, found at run time with the hooks. */
#include "engine.h"
#include "sample.h"
#include "timer.h"
#include "tracer.h"

#include <dlfcn.h>
#include <errno.h>

/* The interpreter's PyTraceMallocFreeListHooks. */
typedef struct {
    void (*push)(void *block, size_t size);
    void (*pop)(void *block, size_t size);
} TmFreeListHooks;

/* Found in the interpreter by tm_freelists_init(), at module init with the GIL held; read
 * only afterwards. */
static const char *tm_variant;
static void (*tm_set_freelist_hooks)(const TmFreeListHooks *hooks);

/* An object's block goes onto a free list: for the tracer it is freed, and parked (while
 * sampling: only forgotten). The part after the checks of tm_freelist_push. GIL held. */
static __attribute__((noinline)) void
tm_freelist_push_slow(void *block, size_t size)
{
    int saved_errno = errno;

    tm_lock_acquire();
    if (tm_tracing && tm_sample_active()) {
        if (!tm_store_remove(tm_store, TM_DEFAULT_DOMAIN, (guintptr)block, NULL)
            && G_UNLIKELY(tm_own_count != 0))
            tm_own_forget_locked(TM_DEFAULT_DOMAIN, (guintptr)block, NULL);
        tm_sample_forget_locked(block);
    }
    else if (tm_tracing) {
        /* A block parked is nobody's, the tracer's no more than the user's. */
        if (G_UNLIKELY(tm_own_count != 0))
            tm_own_forget_locked(TM_DEFAULT_DOMAIN, (guintptr)block, NULL);
        /* Out of memory: the block is not parked, but its trace must go. */
        if (tm_store_park(tm_store, (guintptr)block, size) < 0)
            tm_store_remove(tm_store, TM_DEFAULT_DOMAIN, (guintptr)block, NULL);
    }
    tm_lock_release();
    errno = saved_errno;
}

static void
tm_freelist_push(void *block, size_t size)
{
    /* No store has the block (its bit is clear: sampling), nothing to forget (sample.h). No
     * hook of ours frees an object, so the reentrancy check can wait for the slow path. */
    if (!tm_sample_maybe_recorded(block))
        return;
    if (tm_thread.reentrant)
        return;
    tm_freelist_push_slow(block, size);
}

/* A block is taken from a free list: for the tracer it is allocated here and now, if it is
 * sampled (always in exact mode, or for the tracer's work), with the size weighted. The part
 * after the checks of tm_freelist_pop. GIL held. */
static __attribute__((noinline)) void
tm_freelist_pop_slow(void *block, size_t size)
{
    PyThreadState *tstate;
    guint nframe = 0, total = 0;
    gboolean suspended = tm_thread.suspend_depth != 0;
    gsize weighted = size;
    int saved_errno;

    if (tm_thread.reentrant || (!suspended && !tm_sample_decide(size, &weighted)))
        return;
    saved_errno = errno;
    tm_thread.reentrant = 1;
    tstate = tm_tracing_tstate();
    if (tstate != NULL && !suspended)
        nframe = tm_capture(tstate, &total);
    tm_lock_acquire();
    if (tm_tracing) {
        if (G_UNLIKELY(suspended)) {
            /* Reused by the tracer's work: its parked entry goes, the block is the tracer's. */
            tm_own_add_locked(TM_DEFAULT_DOMAIN, (guintptr)block, size);
        }
        else {
            /* The parked entry becomes the trace. */
            tm_add_locked(block, weighted, nframe, total);
            if (G_UNLIKELY(tm_own_count != 0))
                tm_own_forget_locked(TM_DEFAULT_DOMAIN, (guintptr)block, NULL);
        }
    }
    tm_lock_release();
    tm_thread.reentrant = 0;
    if (tstate != NULL)
        tm_timer_poll();
    errno = saved_errno;
}

static void
tm_freelist_pop(void *block, size_t size)
{
    /* Not sampled: while sampling, its push left no entry in the store (see above). No hook
     * of ours creates an object, so the reentrancy check can wait for the slow path. */
    if (tm_thread.suspend_depth == 0 && tm_sample_skip(size))
        return;
    tm_freelist_pop_slow(block, size);
}

static const TmFreeListHooks tm_freelist_hooks = { tm_freelist_push, tm_freelist_pop };

void
tm_freelists_init(void)
{
    if (tm_variant != NULL)
        return;
    /* Patched interpreters name their variant; their symbols are in the process already (the
     * executable or libpython), so RTLD_DEFAULT finds them. */
    tm_variant = dlsym(RTLD_DEFAULT, "_Py_tracemalloc_variant");
    *(void **)&tm_set_freelist_hooks = dlsym(RTLD_DEFAULT, "PyTraceMalloc_SetFreeListHooks");
    if (tm_variant == NULL)
        tm_variant = TM_UNNAMED_VARIANT;
}

void
tm_freelists_install(void)
{
    if (tm_set_freelist_hooks != NULL)
        tm_set_freelist_hooks(&tm_freelist_hooks);
}

void
tm_freelists_uninstall(void)
{
    if (tm_set_freelist_hooks != NULL)
        tm_set_freelist_hooks(NULL);
}

const char *
tm_engine_variant(void)
{
    return tm_variant;
}

gboolean
tm_engine_freelist_memory(gsize *size, gsize *count)
{
    /* While sampling, pushes are not parked (see tm_freelist_push): nothing is known. */
    if (tm_set_freelist_hooks == NULL || tm_sample_active())
        return FALSE;
    *size = *count = 0;
    tm_lock_acquire();
    if (tm_store != NULL)
        tm_store_parked(tm_store, size, count);
    tm_lock_release();
    return TRUE;
}
