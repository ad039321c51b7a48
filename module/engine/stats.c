/* The C loops of the Python layer over raw traces: grouping (group_traces) and filtering
 * (filter_traces); the compact file columns are in columns.c. Their contracts are in stats.h.
 * Implementation notes:
 *
 * The fast path: every trace an exact 4-tuple, sizes exact ints (not bool) whose sums fit in
 * 64 bits, tracebacks exact tuples of exact (str, int) tuples, domains exact ints. On anything
 * else the functions answer None and tracemalloc/_grouping.py or _filters.py runs its Python
 * loop, which follows the stdlib's algorithm and raises the stdlib's errors (tests/python/test_stdlib_api.py checks
 * the results against the stdlib's own code).
 *
 * Allocating may run the garbage collector, hence finalizers, and filter_traces() calls the
 * filters' filename matchers (Python code, during which another thread may run): neither may
 * change what is being walked, so filter_traces() walks a copy of the list and group_traces()
 * holds what it walks (see there).
 */
#include "stats.h"
#include "keymap.h"
#include "traceshape.h"

/* ------------------------------------------------------------------------------ grouping */

enum { TM_KEY_TRACEBACK = 0, TM_KEY_LINENO = 1, TM_KEY_FILENAME = 2 };

typedef struct {
    PyObject *key;   /* strong reference: the raw traceback that names the group */
    gint64 size;     /* sum of the sizes; checked against overflow */
    Py_ssize_t count;
} TmGroup;

typedef struct {
    GArray *groups;        /* TmGroup, in the order the keys were first seen */
    PyObject *index_of;    /* {key: index in groups} */
    GHashTable *seen;      /* object (traceback or frame) -> index in groups + 1; holds a
                            * strong reference on each object */
} TmGrouping;

static void
tm_decref(gpointer object)
{
    Py_DECREF((PyObject *)object);
}

static void
tm_grouping_clear(TmGrouping *grouping)
{
    guint i;

    if (grouping->groups != NULL) {
        for (i = 0; i < grouping->groups->len; i++)
            Py_DECREF(g_array_index(grouping->groups, TmGroup, i).key);
        g_array_free(grouping->groups, TRUE);
    }
    Py_XDECREF(grouping->index_of);
    if (grouping->seen != NULL)
        g_hash_table_destroy(grouping->seen);
}

/* The key of the group of *source* (a traceback, or a frame when cumulative), as the stdlib
 * builds it: the traceback itself, its first frame, or (filename, 0) of its first frame.
 * New reference, or NULL with an exception. */
static PyObject *
tm_group_key(PyObject *source, int key_type, int cumulative)
{
    PyObject *frame;

    if (cumulative) {
        if (key_type == TM_KEY_LINENO)
            return PyTuple_Pack(1, source);
        return Py_BuildValue("((Oi))", PyTuple_GET_ITEM(source, 0), 0);
    }
    if (key_type == TM_KEY_TRACEBACK) {
        Py_INCREF(source);
        return source;
    }
    if (key_type == TM_KEY_LINENO)
        return PyTuple_GetSlice(source, 0, 1);
    frame = PyTuple_GET_ITEM(source, 0);
    return Py_BuildValue("((Oi))", PyTuple_GET_ITEM(frame, 0), 0);
}

/* The index of the group of *source*: 0 and the index in *index*, 1 to fall back to Python
 * (not the fast path), -1 on error. */
