/* The extension module tracemalloc._engine: its method table and init, argument parsing and
 * plain return values only; the engine's own work is marked as such for the native domain
 * (native.h). The work is in the tracing engine (tracer.h, which also declares
 * the type tracer_method of method.c), the timers (timer.h), the memory logs of
 * tracemalloc.memtrace (memtrace.h), reference tracing (reftrace.h) and the helpers of the
 * Python layer (stats.h, columns.h, pickle_scan.h). */
#include "pickle_scan.h"
#include "columns.h"
#include "memtrace.h"
#include "native.h"
#include "reftrace.h"
#include "stats.h"
#include "timer.h"
#include "tracer.h"

/* The engine's own work: what it allocates with glib outside its hooks and its lock (the
 * copies of a snapshot, a new store, a timer) is not traced in the native domain (native.h);
 * the Python objects it creates are traced as ever, by the allocator hooks. */
static PyObject *
tm_own_work(PyObject *(*func)(PyObject *), PyObject *arg)
{
    PyObject *result;

    TM_NATIVE_ENGINE_BEGIN();
    result = func(arg);
    TM_NATIVE_ENGINE_END();
    return result;
}

static PyObject *
tm_engine_traces_call(PyObject *unused)
{
    (void)unused;
    return tm_engine_traces();
}

static PyObject *
tm_engine_peak_traces_call(PyObject *unused)
{
    (void)unused;
    return tm_engine_peak_traces();
}

static PyObject *
tm_engine_stats_call(PyObject *at_peak)
{
    return tm_engine_stats(at_peak == Py_True);
}

/* The helpers of the Python layer (stats.c, columns.c), the engine's work too. */
#define TM_OWN_WORK_VARARGS(name, func) \
    static PyObject * \
    name(PyObject *self, PyObject *args) \
    { \
        PyObject *result; \
        TM_NATIVE_ENGINE_BEGIN(); \
        result = func(self, args); \
        TM_NATIVE_ENGINE_END(); \
        return result; \
    }

TM_OWN_WORK_VARARGS(engine_group_traces, tm_stats_group_traces)
TM_OWN_WORK_VARARGS(engine_filter_traces, tm_stats_filter_traces)
TM_OWN_WORK_VARARGS(engine_check_traces, tm_columns_check_traces)
TM_OWN_WORK_VARARGS(engine_trace_table, tm_columns_trace_table)
TM_OWN_WORK_VARARGS(engine_table_traces, tm_columns_table_traces)
TM_OWN_WORK_VARARGS(engine_build_traces, tm_columns_build_traces)
/* memtrace.c: a memory log's buffer is the tracer's. */
TM_OWN_WORK_VARARGS(engine_memtrace_open, tm_memtrace_open)
/* reftrace.c: its tables and its log's buffer; pickle_scan.c: its stacks. */
TM_OWN_WORK_VARARGS(engine_reftrace_start, tm_reftrace_start)
TM_OWN_WORK_VARARGS(engine_reftrace_stop, tm_reftrace_stop)
TM_OWN_WORK_VARARGS(engine_scan_pickle, tm_pickle_scan)

