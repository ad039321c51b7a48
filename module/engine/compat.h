/* Every difference between the CPython versions the engine supports lives in this header.
 *
 * The rest of the engine reads the interpreter through these inline helpers only:
 *   - the allocator API (PEP 445: native on 3.x, backported by patches/2.7 on 2.7);
 *   - walking the current thread's frames from inside an allocator hook, without allocating
 *     and without touching the error indicator;
 *   - "does this thread hold the GIL?";
 *   - the address of the memory block behind an object (GC header, pre-header);
 *   - str, bytes and int objects, module initialisation;
 *   - the frame object a trace or profile function receives, and str text read in place;
 * and the feature macros the other files test instead of the interpreter's version:
 *   TM_PATCHED           the interpreter was built with one of our patch series;
 *   TM_HAVE_CAPI_HOOKS   PyTraceMalloc_SetHooks() routes PyTraceMalloc_Track() and friends
 *                        (patched 3.x);
 *   TM_HAVE_INT_TYPE     there is an int type besides long (2.7);
 *   TM_HAVE_MODULE_DEF   modules are created from a PyModuleDef (3.x);
 *   TM_UNNAMED_VARIANT   the variant of an interpreter that does not name its own.
 * The free-list hooks are no compile-time feature: freelists.c finds them at run time.
 */
#ifndef PYTRACEMALLOC_COMPAT_H
#define PYTRACEMALLOC_COMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

#include <glib.h>

/* TM_PATCHED: the interpreter was built with one of our patch series (doc/internals.rst). A
 * stock 3.x still has PEP 445 hooks, and the engine works there without the extras. */
#ifdef PY_PYTRACEMALLOC_API
#  define TM_PATCHED 1
#  define TM_UNNAMED_VARIANT "plain"
#else
#  define TM_UNNAMED_VARIANT "stock"
#endif

#if PY_MAJOR_VERSION == 2
#  define TM_PY2 1
#  if !defined(PY_PYTRACEMALLOC_API)
#    error "This Python 2.7 lacks the allocator hooks: build it with patches/2.7 (build-aux/python-build)."
#  endif
#elif PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030E0000
#  error "pytracemalloc supports CPython 2.7, 3.11 and 3.13."
#else
#  define TM_HAVE_MODULE_DEF 1
#  ifdef TM_PATCHED
#    define TM_HAVE_CAPI_HOOKS 1
#  endif
#endif

/* The line of the instruction at offset addr (bytes) of code: a walk of its line table. */
static inline int
tm_code_lineno(PyCodeObject *code, int addr)
{
    return PyCode_Addr2Line(code, addr);
}

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

/* The code object and the offset in bytes of the instruction the frame executes, of which the
 * line is a function (tm_code_lineno). 0 when the line is to be read from the frame itself:
 * under a trace function 2.7 keeps it in f_lineno. */
static inline int
tm_frame_position(TmPyFrame *frame, PyCodeObject **code, int *addr)
{
    if (frame->f_trace != NULL || frame->f_code == NULL)
        return 0;
    *code = frame->f_code;
    *addr = frame->f_lasti;
    return 1;
}

/* The thread state of the thread holding the GIL: the caller's when it knows it holds it. */
static inline PyThreadState *
tm_tstate_gil(void)
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

/* The same question asked from inside malloc (native.c). 2.7 has no native TLS on pthreads:
 * PyGILState_GetThisThreadState() takes the thread module's keymutex, under which
 * PyThread_set_key_value() calls malloc: asked from that malloc, it would wait for itself.
 * So compare the GIL holder's thread id with ours instead (pthread_self(), no lock). Read
 * without the GIL, the holder's state may be freed meanwhile: the read stays inside the
 * heap, and a freed state holding our id by chance is not a risk worth more than this. */
#include <pythread.h>

static inline int
tm_gil_held_in_malloc(void)
{
    PyThreadState *tstate = _PyThreadState_Current;
    return tstate != NULL && tstate->thread_id == PyThread_get_thread_ident();
}


/* The address of the memory block that holds obj, as the allocator returned it. */
static inline void *
tm_object_block(PyObject *obj)
{
    if (PyType_IS_GC(Py_TYPE(obj)))
        return (char *)obj - sizeof(PyGC_Head);
    return obj;
}

/* Bytes between the memory block of an object of this type and the object. */
static inline size_t
tm_type_block_offset(PyTypeObject *type)
{
    return PyType_IS_GC(type) ? sizeof(PyGC_Head) : 0;
}

#define TM_HAVE_INT_TYPE 1
#define TmStr_FromString PyString_FromString
#define TmInt_FromLong PyInt_FromLong
#define TmStr_InternFromString PyString_InternFromString
#define TmStr_CheckExact PyString_CheckExact
/* The PyArg_ParseTuple format of a read-only bytes-like buffer. */
#define TM_BUFFER_FORMAT "s*"

