/* The compact snapshot format's columns in C (tracemalloc/_compact.py and _checks.py):
 * check_traces() answers whether loaded traces already have the engine's shape,
 * trace_columns() turns traces into the format's columns of little-endian integers and
 * build_traces() turns columns back into traces. Their contracts are in columns.h.
 */
#include "columns.h"
#include "lebytes.h"
#include "traceshape.h"

/* ------------------------------------------------------------------------------ checking */

/* An exact int of at most 64 bits: a larger one (or another type) is left to the Python
 * checks, which refuse ints beyond 128 bits (tracemalloc/_checks.py, _INT_LIMIT). */
static int
tm_int_small(PyObject *obj)
{
    gint64 value;

    return tm_int_exact(obj) && tm_int_value(obj, &value) == 0;
}

/* tm_traceback_ok() with line numbers of at most 64 bits; with allow_unicode, filenames may
 * also be unicode (on Python 2: a file of Python 3). */
static int
tm_traceback_checked(PyObject *traceback, int allow_unicode)
{
    Py_ssize_t i;

    if (!PyTuple_CheckExact(traceback))
        return 0;
    for (i = 0; i < PyTuple_GET_SIZE(traceback); i++) {
        PyObject *frame = PyTuple_GET_ITEM(traceback, i), *filename;

        if (!PyTuple_CheckExact(frame) || PyTuple_GET_SIZE(frame) != 2
            || !tm_int_small(PyTuple_GET_ITEM(frame, 1)))
            return 0;
        filename = PyTuple_GET_ITEM(frame, 0);
        if (!TmStr_CheckExact(filename) && !(allow_unicode && PyUnicode_CheckExact(filename)))
            return 0;
    }
    return 1;
}

/* The loaders of snapshot files check every trace they read (tracemalloc/_checks.py); this
 * answers for the common case, traces already of the engine's shape (ints of at most 64
 * bits, tm_traceback_checked()): None if all are, else
 * the index of the first one that is not (the Python code checks, converts or rejects it and
 * the following ones). total_nframe may also be None (older stock snapshots); with
 * allow_unicode, filenames may be unicode (Python 2 reading Python 3's files: only the
 * tracebacks then need converting). Runs no Python code and allocates no Python object, so
 * the list cannot change meanwhile. */
PyObject *
tm_columns_check_traces(PyObject *self, PyObject *args)
{
    PyObject *traces;
    GHashTable *checked;
    Py_ssize_t i, bad = -1;
    int allow_unicode = 0;

    (void)self;
    if (!PyArg_ParseTuple(args, "O!|i:check_traces", &PyList_Type, &traces, &allow_unicode))
        return NULL;
    checked = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (i = 0; i < PyList_GET_SIZE(traces) && bad < 0; i++) {
        PyObject *trace = PyList_GET_ITEM(traces, i), *traceback, *total;

        if (!PyTuple_CheckExact(trace) || PyTuple_GET_SIZE(trace) != 4
            || !tm_int_small(PyTuple_GET_ITEM(trace, 0))
            || !tm_int_small(PyTuple_GET_ITEM(trace, 1))) {
            bad = i;
            break;
        }
        total = PyTuple_GET_ITEM(trace, 3);
        if (total != Py_None && !tm_int_small(total)) {
            bad = i;
            break;
        }
        traceback = PyTuple_GET_ITEM(trace, 2);
        if (g_hash_table_lookup(checked, traceback) == NULL) {
            if (!tm_traceback_checked(traceback, allow_unicode))
                bad = i;
            else
                g_hash_table_insert(checked, traceback, traceback);
        }
    }
    g_hash_table_destroy(checked);
    if (bad < 0)
        Py_RETURN_NONE;
    return PyLong_FromSsize_t(bad);
}

/* ------------------------------------------------------------------------------- columns */

/* The trace columns of the compact snapshot format (tracemalloc/_compact.py): the distinct
 * traceback objects in the order first seen, and four little-endian arrays, one item per
 * trace: domain (u32), size (u64), index of the traceback in the list (u32), total_nframe
 * (i32, -1 for None). None when a trace is not of the engine's shape or a value does not
 * fit (the Python code decides). Tracebacks are told apart by identity: equal tracebacks
 * that are distinct objects get distinct indexes, which the caller merges. No Python code
 * runs and no Python object is allocated before the loop ends. */
