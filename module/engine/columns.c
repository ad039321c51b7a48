/* The compact snapshot format's columns in C (tracemalloc/_compact.py and _checks.py):
 * check_traces() answers whether loaded traces already have the engine's shape,
 * trace_table() turns traces into the columns of version 2 (the distinct traces and an index
 * per trace), table_traces() turns those back into traces, and build_traces() the columns of
 * version 1. Their contracts are in columns.h.
 */
#include "columns.h"
#include "keymap.h"
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
    TmKeyMap checked = { NULL, 0, 0 };  /* traces (k2 = 0) and tracebacks (k2 = 1) that are */
    Py_ssize_t i, bad = -1;
    int allow_unicode = 0;

    (void)self;
    if (!PyArg_ParseTuple(args, "O!|i:check_traces", &PyList_Type, &traces, &allow_unicode))
        return NULL;
    if (tm_keymap_init(&checked, 1024) < 0)
        return PyErr_NoMemory();
    for (i = 0; i < PyList_GET_SIZE(traces) && bad < 0; i++) {
        PyObject *trace = PyList_GET_ITEM(traces, i), *traceback, *total;
        TmKeySlot *slot;
        gboolean added;

        /* the engine's lists share the tuples of equal traces (export.c): one check each */
        if (tm_keymap_find(&checked, (guint64)(guintptr)trace, 0) != NULL)
            continue;
        slot = tm_keymap_slot(&checked, (guint64)(guintptr)trace, 0, &added);
        if (slot == NULL) {
            tm_keymap_free(&checked);
            return PyErr_NoMemory();
        }
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
        slot = tm_keymap_slot(&checked, (guint64)(guintptr)traceback, 1, &added);
        if (slot == NULL) {
            tm_keymap_free(&checked);
            return PyErr_NoMemory();
        }
        if (added && !tm_traceback_checked(traceback, allow_unicode))
            bad = i;
    }
    tm_keymap_free(&checked);
    if (bad < 0)
        Py_RETURN_NONE;
    return PyLong_FromSsize_t(bad);
}

/* ------------------------------------------------------------------------------- columns */

/* The TRCS section of the compact format, version 2 (tracemalloc/_compact.py): the distinct
 * traces and, per trace, the index of its distinct trace. Returns None when a trace is not of
 * the engine's shape or a value does not fit (the Python code decides), else the tuple
 * (tracebacks, domains, sizes, tb_indexes, nframes, index, width): the traceback objects in
 * the order first seen (one per pair of traceback object and total_nframe: the caller
 * merges equal ones), the four little-endian columns of the distinct traces (u32 domain, u64
 * size, u32 index in tracebacks, i32 total_nframe, -1 for None), and the index column of
 * *width* bytes per trace (1, 2 or 4, the least that holds the indexes); width 0 when the
 * distinct traces are more than half of the traces: the columns then hold every trace in
 * order and index is empty.
 *
 * A trace tuple seen before costs one lookup by address (the engine's lists share the
 * tuples of equal traces, export.c); a new one is checked, then looked up by value. No
 * Python code runs and no Python object is allocated before the loop ends, so the addresses
 * stay those of live objects. */
typedef struct {
    guint32 domain, tb, nframe;
    guint64 size;
} TmTableRow;