/* An exact int or long. */
static inline int
tm_int_exact(PyObject *obj)
{
    return PyInt_CheckExact(obj) || PyLong_CheckExact(obj);
}

#else
/* ------------------------------------------------------------------ Python 3.11, 3.13 */

/* The frames of 3.11+ live in _PyInterpreterFrame structures, only described by the internal
 * headers; PyThreadState_GetFrame() would materialise (allocate) frame objects. */
#  define Py_BUILD_CORE 1
#  include <internal/pycore_frame.h>
#  undef Py_BUILD_CORE

typedef struct _PyInterpreterFrame TmPyFrame;

#  if PY_VERSION_HEX >= 0x030D0000
static inline PyCodeObject *
tm_frame_code(TmPyFrame *frame)
{
    return PyCode_Check(frame->f_executable) ? (PyCodeObject *)frame->f_executable : NULL;
}

/* Frames still being set up (before their first RESUME) or owned by C are skipped, as the
 * interpreter's own tracebacks do. */
static inline TmPyFrame *
tm_frame_complete(TmPyFrame *frame)
{
    return _PyFrame_GetFirstComplete(frame);
}

static inline int
tm_frame_lineno(TmPyFrame *frame)
{
    return PyUnstable_InterpreterFrame_GetLine(frame);
}

/* What PyUnstable_InterpreterFrame_GetLine() passes to PyCode_Addr2Line(). */
static inline int
tm_frame_position(TmPyFrame *frame, PyCodeObject **code, int *addr)
{
    *code = tm_frame_code(frame);
    if (*code == NULL)
        return 0;
    *addr = _PyInterpreterFrame_LASTI(frame) * (int)sizeof(_Py_CODEUNIT);
    return 1;
}

/* The thread state attached to the calling thread, NULL if it holds no GIL. */
static inline PyThreadState *
tm_tstate_gil(void)
{
    return PyThreadState_GetUnchecked();
}

static inline int
tm_gil_held(void)
{
    return PyThreadState_GetUnchecked() != NULL;
}

/* From inside malloc too (native.c): a TLS read, no lock, no allocation. */
#    define tm_gil_held_in_malloc tm_gil_held

static inline TmPyFrame *
tm_frame_current(PyThreadState *tstate)
{
    return tstate != NULL ? tm_frame_complete(tstate->current_frame) : NULL;
}

#    define TM_PREHEADER_FLAGS Py_TPFLAGS_PREHEADER
#  else /* 3.11 */
static inline PyCodeObject *
tm_frame_code(TmPyFrame *frame)
{
    return frame->f_code;
}

static inline TmPyFrame *
tm_frame_complete(TmPyFrame *frame)
{
    while (frame != NULL && _PyFrame_IsIncomplete(frame))
        frame = frame->previous;
    return frame;
}

/* The offset _PyInterpreterFrame_GetLine() reads (that function is not exported by 3.11). */
static inline int
tm_frame_position(TmPyFrame *frame, PyCodeObject **code, int *addr)
{
    *code = frame->f_code;
    *addr = _PyInterpreterFrame_LASTI(frame) * (int)sizeof(_Py_CODEUNIT);
    return 1;
}

static inline int
tm_frame_lineno(TmPyFrame *frame)
{
    PyCodeObject *code;
    int addr;

    tm_frame_position(frame, &code, &addr);
    return tm_code_lineno(code, addr);
}

/* 3.11 keeps the GIL holder's thread state in a global. */
static inline PyThreadState *
tm_tstate_gil(void)
{
    return _PyThreadState_UncheckedGet();
}

/* Compare the GIL holder's thread state with the calling thread's own. */
static inline int
tm_gil_held(void)
{
    PyThreadState *tstate = _PyThreadState_UncheckedGet();
    return tstate != NULL && tstate == PyGILState_GetThisThreadState();
}

/* From inside malloc too (native.c): PyGILState_GetThisThreadState() reads a native TLS key
 * (pthread_getspecific: no lock, no allocation). */
#    define tm_gil_held_in_malloc tm_gil_held

static inline TmPyFrame *
tm_frame_current(PyThreadState *tstate)
{
    return tstate != NULL ? tm_frame_complete(tstate->cframe->current_frame) : NULL;
}

#    define TM_PREHEADER_FLAGS Py_TPFLAGS_MANAGED_DICT
#  endif

static inline TmPyFrame *
tm_frame_back(TmPyFrame *frame)
{
    return tm_frame_complete(frame->previous);
}

static inline PyObject *
tm_frame_filename(TmPyFrame *frame)
{
    PyCodeObject *code = tm_frame_code(frame);
    if (code == NULL || code->co_filename == NULL || !PyUnicode_CheckExact(code->co_filename))
        return NULL;
    return code->co_filename;
}

