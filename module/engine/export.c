/* The Python views of the traces: get_object_traceback(), get_traces(), get_stats(), and the
 * same at the peak: get_peak_traces() and get_peak_stats(). The store is read under tm_lock
 * into glib copies (no Python object may be created under the lock, engine.h); the Python
 * objects are built from the copies after the lock is released. */
#include "engine.h"
#include "keymap.h"
#include "native.h"
#include "tracer.h"

#include <string.h>

/* "<unknown>", strong reference; created by tm_export_init() at module init. GIL. */
static PyObject *tm_unknown;

int
tm_export_init(void)
{
    if (tm_unknown == NULL) {
        tm_unknown = TmStr_InternFromString("<unknown>");
        if (tm_unknown == NULL)
            return -1;
    }
    return 0;
}

/* A private copy of a traceback, its frames flat, whose filenames we hold references on, so
 * that it survives a clear_traces() run by code (a finaliser) triggered while we build Python
 * objects. */
typedef struct {
    guint nframe;
    guint total_nframe;
    TmFrame frames[];  /* nframe, most recent first */
} TmTbCopy;

/* Copy tb out of tm_store. tm_lock held, tm_store not NULL (its countdown of failures counts
 * the copy, store.h). NULL on out of memory. */
static TmTbCopy *
tm_traceback_copy(const TmTraceback *tb)
{
    gsize size = sizeof(TmTbCopy) + tb->nframe * sizeof(TmFrame);
    TmTbCopy *copy = tm_store_try_alloc(tm_store, TM_ALLOC_COPY_TRACEBACK)
                         ? g_try_malloc(size) : NULL;

    if (copy == NULL)
        return NULL;
    copy->nframe = tm_store_traceback_frames(tm_store, tb, copy->frames);
    copy->total_nframe = tb->total_nframe;
    for (guint i = 0; i < copy->nframe; i++)
        Py_XINCREF((PyObject *)copy->frames[i].filename);
    return copy;
}

