/* The memory logs of tracemalloc.memtrace: the profile and trace function, the log's rows and
 * the type MemtraceLog (contract in memtrace.h, format in doc/internals.rst).
 *
 * The event path (tm_memtrace_event) is the cost the user pays on every call, return and (for
 * Trace) line, so it does only this: read RSS when the RSS trigger is on (one pread() of
 * /proc/self/statm, the cheapest exact figure Linux gives: /proc/self/status formats forty
 * lines, getrusage() has only the peak), read traced memory when tracing (a counter under
 * tm_lock), compare both with the values of the last row, and keep the event (its code object
 * or C function referenced, its line, its clock) in case the next one writes a row: then the
 * kept event is written first as a PREV row, as pymemtrace does, so that each delta is known to
 * have happened between two consecutive events. Nothing is allocated or formatted unless a row
 * is written.
 *
 * Protected by the GIL: every field of a log. Events come from the one thread that attached
 * the log (PyEval_SetProfile/SetTrace are per thread), its methods from any thread holding the
 * GIL. The function neither raises nor touches the error indicator; a failed write() is
 * remembered and raised by close(). */
#include "memtrace.h"
#include "tracer.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <structmember.h>

/* Bytes buffered before a write(2). */
#define TM_LOG_BUFFER 65536
/* The longest file or function name written (longer ones are cut). */
#define TM_NAME_MAX 4096

typedef struct {
    guint64 number;  /* its event number */
    int what;        /* PyTrace_*, -1: no event yet */
    PyObject *code;  /* the frame's code object (a reference), or NULL */
    PyObject *cfunc; /* the C function of a C event (a reference), or NULL */
    int line;
    gint64 rss;      /* bytes, -1: not read */
    gint64 traced;   /* bytes, -1: not tracing */
    double clock;    /* seconds since the log was opened */
} TmEvent;

typedef struct {
    PyObject_HEAD
    int fd;                 /* the log file; -1 once closed */
    int statm;              /* /proc/self/statm, or -1 if it cannot be read */
    gboolean trace;         /* a trace function (lines too), else a profile function */
    gboolean started;       /* attached once: the baseline is set */
    gint64 rss_trigger;     /* bytes, -1: RSS is no trigger */
    gint64 traced_trigger;  /* bytes, -1: traced memory is no trigger */
    guint64 events;         /* events seen; the next one's number */
    guint64 rows;           /* event rows written (FRST, PREV, NEXT, LAST) */
    TmEvent last;           /* the last event seen (what -1 before the first) */
    guint64 row_event;      /* number of the event of the last row */
    gint64 row_rss;         /* RSS of the last row (or the baseline), -1: unknown */
    gint64 row_traced;      /* traced memory of the last row (or the baseline), -1: none */
    struct timespec opened; /* CLOCK_MONOTONIC when the log was opened */
    char *buffer;           /* TM_LOG_BUFFER bytes of glib memory */
    gsize used;
    int write_errno;        /* 0, or the errno of the first failed write() */
    PyObject *path;         /* str */
} TmMemtraceLog;

/* The names of the events, indexed by PyTrace_* (pymemtrace writes them in capitals). */
static const char *const tm_what_names[] = {
    "call", "exception", "line", "return", "c_call", "c_exception", "c_return", "opcode"
};

static gint64 tm_page_size;

/* ------------------------------------------------------------------ reading the figures */

static gint64
tm_rss_read(int statm)
{
    char text[128];
    ssize_t n;
    const char *p;
    gint64 pages = 0;

    if (statm < 0)
        return -1;
    n = pread(statm, text, sizeof(text) - 1, 0);
    if (n <= 0)
        return -1;
    text[n] = '\0';
    /* "size resident shared ...": the second field, in pages */
    for (p = text; *p >= '0' && *p <= '9'; p++)
        ;
    if (*p != ' ')
        return -1;
    for (p++; *p >= '0' && *p <= '9'; p++)
        pages = pages * 10 + (*p - '0');
    return pages * tm_page_size;
}

