"""Python 2 and 3 differences, defined once for the package.

The text and integer types (_TEXT_TYPES, _INT_TYPES), lazy _map and _zip, _RecursionError,
the fast pickler (_dumps: cPickle on Python 2), the abstract collections (Iterable,
Sequence), reprlib, and _native() (a text read from a file of Python 3 as the native str of
Python 2). The other modules take these from here.
"""
from __future__ import absolute_import

import pickle
import sys

try:
    import cPickle
except ImportError:  # Python 3
    cPickle = None

# Python 2's pickle module is written in Python: 20 times slower than cPickle.
_dumps = pickle.dumps if cPickle is None else cPickle.dumps

_PY2 = sys.version_info[0] == 2
if _PY2:
    _TEXT_TYPES = (str, unicode)  # noqa: F821 (Python 2 only)
    _INT_TYPES = (int, long)  # noqa: F821 (Python 2 only)
    from itertools import imap as _map, izip as _zip
else:
    _TEXT_TYPES = (str,)
    _INT_TYPES = (int,)
    _map = map
    _zip = zip

_RecursionError = RuntimeError if _PY2 else RecursionError  # noqa: F821 (Python 3 only)

try:
    from collections.abc import Iterable, Sequence
except ImportError:  # Python 2
    from collections import Iterable, Sequence

try:
    import reprlib
except ImportError:  # Python 2
    import repr as reprlib


if _PY2:
    def _native(value):
        """A unicode read from a file written by Python 3 becomes a native str again, in
        UTF-8; surrogates U+DC80..U+DCFF (bytes that were not UTF-8, escaped by Python 3)
        become those bytes again."""
        if isinstance(value, unicode):  # noqa: F821 (Python 2 only)
            if any(u"\udc80" <= char <= u"\udcff" for char in value):
                return b"".join(chr(ord(char) - 0xdc00) if u"\udc80" <= char <= u"\udcff"
                                else char.encode("utf-8") for char in value)
            return value.encode("utf-8")
        return value
else:
    def _native(value):
        return value
