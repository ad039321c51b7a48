/* The native domain's hooks: malloc & co. of the whole process, as the preloadable library
 * (module/native/preload.c) forwards them once registered, traced in TM_NATIVE_DOMAIN with
 * the Python traceback of the moment (native.h).
 *
 * Never counted twice, never ourselves. A call is let through untraced when the calling
 * thread
 *   - runs inside one of the engine's hooks (tm_thread.reentrant): PyMem_RawMalloc, pymalloc's
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
 * tm_thread.reentrant set and pass through), and the Python frames of a thread that holds the
 * GIL of the tracing interpreter (tm_gil_held_in_malloc(): on 2.7 without the thread module's
 * lock), read exactly as the RAW hook reads them. A thread without the GIL
 * (a C library's worker, the interpreter before it takes the GIL) gets the empty traceback.
 * Nothing here creates a Python object, takes the GIL, or runs a timer. errno is kept as the
 * allocator left it. */
#include "engine.h"
#include "native.h"
#include "../native/preload.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <link.h>
#include <stdio.h>
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

/* ---------------------------------------------------------------- the C call stack */

/* The most C frames a traceback may have (PYTRACEMALLOC_NATIVE_STACK). */
#define TM_NATIVE_MAX_STACK 64

/* PYTRACEMALLOC_NATIVE_STACK, read by install: 0 (no C frame) to TM_NATIVE_MAX_STACK. Written
 * with the GIL held before the hooks are registered, read by the hooks. */
static guint tm_native_stack;
/* The executable segments of the engine and of the library: the frames of the hooks, skipped
 * at the top of a C stack. Written once by install (GIL), before the hooks are registered. */
static guintptr tm_self_lo[2], tm_self_hi[2];
/* Created by install (GIL) the first time a C stack is asked for; never freed. */
PyObject *tm_native_frame_filename;
/* Protected by tm_lock: the return addresses seen (address -> index + 1, and by index), and
 * the frames of the traceback being interned. Never freed (they are the process's). */
static GHashTable *tm_native_pc_index;
static GArray *tm_native_pcs;
static TmFrame *tm_native_frames;
static guint tm_native_frames_size;
/* Protected by the GIL: index -> the name of the frame (a strong reference). */
static GHashTable *tm_native_names;

static inline gboolean
tm_native_is_ours(guintptr pc)
{
    return (pc >= tm_self_lo[0] && pc < tm_self_hi[0]) || (pc >= tm_self_lo[1] && pc < tm_self_hi[1]);
}

/* Up to tm_native_stack return addresses of the caller, most recent first, the frames of the
 * hooks (this file, the library) left out. glibc's backtrace(): its unwinder (libgcc_s) is
 * loaded by install's first call, so none is loaded here; what it allocates on its first
 * visit of an object comes back to the hooks with tm_thread.reentrant set and passes through. The
 * frame pointers cannot be walked instead: Debian builds without them. */
static guint
tm_native_backtrace(void **pcs)
{
    void *raw[TM_NATIVE_MAX_STACK + 16];
    int n = backtrace(raw, (int)tm_native_stack + 16);
    guint kept = 0;
    int i = 0;

    while (i < n && tm_native_is_ours((guintptr)raw[i]))
        i++;
    for (; i < n && kept < tm_native_stack; i++)
        pcs[kept++] = raw[i];
    return kept;
}

/* The index of the return address pc, added if new. tm_lock held (glib allocates: it passes
 * through). */
static guint
tm_native_pc_index_locked(gpointer pc)
{
    gpointer value;
    guint index;

    if (tm_native_pc_index == NULL) {
        tm_native_pc_index = g_hash_table_new(g_direct_hash, g_direct_equal);
        tm_native_pcs = g_array_new(FALSE, FALSE, sizeof(gpointer));
    }
    value = g_hash_table_lookup(tm_native_pc_index, pc);
    if (value != NULL)
        return GPOINTER_TO_UINT(value) - 1;
    index = tm_native_pcs->len;
    g_array_append_val(tm_native_pcs, pc);
    g_hash_table_insert(tm_native_pc_index, pc, GUINT_TO_POINTER(index + 1));
    return index;
}

