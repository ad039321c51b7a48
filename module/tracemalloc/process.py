"""tracemalloc.process: a memory log of one process, as pymemtrace's ``process`` keeps one.

In a program, a daemon thread records every *interval* seconds (and at its start, its stop
and each label) the process's RSS and peak RSS and, while tracing, the traced memory and its
peak, the free lists and the tracer's own memory, as JSON lines::

    import tracemalloc.process

    with tracemalloc.process.log_process(file="memory.jsonl") as log:
        load()
        log.add_label("compute")      # or tracemalloc.process.add_label("compute")
        compute()

From outside, ``python -m tracemalloc.process -- CMD ...`` or ``-p PID`` logs another
process until it exits, and ``--plot FILE`` draws the log as an SVG picture
(``--help`` explains). README, "process: a memory log", has the record's schema.

This module is the public face only: the logger is tracemalloc/_process_log.py, the command
tracemalloc/_process_cli.py, the picture tracemalloc/_process_plot.py, the figures of the
operating system tracemalloc/_procmem.py. It holds no state of its own, so that ``python -m
tracemalloc.process`` (which runs it as ``__main__``) and an import of it share the loggers
of _process_log.
"""
from __future__ import absolute_import

import sys

from tracemalloc._process_cli import main
from tracemalloc._process_log import (DEFAULT_INTERVAL, LABELS_ENV, LogFormatError,
                                      ProcessLogger, add_label, log_process, log_process_dec,
                                      read_records)

__all__ = ["ProcessLogger", "log_process", "log_process_dec", "add_label", "read_records",
           "LogFormatError", "main", "DEFAULT_INTERVAL", "LABELS_ENV"]

if __name__ == "__main__":
    sys.exit(main())
