/* The tracing engine: PEP 445 allocator hooks, traceback capture, export to Python.
 *
 * Never trace ourselves:
 *   - tm_reentrant is set while a hook runs; a hook entered while it is set (pymalloc falling
 *     back to the hooked RAW domain, an allocation made by code we call) goes straight to the
 *     original allocator and never takes tm_lock.
 *   - All of the engine's own memory comes from glib, i.e. the system allocator.
 *   - Nothing in a hook creates a Python object or touches the error indicator.
 *   - No Python object is created, and no reference dropped, while tm_lock is held: either
 *     could re-enter the allocator and deadlock on tm_lock.
 */
#include "hooks.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Set while the calling thread runs inside a hook. */
static __thread int tm_reentrant __attribute__((tls_model("initial-exec")));
/* Set while the calling thread holds tm_lock around a call into the allocator (free,
 * realloc), from which a fatal error report may ask for a traceback. */
static __thread int tm_lock_held __attribute__((tls_model("initial-exec")));

/* The allocators that were installed before ours. Written by tm_engine_start() with the GIL
 * held, before the hooks are installed. Never cleared: a RAW hook still running in a thread
 * without the GIL after tm_engine_stop() keeps valid allocators to call. */
static PyMemAllocatorEx tm_orig_raw, tm_orig_mem, tm_orig_obj;

/* The table lock: every hook takes it around the store. A spin lock of our own rather than a
 * GMutex: its release is a plain store, where g_mutex_unlock() is an atomic exchange that waits
 * for the table writes before it (profiles of free-list churn put a third of the time in
 * g_mutex_lock/unlock). A thread that finds it taken spins briefly, then yields, then sleeps:
 * the lock is held for one table operation, longer only while a snapshot copies the tables. */
static int tm_lock;

static inline gboolean
tm_lock_try(void)
{
    return !__atomic_exchange_n(&tm_lock, 1, __ATOMIC_ACQUIRE);
}

static void
tm_lock_wait(void)
{
    guint spins = 0;

    do {
        if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
        else if (spins < 128) {
            sched_yield();
        }
        else {
            struct timespec pause = { 0, 50000 };  /* 50 us */
            nanosleep(&pause, NULL);
        }
        spins++;
    } while (__atomic_load_n(&tm_lock, __ATOMIC_RELAXED) || !tm_lock_try());
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
    __atomic_store_n(&tm_lock, 0, __ATOMIC_RELEASE);
}

/* Protected by tm_lock (and only written with the GIL held too). */
static TmStore *tm_store;     /* NULL unless tracing; also holds the blocks parked on free
                               * lists (track variant) */
static gboolean tm_tracing;   /* TRUE between start and stop */
static guint64 tm_lost;       /* traces not recorded for lack of memory */

/* Protected by the GIL. */
static guint tm_nframe = 1;   /* traceback limit */
static TmFrame *tm_frames;    /* capture buffer of tm_nframe frames, used by hooks under the GIL */
static gboolean tm_fork_handlers;
static PyObject *tm_unknown;  /* "<unknown>", strong reference */
static PyInterpreterState *tm_interp;  /* the interpreter that started tracing */
static guint64 tm_captures;   /* tracebacks captured since the module was loaded (tests) */

/* Found at run time in the interpreter (doc/internals.rst, "Free-list hooks"). Written once by
 * tm_engine_init() with the GIL held. */
typedef struct {
    void (*push)(void *block, size_t size);
    void (*pop)(void *block, size_t size);
} TmFreeListHooks;
static const char *tm_variant;
static void (*tm_set_freelist_hooks)(const TmFreeListHooks *hooks);

/* ------------------------------------------------------------------ filenames */

/* The store calls this when it forgets a filename. The store is never freed or cleared while
 * it is reachable from the hooks, only after it was detached under tm_lock; so the lock is
 * not held here and dropping the reference may free memory through the hooks. GIL held. */
static void
tm_filename_release(gconstpointer filename, gpointer user_data)
{
    (void)user_data;
    Py_DECREF((PyObject *)filename);
}

/* ------------------------------------------------------------------ line numbers */