/* Intern a traceback of the npc C frames pcs, then the nframe Python frames just captured
 * (GIL held if nframe > 0) of a stack of total Python frames. tm_lock held. NULL on out of
 * memory. As tm_intern_locked(), a new traceback brings its filenames into the store, which
 * holds a reference on each, except tm_native_frame_filename, which native.c owns. */
static const TmTraceback *
tm_native_intern_locked(void **pcs, guint npc, guint nframe, guint total)
{
    const TmTraceback *tb;
    guint n, before;

    if (npc == 0)
        return tm_intern_locked(nframe, total);
    if (nframe > TM_MAX_NFRAME - npc)
        nframe = TM_MAX_NFRAME - npc;
    n = npc + nframe;
    if (n > tm_native_frames_size) {
        TmFrame *frames = g_try_renew(TmFrame, tm_native_frames, n);
        if (frames == NULL)
            return NULL;
        tm_native_frames = frames;
        tm_native_frames_size = n;
    }
    for (guint i = 0; i < npc; i++) {
        tm_native_frames[i].filename = tm_native_frame_filename;
        tm_native_frames[i].lineno = tm_native_pc_index_locked(pcs[i]);
    }
    if (nframe > 0)
        memcpy(tm_native_frames + npc, tm_capture_frames(), nframe * sizeof(TmFrame));
    before = tm_store_traceback_count(tm_store);
    tb = tm_store_intern_traceback(tm_store, tm_native_frames, n,
                                   MIN(total + npc, (guint)TM_MAX_NFRAME));
    if (tb != NULL && tm_store_traceback_count(tm_store) != before) {
        /* the traceback's frames are the ones passed */
        for (guint i = 0; i < n; i++) {
            gconstpointer filename = tm_native_frames[i].filename;
            if (filename != NULL && filename != tm_native_frame_filename
                && tm_store_intern_filename(tm_store, filename))
                Py_INCREF((PyObject *)filename);
        }
    }
    return tb;
}

PyObject *
tm_native_frame_name(guint index)
{
    gpointer pc = NULL;
    PyObject *name;
    Dl_info info;
    char buf[512];

    if (tm_native_names == NULL)
        tm_native_names = g_hash_table_new(g_direct_hash, g_direct_equal);
    name = g_hash_table_lookup(tm_native_names, GUINT_TO_POINTER(index + 1));
    if (name != NULL) {
        Py_INCREF(name);
        return name;
    }
    tm_lock_acquire();
    if (tm_native_pcs != NULL && index < tm_native_pcs->len)
        pc = g_array_index(tm_native_pcs, gpointer, index);
    tm_lock_release();
    /* A return address: the call is the byte before it. */
    if (pc != NULL && dladdr((char *)pc - 1, &info) != 0 && info.dli_fname != NULL) {
        const char *lib = strrchr(info.dli_fname, '/');
        lib = lib != NULL ? lib + 1 : info.dli_fname;
        if (info.dli_sname != NULL)
            g_snprintf(buf, sizeof buf, "<native> %s+0x%lx (%s)", info.dli_sname,
                       (unsigned long)((char *)pc - (char *)info.dli_saddr), lib);
        else
            g_snprintf(buf, sizeof buf, "<native> 0x%lx (%s)",
                       (unsigned long)((char *)pc - (char *)info.dli_fbase), lib);
    }
    else {
        g_snprintf(buf, sizeof buf, "<native> %p", pc);
    }
    name = TmStr_FromString(buf);
    if (name == NULL)
        return NULL;
    Py_INCREF(name);
    g_hash_table_insert(tm_native_names, GUINT_TO_POINTER(index + 1), name);
    return name;
}

/* dl_iterate_phdr(): the executable segment of each object that holds one of the addresses. */
static int
tm_native_find_self(struct dl_phdr_info *info, size_t size, void *data)
{
    guintptr *targets = data;

    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        guintptr lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        for (int k = 0; k < 2; k++) {
            if (targets[k] >= lo && targets[k] < hi) {
                tm_self_lo[k] = lo;
                tm_self_hi[k] = hi;
            }
        }
    }
    return 0;
}

