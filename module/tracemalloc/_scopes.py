"""The function a source line belongs to, for the HTML report: a frame of a trace is only a
(filename, lineno), and a flame graph or a table of lines reads better with "Cache.load"
beside "cache.py:42".

The source is read through linecache (the files as they are now, on the machine writing the
report) and parsed with ast; a line belongs to the innermost def or class whose body holds
it ("<module>" outside any). A file that cannot be read or parsed (gone, another Python's
syntax, not Python) gives None: the report then shows the file and line only.
"""
from __future__ import absolute_import

import ast
import linecache

# Files parsed by one report: each is parsed once; the dict holds the intervals of a file.
_MAX_SOURCE = 4 * 1024 * 1024  # bytes: a bigger "source" is not parsed (generated data)


class ScopeFinder(object):
    """scope(filename, lineno) -> "Class.method", "function", "<module>" or None.

    Parses each file once (per finder) and keeps only its scope intervals."""

    def __init__(self):
        self._files = {}

    def scope(self, filename, lineno):
        scopes = self._files.get(filename)
        if scopes is None:
            scopes = self._files[filename] = _file_scopes(filename)
        if scopes is False or not lineno:
            return None
        best = None
        for start, end, name in scopes:
            # the def line itself runs in the enclosing scope (decorators, defaults)
            if start < lineno <= end and (best is None or start >= best[0]):
                best = (start, end, name)
        return best[2] if best is not None else "<module>"


def _file_scopes(filename):
    """[(first line, last line, qualified name)] of the defs and classes of *filename*, or
    False if it cannot be read or parsed."""
    if not filename or filename.startswith("<"):
        return False
    try:
        lines = linecache.getlines(filename)
    except Exception:  # a loader or a file system error: no names, the report goes on
        return False
    if not lines or sum(len(line) for line in lines) > _MAX_SOURCE:
        return False
    source = "".join(lines)
    try:
        tree = ast.parse(source, filename)
    except Exception:  # SyntaxError, ValueError (null bytes), RecursionError, MemoryError
        return False
    scopes = []
    _collect(tree, "", scopes)
    return scopes


_SCOPE_TYPES = tuple(getattr(ast, name) for name in ("FunctionDef", "AsyncFunctionDef", "ClassDef")
                     if hasattr(ast, name))


def _last_line(node):
    """The last line of *node*: end_lineno on Python 3.8+, else the highest line number of
    its descendants (Python 2.7 has no end positions)."""
    end = getattr(node, "end_lineno", None)
    if end is not None:
        return end
    end = getattr(node, "lineno", 0)
    for child in ast.walk(node):
        end = max(end, getattr(child, "lineno", 0))
    return end


def _collect(node, prefix, scopes):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, _SCOPE_TYPES):
            name = prefix + child.name
            scopes.append((child.lineno, _last_line(child), name))
            _collect(child, name + ".", scopes)
        else:
            _collect(child, prefix, scopes)