static int
tm_group_index(TmGrouping *grouping, PyObject *source, int key_type, int cumulative,
               guint *index)
{
    gpointer hit;
    PyObject *key, *found;
    TmGroup group;

    hit = g_hash_table_lookup(grouping->seen, source);
    if (hit != NULL) {
        *index = GPOINTER_TO_UINT(hit) - 1;
        return 0;
    }
    if (cumulative) {
        if (!tm_frame_ok(source))
            return 1;
    }
    else {
        if (!tm_traceback_ok(source))
            return 1;
        /* per filename the stdlib reads traceback[0][0]: IndexError, raised by the Python
         * loop (per line, traceback[:1] is the empty key) */
        if (key_type == TM_KEY_FILENAME && PyTuple_GET_SIZE(source) == 0)
            return 1;
    }
    key = tm_group_key(source, key_type, cumulative);
    if (key == NULL)
        return -1;
    found = PyDict_GetItem(grouping->index_of, key);
    if (found != NULL) {
        *index = (guint)PyLong_AsUnsignedLong(found);
        Py_DECREF(key);
    }
    else {
        PyObject *number;

        if (grouping->groups->len >= G_MAXUINT - 1) {
            Py_DECREF(key);
            return 1;
        }
        *index = grouping->groups->len;
        number = PyLong_FromUnsignedLong(*index);
        if (number == NULL || PyDict_SetItem(grouping->index_of, key, number) < 0) {
            Py_XDECREF(number);
            Py_DECREF(key);
            return -1;
        }
        Py_DECREF(number);
        group.key = key;  /* the reference goes to the group */
        group.size = 0;
        group.count = 0;
        g_array_append_val(grouping->groups, group);
    }
    Py_INCREF(source);
    g_hash_table_insert(grouping->seen, source, GUINT_TO_POINTER(*index + 1));
    return 0;
}

/* A trace tuple grouped: its group and its size. */
typedef struct {
    guint group;
    gint64 size;
} TmSeenTrace;

/* Add one trace of *size* bytes to group *index*: 0, or 1 if the sum overflows. */
static int
tm_group_add(TmGrouping *grouping, guint index, gint64 size)
{
    TmGroup *group = &g_array_index(grouping->groups, TmGroup, index);

    if ((size > 0 && group->size > G_MAXINT64 - size)
        || (size < 0 && group->size < G_MININT64 - size))
        return 1;
    group->size += size;
    group->count++;
    return 0;
}

/* Add *count* (> 0) traces of *size* bytes each to group *index*: 0, or 1 if a product or
 * the sum overflows. */
static int
tm_group_add_many(TmGrouping *grouping, guint index, gint64 size, gint64 count)
{
    TmGroup *group = &g_array_index(grouping->groups, TmGroup, index);

    if (size > G_MAXINT64 / count || size < G_MININT64 / count)
        return 1;
    size *= count;
    if ((size > 0 && group->size > G_MAXINT64 - size)
        || (size < 0 && group->size < G_MININT64 - size))
        return 1;
    group->size += size;
    group->count += (Py_ssize_t)count;
    return 0;
}

