/* The engine's transitions (start, stop, clear; the states are listed in engine.h): the
 * store and the tracing flag they set, the installation of every hook, and the counters read
 * from the store: most of tracer.h. */
#include "engine.h"
#include "native.h"
#include "sample.h"
#include "tracer.h"

#include <stdlib.h>

/* The store calls this when it forgets a filename. The store is never freed or cleared while
 * it is reachable from the hooks, only after it was detached under tm_lock; so the lock is
 * not held here and dropping the reference may free memory through the hooks. GIL held. */
static void
tm_filename_release(gconstpointer filename, gpointer user_data)
{
    (void)user_data;
    Py_DECREF((PyObject *)filename);
}

int
tm_engine_init(void)
{
    if (tm_export_init() < 0)
        return -1;
    tm_linecache_init();
    tm_freelists_init();
    if (tm_lock_register_fork() < 0) {
        PyErr_SetString(PyExc_RuntimeError, "cannot register the fork handlers");
        return -1;
    }
    return 0;
}

/* For the tests: TRACEMALLOC_ENGINE_FAIL_ALLOC=N, read when tracing starts, makes the N-th
 * allocation of the new store fail (tm_store_fail_allocation), so that a trace is lost. */
static guint
tm_fail_alloc_from_env(void)
{
    const char *value = getenv("TRACEMALLOC_ENGINE_FAIL_ALLOC");
    guint64 n;

    if (value == NULL || !g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT, &n, NULL))
        return 0;
    return (guint)n;
}

/* For the tests: TRACEMALLOC_SAMPLE_SEED=N (not 0), read when tracing starts, makes the
 * sampling decisions of each thread a fixed sequence (sample.h). */
static guint64
tm_sample_seed_from_env(void)
{
    const char *value = getenv("TRACEMALLOC_SAMPLE_SEED");
    guint64 n;

    if (value == NULL || !g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT64, &n, NULL))
        return 0;
    return n;
}

int
tm_engine_start(guint nframe, gsize sample_bytes)
{
    TmStore *store = NULL;
    gboolean tracing = tm_tracing;

    if (nframe < 1 || nframe > TM_MAX_NFRAME) {
        PyErr_Format(PyExc_ValueError, "the number of frames must be in range [1; %d]",
                     TM_MAX_NFRAME);
        return -1;
    }
    if (tracing && sample_bytes != tm_sample_bytes) {
        /* The store would mix weighted and exact sizes. */
        PyErr_Format(PyExc_ValueError,
                     "tracing is already started with sample_bytes=%lu: stop() it first to "
                     "start with sample_bytes=%lu", (unsigned long)tm_sample_bytes,
                     (unsigned long)sample_bytes);
        return -1;
    }
    if (!tracing) {
        store = tm_store_new(tm_filename_release, NULL);
        if (store == NULL)
            goto error;
    }
    if (tm_capture_start(nframe, tracing) < 0)
        goto error;
    if (tracing)
        return 0;
    tm_store_fail_allocation(store, tm_fail_alloc_from_env());
    /* Before the hooks are installed (sample.h). */
    tm_sample_start(sample_bytes, tm_sample_seed_from_env());

    tm_lock_acquire();
    tm_store = store;
    __atomic_store_n(&tm_tracing, TRUE, __ATOMIC_RELAXED);
    tm_lost = 0;
    tm_lock_release();

    tm_hooks_install();
    tm_capi_install();
    tm_freelists_install();
    /* The native domain is traced in exact mode only: its hooks do not sample. */
    if (sample_bytes == 0)
        (void)tm_native_install();
    return 0;

error:
    tm_store_free(store);
    PyErr_NoMemory();
    return -1;
}

/* Detach the store from the hooks and put replacement (NULL: none, stop tracing) in its
 * place. tm_lock not held. The caller frees the result. */