/* A cache of line numbers, (code object, instruction offset) -> line, so that a capture does
 * not walk a line table again for an instruction it already saw (the walk was the biggest cost
 * of a capture). A line is a function of the code object and the offset, so an entry is right
 * for as long as its code object lives: the OBJ free and realloc hooks forget the entries of a
 * block that goes (tm_lines_forget), and tm_engine_start() empties the cache, since code
 * objects die unseen while nothing is traced. The sets of TM_LINE_WAYS entries (two cache
 * lines) are chosen by the code object alone, so that forgetting one looks at a single set; a
 * miss replaces the entries of a set in turn (tm_line_victim), so that a loop allocating on up
 * to TM_LINE_WAYS instructions of one function never misses (most recently used first, with 4
 * ways, a loop over 5 sites missed every time).
 *
 * Protected by the GIL of tm_interp: captures happen only in that interpreter, and so do the
 * forgets (a code object of the cache dies in the interpreter that ran it). */
#define TM_LINE_SETS_LOG2 10
#define TM_LINE_WAYS 8

typedef struct {
    const void *code;  /* NULL: an empty entry */
    int addr;
    int lineno;
} TmLineEntry;

static TmLineEntry tm_lines[1u << TM_LINE_SETS_LOG2][TM_LINE_WAYS]
    __attribute__((aligned(64)));
/* The entry of each set that the next miss replaces. */
static guint8 tm_line_victim[1u << TM_LINE_SETS_LOG2];
/* Bytes from the memory block of a code object to the object, and the smallest block of a code
 * object. Written by tm_engine_init(). */
static size_t tm_code_offset;
static size_t tm_code_min_block;

static inline guint
tm_line_set(const void *code)
{
    guint64 h = (guint64)(guintptr)code * G_GUINT64_CONSTANT(0x9E3779B97F4A7C15);
    return (guint)(h >> (64 - TM_LINE_SETS_LOG2));
}

/* The line the frame executes. GIL held. */
static inline int
tm_lineno(TmPyFrame *frame)
{
    PyCodeObject *code;
    int addr, lineno;
    TmLineEntry *set;
    guint index, i;

    if (!tm_frame_position(frame, &code, &addr))
        return tm_frame_lineno(frame);
    index = tm_line_set(code);
    set = tm_lines[index];
    for (i = 0; i < TM_LINE_WAYS; i++) {
        if (set[i].code == code && set[i].addr == addr)
            return set[i].lineno;
    }
    lineno = tm_code_lineno(code, addr);
    i = tm_line_victim[index];
    tm_line_victim[index] = (guint8)((i + 1) % TM_LINE_WAYS);
    set[i].code = code;
    set[i].addr = addr;
    set[i].lineno = lineno;
    return lineno;
}

/* The OBJ block at ptr is freed or moved: if it is a code object, forget its lines. GIL held.
 * Threads of other interpreters (3.12+ may run them under a GIL of their own) never put their
 * code objects in the cache and must not touch it. */
static inline void
tm_lines_forget(void *ptr)
{
    PyThreadState *tstate = tm_tstate_gil();
    const void *code = (const char *)ptr + tm_code_offset;
    TmLineEntry *set;
    guint i;

    if (tstate == NULL || tstate->interp != tm_interp)
        return;
    set = tm_lines[tm_line_set(code)];
    for (i = 0; i < TM_LINE_WAYS; i++) {
        if (set[i].code == code)
            set[i].code = NULL;
    }
}

/* ------------------------------------------------------------------ capture */

/* Fill tm_frames with at most tm_nframe frames of the current thread, most recent first.
 * GIL held. Returns the number stored; *total receives the depth of the whole stack.
 * Threads of another interpreter (3.12+ subinterpreters may have a GIL of their own) get no
 * frames: tm_frames is protected by the main interpreter's GIL, and the store must not keep
 * references to another interpreter's objects. */