PyObject *
tm_stats_group_traces(PyObject *self, PyObject *args)
{
    PyObject *list, *traces = NULL, *result = NULL;
    int key_type, cumulative, status = 0;
    TmGrouping grouping = { NULL, NULL, NULL };
    Py_ssize_t i, j;
    guint k;
    TmKeyMap by_address = { NULL, 0, 0 };  /* trace tuple -> index in seen_traces, and
                                            * how many times it was seen again */
    GArray *seen_traces = NULL;            /* TmSeenTrace */
    GPtrArray *held = NULL;                /* the traces in by_address, held */

    (void)self;
    if (!PyArg_ParseTuple(args, "O!ii:group_traces", &PyList_Type, &list, &key_type,
                          &cumulative))
        return NULL;
    if (key_type < TM_KEY_TRACEBACK || key_type > TM_KEY_FILENAME) {
        PyErr_SetString(PyExc_ValueError, "key_type must be 0, 1 or 2");
        return NULL;
    }
    if (cumulative && key_type == TM_KEY_TRACEBACK)
        Py_RETURN_NONE;  /* the Python code raises the stdlib's ValueError */
    /* No copy of the list (three passes over a million traces instead of one): a collection
     * that a new group's allocation starts may run finalizers that change the list, so its
     * size is read at every step and the trace at hand is held; the objects in seen are held
     * too, so that none dies and leaves its address to another. */
    traces = list;
    Py_INCREF(traces);
    grouping.groups = g_array_new(FALSE, FALSE, sizeof(TmGroup));
    grouping.seen = g_hash_table_new_full(g_direct_hash, g_direct_equal, tm_decref, NULL);
    grouping.index_of = PyDict_New();
    if (grouping.index_of == NULL)
        goto error;

    if (!cumulative) {
        seen_traces = g_array_new(FALSE, FALSE, sizeof(TmSeenTrace));
        held = g_ptr_array_new_with_free_func(tm_decref);
        if (tm_keymap_init(&by_address, 1024) < 0) {
            PyErr_NoMemory();
            goto error;
        }
    }

    for (i = 0; i < PyList_GET_SIZE(traces) && status == 0; i++) {
        PyObject *trace = PyList_GET_ITEM(traces, i), *traceback;
        gint64 size;
        guint index;
        TmKeySlot *slot = NULL;

        if (!cumulative) {
            /* A trace tuple seen before (the engine's lists share the tuples of equal
             * traces, export.c) is one lookup by address and a count: its group and size
             * are known, and no Python code runs on this path. */
            slot = tm_keymap_find(&by_address, (guint64)(guintptr)trace, 0);
            if (slot != NULL) {
                slot->value2++;  /* added to its group after the loop */
                continue;
            }
        }
        if (!PyTuple_CheckExact(trace) || PyTuple_GET_SIZE(trace) != 4
            || !tm_int_exact(PyTuple_GET_ITEM(trace, 1))
            || tm_int_value(PyTuple_GET_ITEM(trace, 1), &size) < 0) {
            status = 1;
            break;
        }
        Py_INCREF(trace);
        traceback = PyTuple_GET_ITEM(trace, 2);
        if (!cumulative) {
            status = tm_group_index(&grouping, traceback, key_type, 0, &index);
            if (status == 0) {
                TmSeenTrace seen;
                gboolean added;

                /* tm_group_index() may have run Python code (a collection): the slot is
                 * looked up again, and the trace is held so that its address stays its */
                slot = tm_keymap_slot(&by_address, (guint64)(guintptr)trace, 0, &added);
                if (slot == NULL) {
                    Py_DECREF(trace);
                    PyErr_NoMemory();
                    goto error;
                }
                seen.group = index;
                seen.size = size;
                slot->value = seen_traces->len;
                slot->value2 = 0;
                g_array_append_val(seen_traces, seen);
                Py_INCREF(trace);
                g_ptr_array_add(held, trace);
                status = tm_group_add(&grouping, index, size);
            }
        }
        else if (!PyTuple_CheckExact(traceback)) {
            status = 1;
        }
        else {
            for (j = 0; j < PyTuple_GET_SIZE(traceback) && status == 0; j++) {
                status = tm_group_index(&grouping, PyTuple_GET_ITEM(traceback, j), key_type,
                                        1, &index);
                if (status == 0)
                    status = tm_group_add(&grouping, index, size);
            }
        }
        Py_DECREF(trace);
    }
    if (status < 0)
        goto error;
    /* the traces seen again, by their tuple */
    for (k = 0; status == 0 && by_address.slots != NULL && k <= by_address.mask; k++) {
        const TmKeySlot *slot = &by_address.slots[k];

        if (slot->used && slot->value2 > 0) {
            const TmSeenTrace *seen = &g_array_index(seen_traces, TmSeenTrace, slot->value);
            status = tm_group_add_many(&grouping, seen->group, seen->size, slot->value2);
        }
    }
    tm_keymap_free(&by_address);
    if (seen_traces != NULL)
        g_array_free(seen_traces, TRUE);
    seen_traces = NULL;
    if (held != NULL)
        g_ptr_array_free(held, TRUE);
    held = NULL;
    if (status > 0) {
        tm_grouping_clear(&grouping);
        Py_DECREF(traces);
        Py_RETURN_NONE;
    }

    result = PyList_New(grouping.groups->len);
    if (result == NULL)
        goto error;
    for (k = 0; k < grouping.groups->len; k++) {
        TmGroup *group = &g_array_index(grouping.groups, TmGroup, k);
        PyObject *size = tm_int_new(group->size), *item;

        if (size == NULL)
            goto error;
        item = Py_BuildValue("(ONn)", group->key, size, group->count);
        if (item == NULL)
            goto error;
        PyList_SET_ITEM(result, k, item);
    }
    tm_grouping_clear(&grouping);
    Py_DECREF(traces);
    return result;

error:
    Py_XDECREF(result);
    tm_grouping_clear(&grouping);
    tm_keymap_free(&by_address);
    if (seen_traces != NULL)
        g_array_free(seen_traces, TRUE);
    if (held != NULL)
        g_ptr_array_free(held, TRUE);
    Py_XDECREF(traces);
    return NULL;
}