static gint64
tm_traced_read(void)
{
    gsize current, peak;

    if (!tm_engine_is_tracing())
        return -1;
    tm_engine_traced_memory(&current, &peak);
    return (gint64)current;
}

static double
tm_log_clock(TmMemtraceLog *log)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - log->opened.tv_sec)
        + (double)(now.tv_nsec - log->opened.tv_nsec) / 1e9;
}

/* ------------------------------------------------------------------ writing */

static void
tm_log_flush(TmMemtraceLog *log)
{
    gsize done = 0;

    while (done < log->used && log->fd >= 0) {
        ssize_t n = write(log->fd, log->buffer + done, log->used - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (log->write_errno == 0)
                log->write_errno = errno;
            break;
        }
        done += (gsize)n;
    }
    log->used = 0;
}

static void
tm_log_write(TmMemtraceLog *log, const char *text, gsize len)
{
    while (len > 0) {
        gsize room = TM_LOG_BUFFER - log->used, n = MIN(room, len);
        memcpy(log->buffer + log->used, text, n);
        log->used += n;
        text += n;
        len -= n;
        if (log->used == TM_LOG_BUFFER)
            tm_log_flush(log);
    }
}

static void
tm_log_printf(TmMemtraceLog *log, const char *format, ...) G_GNUC_PRINTF(2, 3);

