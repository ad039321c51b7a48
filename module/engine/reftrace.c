/* Reference tracing: the tracer given to PyRefTracer_SetTracer(), its per-type counts and its
 * log of NEW/DEL rows (the contract is in reftrace.h; doc/internals.rst, "Reference
 * tracing", says how it sits beside the allocator hooks).
 *
 * States, every transition with the GIL held:
 *
 *   IDLE --start--> TRACING --stop--> IDLE     (suspend/resume only count while TRACING)
 *
 * The tracer runs inside _Py_NewReference() and before a deallocator, so it creates no Python
 * object, drops no reference and leaves the error indicator as it found it. The object it is
 * given is not initialised yet on CREATE (only its type and reference count are set) and is
 * about to be destroyed on DESTROY: it reads its type and address, nothing else. Its own
 * memory (tables, names, the log's buffer) comes from glib and stdio, i.e. the system
 * allocator, which the allocator hooks do not see, and which the native domain leaves out as
 * the engine's own work (TM_NATIVE_ENGINE_BEGIN in the tracer, module.c around start and
 * stop). */
#include "engine.h"
#include "native.h"
#include "reftrace.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#if PY_VERSION_HEX >= 0x030D0000
/* 3.13 has the reference tracer in every build: call it directly. */
typedef PyRefTracer TmRefTracer;
typedef PyRefTracerEvent TmRefTracerEvent;
#  define TM_REFTRACER_CREATE PyRefTracer_CREATE
#  define tm_reftracer_set PyRefTracer_SetTracer
#  define tm_reftracer_get PyRefTracer_GetTracer
static gboolean tm_reftracer_find(void) { return TRUE; }
#else
/* 2.7 and 3.11 have it only when built with our patch: look it up at run time, as freelists.c
 * looks up the free-list hooks, so that one build of the engine loads everywhere. The
 * event's values are 3.13's (PyRefTracer_CREATE = 0, PyRefTracer_DESTROY = 1). */
#  include <dlfcn.h>
typedef int TmRefTracerEvent;
typedef int (*TmRefTracer)(PyObject *, TmRefTracerEvent event, void *data);
#  define TM_REFTRACER_CREATE 0
/* Found by tm_reftracer_find(), with the GIL held; read only afterwards. */
static int (*tm_reftracer_set)(TmRefTracer tracer, void *data);
static TmRefTracer (*tm_reftracer_get)(void **data);

static gboolean
tm_reftracer_find(void)
{
    if (tm_reftracer_set == NULL) {
        *(void **)&tm_reftracer_set = dlsym(RTLD_DEFAULT, "PyRefTracer_SetTracer");
        *(void **)&tm_reftracer_get = dlsym(RTLD_DEFAULT, "PyRefTracer_GetTracer");
    }
    return tm_reftracer_set != NULL && tm_reftracer_get != NULL;
}
#endif

/* The counts of one type name. Owned by rt_counts, which frees it. */
typedef struct {
    char *name;         /* the type's tp_name, owned; the key of rt_counts */
    gint64 created;     /* CREATE events seen since start */
    gint64 destroyed;   /* DESTROY events seen since start */
} TmRtCount;

/* Everything below is protected by the GIL. */
static gboolean rt_tracing;          /* between start and stop */
static guint rt_suspended;           /* reftrace_suspend() depth */
static gboolean rt_busy;             /* the engine's own work for reftrace: not seen */
static GHashTable *rt_counts;        /* name -> TmRtCount; kept after stop for the counts */
/* type -> its TmRtCount, or NULL if not traced: the decision of rt_decide(), cached. A type
 * object's entry goes when it is destroyed, so that an address is never reused stale. */
static GHashTable *rt_types;
static GHashTable *rt_include;       /* names (owned) of include, or empty */
static GHashTable *rt_exclude;       /* names (owned) of exclude */
static gboolean rt_include_builtins;
static FILE *rt_log;                 /* NULL: no log */
static int rt_log_errno;             /* first write error of the log, or 0 */
static gint64 rt_clock_start;        /* g_get_monotonic_time() at start */
static int rt_statm = -1;            /* /proc/self/statm, or -1 */
static long rt_page_size;            /* sysconf(_SC_PAGESIZE), read with rt_statm */
static gint64 rt_last_rss;           /* RSS of the previous row */

