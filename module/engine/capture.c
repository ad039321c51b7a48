/* Traceback capture: the frames of the thread that allocates, their interning in the store,
 * and the record of a block with them (or its count among the lost traces). */
#include "engine.h"
#include "sample.h"

/* The interpreter that started tracing: written under its GIL, read by the hooks of every
 * thread that holds a GIL, also threads of other interpreters under a GIL of their own (3.12+),
 * hence relaxed atomic loads and stores (engine.h). */
PyInterpreterState *tm_interp;
/* Protected by the GIL of tm_interp. */
static guint tm_nframe = 1;     /* traceback limit */
static TmFrame *tm_frames;      /* capture buffer of tm_nframe frames, used by hooks under the
                                 * GIL; NULL unless tracing. Read only with that GIL held,
                                 * even its value: hooks without it (RAW calls without the
                                 * GIL, threads of other interpreters) record no frame and
                                 * must not read it while start() or stop() swaps it. */
static guint64 tm_captures;     /* tracebacks captured since the module was loaded (tests) */

int
tm_capture_start(guint nframe, gboolean tracing)
{
    /* The hooks use tm_frames with the GIL held, as we do: swapping it is safe. */
    TmFrame *frames = g_try_new0(TmFrame, nframe);

    g_assert(nframe >= 1 && nframe <= TM_MAX_NFRAME);
    if (frames == NULL)
        return -1;
    g_free(tm_frames);
    tm_frames = frames;
    tm_nframe = nframe;
    if (!tracing) {
        __atomic_store_n(&tm_interp, PyThreadState_Get()->interp, __ATOMIC_RELAXED);
        /* Code objects died unseen since the last time tracing ran. */
        tm_linecache_reset();
    }
    return 0;
}

void
tm_capture_stop(void)
{
    g_free(tm_frames);
    tm_frames = NULL;
}

guint
tm_capture_limit(void)
{
    return tm_nframe;
}

gsize
tm_capture_memory(void)
{
    return tm_nframe * sizeof(TmFrame);
}

const TmFrame *
tm_capture_frames(void)
{
    return tm_frames;
}

guint64
tm_capture_count(void)
{
    return tm_captures;
}

guint
tm_capture(PyThreadState *tstate, guint *total)
{
    TmPyFrame *frame = tm_frame_current(tstate);
    guint n = 0, depth = 0;

    tm_captures++;
    for (; frame != NULL; frame = tm_frame_back(frame)) {
        if (n < tm_nframe) {
            int lineno = tm_linecache_lineno(frame);
            tm_frames[n].filename = tm_frame_filename(frame);
            tm_frames[n].lineno = lineno > 0 ? (guint)lineno : 0;
            n++;
        }
        if (depth < TM_MAX_NFRAME)
            depth++;
    }
    *total = depth;
    return n;
}

/* Py_INCREF allocates nothing: it may run under tm_lock. */
const TmTraceback *
tm_intern_locked(guint nframe, guint total)
{
    const TmTraceback *tb;
    guint before = tm_store_traceback_count(tm_store);

    /* No frame (no GIL, or not the tracing interpreter's): tm_frames is not ours to read. */
    tb = tm_store_intern_traceback(tm_store, nframe > 0 ? tm_frames : NULL, nframe, total);
    if (tb != NULL && tm_store_traceback_count(tm_store) != before) {
        /* the traceback's frames are the ones captured */
        for (guint i = 0; i < nframe; i++) {
            gconstpointer filename = tm_frames[i].filename;
            if (filename != NULL && tm_store_intern_filename(tm_store, filename))
                Py_INCREF((PyObject *)filename);
        }
    }
    return tb;
}

void
tm_add_locked(void *ptr, size_t size, guint nframe, guint total)
{
    const TmTraceback *tb = tm_intern_locked(nframe, total);

    if (tb == NULL || tm_store_add(tm_store, TM_DEFAULT_DOMAIN, (guintptr)ptr, size, tb) < 0) {
        /* Out of memory: the block goes untraced, and a stale trace at the same address
         * must not survive. */
        tm_store_remove(tm_store, TM_DEFAULT_DOMAIN, (guintptr)ptr, NULL);
        tm_sample_forget_locked(ptr);
        tm_lost++;
    }
    else {
        tm_sample_mark_locked(ptr);  /* its free must find it (sample.h) */
    }
}