PyObject *
tm_columns_trace_columns(PyObject *self, PyObject *args)
{
    PyObject *traces, *tracebacks = NULL, *result = NULL;
    PyObject *columns[4] = { NULL, NULL, NULL, NULL };
    static const unsigned widths[4] = { 4, 8, 4, 4 };
    unsigned char *data[4];
    GHashTable *index_of = NULL;  /* traceback -> index + 1 */
    GPtrArray *order = NULL;      /* tracebacks, first seen first (borrowed) */
    Py_ssize_t n, i;
    int k, fits = 1;

    (void)self;
    if (!PyArg_ParseTuple(args, "O!:trace_columns", &PyList_Type, &traces))
        return NULL;
    n = PyList_GET_SIZE(traces);
    if (n > G_MAXUINT32)
        Py_RETURN_NONE;
    for (k = 0; k < 4; k++) {
        columns[k] = PyBytes_FromStringAndSize(NULL, n * widths[k]);
        if (columns[k] == NULL)
            goto done;
        data[k] = (unsigned char *)PyBytes_AS_STRING(columns[k]);
    }
    index_of = g_hash_table_new(g_direct_hash, g_direct_equal);
    order = g_ptr_array_new();
    for (i = 0; i < n && fits; i++) {
        PyObject *trace = PyList_GET_ITEM(traces, i), *item;
        gint64 domain, size, total = -1;
        gpointer hit;
        guint index;

        if (!PyTuple_CheckExact(trace) || PyTuple_GET_SIZE(trace) != 4) {
            fits = 0;
            break;
        }
        item = PyTuple_GET_ITEM(trace, 0);
        if (!tm_int_exact(item) || tm_int_value(item, &domain) < 0 || domain < 0
            || domain > G_MAXUINT32) {
            fits = 0;
            break;
        }
        item = PyTuple_GET_ITEM(trace, 1);
        if (!tm_int_exact(item) || tm_int_value(item, &size) < 0 || size < 0) {
            fits = 0;  /* sizes of 2**63 and more: the Python code */
            break;
        }
        item = PyTuple_GET_ITEM(trace, 3);
        if (item != Py_None && (!tm_int_exact(item) || tm_int_value(item, &total) < 0
                                || total < 0 || total > G_MAXINT32)) {
            fits = 0;
            break;
        }
        item = PyTuple_GET_ITEM(trace, 2);
        if (!PyTuple_CheckExact(item)) {
            fits = 0;
            break;
        }
        hit = g_hash_table_lookup(index_of, item);
        if (hit == NULL) {
            index = order->len;
            g_ptr_array_add(order, item);
            g_hash_table_insert(index_of, item, GUINT_TO_POINTER(index + 1));
        }
        else {
            index = GPOINTER_TO_UINT(hit) - 1;
        }
        tm_le_put(data[0] + i * 4, (guint64)domain, 4);
        tm_le_put(data[1] + i * 8, (guint64)size, 8);
        tm_le_put(data[2] + i * 4, index, 4);
        tm_le_put(data[3] + i * 4, (guint64)(guint32)(gint32)total, 4);
    }
    if (!fits) {
        result = Py_None;
        Py_INCREF(result);
        goto done;
    }
    tracebacks = PyList_New(order->len);
    if (tracebacks == NULL)
        goto done;
    for (i = 0; i < (Py_ssize_t)order->len; i++) {
        PyObject *traceback = g_ptr_array_index(order, i);

        Py_INCREF(traceback);
        PyList_SET_ITEM(tracebacks, i, traceback);
    }
    result = PyTuple_Pack(5, tracebacks, columns[0], columns[1], columns[2], columns[3]);

done:
    Py_XDECREF(tracebacks);
    for (k = 0; k < 4; k++)
        Py_XDECREF(columns[k]);
    if (index_of != NULL)
        g_hash_table_destroy(index_of);
    if (order != NULL)
        g_ptr_array_free(order, TRUE);
    return result;
}

/* The reverse of trace_columns(), for loading a compact file: the list of raw traces from
 * the traceback list and the four little-endian columns. ValueError if the columns are not
 * of one length, if a traceback index is out of range or a total_nframe below -1 (the
 * caller reports a corrupt file). */