/* fork(): the log's buffer is written out first, so that parent and child do not both write
 * it later; both then append their rows to the same file (one shared file offset). The
 * forking thread holds the GIL (os.fork), which protects rt_log. */
static void
rt_before_fork(void)
{
    if (rt_log != NULL)
        fflush(rt_log);
}

static void
rt_count_free(gpointer data)
{
    TmRtCount *count = data;

    g_free(count->name);
    g_free(count);
}

/* A type of the builtins module: a static type whose tp_name has no module part. */
static gboolean
rt_is_builtin(PyTypeObject *type)
{
    return !PyType_HasFeature(type, Py_TPFLAGS_HEAPTYPE) && strchr(type->tp_name, '.') == NULL;
}

static gboolean
rt_names_match(GHashTable *names, const char *name)
{
    const char *dot = strrchr(name, '.');

    return g_hash_table_contains(names, name)
        || (dot != NULL && g_hash_table_contains(names, dot + 1));
}

/* The counts of objects of type, or NULL if they are not traced. */
static TmRtCount *
rt_lookup(PyTypeObject *type)
{
    gpointer value;
    gboolean traced;
    const char *name = type->tp_name;
    TmRtCount *count = NULL;

    if (g_hash_table_lookup_extended(rt_types, type, NULL, &value))
        return value;
    if (g_hash_table_size(rt_include) != 0)
        traced = rt_names_match(rt_include, name);
    else
        traced = rt_include_builtins || !rt_is_builtin(type);
    if (traced && rt_names_match(rt_exclude, name))
        traced = FALSE;
    if (traced) {
        count = g_hash_table_lookup(rt_counts, name);
        if (count == NULL) {
            count = g_new0(TmRtCount, 1);
            count->name = g_strdup(name);
            g_hash_table_insert(rt_counts, count->name, count);
        }
    }
    g_hash_table_insert(rt_types, type, count);
    return count;
}

/* The UTF-8 text of a str (of the code of a frame), or "?": the error indicator is kept. */
static const char *
rt_text(PyObject *text)
{
    const char *utf8;
#ifdef TM_PY2
    if (text == NULL || !PyString_Check(text))
        return "?";
    utf8 = PyString_AS_STRING(text);
#else
    PyObject *type, *value, *traceback;

    if (text == NULL || !PyUnicode_Check(text))
        return "?";
    if (PyUnicode_IS_ASCII(text))
        return (const char *)PyUnicode_DATA(text);
    /* Encoding may fail (surrogates) or cache the UTF-8 form (a raw block, no object). */
    PyErr_Fetch(&type, &value, &traceback);
    utf8 = PyUnicode_AsUTF8(text);
    if (utf8 == NULL)
        PyErr_Clear();
    PyErr_Restore(type, value, traceback);
#endif
    return utf8 != NULL ? utf8 : "?";
}

