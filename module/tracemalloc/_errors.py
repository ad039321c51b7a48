"""What goes wrong with a snapshot file, and how it is told.

SnapshotError is the one exception a reader or writer of snapshot files raises. Inside,
_Problem (and _Refused, a file that asks for something a snapshot never holds) says what is
wrong without the file's name, and becomes SnapshotError(filename, reason) at the entry
points; _one_line() and _safe_repr() keep a message on one printable line.
"""
from __future__ import absolute_import

from tracemalloc._compat import _PY2

__all__ = ["SnapshotError"]


class SnapshotError(ValueError):
    """A snapshot file cannot be read or written: ``str(error)`` is "FILENAME: PROBLEM".

    ``SnapshotError(filename, reason)``; attributes ``filename`` and ``reason``. A subclass
    of ValueError. It has no ``__init__`` of its own, so that, like the builtin exceptions,
    it has no Python signature (test_inspect checks that of the exceptions a stdlib module
    exports).
    """

    __module__ = "tracemalloc"

    @property
    def filename(self):
        return self.args[0] if self.args else None

    @property
    def reason(self):
        return self.args[1] if len(self.args) > 1 else None

    def __str__(self):
        if len(self.args) == 2:
            return "%s: %s" % self.args
        return ValueError.__str__(self)


class _Problem(Exception):
    """What is wrong with a file, without its name: becomes SnapshotError(filename, reason)."""


class _Refused(_Problem):
    pass



def _one_line(text):
    """*text* on one line of printable characters (messages of the pickle module may hold
    newlines or bytes of the file)."""
    text = " ".join(text.split())
    limit = 128 if _PY2 else 0x110000
    return "".join(char if 32 <= ord(char) < 127 or 160 <= ord(char) < limit
                   else "\\x%02x" % ord(char) if ord(char) < 256 else "\\u%04x" % ord(char)
                   for char in text)


def _safe_repr(value, limit=40):
    """repr() for messages: short, one line, and never failing (an int of a million digits
    cannot be converted to str on 3.11+)."""
    try:
        text = repr(value)
    except Exception:
        return "<%s>" % type(value).__name__
    if len(text) > limit:
        text = text[:limit - 3] + "..."
    return _one_line(text)
