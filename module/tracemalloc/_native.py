"""The native domain's API: the memory blocks that C code takes straight from malloc, calloc,
realloc, posix_memalign, aligned_alloc, memalign, valloc and pvalloc (C extensions, the
libraries they call), traced in NATIVE_DOMAIN with the Python traceback of the line that
called into C, beside the blocks of the Python allocators.

It needs the preloadable library tracemalloc-native.so of this package in the process from
its start (LD_PRELOAD) and PYTRACEMALLOC_NATIVE=1 in the environment when tracing starts; this
module's command line sets both and executes a command:

    python -m tracemalloc.native [--nframe N] -- python app.py ARGS...

This module owns NATIVE_DOMAIN, is_native_tracing(), the path of the library and the
environment that switches the domain on; tracemalloc/native.py, the launcher; the hooks are
the engine's (module/engine/native.c, doc/internals.rst "The native domain").
"""
from __future__ import absolute_import

import os

import tracemalloc

__all__ = ["NATIVE_DOMAIN", "is_native_tracing"]

#: The domain of the native blocks in traces and snapshots: 0x4E415456, "NATV" in ASCII, far
#: from the domains that PyTraceMalloc_Track() users take (0 and up, numpy's 389047).
NATIVE_DOMAIN = 0x4E415456

LIBRARY_NAME = "tracemalloc-native.so"


def is_native_tracing():
    """True if tracing and the blocks of malloc & co. are traced too (NATIVE_DOMAIN): the
    library was preloaded and PYTRACEMALLOC_NATIVE was set when tracing started."""
    func = getattr(tracemalloc._engine, "is_native_tracing", None)
    return bool(func()) if func is not None else False


def preload_library():
    """The path of the preloadable library, installed beside the engine."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), LIBRARY_NAME)


def native_environ(environ, nframe=None, stack=None):
    """A copy of *environ* that switches the native domain on: the library first in
    LD_PRELOAD (once), PYTRACEMALLOC_NATIVE=1 and, if given, PYTRACEMALLOC=*nframe* and
    PYTRACEMALLOC_NATIVE_STACK=*stack* (C frames per native block)."""
    env = dict(environ)
    library = preload_library()
    preload = [p for p in env.get("LD_PRELOAD", "").replace(":", " ").split()
               if p != library]
    env["LD_PRELOAD"] = " ".join([library] + preload)
    env["PYTRACEMALLOC_NATIVE"] = "1"
    if nframe is not None:
        env["PYTRACEMALLOC"] = str(nframe)
    if stack is not None:
        env["PYTRACEMALLOC_NATIVE_STACK"] = str(stack)
    return env