PyObject *
tm_columns_trace_table(PyObject *self, PyObject *args)
{
    PyObject *traces, *tracebacks = NULL, *result = NULL;
    PyObject *columns[5] = { NULL, NULL, NULL, NULL, NULL };
    static const unsigned widths[4] = { 4, 8, 4, 4 };
    TmKeyMap by_address = { NULL, 0, 0 };  /* trace tuple -> row */
    TmKeyMap by_value = { NULL, 0, 0 };    /* (domain, tb), size -> row */
    TmKeyMap tb_of = { NULL, 0, 0 };       /* (traceback, total_nframe) -> its index */
    GArray *rows = NULL;                   /* TmTableRow */
    GPtrArray *order = NULL;               /* tracebacks, first seen first (borrowed) */
    guint32 *index = NULL;                 /* row of each trace */
    Py_ssize_t n, i;
    gsize m, nrows;
    unsigned width;
    int k, fits = 1;

    (void)self;
    if (!PyArg_ParseTuple(args, "O!:trace_table", &PyList_Type, &traces))
        return NULL;
    n = PyList_GET_SIZE(traces);
    if (n > G_MAXUINT32)
        Py_RETURN_NONE;
    rows = g_array_new(FALSE, FALSE, sizeof(TmTableRow));
    order = g_ptr_array_new();
    index = g_try_new(guint32, n > 0 ? n : 1);
    if (index == NULL || tm_keymap_init(&by_address, 1024) < 0
        || tm_keymap_init(&by_value, 1024) < 0 || tm_keymap_init(&tb_of, 1024) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < n && fits; i++) {
        PyObject *trace = PyList_GET_ITEM(traces, i), *item;
        gint64 domain, size, total = -1;
        TmKeySlot *slot;
        TmTableRow row;
        gboolean added;

        slot = tm_keymap_find(&by_address, (guint64)(guintptr)trace, 0);
        if (slot != NULL) {
            index[i] = slot->value;
            continue;
        }
        slot = tm_keymap_slot(&by_address, (guint64)(guintptr)trace, 0, &added);
        if (slot == NULL)
            goto nomemory;
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
        {
            TmKeySlot *tb_slot;
            gboolean tb_added;

            tb_slot = tm_keymap_slot(&tb_of, (guint64)(guintptr)item, (guint64)(guint32)total,
                                     &tb_added);
            if (tb_slot == NULL)
                goto nomemory;
            if (tb_added) {
                tb_slot->value = order->len;
                g_ptr_array_add(order, item);
            }
            row.tb = (guint32)tb_slot->value;
        }
        row.domain = (guint32)domain;
        row.size = (guint64)size;
        row.nframe = (guint32)(gint32)total;
        {
            TmKeySlot *value_slot;
            gboolean value_added;

            /* the traceback's index implies its total_nframe: (domain, tb, size) is the row */
            value_slot = tm_keymap_slot(&by_value, ((guint64)row.domain << 32) | row.tb,
                                        row.size, &value_added);
            if (value_slot == NULL)
                goto nomemory;
            if (value_added) {
                value_slot->value = rows->len;
                g_array_append_val(rows, row);
            }
            /* slot, of by_address, stays valid: only the other maps grew since */
            slot->value = value_slot->value;
            index[i] = (guint32)value_slot->value;
        }
    }
    if (!fits) {
        result = Py_None;
        Py_INCREF(result);
        goto done;
    }

    m = rows->len;
    if (2 * m > (gsize)n) {
        width = 0;  /* every trace a row, in order */
        nrows = (gsize)n;
    }
    else {
        width = m <= 0x100 ? 1 : m <= 0x10000 ? 2 : 4;
        nrows = m;
    }
    for (k = 0; k < 4; k++) {
        columns[k] = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(nrows * widths[k]));
        if (columns[k] == NULL)
            goto done;
    }
    columns[4] = PyBytes_FromStringAndSize(NULL, width * n);
    if (columns[4] == NULL)
        goto done;
    {
        unsigned char *domains = (unsigned char *)PyBytes_AS_STRING(columns[0]);
        unsigned char *sizes = (unsigned char *)PyBytes_AS_STRING(columns[1]);
        unsigned char *tbs = (unsigned char *)PyBytes_AS_STRING(columns[2]);
        unsigned char *nframes = (unsigned char *)PyBytes_AS_STRING(columns[3]);
        unsigned char *indexes = (unsigned char *)PyBytes_AS_STRING(columns[4]);
        gsize r;

        for (r = 0; r < nrows; r++) {
            const TmTableRow *row = &g_array_index(rows, TmTableRow, width ? r : index[r]);

            tm_le_put(domains + r * 4, row->domain, 4);
            tm_le_put(sizes + r * 8, row->size, 8);
            tm_le_put(tbs + r * 4, row->tb, 4);
            tm_le_put(nframes + r * 4, row->nframe, 4);
        }
        if (width == 1) {
            for (i = 0; i < n; i++)
                indexes[i] = (unsigned char)index[i];
        }
        else if (width > 1) {
            for (i = 0; i < n; i++)
                tm_le_put(indexes + (gsize)i * width, index[i], width);
        }
    }
    tracebacks = PyList_New(order->len);
    if (tracebacks == NULL)
        goto done;
    for (i = 0; i < (Py_ssize_t)order->len; i++) {
        PyObject *traceback = g_ptr_array_index(order, i);

        Py_INCREF(traceback);
        PyList_SET_ITEM(tracebacks, i, traceback);
    }
    result = Py_BuildValue("(OOOOOOI)", tracebacks, columns[0], columns[1], columns[2],
                           columns[3], columns[4], width);
    goto done;