static void
tm_log_printf(TmMemtraceLog *log, const char *format, ...)
{
    char line[2 * TM_NAME_MAX + 512];
    va_list ap;
    int n;

    va_start(ap, format);
    n = g_vsnprintf(line, sizeof(line), format, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((gsize)n >= sizeof(line)) {  /* cut: keep the end of line */
        n = sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    tm_log_write(log, line, (gsize)n);
}

/* A byte count, or "-" when unknown. */
static const char *
tm_bytes(char *out, gsize size, gint64 value, gboolean known)
{
    if (!known)
        return "-";
    g_snprintf(out, size, "%" G_GINT64_FORMAT, value);
    return out;
}

/* Write ev as a row of kind ("FRST", "PREV", "NEXT", "LAST"), its deltas against the last
 * row, and make it the last row. */
static void
tm_log_row(TmMemtraceLog *log, const char *kind, const TmEvent *ev, guint64 number)
{
    char file[TM_NAME_MAX], func[TM_NAME_MAX];
    char rss[32], drss[32], traced[32], dtraced[32];
    const char *what = ev->what >= 0 && ev->what < (int)G_N_ELEMENTS(tm_what_names)
        ? tm_what_names[ev->what] : "?";
    PyCodeObject *code = (PyCodeObject *)ev->code;

    if (code != NULL)
        tm_str_copy(code->co_filename, file, sizeof(file));
    else
        g_strlcpy(file, "-", sizeof(file));
    if (ev->cfunc != NULL && PyCFunction_Check(ev->cfunc))
        g_strlcpy(func, ((PyCFunctionObject *)ev->cfunc)->m_ml->ml_name, sizeof(func));
    else if (ev->cfunc != NULL)
        g_strlcpy(func, Py_TYPE(ev->cfunc)->tp_name, sizeof(func));
    else if (code != NULL)
        tm_str_copy(code->co_name, func, sizeof(func));
    else
        g_strlcpy(func, "-", sizeof(func));
    tm_log_printf(log, "%s: %-12" G_GUINT64_FORMAT " +%-6" G_GUINT64_FORMAT " %-12.6f %-12s "
                  "%-80s %6d %-32s %12s %12s %12s %12s\n",
                  kind, number, number - log->row_event, ev->clock, what, file, ev->line, func,
                  tm_bytes(rss, sizeof(rss), ev->rss, ev->rss >= 0),
                  tm_bytes(drss, sizeof(drss), ev->rss - log->row_rss,
                           ev->rss >= 0 && log->row_rss >= 0),
                  tm_bytes(traced, sizeof(traced), ev->traced, ev->traced >= 0),
                  tm_bytes(dtraced, sizeof(dtraced), ev->traced - MAX(log->row_traced, 0),
                           ev->traced >= 0));
    log->rows++;
    log->row_event = number;
    if (ev->rss >= 0)
        log->row_rss = ev->rss;
    log->row_traced = ev->traced;
}

/* Do the figures of ev call for a row, against the last row's? */
static inline gboolean
tm_log_due(const TmMemtraceLog *log, gint64 rss, gint64 traced)
{
    if (log->rss_trigger >= 0 && rss >= 0 && log->row_rss >= 0
        && ABS(rss - log->row_rss) >= log->rss_trigger)
        return TRUE;
    if (log->traced_trigger >= 0 && traced != log->row_traced
        && ABS(MAX(traced, 0) - MAX(log->row_traced, 0)) >= log->traced_trigger)
        return TRUE;
    return FALSE;
}

static void
tm_event_clear(TmEvent *ev)
{
    Py_CLEAR(ev->code);
    Py_CLEAR(ev->cfunc);
}

/* ------------------------------------------------------------------ the event */

static int
tm_memtrace_event(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    TmMemtraceLog *log = (TmMemtraceLog *)obj;
    TmEvent ev;

#ifdef PyTrace_OPCODE
    if (what == PyTrace_OPCODE)
        return 0;
#endif
    if (log->fd < 0)
        return 0;
    ev.number = log->events++;
    ev.what = what;
    ev.rss = log->rss_trigger >= 0 ? tm_rss_read(log->statm) : -1;
    ev.traced = tm_traced_read();
    ev.clock = tm_log_clock(log);
    ev.code = frame != NULL ? (PyObject *)tm_pyframe_code(frame) : NULL;
    ev.line = frame != NULL ? PyFrame_GetLineNumber(frame) : 0;
    ev.cfunc = what == PyTrace_C_CALL || what == PyTrace_C_RETURN
        || what == PyTrace_C_EXCEPTION ? arg : NULL;
    Py_XINCREF(ev.code);
    Py_XINCREF(ev.cfunc);

    if (ev.number == 0 || tm_log_due(log, ev.rss, ev.traced)) {
        if (ev.number > 0 && log->last.number != log->row_event)
            tm_log_row(log, "PREV", &log->last, log->last.number);
        if (log->rss_trigger < 0)  /* RSS is no trigger: read for the rows written only */
            ev.rss = tm_rss_read(log->statm);
        tm_log_row(log, ev.number == 0 ? "FRST" : "NEXT", &ev, ev.number);
    }
    tm_event_clear(&log->last);
    log->last = ev;  /* takes the references */
    return 0;
}

/* ------------------------------------------------------------------ the type */

static PyObject *
tm_log_attach(TmMemtraceLog *log, PyObject *unused)
{
    (void)unused;
    if (log->fd < 0) {
        PyErr_SetString(PyExc_ValueError, "the memory log is closed");
        return NULL;
    }
    /* The baseline of the deltas: now. Attached again (an inner log of the thread ended),
     * what changed meanwhile is in the inner log, and the event before the detach gets no
     * PREV row. */
    if (log->started)
        log->row_event = log->last.number;
    log->started = TRUE;
    log->row_rss = tm_rss_read(log->statm);
    log->row_traced = tm_traced_read();
    if (log->trace)
        PyEval_SetTrace(tm_memtrace_event, (PyObject *)log);
    else
        PyEval_SetProfile(tm_memtrace_event, (PyObject *)log);
    if (PyErr_Occurred())  /* 3.12+: an audit hook refused */
        return NULL;
    Py_RETURN_NONE;
}

/* Is log the calling thread's trace (or profile) function? */
static gboolean
tm_log_is_attached(TmMemtraceLog *log)
{
    PyThreadState *tstate = PyThreadState_GET();

    return (log->trace ? tstate->c_traceobj : tstate->c_profileobj) == (PyObject *)log;
}

static PyObject *
tm_log_detach(TmMemtraceLog *log, PyObject *unused)
{
    (void)unused;
    if (tm_log_is_attached(log)) {
        if (log->trace)
            PyEval_SetTrace(NULL, NULL);
        else
            PyEval_SetProfile(NULL, NULL);
        if (PyErr_Occurred())
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
tm_log_write_message(TmMemtraceLog *log, PyObject *args)
{
    char *owned = NULL;  /* 2.7: the UTF-8 copy made by "et#" (a NULL buffer: allocated) */
    const char *text, *end;
    Py_ssize_t len;
    double clock;

#ifdef TM_PY2
    if (!PyArg_ParseTuple(args, "et#:write_message", "utf-8", &owned, &len))
        return NULL;
    text = owned;
#else
    if (!PyArg_ParseTuple(args, "s#:write_message", &text, &len))
        return NULL;
#endif
    if (log->fd < 0) {
        PyMem_Free(owned);
        PyErr_SetString(PyExc_ValueError, "the memory log is closed");
        return NULL;
    }
    clock = tm_log_clock(log);
    end = text + len;
    do {
        const char *eol = memchr(text, '\n', (size_t)(end - text));
        const char *stop = eol != NULL ? eol : end;
        tm_log_printf(log, "MSG:  %-12" G_GUINT64_FORMAT " +%-6" G_GUINT64_FORMAT
                      " %-12.6f # ", log->events, log->events - log->row_event, clock);
        tm_log_write(log, text, (gsize)(stop - text));
        tm_log_write(log, "\n", 1);
        text = eol != NULL ? eol + 1 : end;
    } while (text < end);
    PyMem_Free(owned);
    Py_RETURN_NONE;
}

/* Close the file: the LAST row (after a PREV row if the triggers call for one) and EOF.
 * Returns 0, or -1 with errno set if a write or the close failed. */
static int
tm_log_finish(TmMemtraceLog *log)
{
    TmEvent now;
    int err;

    if (log->fd < 0)
        return 0;
    if (log->started) {
        now = log->last;
        now.rss = tm_rss_read(log->statm);
        now.traced = tm_traced_read();
        now.clock = tm_log_clock(log);
        if (log->events > 0 && log->last.number != log->row_event
            && tm_log_due(log, now.rss, now.traced))
            tm_log_row(log, "PREV", &log->last, log->last.number);
        tm_log_row(log, "LAST", &now, log->events);
    }
    tm_log_write(log, "EOF\n", 4);
    tm_log_flush(log);
    err = log->write_errno;
    if (close(log->fd) < 0 && err == 0)
        err = errno;
    log->fd = -1;
    if (log->statm >= 0)
        close(log->statm);
    log->statm = -1;
    tm_event_clear(&log->last);
    g_free(log->buffer);
    log->buffer = NULL;
    errno = err;
    return err != 0 ? -1 : 0;
}

static PyObject *
tm_log_close(TmMemtraceLog *log, PyObject *unused)
{
    PyObject *result = tm_log_detach(log, unused);

    if (result == NULL)
        return NULL;
    Py_DECREF(result);
    if (tm_log_finish(log) < 0)
        return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, log->path);
    Py_RETURN_NONE;
}

static void
tm_log_dealloc(TmMemtraceLog *log)
{
    /* Not attached: the thread's function holds a reference. */
    tm_log_finish(log);
    Py_XDECREF(log->path);
    Py_TYPE(log)->tp_free((PyObject *)log);
}

static PyObject *
tm_log_get_closed(TmMemtraceLog *log, void *closure)
{
    (void)closure;
    return PyBool_FromLong(log->fd < 0);
}

static PyObject *
tm_log_get_events(TmMemtraceLog *log, void *closure)
{
    (void)closure;
    return tm_int_new((gint64)log->events);
}

static PyObject *
tm_log_get_rows(TmMemtraceLog *log, void *closure)
{
    (void)closure;
    return tm_int_new((gint64)log->rows);
}

static PyObject *
tm_log_get_trace(TmMemtraceLog *log, void *closure)
{
    (void)closure;
    return PyBool_FromLong(log->trace);
}

static PyObject *
tm_log_get_path(TmMemtraceLog *log, void *closure)
{
    (void)closure;
    Py_INCREF(log->path);
    return log->path;
}

static PyGetSetDef tm_log_getset[] = {
    { (char *)"closed", (getter)tm_log_get_closed, NULL, (char *)"the file is closed", NULL },
    { (char *)"events", (getter)tm_log_get_events, NULL, (char *)"events seen", NULL },
    { (char *)"rows", (getter)tm_log_get_rows, NULL,
      (char *)"event rows written (FRST, PREV, NEXT, LAST)", NULL },
    { (char *)"trace", (getter)tm_log_get_trace, NULL,
      (char *)"a trace function (True) or a profile function (False)", NULL },
    { (char *)"path", (getter)tm_log_get_path, NULL, (char *)"the log file", NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

static PyMethodDef tm_log_methods[] = {
    { "attach", (PyCFunction)tm_log_attach, METH_NOARGS,
      "attach(): become the calling thread's profile (or trace) function" },
    { "detach", (PyCFunction)tm_log_detach, METH_NOARGS,
      "detach(): stop being the calling thread's profile (or trace) function" },
    { "write_message", (PyCFunction)tm_log_write_message, METH_VARARGS,
      "write_message(text): MSG rows, one per line of text" },
    { "close", (PyCFunction)tm_log_close, METH_NOARGS,
      "close(): detach, write the LAST row and EOF, close the file" },
    { NULL, NULL, 0, NULL }
};

PyTypeObject tm_memtrace_log_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    "tracemalloc._engine.MemtraceLog",     /* tp_name */
    sizeof(TmMemtraceLog),                 /* tp_basicsize */
    0,                                     /* tp_itemsize */
    (destructor)tm_log_dealloc,            /* tp_dealloc */
    0,                                     /* tp_print / tp_vectorcall_offset */
    0,                                     /* tp_getattr */
    0,                                     /* tp_setattr */
    0,                                     /* tp_compare / tp_as_async */
    0,                                     /* tp_repr */
    0,                                     /* tp_as_number */
    0,                                     /* tp_as_sequence */
    0,                                     /* tp_as_mapping */
    0,                                     /* tp_hash */
    0,                                     /* tp_call */
    0,                                     /* tp_str */
    PyObject_GenericGetAttr,               /* tp_getattro */
    0,                                     /* tp_setattro */
    0,                                     /* tp_as_buffer */
    Py_TPFLAGS_DEFAULT,                    /* tp_flags */
    "A memory log of tracemalloc.memtrace (made by memtrace_open()).", /* tp_doc */
    0,                                     /* tp_traverse */
    0,                                     /* tp_clear */
    0,                                     /* tp_richcompare */
    0,                                     /* tp_weaklistoffset */
    0,                                     /* tp_iter */
    0,                                     /* tp_iternext */
    tm_log_methods,                        /* tp_methods */
    0,                                     /* tp_members */
    tm_log_getset,                         /* tp_getset */
};

/* ------------------------------------------------------------------ opening */

/* A trigger argument: None -> -1 (off), -1 -> the page size, N >= 0 -> N. */
static int
tm_trigger(PyObject *value, const char *name, gint64 *trigger)
{
    gint64 n;

    if (value == Py_None) {
        *trigger = -1;
        return 0;
    }
    if (!tm_int_exact(value) || tm_int_value(value, &n) < 0 || n < -1) {
        PyErr_Format(PyExc_ValueError, "%s must be -1 (a page), 0 (every event), a number of "
                     "bytes or None", name);
        return -1;
    }
    *trigger = n == -1 ? tm_page_size : n;
    return 0;
}

PyObject *
tm_memtrace_open(PyObject *self, PyObject *args)
{
    PyObject *path, *rss_arg, *traced_arg, *path_bytes = NULL, *path_str = NULL;
    const char *message = NULL;
    int trace;
    TmMemtraceLog *log = NULL;
    gint64 rss_trigger, traced_trigger;
    int fd;

    (void)self;
    if (tm_page_size == 0)
        tm_page_size = sysconf(_SC_PAGESIZE);
    if (!PyArg_ParseTuple(args, "OiOO|z:memtrace_open", &path, &trace, &rss_arg, &traced_arg,
                          &message))
        return NULL;
    if (tm_trigger(rss_arg, "d_rss_trigger", &rss_trigger) < 0
        || tm_trigger(traced_arg, "d_traced_trigger", &traced_trigger) < 0)
        return NULL;
#ifdef TM_PY2
    if (PyUnicode_Check(path))
        path_bytes = PyUnicode_AsEncodedString(path, Py_FileSystemDefaultEncoding, "strict");
    else if (PyString_Check(path)) {
        path_bytes = path;
        Py_INCREF(path);
    }
    else
        PyErr_SetString(PyExc_TypeError, "path must be a str");
    if (path_bytes == NULL)
        return NULL;
    path_str = path_bytes;
    Py_INCREF(path_str);
#else
    if (!PyUnicode_FSConverter(path, &path_bytes))
        return NULL;
    path_str = PyUnicode_DecodeFSDefault(PyBytes_AS_STRING(path_bytes));
    if (path_str == NULL)
        goto error;
#endif
    log = PyObject_New(TmMemtraceLog, &tm_memtrace_log_type);
    if (log == NULL)
        goto error;
    /* Every field is set before anything can fail: the dealloc reads them. */
    log->fd = -1;
    log->statm = -1;
    log->trace = trace != 0;
    log->started = FALSE;
    log->rss_trigger = rss_trigger;
    log->traced_trigger = traced_trigger;
    log->events = 0;
    log->rows = 0;
    memset(&log->last, 0, sizeof(log->last));
    log->last.what = -1;
    log->row_event = 0;
    log->row_rss = -1;
    log->row_traced = -1;
    clock_gettime(CLOCK_MONOTONIC, &log->opened);
    log->buffer = NULL;
    log->used = 0;
    log->write_errno = 0;
    log->path = path_str;
    path_str = NULL;

    Py_BEGIN_ALLOW_THREADS
    fd = open(PyBytes_AS_STRING(path_bytes), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    Py_END_ALLOW_THREADS
    if (fd < 0) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, log->path);
        goto error;
    }
    log->fd = fd;
    log->statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    log->buffer = g_malloc(TM_LOG_BUFFER);
    if (message != NULL) {
        tm_log_write(log, message, strlen(message));
        tm_log_write(log, "\n", 1);
    }
    tm_log_printf(log, "SOF\nHDR: %-12s %-7s %-12s %-12s %-80s %6s %-32s %12s %12s %12s %12s\n",
                  "Event", "dEvent", "Clock", "What", "File", "Line", "Function", "RSS", "dRSS",
                  "Traced", "dTraced");
    Py_DECREF(path_bytes);
    return (PyObject *)log;

error:
    Py_XDECREF(path_bytes);
    Py_XDECREF(path_str);
    Py_XDECREF(log);
    return NULL;
}

PyObject *
tm_memtrace_rss(PyObject *self, PyObject *unused)
{
    int statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    gint64 rss;

    (void)self;
    (void)unused;
    if (tm_page_size == 0)
        tm_page_size = sysconf(_SC_PAGESIZE);
    rss = tm_rss_read(statm);
    if (statm >= 0)
        close(statm);
    if (rss < 0)
        return PyErr_SetFromErrnoWithFilename(PyExc_OSError, "/proc/self/statm");
    return tm_int_new(rss);
}
