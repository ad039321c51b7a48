"""Tools in the manner of pymemtrace, over this package's engine: the public face of the
modules that own them (``tracemalloc.memtrace.ReferenceTracing`` is in _reftrace.py).
"""
from __future__ import absolute_import

from tracemalloc._reftrace import ReferenceTracing

__all__ = ["ReferenceTracing"]