/* Before a GC object come its GC header and, for instances with a managed dict (and
 * weakrefs on 3.12+), two pointers of pre-header. Both are 16 bytes on 64-bit builds. */
static inline size_t
tm_type_block_offset(PyTypeObject *type)
{
    size_t size = 0;

    if (PyType_IS_GC(type))
        size += 2 * sizeof(PyObject *);
    if (PyType_HasFeature(type, TM_PREHEADER_FLAGS))
        size += 2 * sizeof(PyObject *);
    return size;
}

static inline void *
tm_object_block(PyObject *obj)
{
    return (char *)obj - tm_type_block_offset(Py_TYPE(obj));
}

#  define TmStr_FromString PyUnicode_FromString
#  define TmStr_InternFromString PyUnicode_InternFromString
#  define TmInt_FromLong PyLong_FromLong
#  define TmStr_CheckExact PyUnicode_CheckExact
#  define TM_BUFFER_FORMAT "y*"
#  define tm_int_exact PyLong_CheckExact

#endif

/* ------------------------------------------------------------------ trace functions */

/* The code object run by a frame object (the frame a Py_tracefunc receives): borrowed, NULL if
 * none. No allocation, no reference taken. */
static inline PyCodeObject *
tm_pyframe_code(PyFrameObject *frame)
{
#ifdef TM_PY2
    return frame->f_code;
#else
    return frame->f_frame != NULL ? tm_frame_code(frame->f_frame) : NULL;
#endif
}

/* Copy the text of a str object (a code object's co_filename or co_name) into out, NUL
 * terminated, at most size - 1 bytes (size >= 8), without creating an object: 2.7's bytes as
 * they are; on 3.x the ASCII data as it is, other strings encoded as UTF-8 from their code
 * points (a lone surrogate becomes '?'). Anything but a str gives "?". Returns the length. */
static inline gsize
tm_str_copy(PyObject *str, char *out, gsize size)
{
    gsize len = 0;

#ifdef TM_PY2
    if (str != NULL && PyString_Check(str)) {
        len = MIN((gsize)PyString_GET_SIZE(str), size - 1);
        memcpy(out, PyString_AS_STRING(str), len);
    }
#else
    if (str != NULL && PyUnicode_Check(str)) {
        Py_ssize_t i, n = PyUnicode_GET_LENGTH(str);
        if (PyUnicode_IS_ASCII(str)) {
            len = MIN((gsize)n, size - 1);
            memcpy(out, PyUnicode_DATA(str), len);
        }
        else {
            int kind = PyUnicode_KIND(str);
            const void *data = PyUnicode_DATA(str);
            for (i = 0; i < n && len + 4 < size; i++) {
                Py_UCS4 c = PyUnicode_READ(kind, data, i);
                if (c < 0x80)
                    out[len++] = (char)c;
                else if (c < 0x800) {
                    out[len++] = (char)(0xC0 | (c >> 6));
                    out[len++] = (char)(0x80 | (c & 0x3F));
                }
                else if (c >= 0xD800 && c <= 0xDFFF)
                    out[len++] = '?';
                else if (c < 0x10000) {
                    out[len++] = (char)(0xE0 | (c >> 12));
                    out[len++] = (char)(0x80 | ((c >> 6) & 0x3F));
                    out[len++] = (char)(0x80 | (c & 0x3F));
                }
                else {
                    out[len++] = (char)(0xF0 | (c >> 18));
                    out[len++] = (char)(0x80 | ((c >> 12) & 0x3F));
                    out[len++] = (char)(0x80 | ((c >> 6) & 0x3F));
                    out[len++] = (char)(0x80 | (c & 0x3F));
                }
            }
        }
    }
#endif
    else
        out[len++] = '?';
    out[len] = '\0';
    return len;
}

/* The value of an exact int obj (tm_int_exact) in *value: 0, or -1 if it does not fit in 64
 * bits (no exception set). */
static inline int
tm_int_value(PyObject *obj, gint64 *value)
{
    int overflow;
    long long result;

#ifdef TM_HAVE_INT_TYPE
    if (PyInt_CheckExact(obj)) {
        *value = PyInt_AS_LONG(obj);
        return 0;
    }
#endif
    result = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow || (result == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return -1;
    }
    *value = result;
    return 0;
}

/* A new int of that value (an int when it fits on 2.7, else a long); NULL with an exception. */
static inline PyObject *
tm_int_new(gint64 value)
{
#ifdef TM_HAVE_INT_TYPE
    if (value >= LONG_MIN && value <= LONG_MAX)
        return PyInt_FromLong((long)value);
#endif
    return PyLong_FromLongLong(value);
}

#endif /* PYTRACEMALLOC_COMPAT_H */
