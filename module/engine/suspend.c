/* The tracer out of its own picture: a thread's suspension of tracing, and the tracer's store
 * (tm_own_store), where the blocks allocated by a suspended thread are recorded as the
 * tracer's own memory instead of the user's. The rules (who suspends, what is counted as the
 * tracer's) are in doc/internals.rst, "Suspension"; the hooks that call this file are
 * hooks.c, freelists.c and capi.c.
 *
 * Invariant, under tm_lock: a block of a domain is in at most one of tm_store and
 * tm_own_store. tm_own_add_locked() takes a block out of tm_store (its parked entry, when a
 * suspended thread reuses it from a free list) before it records it in tm_own_store; the
 * hooks of a thread that is not suspended take a block out of tm_own_store when it is freed,
 * resized or parked (only when tm_own_count is not 0, so that the user's frees pay nothing).
 * tm_own_take_locked() moves a block from tm_store to tm_own_store: a block the user's thread
 * allocated for the tracer (the arguments of a call into the package, its frame on 2.7). */
#include "engine.h"
#include "sample.h"
#include "tracer.h"

/* Protected by tm_lock. Created by the first block a suspended thread allocates while
 * tracing, freed by tm_engine_stop() (tm_own_detach()); kept by clear_traces(): the tracer
 * still holds that memory. */
static TmStore *tm_own_store;
/* The traceback of every block of tm_own_store: no frame. Interned in tm_own_store. */
static const TmTraceback *tm_own_traceback;
gsize tm_own_count;

/* Create tm_own_store. tm_lock held (only glib allocates here: nothing re-enters the hooks).
 * Returns 0, or -1 on out of memory (the blocks then go unrecorded). */
static int
tm_own_create_locked(void)
{
    TmFrame none = { NULL, 0 };
    TmStore *store = tm_store_new(NULL, NULL);

    if (store == NULL)
        return -1;
    tm_own_traceback = tm_store_intern_traceback(store, &none, 0, 0);
    if (tm_own_traceback == NULL) {
        tm_store_free(store);
        return -1;
    }
    tm_own_store = store;
    return 0;
}

void
tm_own_add_locked(guint domain, guintptr ptr, gsize size)
{
    /* A block reused from a free list leaves its parked entry; a stale trace goes too. */
    tm_store_remove(tm_store, domain, ptr, NULL);
    if (tm_own_store == NULL && tm_own_create_locked() < 0)
        return;
    /* Out of memory, the block goes unrecorded: no trace of the user is lost. */
    if (tm_store_add(tm_own_store, domain, ptr, size, tm_own_traceback) < 0)
        tm_store_remove(tm_own_store, domain, ptr, NULL);
    else if (domain == TM_DEFAULT_DOMAIN)
        tm_sample_mark_locked((const void *)ptr);  /* its free must find it (sample.h) */
    tm_own_count = tm_store_count(tm_own_store);
}

gboolean
tm_own_take_locked(guint domain, guintptr ptr)
{
    gsize size;

    if (tm_store_get(tm_store, domain, ptr) == NULL)
        return FALSE;  /* no trace of the user's (maybe the tracer's already) */
    if (!tm_store_retract(tm_store, domain, ptr, &size))
        tm_store_remove(tm_store, domain, ptr, &size);
    tm_own_add_locked(domain, ptr, size);
    return TRUE;
}

gboolean
tm_own_forget_locked(guint domain, guintptr ptr, gsize *size)
{
    gboolean found;

    if (tm_own_store == NULL)
        return FALSE;
    found = tm_store_remove(tm_own_store, domain, ptr, size);
    tm_own_count = tm_store_count(tm_own_store);
    return found;
}

void
tm_own_realloc_locked(guintptr ptr, guintptr ptr2, gsize size)
{
    /* The user's block keeps its trace and its traceback, at its new address and size. */
    if (tm_store_move(tm_store, TM_DEFAULT_DOMAIN, ptr, ptr2, size)) {
        tm_sample_mark_locked((const void *)ptr2);
        tm_sample_forget_locked((const void *)ptr);
        return;
    }
    if (ptr2 != ptr)
        tm_own_forget_locked(TM_DEFAULT_DOMAIN, ptr, NULL);
    tm_own_add_locked(TM_DEFAULT_DOMAIN, ptr2, size);
    if (ptr2 != ptr)
        tm_sample_forget_locked((const void *)ptr);
}

gboolean
tm_own_has_locked(guint domain, guintptr ptr)
{
    return tm_own_store != NULL && tm_store_get(tm_own_store, domain, ptr) != NULL;
}

gsize
tm_own_memory_locked(void)
{
    if (tm_own_store == NULL)
        return 0;
    return tm_store_traced(tm_own_store) + tm_store_memory(tm_own_store);
}

TmStore *
tm_own_detach(void)
{
    TmStore *store;

    tm_lock_acquire();
    store = tm_own_store;
    tm_own_store = NULL;
    tm_own_traceback = NULL;
    tm_own_count = 0;
    tm_lock_release();
    return store;
}

/* ------------------------------------------------------------------ tracer.h */

int
tm_engine_suspend(void)
{
    if (tm_thread.suspend_depth == G_MAXUINT) {
        PyErr_SetString(PyExc_OverflowError, "tracing is suspended too many times");
        return -1;
    }
    tm_thread.suspend_depth++;
    return 0;
}

int
tm_engine_resume(void)
{
    if (tm_thread.suspend_depth == 0) {
        PyErr_SetString(PyExc_RuntimeError, "tracing is not suspended in this thread");
        return -1;
    }
    tm_thread.suspend_depth--;
    return 0;
}

guint
tm_engine_suspend_depth(void)
{
    return tm_thread.suspend_depth;
}

void
tm_engine_set_suspend_depth(guint depth)
{
    tm_thread.suspend_depth = depth;
}

gboolean
tm_engine_own_object(PyObject *obj)
{
    gboolean taken = FALSE;

    tm_lock_acquire();
    if (tm_tracing)
        taken = tm_own_take_locked(TM_DEFAULT_DOMAIN, (guintptr)tm_object_block(obj));
    tm_lock_release();
    return taken;
}

void
tm_engine_own_memory(gsize *size, gsize *count)
{
    *size = *count = 0;
    tm_lock_acquire();
    if (tm_own_store != NULL) {
        *size = tm_store_traced(tm_own_store);
        *count = tm_store_count(tm_own_store);
    }
    tm_lock_release();
}
