/* Every difference between the CPython versions the engine supports lives in this header.
 *
 * The rest of the engine reads the interpreter through these inline helpers only:
 *   - the allocator API (PEP 445: native on 3.x, backported by patches/2.7 on 2.7);
 *   - walking the current thread's frames from inside an allocator hook, without allocating
 *     and without touching the error indicator;
 *   - "does this thread hold the GIL?";
 *   - the address of the memory block behind an object (GC header, pre-header);
 *   - str objects, module initialisation.
 */
#ifndef PYTRACEMALLOC_COMPAT_H
#define PYTRACEMALLOC_COMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

#if PY_MAJOR_VERSION == 2
#  define TM_PY2 1
#  if !defined(PY_PYTRACEMALLOC_API)
#    error "This Python 2.7 lacks the allocator hooks: build it with patches/2.7 (build-aux/python-build)."
#  endif
#elif PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030E0000
#  error "pytracemalloc supports CPython 2.7, 3.11 and 3.13."
#endif

#ifdef TM_PY2
/* ------------------------------------------------------------------ Python 2.7 */

typedef PyFrameObject TmPyFrame;

/* The frame the thread is executing, or NULL (startup, finalisation, C thread). */
static inline TmPyFrame *
tm_frame_current(PyThreadState *tstate)
{
    return tstate != NULL ? tstate->frame : NULL;
}

static inline TmPyFrame *
tm_frame_back(TmPyFrame *frame)
{
    return frame->f_back;
}

/* A borrowed reference to the frame's filename (a str), or NULL. */
static inline PyObject *
tm_frame_filename(TmPyFrame *frame)
{
    PyCodeObject *code = frame->f_code;
    if (code == NULL || code->co_filename == NULL || !PyString_CheckExact(code->co_filename))
        return NULL;
    return code->co_filename;
}

/* The line being executed. PyFrame_GetLineNumber() reads the line table: no allocation. */
static inline int
tm_frame_lineno(TmPyFrame *frame)
{
    return PyFrame_GetLineNumber(frame);
}

/* The thread state of the thread holding the GIL (may be another thread's). */
static inline PyThreadState *
tm_tstate_current(void)
{
    return _PyThreadState_Current;
}

/* Does the calling thread hold the GIL? Cheap: a TLS read and a compare. */
static inline int
tm_gil_held(void)
{
    PyThreadState *tstate = _PyThreadState_Current;
    return tstate != NULL && tstate == PyGILState_GetThisThreadState();
}

/* The address of the memory block that holds obj, as the allocator returned it. */
static inline void *
tm_object_block(PyObject *obj)
{
    if (PyType_IS_GC(Py_TYPE(obj)))
        return (char *)obj - sizeof(PyGC_Head);
    return obj;
}

#define TmStr_FromString PyString_FromString
#define TmInt_FromLong PyInt_FromLong
#define TmStr_InternFromString PyString_InternFromString

#else
/* ------------------------------------------------------------------ Python 3.11, 3.13 */
#  error "The 3.x frame access comes with the 3.x patch series."
#endif

#endif /* PYTRACEMALLOC_COMPAT_H */
