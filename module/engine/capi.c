/* The C-API hooks of patched 3.x interpreters: PyTraceMalloc_Track(), PyTraceMalloc_Untrack(),
 * _PyTraceMalloc_GetTraceback() and the debug allocator's report of where a corrupted block
 * was allocated (_PyMem_DumpTraceback()), routed to the engine by PyTraceMalloc_SetHooks().
 * Elsewhere (2.7, a stock 3.x) install and uninstall do nothing. */
#include "engine.h"
#include "native.h"
#include "sample.h"

#ifdef TM_HAVE_CAPI_HOOKS

#include <string.h>
#include <unistd.h>

/* PyTraceMalloc_Track(): may be called without the GIL, like the stock function, which takes
 * the GIL to capture the traceback; so do we. As the stock function does, tm_tracing is
 * peeked at first (a caller that traces nothing pays no GIL), then checked again under the
 * GIL and once more under tm_lock, which alone makes the answer final. Returns 0, -1 on out
 * of memory (counted as a lost trace), -2 when not tracing. In a thread where tracing is
 * suspended, the block is the tracer's (suspend.c). */
static int
tm_api_track(unsigned int domain, uintptr_t ptr, size_t size)
{
    PyGILState_STATE gil;
    PyThreadState *tstate;
    guint nframe = 0, total = 0;
    int res = -2;

    if (!tm_tracing_peek())
        return -2;
    gil = PyGILState_Ensure();
    if (tm_tracing) {
        gboolean suspended = tm_thread.suspend_depth != 0;
        gsize weighted = size;
        /* Sampled as an allocation of the calling thread (sample.h). */
        gboolean record = suspended
                          || (!tm_sample_skip(size) && tm_sample_decide(size, &weighted));

        tm_thread.reentrant = 1;
        tstate = tm_tracing_tstate();
        if (tstate != NULL && !suspended && record)
            nframe = tm_capture(tstate, &total);
        tm_lock_acquire();
        /* Taken from malloc then tracked (numpy's buffers): counted in its domain only. */
        if (tm_tracing && domain != TM_NATIVE_DOMAIN)
            tm_native_forget_locked(ptr);
        if (tm_tracing && suspended) {
            /* Tracked by the tracer's work: its memory (never a lost trace). */
            tm_own_add_locked(domain, ptr, size);
            res = 0;
        }
        else if (tm_tracing && !record) {
            /* Not sampled: a stale trace at its address must not stand for it. */
            tm_store_remove(tm_store, domain, ptr, NULL);
            if (domain == TM_DEFAULT_DOMAIN)
                tm_sample_forget_locked((const void *)ptr);
            res = 0;
        }
        else if (tm_tracing) {
            const TmTraceback *tb = tm_intern_locked(nframe, total);
            res = tb != NULL && tm_store_add(tm_store, domain, ptr, weighted, tb) == 0 ? 0 : -1;
            if (res < 0)
                tm_lost++;
            else if (domain == TM_DEFAULT_DOMAIN)
                tm_sample_mark_locked((const void *)ptr);
        }
        tm_lock_release();
        tm_thread.reentrant = 0;
    }
    PyGILState_Release(gil);
    return res;
}

/* PyTraceMalloc_Untrack(): may be called without the GIL; tm_tracing is read under tm_lock.
 * The block leaves the user's traces or the tracer's store. Returns 0, or -2 when not
 * tracing. */
static int
tm_api_untrack(unsigned int domain, uintptr_t ptr)
{
    int res = -2;

    tm_lock_acquire();
    if (tm_tracing) {
        if (!tm_store_remove(tm_store, domain, ptr, NULL) && tm_own_count != 0)
            tm_own_forget_locked(domain, ptr, NULL);
        if (domain == TM_DEFAULT_DOMAIN)
            tm_sample_forget_locked((const void *)ptr);
        res = 0;
    }
    tm_lock_release();
    return res;
}

static PyObject *
tm_api_get_traceback(unsigned int domain, uintptr_t ptr)
{
    return tm_traceback_lookup(domain, ptr);
}

static void
tm_write(int fd, const char *text)
{
    size_t len = strlen(text);
    while (len > 0) {
        ssize_t n = write(fd, text, len);
        if (n <= 0)
            return;
        text += n;
        len -= (size_t)n;
    }
}

/* Write a str as ASCII, escaping the rest, without allocating (we may be in a crash). */
static void
tm_write_str(int fd, PyObject *str)
{
    Py_ssize_t len = PyUnicode_GET_LENGTH(str);
    int kind = PyUnicode_KIND(str);
    const void *data = PyUnicode_DATA(str);
    char buf[16];

    for (Py_ssize_t i = 0; i < len && i < 500; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch >= 0x20 && ch < 0x7f) {
            buf[0] = (char)ch;
            buf[1] = '\0';
        }
        else {
            g_snprintf(buf, sizeof buf, ch < 0x100 ? "\\x%02x" : ch < 0x10000 ? "\\u%04x"
                                                                             : "\\U%08x",
                       (unsigned int)ch);
        }
        tm_write(fd, buf);
    }
}

/* _PyMem_DumpTraceback(): the same lines as the stock engine writes. Called from a fatal
 * error, with or without the GIL: tm_tracing is peeked at, and the store is read only under
 * tm_lock. */
static void
tm_api_dump_traceback(int fd, const void *ptr)
{
    const TmTrace *trace;
    gboolean locked = FALSE;
    char line[64];

    if (!tm_tracing_peek()) {
        tm_write(fd, "Enable tracemalloc to get the memory block allocation traceback\n\n");
        return;
    }
    /* A fatal error may come from inside the allocator while this thread holds the lock
     * (see tm_free_common in hooks.c): read the tables as they are. Never wait for another
     * thread. */
    if (!tm_lock_held) {
        if (!tm_lock_try()) {
            tm_write(fd, "(the tracemalloc tables are busy: no traceback)\n\n");
            return;
        }
        locked = TRUE;
    }
    trace = tm_store != NULL ? tm_store_get(tm_store, TM_DEFAULT_DOMAIN, (guintptr)ptr) : NULL;
    if (trace != NULL) {
        const TmTraceback *tb = trace->traceback;
        TmFrameIter iter;
        TmFrame frame;
        tm_write(fd, "Memory block allocated at (most recent call first):\n");
        tm_traceback_iter_init(&iter, tm_store, tb);
        while (tm_traceback_iter_next(&iter, &frame)) {
            tm_write(fd, "  File \"");
            if (frame.filename != NULL)
                tm_write_str(fd, (PyObject *)frame.filename);
            else
                tm_write(fd, "<unknown>");
            g_snprintf(line, sizeof line, "\", line %u\n", frame.lineno);
            tm_write(fd, line);
        }
        if (tb->nframe == 0)
            tm_write(fd, "  File \"<unknown>\", line 0\n");
        tm_write(fd, "\n");
    }
    if (locked)
        tm_lock_release();
}

static const PyTraceMallocHooks tm_api_hooks = {
    tm_api_track, tm_api_untrack, tm_api_get_traceback, tm_api_dump_traceback
};

void
tm_capi_install(void)
{
    PyTraceMalloc_SetHooks(&tm_api_hooks);
}

void
tm_capi_uninstall(void)
{
    PyTraceMalloc_SetHooks(NULL);
}

#else /* !TM_HAVE_CAPI_HOOKS */

void
tm_capi_install(void)
{
}

void
tm_capi_uninstall(void)
{
}

#endif