/* The resident set size in bytes, or 0 if unknown. */
static gint64
rt_rss(void)
{
    char buf[64];
    ssize_t n;
    long long pages = 0;

    if (rt_statm < 0)
        return 0;
    n = pread(rt_statm, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    if (sscanf(buf, "%*s %lld", &pages) != 1)
        return 0;
    return (gint64)pages * rt_page_size;
}

static void
rt_write_row(const char *event, PyObject *op, const TmRtCount *count)
{
    PyThreadState *tstate = tm_tstate_gil();
    TmPyFrame *frame = tstate != NULL ? tm_frame_current(tstate) : NULL;
    const char *filename = "-", *function = "-";
    int lineno = 0;
    gint64 rss = rt_rss();
    int saved_errno = errno;

    if (frame != NULL) {
#ifdef TM_PY2
        PyCodeObject *code = frame->f_code;
#else
        PyCodeObject *code = tm_frame_code(frame);
#endif
        if (code != NULL) {
            filename = rt_text(code->co_filename);
            function = rt_text(code->co_name);
            lineno = tm_frame_lineno(frame);
        }
    }
    if (fprintf(rt_log, "%s\t%.6f\t%p\t%" G_GINT64_FORMAT "\t%s\t%s\t%d\t%s\t%" G_GINT64_FORMAT
                "\t%" G_GINT64_FORMAT "\n",
                event, (double)(g_get_monotonic_time() - rt_clock_start) / 1e6, (void *)op,
                count->created - count->destroyed, count->name, filename, lineno, function, rss,
                rss - rt_last_rss) < 0 && rt_log_errno == 0)
        rt_log_errno = errno != 0 ? errno : EIO;
    rt_last_rss = rss;
    errno = saved_errno;
}

/* The tracer: called by the interpreter with the GIL held for every object created or about
 * to be destroyed. */
static int
rt_tracer(PyObject *op, TmRefTracerEvent event, void *data)
{
    TmRtCount *count;
    gboolean create = event == TM_REFTRACER_CREATE;

    (void)data;
    if (!rt_tracing)
        return 0;
    /* A type object dies: forget the decision cached for its address, even while nothing is
     * counted (its memory may hold the next type). */
    if (!create && PyType_Check(op))
        g_hash_table_remove(rt_types, op);
    if (rt_suspended != 0 || rt_busy || tm_thread.suspend_depth != 0)
        return 0;
    TM_NATIVE_ENGINE_BEGIN();
    count = rt_lookup(Py_TYPE(op));
    if (count != NULL) {
        if (create)
            count->created++;
        else
            count->destroyed++;
        if (rt_log != NULL)
            rt_write_row(create ? "NEW" : "DEL", op, count);
    }
    TM_NATIVE_ENGINE_END();
    return 0;
}

/* A set of the names of a tuple of str, or NULL with an exception set. */
static GHashTable *
rt_name_set(PyObject *names, const char *what)
{
    GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    Py_ssize_t i;

    for (i = 0; i < PyTuple_GET_SIZE(names); i++) {
        PyObject *item = PyTuple_GET_ITEM(names, i);
        const char *name;
#ifdef TM_PY2
        name = PyString_Check(item) ? PyString_AS_STRING(item) : NULL;
#else
        name = PyUnicode_Check(item) ? PyUnicode_AsUTF8(item) : NULL;
        if (name == NULL && PyErr_Occurred()) {
            g_hash_table_destroy(set);
            return NULL;
        }
#endif
        if (name == NULL) {
            g_hash_table_destroy(set);
            PyErr_Format(PyExc_TypeError, "%s: type names must be str, not %.100s", what,
                         Py_TYPE(item)->tp_name);
            return NULL;
        }
        g_hash_table_add(set, g_strdup(name));
    }
    return set;
}

static void
rt_free_filters(void)
{
    if (rt_include != NULL)
        g_hash_table_destroy(rt_include);
    if (rt_exclude != NULL)
        g_hash_table_destroy(rt_exclude);
    rt_include = rt_exclude = NULL;
}

PyObject *
tm_reftrace_available(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(tm_reftracer_find());
}

PyObject *
tm_reftrace_start(PyObject *self, PyObject *args)
{
    PyObject *path, *include, *exclude;
    int include_builtins;
    const char *cpath = NULL;
    void *other_data;
    FILE *log = NULL;

    (void)self;
    if (!PyArg_ParseTuple(args, "OO!O!i:reftrace_start", &path, &PyTuple_Type, &include,
                          &PyTuple_Type, &exclude, &include_builtins))
        return NULL;
    if (!tm_reftracer_find()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this Python has no reference tracer (PyRefTracer_SetTracer): use "
                        "CPython 3.13, or 2.7/3.11 built with the reftracer-hook patch of "
                        "patches/ (build-aux/python-build)");
        return NULL;
    }
    if (rt_tracing) {
        PyErr_SetString(PyExc_RuntimeError, "reference tracing is already running");
        return NULL;
    }
    if (tm_reftracer_get(&other_data) != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "another reference tracer is installed");
        return NULL;
    }
    if (path != Py_None) {
#ifdef TM_PY2
        cpath = PyString_Check(path) ? PyString_AS_STRING(path) : NULL;
#else
        cpath = PyUnicode_Check(path) ? PyUnicode_AsUTF8(path) : NULL;
        if (cpath == NULL && PyErr_Occurred())
            return NULL;
#endif
        if (cpath == NULL) {
            PyErr_SetString(PyExc_TypeError, "reftrace_start: path must be a str or None");
            return NULL;
        }
    }

    rt_free_filters();
    rt_include = rt_name_set(include, "include_types");
    if (rt_include == NULL)
        return NULL;
    rt_exclude = rt_name_set(exclude, "exclude_types");
    if (rt_exclude == NULL) {
        rt_free_filters();
        return NULL;
    }
    if (cpath != NULL) {
        static gboolean fork_handler;
        if (!fork_handler && pthread_atfork(rt_before_fork, NULL, NULL) == 0)
            fork_handler = TRUE;
        log = fopen(cpath, "w");
        if (log == NULL) {
            rt_free_filters();
            return PyErr_SetFromErrnoWithFilename(PyExc_IOError, cpath);
        }
        setvbuf(log, NULL, _IOFBF, 1 << 16);
        fputs("EVENT\tCLOCK\tADDRESS\tLIVE\tTYPE\tFILE\tLINE\tFUNCTION\tRSS\tDRSS\n", log);
        if (rt_statm < 0) {
            rt_page_size = sysconf(_SC_PAGESIZE);
            rt_statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        }
    }

    if (rt_counts != NULL)
        g_hash_table_destroy(rt_counts);
    rt_counts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, rt_count_free);
    if (rt_types == NULL)
        rt_types = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_hash_table_remove_all(rt_types);
    rt_include_builtins = include_builtins != 0;
    rt_log = log;
    rt_log_errno = 0;
    rt_suspended = 0;
    rt_clock_start = g_get_monotonic_time();
    rt_last_rss = rt_rss();
    rt_tracing = TRUE;
    if (tm_reftracer_set(rt_tracer, NULL) < 0) {
        rt_tracing = FALSE;
        rt_log = NULL;
        if (log != NULL)
            fclose(log);
        rt_free_filters();
        return NULL;
    }
    Py_RETURN_NONE;
}