static PyObject *
engine_start(PyObject *self, PyObject *args)
{
    Py_ssize_t nframe = 1, sample_bytes = 0;
    int res;

    (void)self;
    if (!PyArg_ParseTuple(args, "|nn:start", &nframe, &sample_bytes))
        return NULL;
    if (nframe < 1 || nframe > TM_MAX_NFRAME)
        return PyErr_Format(PyExc_ValueError, "the number of frames must be in range [1; %d]",
                            TM_MAX_NFRAME);
    if (sample_bytes < 0)
        return PyErr_Format(PyExc_ValueError,
                            "sample_bytes must be 0 (exact) or a positive number of bytes");
    TM_NATIVE_ENGINE_BEGIN();
    res = tm_engine_start((guint)nframe, (gsize)sample_bytes);
    TM_NATIVE_ENGINE_END();
    if (res < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
engine_stop(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    TM_NATIVE_ENGINE_BEGIN();
    tm_timer_stop(0);
    tm_engine_stop();
    TM_NATIVE_ENGINE_END();
    Py_RETURN_NONE;
}

static PyObject *
engine_is_tracing(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(tm_engine_is_tracing());
}

static PyObject *
engine_is_native_tracing(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(tm_engine_is_native_tracing());
}

static PyObject *
engine_clear_traces(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    TM_NATIVE_ENGINE_BEGIN();
    tm_engine_clear();
    TM_NATIVE_ENGINE_END();
    Py_RETURN_NONE;
}

static PyObject *
engine_get_traceback_limit(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return TmInt_FromLong(tm_engine_traceback_limit());
}

static PyObject *
engine_get_sample_bytes(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyLong_FromSize_t(tm_engine_sample_bytes());
}

static PyObject *
engine_get_traced_memory(PyObject *self, PyObject *unused)
{
    gsize current, peak;

    (void)self;
    (void)unused;
    tm_engine_traced_memory(&current, &peak);
    return Py_BuildValue("(nn)", (Py_ssize_t)current, (Py_ssize_t)peak);
}

static PyObject *
engine_reset_peak(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    tm_engine_reset_peak();
    Py_RETURN_NONE;
}

static PyObject *
engine_get_tracemalloc_memory(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return Py_BuildValue("n", (Py_ssize_t)tm_engine_memory());
}

static PyObject *
engine_get_object_traceback(PyObject *self, PyObject *obj)
{
    (void)self;
    return tm_own_work(tm_engine_object_traceback, obj);
}

static PyObject *
engine_get_traces(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return tm_own_work(tm_engine_traces_call, NULL);
}

static PyObject *
engine_get_stats(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return tm_own_work(tm_engine_stats_call, Py_False);
}

static PyObject *
engine_get_peak_traces(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return tm_own_work(tm_engine_peak_traces_call, NULL);
}

static PyObject *
engine_get_peak_stats(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return tm_own_work(tm_engine_stats_call, Py_True);
}

static PyObject *
engine_get_lost_traces(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyLong_FromUnsignedLongLong((unsigned long long)tm_engine_lost_traces());
}

/* Tests only: the fault switch (tracer.h, tm_engine_fail_allocation). */
static PyObject *
engine_fail_allocation(PyObject *self, PyObject *args)
{
    unsigned int n;

    (void)self;
    if (!PyArg_ParseTuple(args, "I:_fail_allocation", &n))
        return NULL;
    if (tm_engine_fail_allocation(n) < 0) {
        PyErr_SetString(PyExc_RuntimeError, "_fail_allocation() needs tracing to run");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
engine_get_allocation_faults(PyObject *self, PyObject *unused)
{
    guint sites = 0;
    guint64 attempts = 0;
    PyObject *names, *result;

    (void)self;
    (void)unused;
    if (!tm_engine_allocation_faults(&sites, &attempts))
        Py_RETURN_NONE;
    names = PyList_New(0);
    if (names == NULL)
        return NULL;
    for (guint site = 0; site < TM_ALLOC_NSITES; site++) {
        if (sites & (1u << site)) {
            PyObject *name = TmStr_FromString(tm_store_alloc_site_name((TmAllocSite)site));
            if (name == NULL || PyList_Append(names, name) < 0) {
                Py_XDECREF(name);
                Py_DECREF(names);
                return NULL;
            }
            Py_DECREF(name);
        }
    }
    result = Py_BuildValue("(KN)", (unsigned long long)attempts, names);
    return result;
}

static PyObject *
engine_get_capture_count(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyLong_FromUnsignedLongLong((unsigned long long)tm_engine_capture_count());
}

static PyObject *
engine_get_freelist_memory(PyObject *self, PyObject *unused)
{
    gsize size, count;

    (void)self;
    (void)unused;
    if (!tm_engine_freelist_memory(&size, &count))
        Py_RETURN_NONE;
    return Py_BuildValue("(nn)", (Py_ssize_t)size, (Py_ssize_t)count);
}

static PyObject *
engine_suspend(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (tm_engine_suspend() < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
engine_resume(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (tm_engine_resume() < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
engine_is_suspended(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(tm_engine_suspend_depth() != 0);
}

static PyObject *
engine_get_own_memory(PyObject *self, PyObject *unused)
{
    gsize size, count;

    (void)self;
    (void)unused;
    tm_engine_own_memory(&size, &count);
    return Py_BuildValue("(nn)", (Py_ssize_t)size, (Py_ssize_t)count);
}

static PyObject *
engine_debug_malloc_stats(PyObject *self, PyObject *unused)
{
    int called;

    (void)self;
    (void)unused;
    called = tm_engine_debug_malloc_stats();
    if (called < 0)
        return NULL;
    return PyBool_FromLong(called);
}

static PyObject *
engine_own_object(PyObject *self, PyObject *obj)
{
    (void)self;
    return PyBool_FromLong(tm_engine_own_object(obj));
}

static PyObject *
engine_start_timer(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *keywords[] = { "delay", "func", "args", "kwargs", NULL };
    double delay;
    PyObject *func, *fargs = NULL, *fkwargs = Py_None;
    long id;

    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "dO|O!O:start_timer", keywords, &delay, &func,
                                     &PyTuple_Type, &fargs, &fkwargs))
        return NULL;
    if (fkwargs != Py_None && !PyDict_Check(fkwargs)) {
        PyErr_SetString(PyExc_TypeError, "kwargs must be a dict or None");
        return NULL;
    }
    if (fargs == NULL) {
        fargs = PyTuple_New(0);
        if (fargs == NULL)
            return NULL;
    }
    else {
        Py_INCREF(fargs);
    }
    TM_NATIVE_ENGINE_BEGIN();
    id = tm_timer_start(delay, func, fargs, fkwargs != Py_None ? fkwargs : NULL);
    TM_NATIVE_ENGINE_END();
    Py_DECREF(fargs);
    if (id < 0)
        return NULL;
    return TmInt_FromLong(id);
}

static PyObject *
engine_stop_timer(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *keywords[] = { "timer_id", NULL };
    PyObject *id_obj = Py_None;
    long id = 0;

    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:stop_timer", keywords, &id_obj))
        return NULL;
    if (id_obj != Py_None) {
        id = PyLong_AsLong(id_obj);
        if (id == -1 && PyErr_Occurred())
            return NULL;
        if (id <= 0)
            Py_RETURN_NONE;  /* never a timer id: nothing to stop */
    }
    TM_NATIVE_ENGINE_BEGIN();
    tm_timer_stop(id);
    TM_NATIVE_ENGINE_END();
    Py_RETURN_NONE;
}

static PyMethodDef engine_methods[] = {
    { "start", engine_start, METH_VARARGS,
      "start(nframe=1, sample_bytes=0): start tracing (sample_bytes > 0: sampling mode)." },
    { "get_sample_bytes", engine_get_sample_bytes, METH_NOARGS,
      "get_sample_bytes() -> 0 (exact, or not tracing) or the mean sampling interval" },
    { "stop", engine_stop, METH_NOARGS, "stop(): stop tracing and every timer, free the traces." },
    { "is_tracing", engine_is_tracing, METH_NOARGS, "is_tracing() -> bool" },
    { "is_native_tracing", engine_is_native_tracing, METH_NOARGS,
      "is_native_tracing() -> bool: tracing, the blocks of malloc & co. included (NATIVE_DOMAIN)" },
    { "clear_traces", engine_clear_traces, METH_NOARGS, "clear_traces(): forget every trace." },
    { "get_traceback_limit", engine_get_traceback_limit, METH_NOARGS,
      "get_traceback_limit() -> int" },
    { "get_traced_memory", engine_get_traced_memory, METH_NOARGS,
      "get_traced_memory() -> (current, peak)" },
    { "reset_peak", engine_reset_peak, METH_NOARGS, "reset_peak(): peak = current." },
    { "get_tracemalloc_memory", engine_get_tracemalloc_memory, METH_NOARGS,
      "get_tracemalloc_memory() -> bytes held by the engine" },
    { "get_object_traceback", engine_get_object_traceback, METH_O,
      "get_object_traceback(obj) -> ((filename, lineno), ...) or None" },
    { "get_traces", engine_get_traces, METH_NOARGS,
      "get_traces() -> [(domain, size, traceback, total_nframe), ...]" },
    { "get_stats", engine_get_stats, METH_NOARGS,
      "get_stats() -> {filename: {lineno: (size, count)}}" },
    { "get_peak_traces", engine_get_peak_traces, METH_NOARGS,
      "get_peak_traces() -> [(domain, size, count, traceback, total_nframe), ...] of the traces "
      "live at the peak of traced memory, grouped by domain and traceback" },
    { "get_peak_stats", engine_get_peak_stats, METH_NOARGS,
      "get_peak_stats() -> {filename: {lineno: (size, count)}} at the peak of traced memory" },
    { "get_freelist_memory", engine_get_freelist_memory, METH_NOARGS,
      "get_freelist_memory() -> (size, count) parked on free lists, or None without hooks" },
    { "debug_malloc_stats", engine_debug_malloc_stats, METH_NOARGS,
      "debug_malloc_stats() -> bool: call sys._debugmallocstats() with pymalloc as the OBJ "
      "allocator; False if the interpreter has none" },
    { "get_lost_traces", engine_get_lost_traces, METH_NOARGS,
      "get_lost_traces() -> traces not recorded for lack of memory since tracing started" },
    { "_fail_allocation", engine_fail_allocation, METH_VARARGS,
      "_fail_allocation(n): tests only: the n-th allocation the engine attempts for the "
      "current traces from now on (tables, tracebacks, copies for Python) fails once as if "
      "memory ran out; 0 cancels; RuntimeError when not tracing" },
    { "_get_allocation_faults", engine_get_allocation_faults, METH_NOARGS,
      "_get_allocation_faults() -> (allocations attempted, [names of the sites made to fail]) "
      "for the current traces (tests only), or None when not tracing" },
    { "_get_capture_count", engine_get_capture_count, METH_NOARGS,
      "_get_capture_count() -> tracebacks captured since the module was loaded (tests)" },
    { "suspend", engine_suspend, METH_NOARGS,
      "suspend(): this thread's allocations are the tracer's, not traced, until resume() "
      "(nestable)" },
    { "resume", engine_resume, METH_NOARGS,
      "resume(): end one suspend() of this thread (RuntimeError if not suspended)" },
    { "is_suspended", engine_is_suspended, METH_NOARGS,
      "is_suspended() -> bool: tracing is suspended in this thread" },
    { "_get_own_memory", engine_get_own_memory, METH_NOARGS,
      "_get_own_memory() -> (size, count) of the blocks allocated while suspended (tests)" },
    { "own_object", engine_own_object, METH_O,
      "own_object(obj) -> bool: the memory block of obj, traced as the user's, becomes the "
      "tracer's (its allocation undone when it was the last one)" },
    { "start_timer", (PyCFunction)(void (*)(void))engine_start_timer,
      METH_VARARGS | METH_KEYWORDS,
      "start_timer(delay, func, args=(), kwargs=None) -> timer id" },
    { "stop_timer", (PyCFunction)(void (*)(void))engine_stop_timer,
      METH_VARARGS | METH_KEYWORDS, "stop_timer(timer_id=None): stop one timer or all." },
    /* memtrace.c: Profile and Trace of tracemalloc.memtrace */
    { "memtrace_open", engine_memtrace_open, METH_VARARGS,
      "memtrace_open(path, trace, d_rss_trigger, d_traced_trigger, message=None) -> "
      "MemtraceLog: a memory log (a profile or trace function writing to path)" },
    { "memtrace_rss", tm_memtrace_rss, METH_NOARGS,
      "memtrace_rss() -> the RSS in bytes, as the memory logs read it" },
    /* reftrace.c: reference tracing (PyRefTracer_SetTracer), beside the allocator hooks */
    { "reftrace_available", tm_reftrace_available, METH_NOARGS,
      "reftrace_available() -> bool: the interpreter has PyRefTracer_SetTracer()" },
    { "reftrace_start", engine_reftrace_start, METH_VARARGS,
      "reftrace_start(path, include, exclude, include_builtins): start reference tracing, "
      "logging to path (None: no log)" },
    { "reftrace_stop", engine_reftrace_stop, METH_NOARGS,
      "reftrace_stop(): stop reference tracing and close its log" },
    { "reftrace_suspend", tm_reftrace_suspend, METH_NOARGS,
      "reftrace_suspend(): stop counting objects until reftrace_resume() (nestable)" },
    { "reftrace_resume", tm_reftrace_resume, METH_NOARGS,
      "reftrace_resume(): end one reftrace_suspend()" },
    { "reftrace_counts", tm_reftrace_counts, METH_NOARGS,
      "reftrace_counts() -> {type name: (created, destroyed)} of the last start" },
    { "reftrace_is_active", tm_reftrace_is_active, METH_NOARGS,
      "reftrace_is_active() -> bool" },
    /* stats.c, columns.c, pickle_scan.c: helpers of the Python layer, not of tracing */
    { "group_traces", engine_group_traces, METH_VARARGS,
      "group_traces(traces, key_type, cumulative) -> [(key, size, count), ...] or None" },
    { "filter_traces", engine_filter_traces, METH_VARARGS,
      "filter_traces(traces, include, exclude) -> [trace, ...] or None" },
    { "check_traces", engine_check_traces, METH_VARARGS,
      "check_traces(traces) -> None, or the index of the first trace not of the engine's "
      "shape" },
    { "trace_table", engine_trace_table, METH_VARARGS,
      "trace_table(traces) -> (tracebacks, domains, sizes, tb_indexes, nframes, index, width)"
      " or None" },
    { "table_traces", engine_table_traces, METH_VARARGS,
      "table_traces(tracebacks, n, domains, sizes, tb_indexes, nframes, index, width)"
      " -> [trace, ...]" },
    { "build_traces", engine_build_traces, METH_VARARGS,
      "build_traces(tracebacks, domains, sizes, indexes, nframes) -> [trace, ...]" },
    { "scan_pickle", engine_scan_pickle, METH_VARARGS,
      "scan_pickle(data, max_nesting) -> (status, end offset or detail)" },
    { NULL, NULL, 0, NULL }
};

/* The constants and the type tracer_method. */
static int
engine_add_constants(PyObject *module)
{
    PyObject *type = (PyObject *)&tm_tracer_method_type;

    /* Which interpreter this is: "stock" (an unpatched 3.x), or the variant of our patch
     * series, "plain", "track" or "disabled", read from the interpreter at run time. */
    if (PyModule_AddStringConstant(module, "PATCH_VARIANT", tm_engine_variant()) < 0)
        return -1;
    if (PyModule_AddIntConstant(module, "MAX_NFRAME", TM_MAX_NFRAME) < 0)
        return -1;
    if (PyModule_AddIntConstant(module, "NATIVE_DOMAIN", (long)tm_engine_native_domain()) < 0)
        return -1;
    if (PyType_Ready(&tm_tracer_method_type) < 0)
        return -1;
    if (PyType_Ready(&tm_memtrace_log_type) < 0)
        return -1;
    Py_INCREF(type);
    if (PyModule_AddObject(module, "tracer_method", type) < 0) {
        Py_DECREF(type);
        return -1;
    }
    return 0;
}

#ifndef TM_HAVE_MODULE_DEF
PyMODINIT_FUNC
init_engine(void)
{
    PyObject *module;

    if (tm_engine_init() < 0)
        return;
    module = Py_InitModule3("_engine", engine_methods, "The pytracemalloc engine.");
    if (module == NULL)
        return;
    engine_add_constants(module);
}
#else
static struct PyModuleDef engine_module = {
    PyModuleDef_HEAD_INIT, "_engine", "The pytracemalloc engine.", -1, engine_methods,
    NULL, NULL, NULL, NULL
};

PyMODINIT_FUNC
PyInit__engine(void)
{
    PyObject *module;

    if (tm_engine_init() < 0)
        return NULL;
    module = PyModule_Create(&engine_module);
    if (module != NULL && engine_add_constants(module) < 0)
        Py_CLEAR(module);
    return module;
}
#endif