/* Drop a copy. GIL held, tm_lock not held. */
static void
tm_traceback_copy_free(gpointer data)
{
    TmTbCopy *copy = data;

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

/* A C frame of the native domain (native.h) is ("<native> SYMBOL+0xOFFSET (LIBRARY)", 0). */
static PyObject *
tm_frame_to_python(const TmFrame *frame)
{
    if (frame->filename != NULL && frame->filename == tm_native_frame_filename) {
        PyObject *name = tm_native_frame_name(frame->lineno);
        return name != NULL ? Py_BuildValue("(NI)", name, 0u) : NULL;
    }
    return Py_BuildValue("(NI)", tm_filename_object(frame->filename), frame->lineno);
}

static PyObject *
tm_traceback_to_python(const TmTbCopy *tb)
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

PyObject *
tm_traceback_lookup(guint domain, guintptr ptr)
{
    TmTbCopy *copy = NULL;
    const TmTrace *trace = NULL;
    PyObject *result;

    tm_lock_acquire();
    if (tm_store != NULL) {
        trace = tm_store_get(tm_store, domain, ptr);
        if (trace != NULL)
            copy = tm_traceback_copy(trace->traceback);
    }
    tm_lock_release();
    if (copy == NULL) {
        if (trace != NULL)
            return PyErr_NoMemory();
        Py_RETURN_NONE;
    }
    result = tm_traceback_to_python(copy);
    tm_traceback_copy_free(copy);
    return result;
}

/* An item of an export: tb_index first (tm_export_list() reads it there). */
typedef struct {
    guint tb_index;
    guint domain;
    gsize size;
} TmTraceCopy;

typedef struct {
    guint8 *items;          /* TmTraceCopy, or TmGroupCopy for the groups at the peak: g_try_*
                             * memory (a copy of every trace is the big one), owned */
    guint len, capacity;    /* items copied, and room for */
    guint item_size;
    GPtrArray *tracebacks;  /* of TmTbCopy, owned */
    GHashTable *tb_index;   /* store traceback -> index + 1 in tracebacks */
    gboolean failed;
} TmTracesExport;

/* Append the item of ex->item_size bytes to ex->items, growing it if needed. FALSE (and
 * ex->failed) on out of memory. tm_lock held, tm_store not NULL. */
static gboolean
tm_export_append(TmTracesExport *ex, gconstpointer item)
{
    if (ex->len == ex->capacity) {
        guint capacity = MAX(ex->capacity * 2, 64u);
        guint8 *items = tm_store_try_alloc(tm_store, TM_ALLOC_COPY_ITEMS)
                            ? g_try_realloc_n(ex->items, capacity, ex->item_size) : NULL;
        if (items == NULL || capacity <= ex->capacity) {
            ex->failed = TRUE;
            return FALSE;
        }
        ex->items = items;
        ex->capacity = capacity;
    }
    memcpy(ex->items + (gsize)ex->len * ex->item_size, item, ex->item_size);
    ex->len++;
    return TRUE;
}

/* The index of the copy of traceback in ex->tracebacks, made if needed; -1 on out of memory. */
static gint64
tm_export_traceback(TmTracesExport *ex, const TmTraceback *traceback)
{
    guint index = GPOINTER_TO_UINT(g_hash_table_lookup(ex->tb_index, traceback));

    if (index == 0) {
        TmTbCopy *copy = tm_traceback_copy(traceback);
        if (copy == NULL) {
            ex->failed = TRUE;
            return -1;
        }
        g_ptr_array_add(ex->tracebacks, copy);
        index = ex->tracebacks->len;
        g_hash_table_insert(ex->tb_index, (gpointer)traceback, GUINT_TO_POINTER(index));
    }
    return index - 1;
}

static gboolean
tm_export_trace(guintptr ptr, const TmTrace *trace, gpointer user_data)
{
    TmTracesExport *ex = user_data;
    TmTraceCopy item;
    gint64 index = tm_export_traceback(ex, trace->traceback);

    (void)ptr;
    if (index < 0)
        return FALSE;
    item.domain = trace->domain;
    item.size = trace->size;
    item.tb_index = (guint)index;
    return tm_export_append(ex, &item);
}

/* Build the tuple of every traceback copied into ex; NULL with an exception set on error. */
static PyObject *
tm_export_tracebacks(TmTracesExport *ex)
{
    PyObject *tbs = PyTuple_New(ex->tracebacks->len);

    if (tbs == NULL)
        return NULL;
    for (guint i = 0; i < ex->tracebacks->len; i++) {
        PyObject *tb = tm_traceback_to_python(g_ptr_array_index(ex->tracebacks, i));
        if (tb == NULL) {
            Py_DECREF(tbs);
            return NULL;
        }
        PyTuple_SET_ITEM(tbs, i, tb);
    }
    return tbs;
}

/* The list of one tuple per item that collect() appends to ex->items (items of item_size
 * bytes, each starting with its tb_index) under tm_lock, made by make_tuple(item, the
 * traceback's tuple, its total_nframe). With *share* (items are TmTraceCopy), equal items
 * share one tuple: a snapshot of 1.5 million traces from 4000 lines holds some 10,000
 * distinct ones, so it is built (and, while tracing, traced) in a fraction of the time and
 * memory, and the loops over it (statistics, files) read tuples that stay in the cache.
 * Nothing tells shared tuples apart but their identity, which no API promises (the stock
 * engine's are distinct). NULL with an exception set on error. */
static PyObject *
tm_export_list(guint item_size, void (*collect)(TmTracesExport *ex),
               PyObject *(*make_tuple)(gconstpointer item, PyObject *traceback,
                                       guint total_nframe),
               gboolean share)
{
    TmTracesExport ex = { NULL, 0, 0, 0, NULL, NULL, FALSE };
    PyObject *list = NULL, *tbs = NULL;
    TmKeyMap shared = { NULL, 0, 0 };  /* (domain, tb_index, size) -> index in list */

    ex.item_size = item_size;
    ex.tracebacks = g_ptr_array_new_with_free_func(tm_traceback_copy_free);
    ex.tb_index = g_hash_table_new(g_direct_hash, g_direct_equal);
    tm_lock_acquire();
    if (tm_store != NULL)
        collect(&ex);
    tm_lock_release();
    g_hash_table_destroy(ex.tb_index);
    if (ex.failed) {
        PyErr_NoMemory();
        goto done;
    }

    tbs = tm_export_tracebacks(&ex);
    if (tbs == NULL)
        goto done;
    if (share && tm_keymap_init(&shared, ex.tracebacks->len * 2) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    list = PyList_New(ex.len);
    if (list == NULL)
        goto done;
    for (guint i = 0; i < ex.len; i++) {
        gconstpointer item = ex.items + (gsize)i * item_size;
        guint tb_index = *(const guint *)item;
        const TmTbCopy *tb = g_ptr_array_index(ex.tracebacks, tb_index);
        TmKeySlot *slot = NULL;
        PyObject *tuple;

        if (share) {
            const TmTraceCopy *trace = item;
            gboolean added;

            slot = tm_keymap_find(&shared, ((guint64)trace->domain << 32) | tb_index,
                                  trace->size);
            if (slot != NULL) {
                tuple = PyList_GET_ITEM(list, slot->value);
                Py_INCREF(tuple);
                PyList_SET_ITEM(list, i, tuple);
                continue;
            }
            slot = tm_keymap_slot(&shared, ((guint64)trace->domain << 32) | tb_index,
                                  trace->size, &added);
            if (slot == NULL) {
                PyErr_NoMemory();
                Py_CLEAR(list);
                goto done;
            }
        }
        tuple = make_tuple(item, PyTuple_GET_ITEM(tbs, tb_index), (guint)tb->total_nframe);
        if (tuple == NULL) {
            Py_CLEAR(list);
            goto done;
        }
        if (slot != NULL)
            slot->value = i;  /* the list holds it */
        PyList_SET_ITEM(list, i, tuple);
    }

done:
    tm_keymap_free(&shared);
    Py_XDECREF(tbs);
    g_free(ex.items);
    g_ptr_array_free(ex.tracebacks, TRUE);
    return list;
}

static void
tm_collect_traces(TmTracesExport *ex)
{
    tm_store_foreach(tm_store, tm_export_trace, ex);
}

static PyObject *
tm_trace_tuple(gconstpointer item, PyObject *traceback, guint total_nframe)
{
    const TmTraceCopy *trace = item;
    return Py_BuildValue("(InOI)", trace->domain, (Py_ssize_t)trace->size, traceback,
                         (unsigned int)total_nframe);
}

PyObject *
tm_engine_traces(void)
{
    return tm_export_list(sizeof(TmTraceCopy), tm_collect_traces, tm_trace_tuple, TRUE);
}

/* The traces at the peak, grouped by domain and traceback. */
typedef struct {
    guint tb_index;
    guint domain;
    gsize size;
    gsize count;
} TmGroupCopy;

static gboolean
tm_export_group(guint domain, const TmTraceback *traceback, gsize size, gsize count,
                gpointer user_data)
{
    TmTracesExport *ex = user_data;
    TmGroupCopy item;
    gint64 index = tm_export_traceback(ex, traceback);

    if (index < 0)
        return FALSE;
    item.domain = domain;
    item.size = size;
    item.count = count;
    item.tb_index = (guint)index;
    return tm_export_append(ex, &item);
}

static void
tm_collect_groups(TmTracesExport *ex)
{
    tm_store_foreach_group(tm_store, TRUE, tm_export_group, ex);
}

static PyObject *
tm_group_tuple(gconstpointer item, PyObject *traceback, guint total_nframe)
{
    const TmGroupCopy *group = item;
    return Py_BuildValue("(InnOI)", group->domain, (Py_ssize_t)group->size,
                         (Py_ssize_t)group->count, traceback, (unsigned int)total_nframe);
}

PyObject *
tm_engine_peak_traces(void)
{
    return tm_export_list(sizeof(TmGroupCopy), tm_collect_groups, tm_group_tuple, FALSE);
}

/* Statistics grouped by the most recent frame, summed under the lock in C from the groups of
 * the store (one visit per traceback, not per trace). */
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
tm_export_stat(guint domain, const TmTraceback *traceback, gsize size, gsize count,
               gpointer user_data)
{
    TmStatsExport *ex = user_data;
    TmLineStat key = { NULL, 0, 0, 0 }, *stat;

    (void)domain;
    if (traceback->nframe > 0) {
        TmFrameIter iter;
        TmFrame frame;
        tm_traceback_iter_init(&iter, tm_store, traceback);
        tm_traceback_iter_next(&iter, &frame);
        key.filename = frame.filename;
        key.lineno = frame.lineno;
    }
    stat = g_hash_table_lookup(ex->lines, &key);
    if (stat == NULL) {
        stat = tm_store_try_alloc(tm_store, TM_ALLOC_COPY_LINE) ? g_try_new(TmLineStat, 1)
                                                                : NULL;
        if (stat == NULL) {
            ex->failed = TRUE;
            return FALSE;
        }
        *stat = key;
        Py_XINCREF((PyObject *)stat->filename);
        g_hash_table_add(ex->lines, stat);
    }
    stat->size += size;
    stat->count += count;
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
tm_engine_stats(gboolean at_peak)
{
    TmStatsExport ex;
    GHashTableIter iter;
    gpointer key;
    PyObject *result = NULL;

    ex.lines = g_hash_table_new_full(tm_line_hash, tm_line_equal, tm_line_stat_free, NULL);
    ex.failed = FALSE;
    tm_lock_acquire();
    if (tm_store != NULL)
        tm_store_foreach_group(tm_store, at_peak, tm_export_stat, &ex);
    tm_lock_release();
    if (ex.failed) {
        PyErr_NoMemory();
        goto error;
    }

    result = PyDict_New();
    if (result == NULL)
        goto error;
    g_hash_table_iter_init(&iter, ex.lines);
    while (g_hash_table_iter_next(&iter, &key, NULL)) {
        TmLineStat *stat = key;
        guint line = stat->lineno;
        PyObject *filename, *lines, *lineno = NULL, *value = NULL;
        int err = -1;

        if (stat->filename != NULL && stat->filename == tm_native_frame_filename) {
            filename = tm_native_frame_name(line);  /* a C frame (native.h) */
            line = 0;
            if (filename == NULL)
                goto error;
        }
        else {
            filename = tm_filename_object(stat->filename);
        }
        lines = PyDict_GetItem(result, filename);  /* borrowed */

        if (lines == NULL) {
            lines = PyDict_New();
            if (lines != NULL && PyDict_SetItem(result, filename, lines) < 0)
                Py_CLEAR(lines);
            Py_XDECREF(lines);  /* the dict holds it now */
        }
        if (lines != NULL)
            lineno = TmInt_FromLong(line);
        if (lineno != NULL) {
            Py_ssize_t size = (Py_ssize_t)stat->size, count = (Py_ssize_t)stat->count;
            /* Equal file names of distinct str objects (2.7 makes one per code object
             * compiled or unmarshalled apart) are one key of the dict: add the lines up. */
            PyObject *old = PyDict_GetItem(lines, lineno);  /* borrowed */
            if (old != NULL) {
                size += PyNumber_AsSsize_t(PyTuple_GET_ITEM(old, 0), NULL);
                count += PyNumber_AsSsize_t(PyTuple_GET_ITEM(old, 1), NULL);
            }
            value = Py_BuildValue("(nn)", size, count);
            if (value != NULL)
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
