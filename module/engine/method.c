/* tracer_method(func): a method of the package that the interpreter calls in the middle of the
 * user's code (the __enter__ and __exit__ of a measured block, tracemalloc/_block.py), made so
 * that the call is the tracer's work from its first byte, not only from the first line of its
 * body (doc/internals.rst, "Suspension", "A measured block").
 *
 * A Python method cannot do it alone: before its body runs, the interpreter binds it (a bound
 * method object), may pack its arguments (a tuple: always on 2.7, whose with statement calls
 * __exit__ through PyObject_CallFunctionObjArgs) and on 2.7 allocates its frame, all in the
 * user's thread and charged to the user's line. Here:
 *
 *   - binding (tp_descr_get) allocates the bound tracer_method with tracing suspended: the
 *     tracer's memory;
 *   - a call through vectorcall (3.x) suspends tracing before anything is allocated, and
 *     calls func(self, *args) with the caller's argument array (no tuple);
 *   - a call through tp_call (2.7, or PyObject_Call with a tuple on 3.x) suspends tracing,
 *     then takes the argument tuple made for this call alone (reference count 1, not empty)
 *     into the tracer's memory with tm_engine_own_object(): its allocation is undone in the
 *     traces and the peak when it was the last one (as it is on 2.7, where nothing runs
 *     between its allocation and this call unless another thread allocates without the GIL,
 *     or that allocation set off a garbage collection);
 *   - func runs suspended (on 2.7 its frame is the tracer's), and the thread's suspension
 *     depth is put back as it was when the call returns or raises.
 *
 * Keyword arguments are passed on; their dict (tp_call) stays the user's memory. */
#include "tracer.h"

#include <string.h>
#include <structmember.h>

typedef struct {
    PyObject_HEAD
    PyObject *func; /* the function called */
    PyObject *self; /* the object it is bound to; NULL: not bound (a class attribute) */
#ifndef TM_PY2
    vectorcallfunc vectorcall;
#endif
} TmTracerMethod;

/* The most arguments (self included) passed from an array on the C stack; more: PyMem. */
#define SMALL_STACK 8

#ifndef TM_PY2
static PyObject *tm_method_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf,
                                      PyObject *kwnames);
#endif

/* A new tracer_method of func bound to self (NULL: unbound), allocated with tracing suspended
 * when suspend is TRUE. NULL with an exception set on error. */
static PyObject *
tm_method_create(PyObject *func, PyObject *self, gboolean suspend)
{
    TmTracerMethod *method;
    guint depth = tm_engine_suspend_depth();

    if (suspend && tm_engine_suspend() < 0)
        return NULL;
    method = PyObject_GC_New(TmTracerMethod, &tm_tracer_method_type);
    tm_engine_set_suspend_depth(depth);
    if (method == NULL)
        return NULL;
    Py_INCREF(func);
    method->func = func;
    Py_XINCREF(self);
    method->self = self;
#ifndef TM_PY2
    method->vectorcall = tm_method_vectorcall;
#endif
    PyObject_GC_Track(method);
    return (PyObject *)method;
}

static PyObject *
tm_method_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *func;

    (void)type;
    if (kwargs != NULL && PyDict_Size(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "tracer_method() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O:tracer_method", &func))
        return NULL;
    if (!PyCallable_Check(func)) {
        PyErr_Format(PyExc_TypeError, "tracer_method() needs a callable, not %.200s",
                     Py_TYPE(func)->tp_name);
        return NULL;
    }
    return tm_method_create(func, NULL, FALSE);
}

static int
tm_method_traverse(PyObject *op, visitproc visit, void *arg)
{
    TmTracerMethod *method = (TmTracerMethod *)op;

    Py_VISIT(method->func);
    Py_VISIT(method->self);
    return 0;
}

static int
tm_method_clear(PyObject *op)
{
    TmTracerMethod *method = (TmTracerMethod *)op;

    Py_CLEAR(method->func);
    Py_CLEAR(method->self);
    return 0;
}

static void
tm_method_dealloc(PyObject *op)
{
    PyObject_GC_UnTrack(op);
    tm_method_clear(op);
    PyObject_GC_Del(op);
}

/* Bound on access through an instance, with tracing suspended: the bound method that the
 * with statement keeps until __exit__ is the tracer's. Through the class: itself. */
static PyObject *
tm_method_descr_get(PyObject *op, PyObject *obj, PyObject *type)
{
    TmTracerMethod *method = (TmTracerMethod *)op;

    (void)type;
    if (obj == NULL || obj == Py_None || method->self != NULL) {
        Py_INCREF(op);
        return op;
    }
    return tm_method_create(method->func, obj, TRUE);
}

static PyObject *
tm_method_call(PyObject *op, PyObject *args, PyObject *kwargs)
{
    TmTracerMethod *method = (TmTracerMethod *)op;
    guint depth = tm_engine_suspend_depth();
    PyObject *result = NULL, *full;
    Py_ssize_t i, n;

    if (tm_engine_suspend() < 0)
        return NULL;
    n = PyTuple_GET_SIZE(args);
    /* Made for this call alone: the tracer's (the empty tuple is a shared singleton). */
    if (n > 0 && Py_REFCNT(args) == 1)
        tm_engine_own_object(args);
    if (method->self == NULL) {
        result = PyObject_Call(method->func, args, kwargs);
        goto done;
    }
    full = PyTuple_New(n + 1);
    if (full == NULL)
        goto done;
    Py_INCREF(method->self);
    PyTuple_SET_ITEM(full, 0, method->self);
    for (i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(args, i);
        Py_INCREF(item);
        PyTuple_SET_ITEM(full, i + 1, item);
    }
    result = PyObject_Call(method->func, full, kwargs);
    Py_DECREF(full);
done:
    tm_engine_set_suspend_depth(depth);
    return result;
}