static guint
tm_capture(guint *total)
{
    PyThreadState *tstate = tm_tstate_gil();
    TmPyFrame *frame;
    guint n = 0, depth = 0;

    *total = 0;
    if (tstate == NULL || tstate->interp != tm_interp)
        return 0;
    tm_captures++;
    frame = tm_frame_current(tstate);

    for (; frame != NULL; frame = tm_frame_back(frame)) {
        if (n < tm_nframe) {
            int lineno = tm_lineno(frame);
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

/* Intern the captured frames and record the block. tm_lock held; GIL held if frames were
 * captured (nframe > 0). A newly interned traceback brings its filenames into the store,
 * which then holds a reference on each new one (Py_INCREF allocates nothing). */
static const TmTraceback *
tm_intern_locked(guint nframe, guint total)
{
    const TmTraceback *tb;
    guint before = tm_store_traceback_count(tm_store);

    tb = tm_store_intern_traceback(tm_store, tm_frames, nframe, total);
    if (tb != NULL && tm_store_traceback_count(tm_store) != before) {
        for (guint i = 0; i < tb->nframe; i++) {
            gconstpointer filename = tb->frames[i].filename;
            if (filename != NULL && tm_store_intern_filename(tm_store, filename) == 1)
                Py_INCREF((PyObject *)filename);
        }
    }
    return tb;
}

static void
tm_add_locked(void *ptr, size_t size, guint nframe, guint total)
{
    const TmTraceback *tb = tm_intern_locked(nframe, total);

    if (tb == NULL || tm_store_add(tm_store, TM_DEFAULT_DOMAIN, (guintptr)ptr, size, tb) < 0) {
        /* Out of memory: the block goes untraced, and a stale trace at the same address
         * must not survive. */
        tm_store_remove(tm_store, TM_DEFAULT_DOMAIN, (guintptr)ptr, NULL);
        tm_lost++;
    }
}

/* The block at ptr is no longer allocated: drop its trace, or its parked entry. tm_lock held.
 * Returns TRUE and its size if it had a trace. */
static inline gboolean
tm_forget_locked(void *ptr, gsize *size)
{
    return tm_store_remove(tm_store, TM_DEFAULT_DOMAIN, (guintptr)ptr, size);
}

static void
tm_trace_alloc(void *ptr, size_t size, gboolean gil)
{
    guint nframe = 0, total = 0;

    if (gil)
        nframe = tm_capture(&total);
    tm_lock_acquire();
    if (tm_tracing)
        tm_add_locked(ptr, size, nframe, total);
    tm_lock_release();
}

/* ------------------------------------------------------------------ hooks */

static void *
tm_alloc_common(PyMemAllocatorEx *alloc, gboolean gil, size_t nelem, size_t elsize,
                gboolean zero)
{
    void *ptr;
    int saved_errno;

    if (tm_reentrant)
        return zero ? alloc->calloc(alloc->ctx, nelem, elsize)
                    : alloc->malloc(alloc->ctx, elsize);
    tm_reentrant = 1;
    ptr = zero ? alloc->calloc(alloc->ctx, nelem, elsize) : alloc->malloc(alloc->ctx, elsize);
    /* The caller sees errno as the allocator left it: taking tm_lock may change it (a
     * contended futex returns EAGAIN), and code such as getpath reads errno after a call
     * that allocates. */
    saved_errno = errno;
    if (ptr != NULL)
        tm_trace_alloc(ptr, zero ? nelem * elsize : elsize, gil);
    tm_reentrant = 0;
    if (gil)
        tm_timer_poll();
    errno = saved_errno;
    return ptr;
}

static void *
tm_realloc_common(PyMemAllocatorEx *alloc, gboolean gil, void *ptr, size_t size)
{
    void *ptr2;
    guint nframe = 0, total = 0;
    int saved_errno;

    if (tm_reentrant)
        return alloc->realloc(alloc->ctx, ptr, size);
    if (ptr == NULL)
        return tm_alloc_common(alloc, gil, 1, size, FALSE);
    tm_reentrant = 1;
    if (gil)
        nframe = tm_capture(&total);
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
        if (ptr2 != ptr)
            tm_forget_locked(ptr, NULL);
        /* As the stock tracemalloc does, the block is charged to the line that resized it. */
        tm_add_locked(ptr2, size, nframe, total);
    }
    tm_lock_release();
    tm_reentrant = 0;
    if (gil)
        tm_timer_poll();
    errno = saved_errno;  /* as the allocator left it (see tm_alloc_common) */
    return ptr2;
}

/* obj: the OBJ domain, where code objects live: the line cache forgets the code object that
 * goes, unless the block was traced with a size too small for one (most frees). */
static void
tm_free_common(PyMemAllocatorEx *alloc, void *ptr, gboolean obj)
{
    int saved_errno;
    gboolean traced = FALSE;
    gsize size = 0;

    if (tm_reentrant || ptr == NULL) {
        alloc->free(alloc->ctx, ptr);
        return;
    }
    tm_reentrant = 1;
    /* Free with the lock held, then forget the trace: another thread may get the address as
     * soon as it is freed, but cannot record its trace before we forgot ours. Freeing first
     * lets the debug allocator (PYTHONMALLOC=debug) report where a corrupted block was
     * allocated: its fatal error asks us (tm_api_dump_traceback) from inside this free. */
    saved_errno = errno;  /* free() must not change errno: nor may our lock */
    tm_lock_acquire();
    tm_lock_held = 1;
    alloc->free(alloc->ctx, ptr);
    if (tm_tracing)
        traced = tm_forget_locked(ptr, &size);
    tm_lock_held = 0;
    tm_lock_release();
    /* Only this thread, holding the GIL, can build a code object at ptr before this. */
    if (obj && (!traced || size >= tm_code_min_block))
        tm_lines_forget(ptr);
    tm_reentrant = 0;
    errno = saved_errno;
}

/* MEM and OBJ: always called with the GIL held (PEP 445). ctx is the original allocator. */
static void *
tm_malloc_gil(void *ctx, size_t size)
{
    return tm_alloc_common(ctx, TRUE, 1, size, FALSE);
}

static void *
tm_calloc_gil(void *ctx, size_t nelem, size_t elsize)
{
    return tm_alloc_common(ctx, TRUE, nelem, elsize, TRUE);
}

static void *
tm_realloc_gil(void *ctx, void *ptr, size_t size)
{
    return tm_realloc_common(ctx, TRUE, ptr, size);
}

static void
tm_free_any(void *ctx, void *ptr)
{
    tm_free_common(ctx, ptr, FALSE);
}

/* OBJ, where code objects live: the line cache forgets a code object that goes. */
static void *
tm_realloc_obj(void *ctx, void *ptr, size_t size)
{
    if (ptr != NULL && !tm_reentrant)
        tm_lines_forget(ptr);
    return tm_realloc_common(ctx, TRUE, ptr, size);
}

static void
tm_free_obj(void *ctx, void *ptr)
{
    tm_free_common(ctx, ptr, TRUE);
}

/* RAW: may be called without the GIL. Without it the Python frames of the thread cannot be
 * read safely, so the trace gets the empty traceback ("<unknown>"). */
static void *
tm_malloc_raw(void *ctx, size_t size)
{
    return tm_alloc_common(ctx, tm_gil_held(), 1, size, FALSE);
}

static void *
tm_calloc_raw(void *ctx, size_t nelem, size_t elsize)
{
    return tm_alloc_common(ctx, tm_gil_held(), nelem, elsize, TRUE);
}

static void *
tm_realloc_raw(void *ctx, void *ptr, size_t size)
{
    return tm_realloc_common(ctx, tm_gil_held(), ptr, size);
}

/* ------------------------------------------------------------------ free lists */

/* An object's block goes onto a free list: for the tracer it is freed, and parked. GIL held. */
static void
tm_freelist_push(void *block, size_t size)
{
    int saved_errno = errno;

    if (tm_reentrant)
        return;
    tm_lock_acquire();
    /* Out of memory: the block is not parked, but its trace must go. */
    if (tm_tracing && tm_store_park(tm_store, (guintptr)block, size) < 0)
        tm_store_remove(tm_store, TM_DEFAULT_DOMAIN, (guintptr)block, NULL);
    tm_lock_release();
    errno = saved_errno;
}

/* A block is taken from a free list: for the tracer it is allocated here and now. GIL held. */
static void
tm_freelist_pop(void *block, size_t size)
{
    guint nframe, total;
    int saved_errno = errno;

    if (tm_reentrant)
        return;
    tm_reentrant = 1;
    nframe = tm_capture(&total);
    tm_lock_acquire();
    if (tm_tracing)
        tm_add_locked(block, size, nframe, total);  /* the parked entry becomes the trace */
    tm_lock_release();
    tm_reentrant = 0;
    tm_timer_poll();
    errno = saved_errno;
}

static const TmFreeListHooks tm_freelist_hooks = { tm_freelist_push, tm_freelist_pop };

const char *
tm_engine_variant(void)
{
    return tm_variant;
}

gboolean
tm_engine_freelist_memory(gsize *size, gsize *count)
{
    if (tm_set_freelist_hooks == NULL)
        return FALSE;
    *size = *count = 0;
    tm_lock_acquire();
    if (tm_store != NULL)
        tm_store_parked(tm_store, size, count);
    tm_lock_release();
    return TRUE;
}

/* ------------------------------------------------------------------ fork */

static void
tm_fork_prepare(void)
{
    tm_lock_acquire();
}

static void
tm_fork_parent(void)
{
    tm_lock_release();
}

/* Only the forking thread survives in the child; it held tm_lock across fork(), so the
 * tables it inherits are consistent. */
static void
tm_fork_child(void)
{
    tm_lock_release();
}

/* ------------------------------------------------------------------ C API (patched 3.x) */

#ifdef TM_HAVE_CAPI_HOOKS
/* PyTraceMalloc_Track(): may be called without the GIL, like the stock function, which takes
 * the GIL to capture the traceback; so do we. */
static int
tm_api_track(unsigned int domain, uintptr_t ptr, size_t size)
{
    PyGILState_STATE gil;
    guint nframe, total;
    int res = -2;

    if (!tm_tracing)
        return -2;
    gil = PyGILState_Ensure();
    if (tm_tracing) {
        tm_reentrant = 1;
        nframe = tm_capture(&total);
        tm_lock_acquire();
        if (tm_tracing) {
            const TmTraceback *tb = tm_intern_locked(nframe, total);
            res = tb != NULL && tm_store_add(tm_store, domain, ptr, size, tb) == 0 ? 0 : -1;
        }
        tm_lock_release();
        tm_reentrant = 0;
    }
    PyGILState_Release(gil);
    return res;
}

static int
tm_api_untrack(unsigned int domain, uintptr_t ptr)
{
    int res = -2;

    tm_lock_acquire();
    if (tm_tracing) {
        tm_store_remove(tm_store, domain, ptr, NULL);
        res = 0;
    }
    tm_lock_release();
    return res;
}

static PyObject *tm_traceback_lookup(guint domain, guintptr ptr);

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

/* _PyMem_DumpTraceback(): the same lines as the stock engine writes. */
static void
tm_api_dump_traceback(int fd, const void *ptr)
{
    const TmTrace *trace;
    char line[64];

    if (!tm_tracing) {
        tm_write(fd, "Enable tracemalloc to get the memory block allocation traceback\n\n");
        return;
    }
    /* A fatal error may come from inside the allocator while this thread holds the lock
     * (see tm_free_common): read the tables as they are. Never wait for another thread. */
    gboolean locked = FALSE;
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
        tm_write(fd, "Memory block allocated at (most recent call first):\n");
        for (guint i = 0; i < tb->nframe; i++) {
            tm_write(fd, "  File \"");
            if (tb->frames[i].filename != NULL)
                tm_write_str(fd, (PyObject *)tb->frames[i].filename);
            else
                tm_write(fd, "<unknown>");
            g_snprintf(line, sizeof line, "\", line %u\n", tb->frames[i].lineno);
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
#endif

/* ------------------------------------------------------------------ control */

int
tm_engine_init(void)
{
    if (tm_unknown == NULL) {
        tm_unknown = TmStr_InternFromString("<unknown>");
        if (tm_unknown == NULL)
            return -1;
    }
    tm_code_offset = tm_type_block_offset(&PyCode_Type);
    tm_code_min_block = tm_code_offset + (size_t)PyCode_Type.tp_basicsize;
    if (tm_variant == NULL) {
        /* Patched interpreters name their variant; their symbols are in the process already
         * (the executable or libpython), so RTLD_DEFAULT finds them. */
        tm_variant = dlsym(RTLD_DEFAULT, "_Py_tracemalloc_variant");
        *(void **)&tm_set_freelist_hooks = dlsym(RTLD_DEFAULT, "PyTraceMalloc_SetFreeListHooks");
        if (tm_variant == NULL)
            tm_variant = TM_UNNAMED_VARIANT;
    }
    if (!tm_fork_handlers) {
        if (pthread_atfork(tm_fork_prepare, tm_fork_parent, tm_fork_child) != 0) {
            PyErr_SetString(PyExc_RuntimeError, "cannot register the fork handlers");
            return -1;
        }
        tm_fork_handlers = TRUE;
    }
    return 0;
}

int
tm_engine_start(guint nframe)
{
    TmFrame *frames;
    TmStore *store;
    PyMemAllocatorEx raw = { &tm_orig_raw, tm_malloc_raw, tm_calloc_raw, tm_realloc_raw,
                             tm_free_any };
    PyMemAllocatorEx mem = { &tm_orig_mem, tm_malloc_gil, tm_calloc_gil, tm_realloc_gil,
                             tm_free_any };
    PyMemAllocatorEx obj = { &tm_orig_obj, tm_malloc_gil, tm_calloc_gil, tm_realloc_obj,
                             tm_free_obj };

    if (nframe < 1 || nframe > TM_MAX_NFRAME) {
        PyErr_Format(PyExc_ValueError, "the number of frames must be in range [1; %d]",
                     TM_MAX_NFRAME);
        return -1;
    }
    /* The hooks use tm_frames with the GIL held, as we do: swapping it is safe. */
    frames = g_try_new0(TmFrame, nframe);
    if (frames == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (tm_tracing) {
        g_free(tm_frames);
        tm_frames = frames;
        tm_nframe = nframe;
        return 0;
    }
    store = tm_store_new(tm_filename_release, NULL);
    if (store == NULL) {
        g_free(frames);
        PyErr_NoMemory();
        return -1;
    }
    g_free(tm_frames);
    tm_frames = frames;
    tm_nframe = nframe;
    tm_interp = PyThreadState_Get()->interp;
    /* Code objects died unseen since the last time tracing ran. */
    memset(tm_lines, 0, sizeof(tm_lines));

    tm_lock_acquire();
    tm_store = store;
    tm_tracing = TRUE;
    tm_lost = 0;
    tm_lock_release();

    PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &tm_orig_raw);
    PyMem_GetAllocator(PYMEM_DOMAIN_MEM, &tm_orig_mem);
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &tm_orig_obj);
    PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &raw);
    PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &mem);
    PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &obj);
#ifdef TM_HAVE_CAPI_HOOKS
    PyTraceMalloc_SetHooks(&tm_api_hooks);
#endif
    if (tm_set_freelist_hooks != NULL)
        tm_set_freelist_hooks(&tm_freelist_hooks);
    return 0;
}