/* Read PYTRACEMALLOC_NATIVE_STACK and get ready for it. GIL held, hooks not registered. */
static void
tm_native_stack_setup(void)
{
    const char *value = getenv("PYTRACEMALLOC_NATIVE_STACK");
    guint64 n = 0;
    void *warm[4];
    guintptr targets[2];

    if (value == NULL || !g_ascii_string_to_unsigned(value, 10, 0, TM_NATIVE_MAX_STACK, &n, NULL))
        n = 0;
    if (n > 0 && tm_native_frame_filename == NULL) {
        tm_native_frame_filename = TmStr_InternFromString("<native>");
        if (tm_native_frame_filename == NULL) {
            PyErr_Clear();
            n = 0;
        }
    }
    if (n > 0) {
        /* Load the unwinder now, not inside malloc. */
        (void)backtrace(warm, 4);
        targets[0] = (guintptr)&tm_native_stack_setup;
        targets[1] = (guintptr)tm_set_hooks;
        dl_iterate_phdr(tm_native_find_self, targets);
    }
    tm_native_stack = (guint)n;
}

gboolean
tm_native_active(void)
{
    return __atomic_load_n(&tm_native_on, __ATOMIC_RELAXED);
}

/* The call is the engine's, or made under a hook that traces it elsewhere. */
static inline gboolean
tm_native_skip(void)
{
    return tm_thread.reentrant || tm_lock_owned || tm_native_engine_depth != 0
           || !tm_tracing_peek();
}

/* Record the new block ptr of size bytes: with the Python traceback when the thread holds the
 * GIL of the tracing interpreter, the empty one otherwise; in the tracer's store when the
 * thread is suspended. */
static void
tm_native_record(void *ptr, size_t size)
{
    PyThreadState *tstate;
    guint nframe = 0, total = 0, npc = 0;
    void *pcs[TM_NATIVE_MAX_STACK];
    int saved_errno = errno;

    tm_thread.reentrant = 1;
    if (G_UNLIKELY(tm_thread.suspend_depth != 0)) {
        tm_lock_acquire();
        if (tm_tracing)
            tm_own_add_locked(TM_NATIVE_DOMAIN, (guintptr)ptr, size);
        tm_lock_release();
    }
    else {
        if (tm_native_stack != 0)
            npc = tm_native_backtrace(pcs);
        tstate = tm_gil_held_in_malloc() ? tm_tracing_tstate() : NULL;
        if (tstate != NULL)
            nframe = tm_capture(tstate, &total);
        tm_lock_acquire();
        if (tm_tracing) {
            const TmTraceback *tb = tm_native_intern_locked(pcs, npc, nframe, total);
            if (tb == NULL
                || tm_store_add(tm_store, TM_NATIVE_DOMAIN, (guintptr)ptr, size, tb) < 0) {
                tm_store_remove(tm_store, TM_NATIVE_DOMAIN, (guintptr)ptr, NULL);
                tm_lost++;
            }
        }
        tm_lock_release();
    }
    tm_thread.reentrant = 0;
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

        tm_thread.reentrant = 1;
        tm_lock_acquire();
        if (tm_tracing)
            tm_native_forget_trace_locked((guintptr)ptr);
        tm_lock_release();
        tm_thread.reentrant = 0;
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
    guint nframe = 0, total = 0, npc = 0;
    void *pcs[TM_NATIVE_MAX_STACK];
    gboolean suspended;
    void *ptr2;
    int saved_errno;

    if (ptr == NULL)
        return tm_native_malloc(size);
    if (tm_native_skip())
        return tm_real.realloc(ptr, size);
    tm_thread.reentrant = 1;
    suspended = tm_thread.suspend_depth != 0;
    if (!suspended && tm_native_stack != 0)
        npc = tm_native_backtrace(pcs);
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
            tb = tm_native_intern_locked(pcs, npc, nframe, total);
            if (tb == NULL
                || tm_store_add(tm_store, TM_NATIVE_DOMAIN, (guintptr)ptr2, size, tb) < 0) {
                tm_store_remove(tm_store, TM_NATIVE_DOMAIN, (guintptr)ptr2, NULL);
                tm_lost++;
            }
        }
    }
    tm_lock_release();
    tm_thread.reentrant = 0;
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
    tm_native_stack_setup();
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
