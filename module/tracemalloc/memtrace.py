"""tracemalloc.memtrace: pymemtrace's Profile and Trace, in C, with traced memory, and its
ReferenceTracing.

``Profile`` logs the memory at the calls and returns of the calling thread, C functions
included; ``Trace`` also at every line. A row is written when RSS (or, while tracing,
traced memory) moved by a trigger since the last row, so the log points at the code that
made memory grow. ``ReferenceTracing`` counts and logs the objects created and destroyed in
a block, per type (README, "Reference tracing")::

    import tracemalloc
    import tracemalloc.memtrace

    tracemalloc.start()
    with tracemalloc.memtrace.Trace(d_traced_trigger=4096) as tracer:
        run()
    print(tracer.log_file_path)

``python -m tracemalloc.memtrace summary LOG`` shows the lines and functions with the
largest increases (``--help`` explains). README, "memtrace: Profile and Trace", has an example
and doc/internals.rst the log's format.

This module is the public face only: the context managers are tracemalloc/_memtrace.py, the
log reader and the command tracemalloc/_memtrace_summary.py, the profile and trace function
module/engine/memtrace.c; ReferenceTracing is tracemalloc/_reftrace.py over
module/engine/reftrace.c. It holds no state, so that ``python -m tracemalloc.memtrace`` (which
runs it as ``__main__``) and an import of it share the active logs of _memtrace.
"""
from __future__ import absolute_import

import sys

from tracemalloc._memtrace import Profile, Trace
from tracemalloc._memtrace_summary import LogFormatError, main, read_log, summarize
from tracemalloc._reftrace import ReferenceTracing

__all__ = ["Profile", "Trace", "ReferenceTracing", "LogFormatError", "read_log", "summarize",
           "main"]

if __name__ == "__main__":
    sys.exit(main())