/* ----------------------------------------------------------------------------- filtering */

/* A filter, unpacked from the tuple tracemalloc/_filters.py builds:
 * (kind, inclusive, match_filename, lineno, all_frames, domain); kind 0 is a Filter, 1 a
 * DomainFilter; lineno and domain are None or exact ints. */
typedef struct {
    int kind, inclusive, all_frames;
    PyObject *match;    /* borrowed: match_filename(filename) -> bool */
    PyObject *lineno;   /* borrowed */
    PyObject *domain;   /* borrowed */
    PyObject *matched;  /* strong: {filename: bool}, the answers of match */
} TmFilter;

/* Unpack the list *specs* into *filters* (g_new0'd by the caller): 0, or -1 with an
 * exception. */
static int
tm_filters_parse(PyObject *specs, TmFilter *filters)
{
    Py_ssize_t i;

    for (i = 0; i < PyList_GET_SIZE(specs); i++) {
        PyObject *spec = PyList_GET_ITEM(specs, i);
        TmFilter *filter = &filters[i];

        if (!PyTuple_CheckExact(spec) || PyTuple_GET_SIZE(spec) != 6) {
            PyErr_SetString(PyExc_TypeError, "a filter must be a tuple of 6 items");
            return -1;
        }
        filter->kind = (int)PyLong_AsLong(PyTuple_GET_ITEM(spec, 0));
        filter->inclusive = PyObject_IsTrue(PyTuple_GET_ITEM(spec, 1));
        filter->match = PyTuple_GET_ITEM(spec, 2);
        filter->lineno = PyTuple_GET_ITEM(spec, 3);
        filter->all_frames = PyObject_IsTrue(PyTuple_GET_ITEM(spec, 4));
        filter->domain = PyTuple_GET_ITEM(spec, 5);
        if (PyErr_Occurred())
            return -1;
        if ((filter->kind != 0 && filter->kind != 1)
            || (filter->lineno != Py_None && !tm_int_exact(filter->lineno))
            || (filter->domain != Py_None && !tm_int_exact(filter->domain))
            || (filter->kind == 1 && filter->domain == Py_None)
            || (filter->kind == 0 && !PyCallable_Check(filter->match))) {
            PyErr_SetString(PyExc_TypeError, "invalid filter tuple");
            return -1;
        }
        filter->matched = PyDict_New();
        if (filter->matched == NULL)
            return -1;
    }
    return 0;
}

static void
tm_filters_free(TmFilter *filters, Py_ssize_t count)
{
    Py_ssize_t i;

    for (i = 0; i < count; i++)
        Py_XDECREF(filters[i].matched);
    g_free(filters);
}

/* Filter._match_frame_impl(): 1 or 0, -1 on error. */
static int
tm_filter_match_frame(TmFilter *filter, PyObject *frame)
{
    PyObject *filename = PyTuple_GET_ITEM(frame, 0), *answer;
    int matched;

    answer = PyDict_GetItem(filter->matched, filename);
    if (answer != NULL) {
        matched = (answer == Py_True);
    }
    else {
        answer = PyObject_CallFunctionObjArgs(filter->match, filename, NULL);
        if (answer == NULL)
            return -1;
        matched = PyObject_IsTrue(answer);
        Py_DECREF(answer);
        if (matched < 0)
            return -1;
        if (PyDict_SetItem(filter->matched, filename, matched ? Py_True : Py_False) < 0)
            return -1;
    }
    if (!matched)
        return 0;
    if (filter->lineno == Py_None)
        return 1;
    return PyObject_RichCompareBool(PyTuple_GET_ITEM(frame, 1), filter->lineno, Py_EQ);
}

/* Filter._match() / DomainFilter._match() of a trace of the fast path: 1 or 0, 2 to fall
 * back to Python, -1 on error. */