#ifndef TM_PY2
static PyObject *
tm_method_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    TmTracerMethod *method = (TmTracerMethod *)op;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Py_ssize_t total = nargs + (kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0);
    guint depth = tm_engine_suspend_depth();
    PyObject *small[SMALL_STACK], **stack;
    PyObject *result;

    if (tm_engine_suspend() < 0)
        return NULL;
    if (method->self == NULL) {
        result = PyObject_Vectorcall(method->func, args, nargsf, kwnames);
    }
    else if (nargsf & PY_VECTORCALL_ARGUMENTS_OFFSET) {
        /* The caller lets us use the slot before args, as method_vectorcall does. */
        PyObject **slot = (PyObject **)args - 1;
        PyObject *saved = *slot;
        *slot = method->self;
        result = PyObject_Vectorcall(method->func, slot, nargs + 1, kwnames);
        *slot = saved;
    }
    else {
        stack = small;
        if (total + 1 > SMALL_STACK) {
            stack = PyMem_Malloc((size_t)(total + 1) * sizeof(PyObject *));
            if (stack == NULL) {
                tm_engine_set_suspend_depth(depth);
                return PyErr_NoMemory();
            }
        }
        stack[0] = method->self;
        if (total > 0)
            memcpy(stack + 1, args, (size_t)total * sizeof(PyObject *));
        result = PyObject_Vectorcall(method->func, stack, nargs + 1, kwnames);
        if (stack != small)
            PyMem_Free(stack);
    }
    tm_engine_set_suspend_depth(depth);
    return result;
}
#endif

/* The function's docstring, so that help() on a class shows its methods' own. */
static PyObject *
tm_method_get_doc(PyObject *op, void *closure)
{
    (void)closure;
    return PyObject_GetAttrString(((TmTracerMethod *)op)->func, "__doc__");
}

/* What the method wraps, which inspect.signature() follows (CPython's test_inspect checks that
 * the module's methods have one): the function, or for a bound method a method object of it,
 * whose signature leaves self out. 2.7's inspect has no signature(): the function. */
static PyObject *
tm_method_get_wrapped(PyObject *op, void *closure)
{
    TmTracerMethod *method = (TmTracerMethod *)op;

    (void)closure;
#ifndef TM_PY2
    if (method->self != NULL)
        return PyMethod_New(method->func, method->self);
#endif
    Py_INCREF(method->func);
    return method->func;
}

static PyMemberDef tm_method_members[] = {
    { "__func__", T_OBJECT, offsetof(TmTracerMethod, func), READONLY,
      "the function called" },
    { "__self__", T_OBJECT, offsetof(TmTracerMethod, self), READONLY,
      "the object the method is bound to, or None" },
    { NULL, 0, 0, 0, NULL }
};

static PyGetSetDef tm_method_getset[] = {
    { "__doc__", tm_method_get_doc, NULL, NULL, NULL },
    { "__wrapped__", tm_method_get_wrapped, NULL, NULL, NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

PyTypeObject tm_tracer_method_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    "tracemalloc._engine.tracer_method",   /* tp_name */
    sizeof(TmTracerMethod),                /* tp_basicsize */
    0,                                     /* tp_itemsize */
    tm_method_dealloc,                     /* tp_dealloc */
#ifdef TM_PY2
    0,                                     /* tp_print */
#else
    offsetof(TmTracerMethod, vectorcall),  /* tp_vectorcall_offset */
#endif
    0,                                     /* tp_getattr */
    0,                                     /* tp_setattr */
    0,                                     /* tp_compare / tp_as_async */
    0,                                     /* tp_repr */
    0,                                     /* tp_as_number */
    0,                                     /* tp_as_sequence */
    0,                                     /* tp_as_mapping */
    0,                                     /* tp_hash */
    tm_method_call,                        /* tp_call */
    0,                                     /* tp_str */
    PyObject_GenericGetAttr,               /* tp_getattro */
    0,                                     /* tp_setattro */
    0,                                     /* tp_as_buffer */
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
#ifndef TM_PY2
        | Py_TPFLAGS_HAVE_VECTORCALL
#endif
    ,                                      /* tp_flags */
    "tracer_method(func): a method whose binding and call are the tracer's work: bound "
    "and called with tracing suspended in the calling thread, its argument tuple (when one "
    "is made for the call) taken into the tracer's memory; func(self, *args) then runs "
    "suspended.",                          /* tp_doc */
    tm_method_traverse,                    /* tp_traverse */
    tm_method_clear,                       /* tp_clear */
    0,                                     /* tp_richcompare */
    0,                                     /* tp_weaklistoffset */
    0,                                     /* tp_iter */
    0,                                     /* tp_iternext */
    0,                                     /* tp_methods */
    tm_method_members,                     /* tp_members */
    tm_method_getset,                      /* tp_getset */
    0,                                     /* tp_base */
    0,                                     /* tp_dict */
    tm_method_descr_get,                   /* tp_descr_get */
    0,                                     /* tp_descr_set */
    0,                                     /* tp_dictoffset */
    0,                                     /* tp_init */
    0,                                     /* tp_alloc */
    tm_method_new,                         /* tp_new */
};