nomemory:
    PyErr_NoMemory();
done:
    Py_XDECREF(tracebacks);
    for (k = 0; k < 5; k++)
        Py_XDECREF(columns[k]);
    tm_keymap_free(&by_address);
    tm_keymap_free(&by_value);
    tm_keymap_free(&tb_of);
    if (rows != NULL)
        g_array_free(rows, TRUE);
    if (order != NULL)
        g_ptr_array_free(order, TRUE);
    g_free(index);
    return result;
}

/* Sizes recur (the allocator's usual requests): their int objects are shared through a
 * small direct-mapped cache while a file loads. */
typedef struct {
    guint64 value;
    PyObject *obj;
} TmSizeSlot;

#define TM_SIZE_CACHE 1024

static PyObject *
tm_size_object(TmSizeSlot *cache, guint64 size)
{
    TmSizeSlot *slot = &cache[(size ^ (size >> 12)) % TM_SIZE_CACHE];
    PyObject *obj;

    if (slot->obj != NULL && slot->value == size) {
        Py_INCREF(slot->obj);
        return slot->obj;
    }
    obj = size <= (guint64)G_MAXINT64 ? tm_int_new((gint64)size)
                                      : PyLong_FromUnsignedLongLong(size);
    if (obj != NULL) {
        Py_INCREF(obj);
        Py_XDECREF(slot->obj);
        slot->obj = obj;
        slot->value = size;
    }
    return obj;
}

static void
tm_size_cache_clear(TmSizeSlot *cache)
{
    int k;

    for (k = 0; k < TM_SIZE_CACHE; k++)
        Py_CLEAR(cache[k].obj);
}

/* The raw trace of row i of the four little-endian columns data[0..3] (domain, size,
 * traceback index, total_nframe), its traceback taken from the list tracebacks; NULL with
 * ValueError for an index out of range or a total_nframe below -1, or on out of memory. */
static PyObject *
tm_trace_of_row(const unsigned char *const *data, Py_ssize_t i, PyObject *tracebacks,
                TmSizeSlot *sizes)
{
    guint64 size = tm_le_get(data[1] + i * 8, 8), index = tm_le_get(data[2] + i * 4, 4);
    gint32 total = (gint32)(guint32)tm_le_get(data[3] + i * 4, 4);
    PyObject *domain_obj, *size_obj, *total_obj, *trace;

    if ((Py_ssize_t)index >= PyList_GET_SIZE(tracebacks)) {
        PyErr_SetString(PyExc_ValueError, "a traceback index out of range");
        return NULL;
    }
    if (total < -1) {
        PyErr_SetString(PyExc_ValueError, "a negative total_nframe");
        return NULL;
    }
    domain_obj = tm_int_new((gint64)tm_le_get(data[0] + i * 4, 4));
    size_obj = tm_size_object(sizes, size);
    if (total < 0) {
        total_obj = Py_None;
        Py_INCREF(total_obj);
    }
    else {
        total_obj = tm_int_new(total);
    }
    trace = (domain_obj != NULL && size_obj != NULL && total_obj != NULL) ? PyTuple_New(4)
                                                                          : NULL;
    if (trace == NULL) {
        Py_XDECREF(domain_obj);
        Py_XDECREF(size_obj);
        Py_XDECREF(total_obj);
        return NULL;
    }
    PyTuple_SET_ITEM(trace, 0, domain_obj);
    PyTuple_SET_ITEM(trace, 1, size_obj);
    Py_INCREF(PyList_GET_ITEM(tracebacks, index));
    PyTuple_SET_ITEM(trace, 2, PyList_GET_ITEM(tracebacks, index));
    PyTuple_SET_ITEM(trace, 3, total_obj);
    /* ints, None and a tuple of (str, int) tuples: no cycle can go through it, and the
     * collector need not walk a million of them */
    PyObject_GC_UnTrack(trace);
    return trace;
}

/* The reverse of trace_table(), for loading a compact file of version 2: the list of raw
 * traces from the traceback list, the four little-endian columns of the distinct traces, the
 * index column and its width (0: the columns hold every trace in order). Equal traces share
 * one tuple. ValueError if the columns are not of one length, an index column not of n
 * items, a width not 0, 1, 2 or 4, an index out of range or a total_nframe below -1 (the
 * caller reports a corrupt file). */
