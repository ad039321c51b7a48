/* The memory logs of tracemalloc.memtrace (Profile and Trace, pymemtrace's cPyMemTrace): a C
 * profile or trace function (Py_tracefunc) that writes a row of the log when RSS or traced
 * memory moved by its trigger since the last row. Implemented by memtrace.c; module.c sees
 * this header. doc/internals.rst, "Profile and Trace", has the log's format.
 *
 * A log is an object of type tracemalloc._engine.MemtraceLog, made by
 * _engine.memtrace_open(path, trace, d_rss_trigger, d_traced_trigger, message):
 *   path              bytes or str: the file, created or truncated (OSError if it cannot be);
 *   trace             False: a profile function (call, return, c_call, c_return,
 *                     c_exception, exception); True: a trace function (call, line, return,
 *                     exception);
 *   d_rss_trigger     -1: the page size; 0: every event; N > 0: N bytes; None: RSS is no
 *                     trigger, and is read only for the rows written for another reason;
 *   d_traced_trigger  the same for traced memory (-1 is the page size too); None: off;
 *   message           None, or a line written before SOF.
 * Its methods: attach() makes it the calling thread's profile (or trace) function, replacing
 * any, and sets the baseline of the deltas to the current figures (attached again, what
 * changed while it was detached is left out of its rows); detach() removes it if it is still that thread's function; write_message(text) writes
 * MSG rows (one per line of text); close() writes the LAST row and EOF and closes the file
 * (detaching it first); later calls of attach, write_message raise ValueError, of close do
 * nothing. Attributes: path (str), trace (bool), events and rows (int), closed (bool).
 *
 * Per event, the function reads what the triggers need (RSS: one pread() of /proc/self/statm
 * on a descriptor kept open; traced memory: the store's counter under tm_lock, nothing when
 * not tracing), compares, and keeps the event for a PREV row; it allocates nothing and
 * creates no Python object. Rows are formatted only when written, into a buffer of the log's
 * own (glib memory) flushed with write(2) when full and at close.
 *
 * Every function needs the GIL; a log is used by one thread at a time (the GIL). */
#ifndef PYTRACEMALLOC_MEMTRACE_H
#define PYTRACEMALLOC_MEMTRACE_H

#include "compat.h"

extern PyTypeObject tm_memtrace_log_type;

/* _engine.memtrace_open(): a new log (see above); NULL with an exception set on error. */
PyObject *tm_memtrace_open(PyObject *self, PyObject *args);

/* _engine.memtrace_rss(): the RSS in bytes as the logs read it (for the tests); NULL with an
 * exception set if it cannot be read. */
PyObject *tm_memtrace_rss(PyObject *self, PyObject *unused);

#endif /* PYTRACEMALLOC_MEMTRACE_H */