static TmStore *
tm_detach_store(TmStore *replacement)
{
    TmStore *old;

    tm_lock_acquire();
    old = tm_store;
    /* The parked blocks stay parked across clear_traces(); they go with stop(). Out of memory,
     * some are forgotten: their reuse is then traced as a new block. Only glib allocates here:
     * nothing re-enters the hooks. */
    if (replacement != NULL && old != NULL)
        (void)tm_store_take_parked(replacement, old);
    tm_store = replacement;
    __atomic_store_n(&tm_tracing, replacement != NULL, __ATOMIC_RELAXED);
    tm_lock_release();
    return old;
}

void
tm_engine_stop(void)
{
    if (!tm_tracing)
        return;
    tm_native_uninstall();
    tm_capi_uninstall();
    tm_freelists_uninstall();
    tm_hooks_uninstall();
    /* Outside the lock: freeing drops the filename references. */
    tm_store_free(tm_detach_store(NULL));
    /* Once tm_tracing is FALSE, no hook touches the tracer's store. */
    tm_store_free(tm_own_detach());
    tm_capture_stop();
    tm_sample_start(0, 0);  /* get_sample_bytes() is 0 when not tracing */
}

gboolean
tm_engine_is_tracing(void)
{
    return tm_tracing;
}

gboolean
tm_engine_is_native_tracing(void)
{
    return tm_tracing && tm_native_active();
}

guint
tm_engine_native_domain(void)
{
    return TM_NATIVE_DOMAIN;
}

guint
tm_engine_traceback_limit(void)
{
    return tm_capture_limit();
}

void
tm_engine_clear(void)
{
    TmStore *fresh;

    if (!tm_tracing)
        return;
    /* The tracer's store (suspend.c) stays: the tracer still holds that memory. */
    fresh = tm_store_new(tm_filename_release, NULL);
    if (fresh == NULL) {
        /* Fall back to clearing in place, which needs no memory; drop the references after
         * the hooks lost sight of them. */
        TmStore *old = tm_detach_store(NULL);
        tm_store_clear(old);
        tm_detach_store(old);
        return;
    }
    tm_store_free(tm_detach_store(fresh));
    if (tm_sample_active()) {
        /* The bits of the traces just forgotten would let their frees through the lock. */
        tm_lock_acquire();
        tm_sample_prune_locked();
        tm_lock_release();
    }
}

gsize
tm_engine_sample_bytes(void)
{
    return tm_sample_bytes;
}

void
tm_engine_traced_memory(gsize *current, gsize *peak)
{
    tm_lock_acquire();
    *current = tm_store != NULL ? tm_store_traced(tm_store) : 0;
    *peak = tm_store != NULL ? tm_store_peak(tm_store) : 0;
    tm_lock_release();
}

void
tm_engine_reset_peak(void)
{
    tm_lock_acquire();
    if (tm_store != NULL)
        tm_store_reset_peak(tm_store);
    tm_lock_release();
}

gsize
tm_engine_memory(void)
{
    gsize size = 0;

    tm_lock_acquire();
    if (tm_store != NULL)
        size = tm_store_memory(tm_store) + tm_capture_memory() + tm_own_memory_locked()
               + tm_sample_memory_locked();
    tm_lock_release();
    return size;
}

guint64
tm_engine_lost_traces(void)
{
    guint64 lost;

    tm_lock_acquire();
    lost = tm_lost;
    tm_lock_release();
    return lost;
}

int
tm_engine_fail_allocation(guint n)
{
    int result = -1;

    tm_lock_acquire();
    if (tm_store != NULL) {
        tm_store_fail_allocation(tm_store, n);
        result = 0;
    }
    tm_lock_release();
    return result;
}

gboolean
tm_engine_allocation_faults(guint *failed_sites, guint64 *attempts)
{
    gboolean tracing;

    tm_lock_acquire();
    tracing = tm_store != NULL;
    if (tracing) {
        *failed_sites = tm_store_failed_sites(tm_store);
        *attempts = tm_store_alloc_attempts(tm_store);
    }
    tm_lock_release();
    return tracing;
}

guint64
tm_engine_capture_count(void)
{
    return tm_capture_count();
}