PyObject *
tm_columns_table_traces(PyObject *self, PyObject *args)
{
    PyObject *tracebacks, *rows = NULL, *result = NULL;
    Py_buffer columns[5];
    const unsigned char *data[5];
    TmSizeSlot sizes[TM_SIZE_CACHE];
    Py_ssize_t n, m, i;
    unsigned width;
    int k, parsed;

    (void)self;
    memset(columns, 0, sizeof(columns));
    memset(sizes, 0, sizeof(sizes));
    parsed = PyArg_ParseTuple(args, "O!n" TM_BUFFER_FORMAT TM_BUFFER_FORMAT TM_BUFFER_FORMAT
                              TM_BUFFER_FORMAT TM_BUFFER_FORMAT "I:table_traces",
                              &PyList_Type, &tracebacks, &n, &columns[0], &columns[1],
                              &columns[2], &columns[3], &columns[4], &width);
    if (!parsed)
        return NULL;
    m = columns[0].len / 4;
    if (n < 0 || columns[0].len != m * 4 || columns[1].len != m * 8 || columns[2].len != m * 4
        || columns[3].len != m * 4) {
        PyErr_SetString(PyExc_ValueError, "columns of different lengths");
        goto done;
    }
    if (width != 0 && width != 1 && width != 2 && width != 4) {
        PyErr_SetString(PyExc_ValueError, "an index width not 0, 1, 2 or 4");
        goto done;
    }
    if (width == 0 ? (m != n || columns[4].len != 0) : columns[4].len != n * (Py_ssize_t)width) {
        PyErr_SetString(PyExc_ValueError, "an index column of the wrong length");
        goto done;
    }
    for (k = 0; k < 5; k++)
        data[k] = (const unsigned char *)columns[k].buf;
    rows = PyList_New(m);
    if (rows == NULL)
        goto done;
    for (i = 0; i < m; i++) {
        PyObject *trace = tm_trace_of_row(data, i, tracebacks, sizes);

        if (trace == NULL)
            goto error;
        PyList_SET_ITEM(rows, i, trace);
    }
    if (width == 0) {
        result = rows;
        rows = NULL;
        goto done;
    }
    result = PyList_New(n);
    if (result == NULL)
        goto done;
    for (i = 0; i < n; i++) {
        const unsigned char *p = data[4] + i * width;
        guint64 row = width == 1 ? p[0] : tm_le_get(p, width);
        PyObject *trace;

        if ((Py_ssize_t)row >= m) {
            PyErr_SetString(PyExc_ValueError, "a trace index out of range");
            goto error;
        }
        trace = PyList_GET_ITEM(rows, (Py_ssize_t)row);
        Py_INCREF(trace);
        PyList_SET_ITEM(result, i, trace);
    }
    goto done;

error:
    Py_CLEAR(result);
done:
    Py_XDECREF(rows);
    tm_size_cache_clear(sizes);
    for (k = 0; k < 5; k++) {
        if (columns[k].obj != NULL || columns[k].buf != NULL)
            PyBuffer_Release(&columns[k]);
    }
    return result;
}

/* The traces of the TRCS section of version 1, for loading a compact file of version 1: the list of raw traces from
 * the traceback list and the four little-endian columns. ValueError if the columns are not
 * of one length, if a traceback index is out of range or a total_nframe below -1 (the
 * caller reports a corrupt file). */
PyObject *
tm_columns_build_traces(PyObject *self, PyObject *args)
{
    PyObject *tracebacks, *result = NULL;
    Py_buffer columns[4];
    const unsigned char *data[4];
    TmSizeSlot sizes[TM_SIZE_CACHE];
    Py_ssize_t n, i;
    int k, parsed;

    (void)self;
    memset(columns, 0, sizeof(columns));
    memset(sizes, 0, sizeof(sizes));
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
    result = PyList_New(n);
    if (result == NULL)
        goto done;
    for (i = 0; i < n; i++) {
        PyObject *trace = tm_trace_of_row(data, i, tracebacks, sizes);

        if (trace == NULL)
            goto error;
        PyList_SET_ITEM(result, i, trace);
    }
    goto done;

error:
    Py_CLEAR(result);
done:
    tm_size_cache_clear(sizes);
    for (k = 0; k < 4; k++) {
        if (columns[k].obj != NULL || columns[k].buf != NULL)
            PyBuffer_Release(&columns[k]);
    }
    return result;
}