static int
tm_filter_match(TmFilter *filter, PyObject *trace)
{
    PyObject *domain = PyTuple_GET_ITEM(trace, 0), *traceback = PyTuple_GET_ITEM(trace, 2);
    int result, equal;
    Py_ssize_t i;

    if (filter->kind == 1) {
        equal = PyObject_RichCompareBool(domain, filter->domain, Py_EQ);
        if (equal < 0)
            return -1;
        return equal ^ !filter->inclusive;
    }
    if (filter->all_frames) {
        int found = 0;

        for (i = 0; i < PyTuple_GET_SIZE(traceback) && !found; i++) {
            found = tm_filter_match_frame(filter, PyTuple_GET_ITEM(traceback, i));
            if (found < 0)
                return -1;
        }
        result = found ? filter->inclusive : !filter->inclusive;
    }
    else {
        if (PyTuple_GET_SIZE(traceback) == 0)
            return 2;  /* the stdlib reads traceback[0]: IndexError */
        result = tm_filter_match_frame(filter, PyTuple_GET_ITEM(traceback, 0));
        if (result < 0)
            return -1;
        result ^= !filter->inclusive;
    }
    if (filter->domain != Py_None) {
        equal = PyObject_RichCompareBool(domain, filter->domain, Py_EQ);
        if (equal < 0)
            return -1;
        if (filter->inclusive)
            result = result && equal;
        else
            result = result || !equal;
    }
    return result;
}

PyObject *
tm_stats_filter_traces(PyObject *self, PyObject *args)
{
    PyObject *list, *include_specs, *exclude_specs, *traces = NULL, *result = NULL;
    TmFilter *include = NULL, *exclude = NULL;
    Py_ssize_t n_include = 0, n_exclude = 0, i, j;
    GHashTable *checked = NULL;  /* tracebacks known to be of the fast path */
    int status = 0;

    (void)self;
    if (!PyArg_ParseTuple(args, "O!O!O!:filter_traces", &PyList_Type, &list, &PyList_Type,
                          &include_specs, &PyList_Type, &exclude_specs))
        return NULL;
    n_include = PyList_GET_SIZE(include_specs);
    n_exclude = PyList_GET_SIZE(exclude_specs);
    include = g_new0(TmFilter, n_include + 1);
    exclude = g_new0(TmFilter, n_exclude + 1);
    if (tm_filters_parse(include_specs, include) < 0
        || tm_filters_parse(exclude_specs, exclude) < 0)
        goto error;
    traces = PyList_GetSlice(list, 0, PyList_GET_SIZE(list));
    result = PyList_New(0);
    if (traces == NULL || result == NULL)
        goto error;
    checked = g_hash_table_new(g_direct_hash, g_direct_equal);

    for (i = 0; i < PyList_GET_SIZE(traces); i++) {
        PyObject *trace = PyList_GET_ITEM(traces, i), *traceback;
        int keep = 1, match;

        if (!PyTuple_CheckExact(trace) || PyTuple_GET_SIZE(trace) != 4
            || !tm_int_exact(PyTuple_GET_ITEM(trace, 0))) {
            status = 1;
            break;
        }
        traceback = PyTuple_GET_ITEM(trace, 2);
        if (g_hash_table_lookup(checked, traceback) == NULL) {
            if (!tm_traceback_ok(traceback)) {
                status = 1;
                break;
            }
            g_hash_table_insert(checked, traceback, traceback);
        }
        if (n_include) {
            keep = 0;
            for (j = 0; j < n_include && !keep; j++) {
                match = tm_filter_match(&include[j], trace);
                if (match < 0)
                    goto error;
                if (match == 2) {
                    status = 1;
                    break;
                }
                keep = match;
            }
        }
        for (j = 0; j < n_exclude && keep && status == 0; j++) {
            match = tm_filter_match(&exclude[j], trace);
            if (match < 0)
                goto error;
            if (match == 2)
                status = 1;
            else if (!match)
                keep = 0;
        }
        if (status)
            break;
        if (keep && PyList_Append(result, trace) < 0)
            goto error;
    }
    g_hash_table_destroy(checked);
    tm_filters_free(include, n_include);
    tm_filters_free(exclude, n_exclude);
    Py_DECREF(traces);
    if (status) {
        Py_DECREF(result);
        Py_RETURN_NONE;
    }
    return result;

error:
    if (checked != NULL)
        g_hash_table_destroy(checked);
    tm_filters_free(include, n_include);
    tm_filters_free(exclude, n_exclude);
    Py_XDECREF(traces);
    Py_XDECREF(result);
    return NULL;
}