PyObject *
tm_reftrace_stop(PyObject *self, PyObject *unused)
{
    void *data;
    int error;

    (void)self;
    (void)unused;
    if (!rt_tracing)
        Py_RETURN_NONE;
    if (tm_reftracer_get(&data) == rt_tracer)
        (void)tm_reftracer_set(NULL, NULL);
    rt_tracing = FALSE;
    rt_suspended = 0;
    g_hash_table_remove_all(rt_types);
    rt_free_filters();
    error = rt_log_errno;
    if (rt_log != NULL && fclose(rt_log) != 0 && error == 0)
        error = errno != 0 ? errno : EIO;
    rt_log = NULL;
    if (error != 0) {
        errno = error;
        return PyErr_SetFromErrno(PyExc_IOError);
    }
    Py_RETURN_NONE;
}

PyObject *
tm_reftrace_suspend(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (rt_tracing)
        rt_suspended++;
    Py_RETURN_NONE;
}

PyObject *
tm_reftrace_resume(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (rt_tracing && rt_suspended > 0)
        rt_suspended--;
    Py_RETURN_NONE;
}

PyObject *
tm_reftrace_counts(PyObject *self, PyObject *unused)
{
    GHashTableIter iter;
    gpointer value;
    PyObject *result;

    (void)self;
    (void)unused;
    /* The objects made here are the engine's: the tracer must not count them, nor see the
     * table change under its iteration. */
    rt_busy = TRUE;
    result = PyDict_New();
    if (result == NULL || rt_counts == NULL)
        goto done;
    g_hash_table_iter_init(&iter, rt_counts);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        const TmRtCount *count = value;
        PyObject *pair = Py_BuildValue("(nn)", (Py_ssize_t)count->created,
                                       (Py_ssize_t)count->destroyed);
        if (pair == NULL || PyDict_SetItemString(result, count->name, pair) < 0) {
            Py_XDECREF(pair);
            Py_CLEAR(result);
            goto done;
        }
        Py_DECREF(pair);
    }
done:
    rt_busy = FALSE;
    return result;
}

PyObject *
tm_reftrace_is_active(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(rt_tracing);
}