/* Detach the store from the hooks. tm_lock not held. The caller frees the result. */
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
    tm_tracing = replacement != NULL;
    tm_lock_release();
    return old;
}

void
tm_engine_stop(void)
{
    if (!tm_tracing)
        return;
#ifdef TM_HAVE_CAPI_HOOKS
    PyTraceMalloc_SetHooks(NULL);
#endif
    if (tm_set_freelist_hooks != NULL)
        tm_set_freelist_hooks(NULL);
    PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &tm_orig_raw);
    PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &tm_orig_mem);
    PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &tm_orig_obj);
    /* Outside the lock: freeing drops the filename references. */
    tm_store_free(tm_detach_store(NULL));
    g_free(tm_frames);
    tm_frames = NULL;
}

gboolean
tm_engine_is_tracing(void)
{
    return tm_tracing;
}

gboolean
tm_engine_in_tracing_interpreter(void)
{
    PyThreadState *tstate = tm_tstate_gil();
    return tstate != NULL && tstate->interp == tm_interp;
}

guint
tm_engine_traceback_limit(void)
{
    return tm_nframe;
}

void
tm_engine_clear(void)
{
    TmStore *fresh;

    if (!tm_tracing)
        return;
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

guint64
tm_engine_capture_count(void)
{
    return tm_captures;
}

gsize
tm_engine_memory(void)
{
    gsize size = 0;

    tm_lock_acquire();
    if (tm_store != NULL)
        size = tm_store_memory(tm_store) + tm_nframe * sizeof(TmFrame);
    tm_lock_release();
    return size;
}

/* ------------------------------------------------------------------ export */

static PyObject *tm_traceback_lookup(guint domain, guintptr ptr);

/* A private copy of a traceback whose filenames we hold references on, so that it survives a
 * clear_traces() run by code (a finaliser) triggered while we build Python objects. */
static TmTraceback *
tm_traceback_copy(const TmTraceback *tb)
{
    gsize size = sizeof(TmTraceback) + tb->nframe * sizeof(TmFrame);
    TmTraceback *copy = g_try_malloc(size);

    if (copy == NULL)
        return NULL;
    memcpy(copy, tb, size);
    for (guint i = 0; i < copy->nframe; i++)
        Py_XINCREF((PyObject *)copy->frames[i].filename);
    return copy;
}

/* Drop a copy. GIL held, tm_lock not held. */
static void
tm_traceback_copy_free(gpointer data)
{
    TmTraceback *copy = data;

    for (guint i = 0; i < copy->nframe; i++)
        Py_XDECREF((PyObject *)copy->frames[i].filename);
    g_free(copy);
}

static PyObject *
tm_filename_object(gconstpointer filename)
{
    PyObject *obj = filename != NULL ? (PyObject *)filename : tm_unknown;
    Py_INCREF(obj);
    return obj;
}

static PyObject *
tm_frame_to_python(const TmFrame *frame)
{
    return Py_BuildValue("(NI)", tm_filename_object(frame->filename), frame->lineno);
}

static PyObject *
tm_traceback_to_python(const TmTraceback *tb)
{
    PyObject *tuple, *frame;
    TmFrame unknown = { NULL, 0 };

    if (tb->nframe == 0) {
        frame = tm_frame_to_python(&unknown);
        if (frame == NULL)
            return NULL;
        return Py_BuildValue("(N)", frame);
    }
    tuple = PyTuple_New(tb->nframe);
    if (tuple == NULL)
        return NULL;
    for (guint i = 0; i < tb->nframe; i++) {
        frame = tm_frame_to_python(&tb->frames[i]);
        if (frame == NULL) {
            Py_DECREF(tuple);
            return NULL;
        }
        PyTuple_SET_ITEM(tuple, i, frame);
    }
    return tuple;
}

PyObject *
tm_engine_object_traceback(PyObject *obj)
{
    return tm_traceback_lookup(TM_DEFAULT_DOMAIN, (guintptr)tm_object_block(obj));
}

static PyObject *
tm_traceback_lookup(guint domain, guintptr ptr)
{
    TmTraceback *copy = NULL;
    const TmTrace *trace;
    PyObject *result;

    tm_lock_acquire();
    if (tm_store != NULL) {
        trace = tm_store_get(tm_store, domain, ptr);
        if (trace != NULL)
            copy = tm_traceback_copy(trace->traceback);
        if (trace != NULL && copy == NULL) {
            tm_lock_release();
            return PyErr_NoMemory();
        }
    }
    tm_lock_release();
    if (copy == NULL)
        Py_RETURN_NONE;
    result = tm_traceback_to_python(copy);
    tm_traceback_copy_free(copy);
    return result;
}

typedef struct {
    guint domain;
    gsize size;
    guint tb_index;
} TmTraceCopy;

typedef struct {
    GArray *traces;         /* of TmTraceCopy */
    GPtrArray *tracebacks;  /* of TmTraceback copies, owned */
    GHashTable *tb_index;   /* store traceback -> index + 1 in tracebacks */
    gboolean failed;
} TmTracesExport;

static gboolean
tm_export_trace(guintptr ptr, const TmTrace *trace, gpointer user_data)
{
    TmTracesExport *ex = user_data;
    TmTraceCopy item;
    guint index;

    (void)ptr;
    index = GPOINTER_TO_UINT(g_hash_table_lookup(ex->tb_index, trace->traceback));
    if (index == 0) {
        TmTraceback *copy = tm_traceback_copy(trace->traceback);
        if (copy == NULL) {
            ex->failed = TRUE;
            return FALSE;
        }
        g_ptr_array_add(ex->tracebacks, copy);
        index = ex->tracebacks->len;
        g_hash_table_insert(ex->tb_index, (gpointer)trace->traceback, GUINT_TO_POINTER(index));
    }
    item.domain = trace->domain;
    item.size = trace->size;
    item.tb_index = index - 1;
    g_array_append_val(ex->traces, item);
    return TRUE;
}

PyObject *
tm_engine_traces(void)
{
    TmTracesExport ex = { NULL, NULL, NULL, FALSE };
    PyObject *list = NULL, *tbs = NULL;

    ex.traces = g_array_new(FALSE, FALSE, sizeof(TmTraceCopy));
    ex.tracebacks = g_ptr_array_new_with_free_func(tm_traceback_copy_free);
    ex.tb_index = g_hash_table_new(g_direct_hash, g_direct_equal);
    tm_lock_acquire();
    if (tm_store != NULL)
        tm_store_foreach(tm_store, tm_export_trace, &ex);
    tm_lock_release();
    g_hash_table_destroy(ex.tb_index);
    if (ex.failed) {
        PyErr_NoMemory();
        goto done;
    }

    tbs = PyTuple_New(ex.tracebacks->len);
    if (tbs == NULL)
        goto done;
    for (guint i = 0; i < ex.tracebacks->len; i++) {
        PyObject *tb = tm_traceback_to_python(g_ptr_array_index(ex.tracebacks, i));
        if (tb == NULL)
            goto done;
        PyTuple_SET_ITEM(tbs, i, tb);
    }
    list = PyList_New(ex.traces->len);
    if (list == NULL)
        goto done;
    for (guint i = 0; i < ex.traces->len; i++) {
        TmTraceCopy *item = &g_array_index(ex.traces, TmTraceCopy, i);
        const TmTraceback *tb = g_ptr_array_index(ex.tracebacks, item->tb_index);
        PyObject *tuple = Py_BuildValue("(InOI)", item->domain, (Py_ssize_t)item->size,
                                        PyTuple_GET_ITEM(tbs, item->tb_index),
                                        (unsigned int)tb->total_nframe);
        if (tuple == NULL) {
            Py_CLEAR(list);
            goto done;
        }
        PyList_SET_ITEM(list, i, tuple);
    }

done:
    Py_XDECREF(tbs);
    g_array_free(ex.traces, TRUE);
    g_ptr_array_free(ex.tracebacks, TRUE);
    return list;
}

/* Statistics grouped by the most recent frame, summed under the lock in C. */
typedef struct {
    gconstpointer filename;
    guint lineno;
    gsize size;
    gsize count;
} TmLineStat;

static guint
tm_line_hash(gconstpointer key)
{
    const TmLineStat *stat = key;
    return g_direct_hash(stat->filename) ^ (stat->lineno * 2654435761u);
}

static gboolean
tm_line_equal(gconstpointer a, gconstpointer b)
{
    const TmLineStat *x = a, *y = b;
    return x->filename == y->filename && x->lineno == y->lineno;
}

typedef struct {
    GHashTable *lines;  /* TmLineStat set, owned */
    gboolean failed;
} TmStatsExport;

static gboolean
tm_export_stat(guintptr ptr, const TmTrace *trace, gpointer user_data)
{
    TmStatsExport *ex = user_data;
    TmLineStat key = { NULL, 0, 0, 0 }, *stat;

    (void)ptr;
    if (trace->traceback->nframe > 0) {
        key.filename = trace->traceback->frames[0].filename;
        key.lineno = trace->traceback->frames[0].lineno;
    }
    stat = g_hash_table_lookup(ex->lines, &key);
    if (stat == NULL) {
        stat = g_try_new(TmLineStat, 1);
        if (stat == NULL) {
            ex->failed = TRUE;
            return FALSE;
        }
        *stat = key;
        Py_XINCREF((PyObject *)stat->filename);
        g_hash_table_add(ex->lines, stat);
    }
    stat->size += trace->size;
    stat->count++;
    return TRUE;
}

static void
tm_line_stat_free(gpointer data)
{
    TmLineStat *stat = data;
    Py_XDECREF((PyObject *)stat->filename);
    g_free(stat);
}

PyObject *
tm_engine_stats(void)
{
    TmStatsExport ex;
    GHashTableIter iter;
    gpointer key;
    PyObject *result;

    ex.lines = g_hash_table_new_full(tm_line_hash, tm_line_equal, tm_line_stat_free, NULL);
    ex.failed = FALSE;
    tm_lock_acquire();
    if (tm_store != NULL)
        tm_store_foreach(tm_store, tm_export_stat, &ex);
    tm_lock_release();
    if (ex.failed) {
        g_hash_table_destroy(ex.lines);
        return PyErr_NoMemory();
    }

    result = PyDict_New();
    if (result == NULL)
        goto error;
    g_hash_table_iter_init(&iter, ex.lines);
    while (g_hash_table_iter_next(&iter, &key, NULL)) {
        TmLineStat *stat = key;
        PyObject *filename = tm_filename_object(stat->filename);
        PyObject *lines = PyDict_GetItem(result, filename);  /* borrowed */
        PyObject *lineno = NULL, *value = NULL;
        int err = -1;

        if (lines == NULL) {
            lines = PyDict_New();
            if (lines != NULL && PyDict_SetItem(result, filename, lines) < 0)
                Py_CLEAR(lines);
            Py_XDECREF(lines);  /* the dict holds it now */
        }
        if (lines != NULL) {
            lineno = TmInt_FromLong(stat->lineno);
            value = Py_BuildValue("(nn)", (Py_ssize_t)stat->size, (Py_ssize_t)stat->count);
            if (lineno != NULL && value != NULL)
                err = PyDict_SetItem(lines, lineno, value);
        }
        Py_DECREF(filename);
        Py_XDECREF(lineno);
        Py_XDECREF(value);
        if (err < 0)
            goto error;
    }
    g_hash_table_destroy(ex.lines);
    return result;

error:
    Py_XDECREF(result);
    g_hash_table_destroy(ex.lines);
    return NULL;
}