PyObject *
tm_columns_build_traces(PyObject *self, PyObject *args)
{
    PyObject *tracebacks, *result = NULL;
    Py_buffer columns[4];
    const unsigned char *data[4];
    struct { guint64 value; PyObject *obj; } size_cache[1024], *slot;
    Py_ssize_t n, i, ntracebacks;
    int k, parsed;

    (void)self;
    memset(columns, 0, sizeof(columns));
    memset(size_cache, 0, sizeof(size_cache));
    parsed = PyArg_ParseTuple(args, "O!" TM_BUFFER_FORMAT TM_BUFFER_FORMAT TM_BUFFER_FORMAT
                              TM_BUFFER_FORMAT ":build_traces", &PyList_Type, &tracebacks,
                              &columns[0], &columns[1], &columns[2], &columns[3]);
    if (!parsed)
        return NULL;
    n = columns[0].len / 4;
    if (columns[0].len != n * 4 || columns[1].len != n * 8 || columns[2].len != n * 4
        || columns[3].len != n * 4) {
        PyErr_SetString(PyExc_ValueError, "columns of different lengths");
        goto done;
    }
    for (k = 0; k < 4; k++)
        data[k] = (const unsigned char *)columns[k].buf;
    ntracebacks = PyList_GET_SIZE(tracebacks);
    result = PyList_New(n);
    if (result == NULL)
        goto done;
    for (i = 0; i < n; i++) {
        guint64 size = tm_le_get(data[1] + i * 8, 8), index = tm_le_get(data[2] + i * 4, 4);
        gint32 total = (gint32)(guint32)tm_le_get(data[3] + i * 4, 4);
        PyObject *domain_obj, *size_obj, *total_obj, *trace;

        if ((Py_ssize_t)index >= ntracebacks) {
            PyErr_SetString(PyExc_ValueError, "a traceback index out of range");
            goto error;
        }
        if (total < -1) {
            PyErr_SetString(PyExc_ValueError, "a negative total_nframe");
            goto error;
        }
        domain_obj = tm_int_new((gint64)tm_le_get(data[0] + i * 4, 4));
        /* Few distinct sizes recur (the allocator's usual requests): share their int
         * objects through a small direct-mapped cache. */
        slot = &size_cache[(size ^ (size >> 12)) % G_N_ELEMENTS(size_cache)];
        if (slot->obj != NULL && slot->value == size) {
            size_obj = slot->obj;
            Py_INCREF(size_obj);
        }
        else {
            size_obj = size <= (guint64)G_MAXINT64 ? tm_int_new((gint64)size)
                                                   : PyLong_FromUnsignedLongLong(size);
            if (size_obj != NULL) {
                Py_INCREF(size_obj);
                Py_XDECREF(slot->obj);
                slot->obj = size_obj;
                slot->value = size;
            }
        }
        if (total < 0) {
            total_obj = Py_None;
            Py_INCREF(total_obj);
        }
        else {
            total_obj = tm_int_new(total);
        }
        if (domain_obj == NULL || size_obj == NULL || total_obj == NULL) {
            Py_XDECREF(domain_obj);
            Py_XDECREF(size_obj);
            Py_XDECREF(total_obj);
            goto error;
        }
        trace = PyTuple_New(4);
        if (trace == NULL) {
            Py_DECREF(domain_obj);
            Py_DECREF(size_obj);
            Py_DECREF(total_obj);
            goto error;
        }
        PyTuple_SET_ITEM(trace, 0, domain_obj);
        PyTuple_SET_ITEM(trace, 1, size_obj);
        Py_INCREF(PyList_GET_ITEM(tracebacks, index));
        PyTuple_SET_ITEM(trace, 2, PyList_GET_ITEM(tracebacks, index));
        PyTuple_SET_ITEM(trace, 3, total_obj);
        /* ints, None and a tuple of (str, int) tuples: no cycle can go through it, and
         * the collector need not walk a million of them */
        PyObject_GC_UnTrack(trace);
        PyList_SET_ITEM(result, i, trace);
    }
    goto done;

error:
    Py_CLEAR(result);
done:
    for (k = 0; k < (int)G_N_ELEMENTS(size_cache); k++)
        Py_XDECREF(size_cache[k].obj);
    for (k = 0; k < 4; k++) {
        if (columns[k].obj != NULL || columns[k].buf != NULL)
            PyBuffer_Release(&columns[k]);
    }
    return result;
}
