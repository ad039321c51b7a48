/* Reference tracing: the functions of the module tracemalloc._engine over the interpreter's
 * reference tracer (PyRefTracer_SetTracer: CPython 3.13, and 2.7/3.11 built with
 * patches/2.7/0006-reftracer-hook.patch or patches/3.11/0005-reftracer-hook.patch), for
 * tracemalloc/_reftrace.py. See doc/internals.rst, "Reference tracing".
 *
 * While started, every object created (PyRefTracer_CREATE) or destroyed (PyRefTracer_DESTROY)
 * whose type is traced is counted under its type's name (tp_name) and, if a log file was
 * given, written to it as one row:
 *
 *   EVENT CLOCK ADDRESS LIVE TYPE FILE LINE FUNCTION RSS DRSS     (tab-separated)
 *
 * EVENT is NEW or DEL; CLOCK the seconds since start; ADDRESS the object's; LIVE the type's
 * count of live objects after the event (created minus destroyed since start: negative when
 * more objects made before the start died than were made since); FILE, LINE and FUNCTION the
 * Python frame running ("-", 0, "-" without one); RSS the process's resident set size in
 * bytes, DRSS its change since the previous row. The file starts with one header line
 * naming the columns.
 *
 * Which types are traced: a type named in include (if include is not empty, only those), and
 * none named in exclude; of the rest, the builtin types only with include_builtins. A name
 * matches a type's tp_name or its last dotted component. The builtin types are the static
 * types whose tp_name has no dot: the types of the builtins module (__builtin__ on 2.7), for
 * which type.__module__ is that module (int, str, list, dict, tuple, function, frame, code,
 * ...). Objects created or destroyed in a thread that suspended tracing (suspend.c: the
 * package's own work) or while reference tracing is suspended are not seen.
 *
 * One start at a time, in the interpreter that started it. All state is protected by the
 * GIL: the interpreter calls the tracer with the GIL held. Every function needs the GIL and
 * returns a new reference, or NULL with an exception set. */
#ifndef PYTRACEMALLOC_REFTRACE_H
#define PYTRACEMALLOC_REFTRACE_H

#include "compat.h"

/* _engine.reftrace_available() -> bool: does the interpreter have the reference tracer? */
PyObject *tm_reftrace_available(PyObject *self, PyObject *unused);

/* _engine.reftrace_start(path, include, exclude, include_builtins): path a str or None (no
 * log), include and exclude tuples of str. RuntimeError without the hook, when tracing is
 * running or another reference tracer is installed; OSError if the log cannot be created. */
PyObject *tm_reftrace_start(PyObject *self, PyObject *args);

/* _engine.reftrace_stop(): remove the tracer, close the log; OSError if writing it failed.
 * Nothing to do if not started. The counts stay readable until the next start. */
PyObject *tm_reftrace_stop(PyObject *self, PyObject *unused);

/* _engine.reftrace_suspend() / reftrace_resume(): stop and restart seeing events (nestable). */
PyObject *tm_reftrace_suspend(PyObject *self, PyObject *unused);
PyObject *tm_reftrace_resume(PyObject *self, PyObject *unused);

/* _engine.reftrace_counts() -> {type name: (created, destroyed)} since the last start. */
PyObject *tm_reftrace_counts(PyObject *self, PyObject *unused);

/* _engine.reftrace_is_active() -> bool: started and not stopped. */
PyObject *tm_reftrace_is_active(PyObject *self, PyObject *unused);

#endif /* PYTRACEMALLOC_REFTRACE_H */
