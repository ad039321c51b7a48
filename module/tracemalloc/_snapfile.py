"""Snapshot files: the formats, their validation and a loader that never runs code.

Formats (doc/internals.rst, "Snapshot files", has the byte layout):

- ``compact`` (written by default): a binary file of our own, a header with a version field
  then zlib-compressed columns (string, frame, traceback and trace tables, statistics) and a
  small pickle of builtins for the metadata.
- ``pickle``: a protocol 2 pickle of a dict of builtins,
  ``{"format": "pytracemalloc.snapshot", "version": 2, ...}``; version 1 (statistics only,
  pytracemalloc 1.0.0.dev0) is still read.
- ``stdlib``: a pickle of the Snapshot object, what the stock ``Snapshot.dump()`` of Python
  3.4+ writes. Stock dumps are read; written, the file loads with the stock module too.

Every pickle is first walked by a scanner (``_engine.scan_pickle`` in C, or the Python twin
below) that refuses the opcodes a snapshot never holds (persistent ids, extension codes,
protocol 0/1 instances, out-of-band buffers) and bounds what the unpickler would allocate
(memo indexes, declared lengths) and how deeply hashable containers nest (a tuple nested a
million times crashes CPython when it is hashed as a dict key). It is then loaded with
``find_class`` answering only the five class names a stock dump refers to, each with an inert
stand-in; every value is checked before a Snapshot is built from it. Any problem is reported
as SnapshotError, nothing else.

This module returns and takes plain dicts (see _new_data()); tracemalloc/__init__.py turns
them into Snapshot objects.
"""
from __future__ import absolute_import

import array
import errno
import io
import operator
import os
import pickle
import select
import stat
import struct
import sys
import time
import zlib

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

FORMATS = ("compact", "pickle", "stdlib")
DEFAULT_FORMAT = "compact"

FORMAT_NAME = "pytracemalloc.snapshot"
PICKLE_VERSION = 2  # the version written in the "pickle" format; 1 and 2 are read
COMPACT_MAGIC = b"\x89TMS\r\n\x1a\n"
COMPACT_VERSION = 1

# The scanner's limits. A valid snapshot nests tuples 3 deep (trace, traceback, frame) and
# its integers fit in 8 bytes; extra attributes of a stock snapshot may nest a little more.
MAX_NESTING = 1000
MAX_INT_BYTES = 4096
_MAX_NUMBER_LINE = 64
_MAX_NAME_LINE = 1024

SCAN_OK, SCAN_TRUNCATED, SCAN_CORRUPT, SCAN_REFUSED = range(4)


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


def _is_int(value):
    return isinstance(value, _INT_TYPES) and not isinstance(value, bool)


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


# ---------------------------------------------------------------------------------------------
# The pickle scanner (the Python twin of module/engine/pickle_scan.c: same rules, same results)
# ---------------------------------------------------------------------------------------------

_REFUSED_OPCODES = {
    ord("P"): "uses a persistent id", ord("Q"): "uses a persistent id",
    0x82: "uses an extension code", 0x83: "uses an extension code",
    0x84: "uses an extension code",
    ord("i"): "creates an instance with INST (protocol 0)",
    ord("o"): "creates an instance with OBJ (protocol 1)",
    0x97: "uses an out-of-band buffer", 0x98: "uses an out-of-band buffer",
}

# opcode -> (kind, argument): kinds are "fixed" (n bytes), "len" (a length of n bytes, then
# that many bytes; signed when the opcode is in _SIGNED_LENGTH), "line" (up to a newline,
# at most the given length; 0 for no limit), "lines2" (two lines), "none".
_OPCODE_ARGS = {}


def _define_opcodes():
    for code in ("(", ".", "0", "1", "2", "N", "R", "a", "b", "d", "}", "e", "l", "o", "]",
                 "s", "t", ")", "u", "Q", "\x81", "\x85", "\x86", "\x87", "\x88", "\x89",
                 "\x8f", "\x90", "\x91", "\x92", "\x93", "\x94", "\x97", "\x98"):
        _OPCODE_ARGS[ord(code)] = ("none", 0)
    for code, size in (("J", 4), ("K", 1), ("M", 2), ("h", 1), ("j", 4), ("q", 1), ("r", 4),
                       ("G", 8), ("\x80", 1), ("\x82", 1), ("\x83", 2), ("\x84", 4),
                       ("\x95", 8)):
        _OPCODE_ARGS[ord(code)] = ("fixed", size)
    for code, size in (("T", 4), ("U", 1), ("X", 4), ("\x8a", 1), ("\x8b", 4), ("B", 4),
                       ("C", 1), ("\x8c", 1), ("\x8d", 8), ("\x8e", 8), ("\x96", 8)):
        _OPCODE_ARGS[ord(code)] = ("len", size)
    for code, limit in (("F", _MAX_NUMBER_LINE), ("I", _MAX_NUMBER_LINE),
                        ("L", _MAX_NUMBER_LINE), ("P", 0), ("S", 0), ("V", 0),
                        ("g", _MAX_NUMBER_LINE), ("p", _MAX_NUMBER_LINE)):
        _OPCODE_ARGS[ord(code)] = ("line", limit)
    for code in ("c", "i"):
        _OPCODE_ARGS[ord(code)] = ("lines2", _MAX_NAME_LINE)


_define_opcodes()
_SIGNED_LENGTH = frozenset([ord("T"), ord("\x8b")])


def _unpack_le(buf, pos, size):
    value = 0
    for index in range(size - 1, -1, -1):
        value = (value << 8) | buf[pos + index]
    return value


def scan_pickle_py(data, max_nesting=MAX_NESTING):
    """Walk the pickle at the start of *data* without building anything.

    Returns ``(SCAN_OK, end)`` (the offset after STOP), ``(SCAN_TRUNCATED, None)``, or
    ``(SCAN_CORRUPT or SCAN_REFUSED, detail)``. The stack is simulated with, for each item,
    how deeply hashable containers (tuples, frozensets) nest in it; a mutable container
    counts 0, as hashing stops there. Rules (the C unpickler's, a little stricter):

    - known opcodes of protocols 0 to 5 only; see _REFUSED_OPCODES;
    - lengths and arguments within the data; number lines at most 64 bytes, global names
      1024; LONG1/LONG4 at most MAX_INT_BYTES bytes; PROTO at most 5;
    - no pop below the last MARK; an even number of items for DICT and SETITEMS;
    - memo indexes: PUT at most one more than the number of PUT/MEMOIZE before it (the
      memo grows linearly: cPickle numbers from 1, pickle from 0), GET a set entry;
      MEMOIZE stores at the number of set entries, as CPython's unpickler;
    - tuples and frozensets nest at most *max_nesting* deep, and at most *max_nesting*
      MARKs are open at a time.
    """
    buf = bytearray(data)
    end = len(buf)
    pos = 0
    stack = []
    marks = []
    memo = []  # per index: the nesting of the entry, None if not set
    memo_set = 0  # entries set
    puts = 0  # PUT and MEMOIZE seen
    while True:
        if pos >= end:
            return SCAN_TRUNCATED, None
        start = pos
        op = buf[pos]
        pos += 1
        spec = _OPCODE_ARGS.get(op)
        if spec is None:
            return SCAN_CORRUPT, "unknown opcode 0x%02x at offset %d" % (op, start)
        if op in _REFUSED_OPCODES:
            return SCAN_REFUSED, _REFUSED_OPCODES[op]
        kind, size = spec
        arg = None
        line = None
        if kind == "fixed":
            if pos + size > end:
                return SCAN_TRUNCATED, None
            arg = _unpack_le(buf, pos, size)
            pos += size
        elif kind == "len":
            if pos + size > end:
                return SCAN_TRUNCATED, None
            length = _unpack_le(buf, pos, size)
            pos += size
            if op in _SIGNED_LENGTH and length >= 1 << 31:
                return SCAN_CORRUPT, "negative length at offset %d" % start
            if op in (0x8a, 0x8b) and length > MAX_INT_BYTES:
                return SCAN_CORRUPT, "integer of %d bytes at offset %d" % (length, start)
            if length > end - pos:
                return SCAN_TRUNCATED, None
            pos += length
        elif kind in ("line", "lines2"):
            for _ in range(2 if kind == "lines2" else 1):
                newline = buf.find(b"\n", pos)
                if newline < 0:
                    return SCAN_TRUNCATED, None
                if size and newline - pos > size:
                    return SCAN_CORRUPT, "line too long at offset %d" % start
                line = bytes(buf[pos:newline])
                pos = newline + 1

        fence = marks[-1] if marks else 0

        def underflow():
            return SCAN_CORRUPT, "stack underflow at offset %d" % start

        if op == 0x2e:  # STOP
            if len(stack) <= fence:
                return underflow()
            return SCAN_OK, pos
        elif op == 0x28:  # MARK
            if len(marks) >= max_nesting:
                # cPickle of 2.7 grows its array of marks 20 by 20: a million MARKs took
                # minutes under MALLOC_CHECK_
                return SCAN_CORRUPT, "more than %d open MARKs at offset %d" % (max_nesting,
                                                                               start)
            marks.append(len(stack))
        elif op in (0x80, 0x95):  # PROTO, FRAME
            if op == 0x80 and arg > 5:
                return SCAN_CORRUPT, "unsupported pickle protocol %d" % arg
            if op == 0x95 and arg > end - pos:
                # the unpickler allocates a frame's declared length before reading it
                return SCAN_TRUNCATED, None
        elif kind in ("len", "fixed") and op not in (0x68, 0x6a, 0x71, 0x72):
            stack.append(0)  # an int, float, str, bytes or bytearray
        elif op in (0x46, 0x49, 0x4c, 0x53, 0x56, 0x4e, 0x88, 0x89,  # FLOAT INT LONG STRING
                    0x29, 0x5d, 0x7d, 0x8f):  # UNICODE NONE TRUE FALSE, empty containers
            stack.append(1 if op == 0x29 else 0)
        elif op == 0x63:  # GLOBAL
            stack.append(0)
        elif op in (0x30, 0x31):  # POP, POP_MARK
            if op == 0x30:
                if marks and marks[-1] == len(stack):
                    marks.pop()
                elif len(stack) > fence:
                    stack.pop()
                else:
                    return underflow()
            else:
                if not marks:
                    return SCAN_CORRUPT, "no MARK for POP_MARK at offset %d" % start
                del stack[marks.pop():]
        elif op == 0x32:  # DUP
            if len(stack) <= fence:
                return underflow()
            stack.append(stack[-1])
        elif op in (0x67, 0x68, 0x6a):  # GET, BINGET, LONG_BINGET
            if op == 0x67:
                index = _parse_index(line)
                if index is None:
                    return SCAN_CORRUPT, "invalid memo index at offset %d" % start
            else:
                index = arg
            if index >= len(memo) or memo[index] is None:
                return SCAN_CORRUPT, "memo entry %d not set at offset %d" % (index, start)
            stack.append(memo[index])
        elif op in (0x70, 0x71, 0x72, 0x94):  # PUT, BINPUT, LONG_BINPUT, MEMOIZE
            if len(stack) <= fence:
                return underflow()
            if op == 0x94:
                index = memo_set
            elif op == 0x70:
                index = _parse_index(line)
                if index is None:
                    return SCAN_CORRUPT, "invalid memo index at offset %d" % start
            else:
                index = arg
            if index > puts + 1:
                return SCAN_CORRUPT, "memo index %d out of order at offset %d" % (index, start)
            puts += 1
            if index >= len(memo):
                memo.extend([None] * (index + 1 - len(memo)))
            if memo[index] is None:
                memo_set += 1
            memo[index] = stack[-1]
        elif op in (0x85, 0x86, 0x87):  # TUPLE1..3
            count = op - 0x84
            if len(stack) - count < fence:
                return underflow()
            depth = max(stack[-count:]) + 1
            if depth > max_nesting:
                return SCAN_CORRUPT, "nesting deeper than %d at offset %d" % (max_nesting, start)
            del stack[-count:]
            stack.append(depth)
        elif op in (0x74, 0x6c, 0x64, 0x91, 0x65, 0x75, 0x90):
            # TUPLE, LIST, DICT, FROZENSET (new object) / APPENDS, SETITEMS, ADDITEMS
            if not marks:
                return SCAN_CORRUPT, "no MARK at offset %d" % start
            mark = marks.pop()
            items = stack[mark:]
            del stack[mark:]
            if op in (0x64, 0x75) and len(items) % 2:
                return SCAN_CORRUPT, "odd number of items at offset %d" % start
            if op in (0x74, 0x91):
                depth = max(items) + 1 if items else 1
                if depth > max_nesting:
                    return SCAN_CORRUPT, ("nesting deeper than %d at offset %d"
                                          % (max_nesting, start))
                stack.append(depth)
            elif op in (0x6c, 0x64):
                stack.append(0)
            else:
                # the container is below the mark, above the previous one
                if mark <= (marks[-1] if marks else 0):
                    return underflow()
        elif op in (0x61, 0x73, 0x62, 0x52, 0x81, 0x93, 0x92):
            # APPEND, SETITEM, BUILD pop 1, 2, 1 and keep the object below; REDUCE, NEWOBJ,
            # STACK_GLOBAL pop 2 and push the result; NEWOBJ_EX pops 3
            pops = {0x61: 1, 0x73: 2, 0x62: 1, 0x52: 2, 0x81: 2, 0x93: 2, 0x92: 3}[op]
            keep = op in (0x61, 0x73, 0x62)
            if len(stack) - pops - (1 if keep else 0) < fence:
                return underflow()
            del stack[len(stack) - pops:]
            if not keep:
                stack.append(0)
        else:  # pragma: no cover (every opcode of the table is handled above)
            return SCAN_CORRUPT, "unhandled opcode 0x%02x" % op


def _parse_index(line):
    """A memo index of a GET/PUT line: decimal digits only (None otherwise)."""
    text = line.decode("latin-1") if not _PY2 else line
    # not str.isdigit(): "\xb2" (superscript two) is a digit for it, not for int()
    if not text or len(text) > 10 or text.strip("0123456789"):
        return None
    return int(text)


def scan_pickle(data, engine):
    """The C scanner of *engine* when it has one, else the Python twin."""
    scan = getattr(engine, "scan_pickle", None)
    if scan is not None:
        return scan(data, MAX_NESTING)
    return scan_pickle_py(data, MAX_NESTING)


# ---------------------------------------------------------------------------------------------
# Inert stand-ins for the classes of a stock dump
# ---------------------------------------------------------------------------------------------

class _Stub(object):
    """Records what a pickle asks of a class (arguments and state) and nothing else."""

    __slots__ = ("args", "state")

    def __new__(cls, *args):
        self = object.__new__(cls)
        self.args = args
        self.state = None
        return self

    def __init__(self, *args):
        pass

    def __setstate__(self, state):
        self.state = state


class _StubSnapshot(_Stub):
    __slots__ = ()


class _StubTraces(_Stub):
    __slots__ = ()


class _StubTrace(_Stub):
    __slots__ = ()


class _StubTraceback(_Stub):
    __slots__ = ()


class _StubFrame(_Stub):
    __slots__ = ()


# The only globals a snapshot pickle may name. _Traces is not a documented class, but every
# stock Snapshot holds one.
_STUBS = {
    ("tracemalloc", "Snapshot"): _StubSnapshot,
    ("tracemalloc", "_Traces"): _StubTraces,
    ("tracemalloc", "Trace"): _StubTrace,
    ("tracemalloc", "Traceback"): _StubTraceback,
    ("tracemalloc", "Frame"): _StubFrame,
}
_STUB_TYPES = tuple(set(_STUBS.values()))


def _find_stub(module, name):
    stub = _STUBS.get((_native(module), _native(name)))
    if stub is None:
        raise _Refused("refers to the global %s.%s" % (_one_line(str(_native(module))),
                                                       _one_line(str(_native(name)))))
    return stub


if cPickle is None:
    class _Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            return _find_stub(module, name)

        def persistent_load(self, pid):
            raise _Refused("uses a persistent id")

    def _unpickle(raw, protocol):
        # Python 2 str are decoded as UTF-8; undecodable bytes become surrogates, as in
        # Python 3 filenames.
        # A reader with peek(): the C unpickler then reads ahead instead of calling read()
        # for every opcode of an unframed (protocol 2) pickle, a third faster.
        reader = io.BufferedReader(io.BytesIO(raw), 65536)
        unpickler = _Unpickler(reader, encoding="utf-8", errors="surrogateescape")
        return unpickler.load()
else:
    def _unpickle(raw, protocol):
        if protocol <= 2:
            import cStringIO
            unpickler = cPickle.Unpickler(cStringIO.StringIO(raw))
            unpickler.find_global = _find_stub
            return unpickler.load()
        # cPickle does not know protocols 3 to 5 (stock dumps of Python 3.4+)
        return _MiniUnpickler(raw).load()


class _MiniUnpickler(object):
    """A pickle loader in Python for Python 2, which only knows protocols 0 to 2.

    Only runs on data the scanner accepted, so the stack, the marks and the memo are known
    to be consistent; still, every step checks what it uses. Builds builtins and stubs only:
    REDUCE, NEWOBJ and BUILD apply to stubs, nothing else.
    """

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def read(self, size):
        if self.pos + size > len(self.data):
            raise EOFError("pickle data was truncated")
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def readline(self):
        newline = self.data.find(b"\n", self.pos)
        if newline < 0:
            raise EOFError("pickle data was truncated")
        line = self.data[self.pos:newline]
        self.pos = newline + 1
        return line

    def load(self):
        stack = []
        marks = []
        memo = {}
        unpack = struct.unpack
        read = self.read

        def pop_mark():
            mark = marks.pop()
            items = stack[mark:]
            del stack[mark:]
            return items

        while True:
            op = read(1)
            if op == b".":
                return stack[-1]
            elif op == b"(":
                marks.append(len(stack))
            elif op in (b"\x80", b"K", b"h", b"q"):
                value = ord(read(1))
                if op == b"K":
                    stack.append(value)
                elif op == b"h":
                    stack.append(memo[value])
                elif op == b"q":
                    memo[value] = stack[-1]
            elif op == b"\x95":
                read(8)
            elif op in (b"J", b"j", b"r"):
                value = unpack("<i" if op == b"J" else "<I", read(4))[0]
                if op == b"J":
                    stack.append(value)
                elif op == b"j":
                    stack.append(memo[value])
                else:
                    memo[value] = stack[-1]
            elif op == b"M":
                stack.append(unpack("<H", read(2))[0])
            elif op == b"\x94":
                memo[len(memo)] = stack[-1]
            elif op == b"N":
                stack.append(None)
            elif op == b"\x88":
                stack.append(True)
            elif op == b"\x89":
                stack.append(False)
            elif op == b"G":
                stack.append(unpack(">d", read(8))[0])
            elif op in (b"\x8a", b"\x8b"):
                size = ord(read(1)) if op == b"\x8a" else unpack("<i", read(4))[0]
                stack.append(pickle.decode_long(read(size)))
            elif op in (b"T", b"U", b"B", b"C", b"\x8e"):  # str of Python 2, bytes
                if op in (b"U", b"C"):
                    size = ord(read(1))
                elif op == b"\x8e":
                    size = unpack("<Q", read(8))[0]
                else:
                    size = unpack("<I", read(4))[0]
                stack.append(read(size))
            elif op == b"\x96":
                stack.append(bytearray(read(unpack("<Q", read(8))[0])))
            elif op in (b"X", b"\x8c", b"\x8d"):
                if op == b"\x8c":
                    size = ord(read(1))
                elif op == b"X":
                    size = unpack("<I", read(4))[0]
                else:
                    size = unpack("<Q", read(8))[0]
                stack.append(read(size).decode("utf-8"))
            elif op == b"I":
                line = self.readline()
                stack.append({b"01": True, b"00": False}.get(line) if line in (b"01", b"00")
                             else int(line))
            elif op == b"L":
                stack.append(long(self.readline().rstrip(b"L")))  # noqa: F821 (Python 2)
            elif op == b"F":
                stack.append(float(self.readline()))
            elif op == b"S":
                line = self.readline()
                if len(line) < 2 or line[0] != line[-1] or line[0] not in b"\"'":
                    raise ValueError("insecure string pickle")
                stack.append(line[1:-1].decode("string-escape"))
            elif op == b"V":
                stack.append(self.readline().decode("raw-unicode-escape"))
            elif op in (b"g", b"p"):
                index = int(self.readline())
                if op == b"g":
                    stack.append(memo[index])
                else:
                    memo[index] = stack[-1]
            elif op == b")":
                stack.append(())
            elif op == b"]":
                stack.append([])
            elif op == b"}":
                stack.append({})
            elif op == b"\x8f":
                stack.append(set())
            elif op in (b"\x85", b"\x86", b"\x87"):
                count = ord(op) - 0x84
                items = tuple(stack[-count:])
                del stack[-count:]
                stack.append(items)
            elif op == b"t":
                stack.append(tuple(pop_mark()))
            elif op == b"l":
                stack.append(pop_mark())
            elif op == b"d":
                items = pop_mark()
                stack.append(dict(zip(items[::2], items[1::2])))
            elif op == b"\x91":
                stack.append(frozenset(pop_mark()))
            elif op == b"a":
                item = stack.pop()
                stack[-1].append(item)
            elif op == b"e":
                items = pop_mark()
                stack[-1].extend(items)
            elif op == b"s":
                value = stack.pop()
                key = stack.pop()
                stack[-1][key] = value
            elif op == b"u":
                items = pop_mark()
                target = stack[-1]
                for index in range(0, len(items), 2):
                    target[items[index]] = items[index + 1]
            elif op == b"\x90":
                stack[-1].update(pop_mark())
            elif op == b"0":
                if marks and marks[-1] == len(stack):
                    marks.pop()
                else:
                    stack.pop()
            elif op == b"1":
                pop_mark()
            elif op == b"2":
                stack.append(stack[-1])
            elif op == b"c":
                module = self.readline()
                stack.append(_find_stub(module, self.readline()))
            elif op == b"\x93":
                name = stack.pop()
                module = stack.pop()
                if not isinstance(module, _TEXT_TYPES) or not isinstance(name, _TEXT_TYPES):
                    raise ValueError("STACK_GLOBAL requires str")
                stack.append(_find_stub(module, name))
            elif op in (b"R", b"\x81"):
                args = stack.pop()
                cls = stack.pop()
                if (not isinstance(cls, type) or not issubclass(cls, _Stub)
                        or not isinstance(args, tuple)):
                    raise ValueError("REDUCE or NEWOBJ of something that is not a class")
                stack.append(cls(*args))
            elif op == b"b":
                state = stack.pop()
                if not isinstance(stack[-1], _Stub):
                    raise ValueError("BUILD of something that is not an instance")
                stack[-1].__setstate__(state)
            else:
                raise ValueError("unsupported opcode %r" % op)


def _load_pickle(raw, engine):
    """Scan, then unpickle *raw* (a pickle of protocol 2 or more); return the object."""
    protocol = bytearray(raw[1:2])[0]
    status, value = scan_pickle(raw, engine)
    if status == SCAN_TRUNCATED:
        raise _Problem("truncated file (incomplete pickle data)")
    if status == SCAN_REFUSED:
        raise _Refused("refused to load: the pickle %s; a snapshot holds only builtin types "
                       "and tracemalloc objects" % value)
    if status == SCAN_CORRUPT:
        raise _Problem("corrupt pickle data (%s)" % value)
    if value != len(raw):
        raise _Problem("corrupt file (%d bytes of garbage after the pickle)"
                       % (len(raw) - value))
    try:
        return _unpickle(raw, protocol)
    except _Refused as exc:
        raise _Refused("refused to load: the pickle %s; a snapshot holds only builtin types "
                       "and tracemalloc objects" % exc)
    except EOFError:
        raise _Problem("truncated file (incomplete pickle data)")
    except MemoryError:
        raise _Problem("corrupt pickle data (out of memory while loading)")
    except Exception as exc:
        message = _one_line(str(exc))
        if "truncated" in message or "ran out of input" in message.lower():
            raise _Problem("truncated file (incomplete pickle data)")
        raise _Problem("corrupt pickle data (%s: %s)" % (type(exc).__name__, message))


# ---------------------------------------------------------------------------------------------
# Checking the loaded values
# ---------------------------------------------------------------------------------------------

def _new_data():
    """The dict exchanged with tracemalloc/__init__.py: a snapshot's content."""
    return {
        "pid": None, "timestamp": None, "process_memory": None, "tracemalloc_memory": None,
        "user_data": [], "stats": None, "traces": None, "traceback_limit": None,
        "attributes": {},
    }


def _fail(what, expected):
    raise _Problem("invalid snapshot: %s must be %s" % (what, expected))


def _check_stats(stats):
    if not isinstance(stats, dict):
        _fail("stats", "a dict {filename: {lineno: (size, count)}}")
    result = {}
    for filename, lines in stats.items():
        filename = _native(filename)
        if not isinstance(filename, _TEXT_TYPES):
            _fail("a filename in stats", "a str")
        if not isinstance(lines, dict):
            _fail("stats[%s]" % _safe_repr(filename), "a dict {lineno: (size, count)}")
        file_stats = {}
        for lineno, stat in lines.items():
            if not _is_int(lineno):
                _fail("a line number of stats[%s]" % _safe_repr(filename), "an int")
            if (not isinstance(stat, tuple) or len(stat) != 2
                    or not _is_int(stat[0]) or not _is_int(stat[1])):
                _fail("stats[%s][%s]" % (_safe_repr(filename), lineno),
                      "a (size, count) tuple of ints")
            file_stats[lineno] = stat
        result[filename] = file_stats
    return result


def _check_user_data(user_data):
    if not isinstance(user_data, (list, tuple)):
        _fail("user_data", "a list of (title, format, value) tuples")
    result = []
    for index, item in enumerate(user_data):
        if not isinstance(item, tuple) or len(item) != 3:
            _fail("user_data[%d]" % index, "a (title, format, value) tuple")
        title, fmt, value = _native(item[0]), _native(item[1]), item[2]
        if (not isinstance(title, _TEXT_TYPES) or not isinstance(fmt, _TEXT_TYPES)
                or not _is_int(value)):
            _fail("user_data[%d]" % index, "a (str, str, int) tuple")
        result.append((title, fmt, value))
    return result


def _check_optional_int(what, value):
    if value is not None and not _is_int(value):
        _fail(what, "an int or None")
    return value


def _check_frames(frames, cache):
    """A raw traceback: a tuple of (filename, lineno), most recent first. *cache* maps the
    id of every traceback already checked to its checked version (equal tracebacks stay one
    object, as the engine returns them)."""
    key = id(frames)
    hit = cache.get(key)
    if hit is not None and hit[0] is frames:
        return hit[1]
    if not isinstance(frames, tuple):
        _fail("a traceback", "a tuple of (filename, lineno) tuples")
    result = frames
    for index, frame in enumerate(frames):
        if (not isinstance(frame, tuple) or len(frame) != 2
                or not isinstance(frame[0], _TEXT_TYPES) or not _is_int(frame[1])):
            _fail("a frame", "a (filename: str, lineno: int) tuple")
        if _PY2 and isinstance(frame[0], unicode):  # noqa: F821 (Python 2 only)
            if result is frames:
                result = list(frames)
            result[index] = (_native(frame[0]), frame[1])
    if result is not frames:
        result = tuple(result)
    cache[key] = (frames, result)
    return result


def _check_traces(traces, engine=None):
    """Raw traces: a list of (domain, size, traceback, total_nframe). The older layouts of
    the stock module are converted: (domain, size, traceback) of Python 3.6-3.8 and
    (size, traceback) of 3.4-3.5 (total_nframe None, domain 0). A Trace object of a stock
    pickle becomes its raw tuple.

    The engine's check_traces() (C) skips the leading traces that are already in the final
    shape (on Python 3: all of a valid file), so that only the others are checked here.
    """
    if not isinstance(traces, (list, tuple)):
        _fail("traces", "a list of (domain, size, traceback, total_nframe) tuples")
    result = traces if type(traces) is list else list(traces)
    start = 0
    check = getattr(engine, "check_traces", None)
    if check is not None:
        start = check(result)
        if start is None:
            return result
        if _PY2 and check(result, True) is None:
            # of the right shape but for unicode filenames (a file of Python 3): only the
            # distinct tracebacks need converting
            return _native_tracebacks(result)
    cache = {}
    for index in range(start, len(result)):
        trace = original = result[index]
        if isinstance(trace, _StubTrace):
            trace = _stub_slot(trace, "_trace")
        if not isinstance(trace, tuple) or not 2 <= len(trace) <= 4:
            _fail("a trace", "a (domain, size, traceback, total_nframe) tuple")
        if len(trace) == 2:
            trace = (0, trace[0], trace[1], None)
        elif len(trace) == 3:
            trace = trace + (None,)
        domain, size, frames, total_nframe = trace
        if not _is_int(domain) or not _is_int(size) or (total_nframe is not None
                                                          and not _is_int(total_nframe)):
            _fail("a trace", "a (domain: int, size: int, traceback, total_nframe: int or "
                             "None) tuple")
        checked = _check_frames(frames, cache)
        if checked is not frames:
            trace = (domain, size, checked, total_nframe)
        if trace is not original:
            if result is traces:
                result = list(traces)
            result[index] = trace
    return result


def _native_tracebacks(traces):
    """Python 2: *traces* (of the engine's shape but for unicode filenames) with native str
    filenames; each distinct traceback is converted once."""
    frames_of = list(_map(_GET2, traces))
    by_id = dict(_zip(_map(id, frames_of), frames_of))
    cache = {}
    converted = dict((key, _check_frames(frames, cache)) for key, frames in by_id.items())
    if all(converted[key] is frames for key, frames in by_id.items()):
        return traces
    get = converted.__getitem__
    return [(domain, size, get(id(frames)), total)
            for domain, size, frames, total in traces]


def _stub_slot(stub, name):
    """The value of slot *name* in the state of a stub of a __slots__ class (Frame, Trace,
    Traceback): the state is (None, {slot: value}) or {slot: value}."""
    state = stub.state
    if stub.args:
        raise _Problem("invalid snapshot: a %s built with arguments"
                       % type(stub).__name__[5:])
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
        state = state[1]
    if not isinstance(state, dict) or name not in state:
        raise _Problem("invalid snapshot: a %s object without %s"
                       % (type(stub).__name__[5:], name))
    return state[name]


_ATTRIBUTE_TYPES = (type(None), bool, float, list, tuple, dict) + _INT_TYPES + _TEXT_TYPES


def check_attribute_value(value):
    """None if *value* can be stored as an extra attribute of a snapshot (None, bool, int,
    float, str, and tuples, lists and dicts of them), else the name of the type that
    cannot. Walks the value once per container (shared or cyclic data is fine)."""
    seen = set()
    todo = [value]
    while todo:
        item = todo.pop()
        if type(item) not in _ATTRIBUTE_TYPES:
            return type(item).__name__
        if isinstance(item, (list, tuple, dict)):
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, dict):
                todo.extend(item.keys())
                todo.extend(item.values())
            else:
                todo.extend(item)
    return None


def _check_attributes(attributes, reserved):
    """Extra attributes of a snapshot (stock snapshots keep any attribute set on them):
    public names that are not the snapshot's own; values of _ATTRIBUTE_TYPES, where a
    Frame, Traceback or Trace of a stock pickle becomes ours."""
    if not isinstance(attributes, dict):
        _fail("attributes", "a dict")
    result = {}
    for name, value in attributes.items():
        name = _native(name)
        if not isinstance(name, _TEXT_TYPES):
            _fail("an attribute name", "a str")
        if name.startswith("_") or name in reserved:
            continue  # private state of a pickled object, or a method name: not restored
        if isinstance(value, _STUB_TYPES):
            value = _convert_stub(value)
        else:
            problem = check_attribute_value(value)
            if problem is not None:
                raise _Problem("invalid snapshot: the attribute %s holds a %s"
                               % (_safe_repr(name), problem))
        result[name] = value
    return result


class LoadedObject(object):
    """A Frame, Traceback or Trace read from a stock pickle, checked, for tracemalloc to
    build: *kind* is the class name, *value* what it is built from: (filename, lineno) for
    a Frame, (frames most recent first, total_nframe) for a Traceback, a raw trace."""

    __slots__ = ("kind", "value")

    def __init__(self, kind, value):
        self.kind = kind
        self.value = value


def _convert_stub(stub):
    """The LoadedObject of a Frame, Traceback or Trace stub."""
    cache = {}
    if isinstance(stub, _StubFrame):
        frame = _check_frames((_stub_slot(stub, "_frame"),), cache)[0]
        return LoadedObject("Frame", frame)
    if isinstance(stub, _StubTraceback):
        frames = _stub_slot(stub, "_frames")
        if not isinstance(frames, tuple):
            _fail("a traceback", "a tuple")
        frames = _check_frames(tuple(reversed(frames)), cache)
        total = stub.state[1].get("_total_nframe") if isinstance(stub.state, tuple) else None
        return LoadedObject("Traceback", (frames, _check_optional_int("total_nframe", total)))
    if isinstance(stub, _StubTrace):
        return LoadedObject("Trace", _check_traces([stub])[0])
    raise _Problem("invalid snapshot: a nested %s object" % type(stub).__name__[5:])


# ---------------------------------------------------------------------------------------------
# The pickle formats
# ---------------------------------------------------------------------------------------------

_V1_KEYS = frozenset(["format", "version", "pid", "timestamp", "stats", "process_memory",
                      "tracemalloc_memory", "user_data"])
_V2_KEYS = _V1_KEYS | frozenset(["traces", "traceback_limit", "attributes"])

# Attributes of a stock Snapshot that are its data, not extra attributes; the pytracemalloc
# ones are read from a pickled pytracemalloc Snapshot object.
_SNAPSHOT_STATE = frozenset(["traces", "traceback_limit", "timestamp", "pid", "process_memory",
                             "tracemalloc_memory", "user_data", "stats"])


def _from_builtins(data, reserved, engine):
    """The pytracemalloc pickle format, versions 1 and 2 (a dict of builtins)."""
    if not isinstance(data, dict):
        raise _Problem("not a pytracemalloc snapshot (a pickled %s, expected a dict)"
                       % type(data).__name__)
    data = dict((_native(key), value) for key, value in data.items())
    fmt = _native(data.get("format"))
    if fmt != FORMAT_NAME:
        raise _Problem("not a pytracemalloc snapshot (format %s)"
                       % (_safe_repr(fmt) if "format" in data else "missing"))
    version = data.get("version")
    if not _is_int(version) or version not in (1, 2):
        raise _Problem("unsupported snapshot format version %s (this pytracemalloc reads "
                       "versions 1 and 2)" % _safe_repr(version))
    expected = _V1_KEYS if version == 1 else _V2_KEYS
    keys = set(data)
    if keys != expected:
        problems = []
        missing = sorted(expected - keys)
        unknown = sorted(_safe_repr(key) for key in keys - expected)
        if missing:
            problems.append("missing keys: %s" % ", ".join(missing))
        if unknown:
            problems.append("unknown keys: %s" % ", ".join(unknown))
        raise _Problem("invalid snapshot: %s" % "; ".join(problems))
    result = _new_data()
    _check_metadata(data, result)
    if version == 1 or data["stats"] is not None:
        result["stats"] = _check_stats(data["stats"])
    if version == 2:
        if data["traces"] is not None:
            result["traces"] = _check_traces(data["traces"], engine)
        result["traceback_limit"] = _check_optional_int("traceback_limit",
                                                        data["traceback_limit"])
        result["attributes"] = _check_attributes(data["attributes"], reserved)
        if result["stats"] is None and result["traces"] is None:
            raise _Problem("invalid snapshot: it has neither stats nor traces")
    return result, version


def _check_metadata(data, result):
    """pid, timestamp, process_memory, tracemalloc_memory and user_data of *data*."""
    if data["pid"] is not None and not _is_int(data["pid"]):
        _fail("pid", "an int")
    result["pid"] = data["pid"]
    timestamp = _native(data["timestamp"])
    if timestamp is not None and not isinstance(timestamp, _TEXT_TYPES):
        _fail("timestamp", "a str")
    result["timestamp"] = timestamp
    for key in ("process_memory", "tracemalloc_memory"):
        result[key] = _check_optional_int(key, data[key])
    result["user_data"] = _check_user_data(data["user_data"])


def _from_stock(stub, reserved, engine):
    """A pickled tracemalloc.Snapshot: stock dumps ({"traces": _Traces, "traceback_limit":
    int} and any attribute set on it) and pickled pytracemalloc Snapshot objects."""
    if stub.args or not isinstance(stub.state, dict):
        raise _Problem("invalid snapshot: a Snapshot object without its attributes")
    state = dict((_native(key), value) for key, value in stub.state.items())
    result = _new_data()
    traces = state.get("traces")
    if isinstance(traces, _StubTraces):
        if traces.args or not isinstance(traces.state, dict):
            raise _Problem("invalid snapshot: a _Traces object without its traces")
        traces = dict((_native(key), value) for key, value in traces.state.items()).get(
            "_traces")
    if traces is None and "_stats" not in state:
        raise _Problem("invalid snapshot: a Snapshot object without traces")
    if traces is not None:
        result["traces"] = _check_traces(traces, engine)
    result["traceback_limit"] = _check_optional_int("traceback_limit",
                                                    state.get("traceback_limit"))
    metadata = {"pid": None, "timestamp": None, "process_memory": None,
                "tracemalloc_memory": None, "user_data": []}
    for key in metadata:
        if key in state:
            metadata[key] = state[key]
    _check_metadata(metadata, result)
    if state.get("_stats") is not None:
        result["stats"] = _check_stats(state["_stats"])
    attributes = dict((key, value) for key, value in state.items()
                      if key not in _SNAPSHOT_STATE)
    result["attributes"] = _check_attributes(attributes, reserved)
    return result


def _write_pickle(data):
    payload = {
        "format": FORMAT_NAME, "version": PICKLE_VERSION, "pid": data["pid"],
        "timestamp": data["timestamp"], "process_memory": data["process_memory"],
        "tracemalloc_memory": data["tracemalloc_memory"],
        "user_data": [tuple(item) for item in data["user_data"]],
        "stats": data["stats"], "traces": data["traces"],
        "traceback_limit": data["traceback_limit"], "attributes": data["attributes"],
    }
    return _dumps(payload, 2)


# ---------------------------------------------------------------------------------------------
# The compact format
# ---------------------------------------------------------------------------------------------

def _typecode(size, signed):
    for code in ("bhilq" if signed else "BHILQ"):
        try:
            if array.array(code).itemsize == size:
                return code
        except ValueError:  # no "q"/"Q" on Python 2
            continue
    raise ImportError("no array type of %d bytes" % size)


_U32 = _typecode(4, False)
_I32 = _typecode(4, True)
_U64 = _typecode(8, False)
_BIG_ENDIAN = sys.byteorder == "big"
_HEADER = struct.Struct("<8sIIQQII")
_SECTION = struct.Struct("<4sQ")
_COUNT = struct.Struct("<I")
_NONE_NFRAME = -1
_GET0, _GET1, _GET2, _GET3 = (operator.itemgetter(index) for index in range(4))


def _array(code, values=()):
    """An array of *code* from an iterable of ints: OverflowError or TypeError if one does
    not fit or is not an int."""
    result = array.array(code)
    result.extend(values)
    return result


def _array_bytes(values):
    if _BIG_ENDIAN:
        values = array.array(values.typecode, values)
        values.byteswap()
    return values.tostring() if _PY2 else values.tobytes()


def _encode_text(text):
    if _PY2:
        return text.encode("utf-8") if isinstance(text, unicode) else text  # noqa: F821
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _decode_text(raw):
    if _PY2:
        return raw
    for errors in ("strict", "surrogatepass", "surrogateescape"):
        try:
            return raw.decode("utf-8", errors)
        except UnicodeDecodeError:
            continue
    raise AssertionError("surrogateescape decodes any bytes")


class _NotCompact(Exception):
    """The snapshot holds a value out of the compact format's ranges."""


def _trace_sections(traces, intern, engine):
    """The FRMS, TBKS and TRCS sections of *traces*; _NotCompact if a value does not fit."""
    # The per-trace columns come from the engine's trace_columns() (C) or from map() and
    # dicts, which also run in C: a Python loop over a million traces would cost more than
    # all the rest. Tracebacks are numbered by object (the engine shares equal tracebacks),
    # then merged by value.
    columns = None
    trace_columns = getattr(engine, "trace_columns", None)
    if trace_columns is not None and type(traces) is list:
        columns = trace_columns(traces)
    if columns is not None:
        objects, domains, sizes, indexes, nframes = columns
    else:
        frames_of = list(_map(_GET2, traces))
        ids = list(_map(id, frames_of))
        by_id = dict(_zip(ids, frames_of))
        objects = list(by_id.values())
        object_index = dict(_zip(by_id.keys(), range(len(objects))))
        nframes = list(_map(_GET3, traces))
        if None in nframes:
            nframes = [_NONE_NFRAME if value is None else value for value in nframes]
        try:
            domains = _array_bytes(_array(_U32, _map(_GET0, traces)))
            sizes = _array_bytes(_array(_U64, _map(_GET1, traces)))
            indexes = _array_bytes(_array(_U32, _map(object_index.__getitem__, ids)))
            nframes_array = _array(_I32, nframes)
        except (OverflowError, TypeError):
            raise _NotCompact()
        if len(nframes) and min(nframes_array) < _NONE_NFRAME:
            raise _NotCompact()
        nframes = _array_bytes(nframes_array)

    tb_by_value = {}
    merged = []  # index of each object -> index of its value
    tb_lengths = []
    tb_frames = []
    frame_index = {}
    frame_files = []
    frame_lines = []
    for frames in objects:
        index = tb_by_value.get(frames)
        if index is None:
            index = tb_by_value[frames] = len(tb_lengths)
            tb_lengths.append(len(frames))
            for frame in frames:
                findex = frame_index.get(frame)
                if findex is None:
                    filename, lineno = frame
                    findex = frame_index[frame] = len(frame_files)
                    frame_files.append(intern(filename))
                    frame_lines.append(lineno)
                tb_frames.append(findex)
        merged.append(index)
    if merged != list(range(len(merged))):  # equal tracebacks, distinct objects
        values = _array_from_bytes(_U32, indexes)
        indexes = _array_bytes(_array(_U32, _map(merged.__getitem__, values)))
    try:
        frame_columns = [_array(_U32, frame_files), _array(_I32, frame_lines)]
    except (OverflowError, TypeError):
        raise _NotCompact()
    return [(b"FRMS", [_COUNT.pack(len(frame_files))]
             + [_array_bytes(column) for column in frame_columns]),
            (b"TBKS", [_COUNT.pack(len(tb_lengths)), _array_bytes(_array(_U32, tb_lengths)),
                       _array_bytes(_array(_U32, tb_frames))]),
            (b"TRCS", [_COUNT.pack(len(traces)), domains, sizes, indexes, nframes])]


def _array_from_bytes(code, raw):
    """The array of type *code* of the little-endian bytes *raw*."""
    values = array.array(code)
    if _PY2:
        values.fromstring(raw)
    else:
        values.frombytes(raw)
    if _BIG_ENDIAN:
        values.byteswap()
    return values


def _write_compact(data, compress=True, engine=None):
    strings = []
    string_index = {}

    def intern(text):
        index = string_index.get(text)
        if index is None:
            index = string_index[text] = len(strings)
            strings.append(text)
        return index

    sections = []
    traces = data["traces"]
    if traces is not None:
        sections.extend(_trace_sections(traces, intern, engine))
    if data["stats"] is not None:
        files = []
        lines = []
        sizes = []
        counts = []
        for filename, file_stats in data["stats"].items():
            findex = intern(filename)
            for lineno, (size, count) in file_stats.items():
                files.append(findex)
                lines.append(lineno)
                sizes.append(size)
                counts.append(count)
        try:
            columns = [_array(_U32, files), _array(_I32, lines), _array(_U64, sizes),
                       _array(_U64, counts)]
        except (OverflowError, TypeError):
            raise _NotCompact()
        sections.append((b"STAT", [_COUNT.pack(len(files))]
                         + [_array_bytes(column) for column in columns]))
    encoded = [_encode_text(text) for text in strings]
    sections.insert(0, (b"STRS", [_COUNT.pack(len(encoded)),
                                  _array_bytes(_array(_U32, [len(raw) for raw in encoded])),
                                  b"".join(encoded)]))
    meta = {
        "pid": data["pid"], "timestamp": data["timestamp"],
        "process_memory": data["process_memory"],
        "tracemalloc_memory": data["tracemalloc_memory"],
        "user_data": [tuple(item) for item in data["user_data"]],
        "traceback_limit": data["traceback_limit"], "attributes": data["attributes"],
    }
    sections.insert(0, (b"META", [_dumps(meta, 2)]))

    chunks = []
    for tag, parts in sections:
        chunks.append(_SECTION.pack(tag, sum(len(part) for part in parts)))
        chunks.extend(parts)
    body = b"".join(chunks)
    flags = 0
    stored = body
    if compress:
        flags |= 1
        # level 1: 4.9 MB instead of 4.2 MB at level 6 for a million traces, in a
        # sixth of the time (0.16 s)
        stored = zlib.compress(body, 1)
    header = _HEADER.pack(COMPACT_MAGIC, COMPACT_VERSION, flags, len(stored), len(body),
                          zlib.crc32(body) & 0xffffffff, 0)
    return header + stored


class _Reader(object):
    """Bounds-checked reads from a section's payload."""

    def __init__(self, data, what):
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, size):
        if size > len(self.data) - self.pos:
            raise _Problem("corrupt file (the %s section is too short)" % self.what)
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def count(self):
        return _COUNT.unpack(self.take(4))[0]

    def array(self, code, count):
        return _array_from_bytes(code, self.take(count * array.array(code).itemsize))

    def done(self):
        if self.pos != len(self.data):
            raise _Problem("corrupt file (%d unexpected bytes in the %s section)"
                           % (len(self.data) - self.pos, self.what))


def _check_indexes(values, limit, what):
    if len(values) and max(values) >= limit:
        raise _Problem("corrupt file (an index out of range in the %s section)" % what)


def _ints(values):
    """Python 2: the items of an array of unsigned ints are longs; make them ints, as the
    engine returns them. Read as signed ints of the same width (whose items are ints) when
    no value has the sign bit, which is the usual case and ten times faster."""
    if not _PY2:
        return values
    signed = array.array(values.typecode.lower(), values.tostring())
    if not len(signed) or min(signed) >= 0:
        return signed
    return list(_map(int, values))


def _compact_header(raw):
    """The fields of the compact header at the start of *raw*, checked."""
    if len(raw) < _HEADER.size:
        raise _Problem("truncated file (incomplete header)")
    fields = _HEADER.unpack(raw[:_HEADER.size])
    version, flags = fields[1], fields[2]
    if version != COMPACT_VERSION:
        raise _Problem("unsupported compact snapshot format version %d (this pytracemalloc "
                       "reads version %d)" % (version, COMPACT_VERSION))
    if flags & ~1:
        raise _Problem("unsupported compact snapshot flags 0x%x" % flags)
    return fields


def _read_compact(raw, engine, reserved):
    magic, version, flags, stored_size, body_size, crc, _ = _compact_header(raw)
    stored = raw[_HEADER.size:]
    if len(stored) < stored_size:
        raise _Problem("truncated file (%d of %d bytes)" % (len(raw), _HEADER.size
                                                            + stored_size))
    if len(stored) > stored_size:
        raise _Problem("corrupt file (%d bytes of garbage after the data)"
                       % (len(stored) - stored_size))
    if flags & 1:
        # zlib expands at most about 1032 times: refuse a larger size before allocating it
        if body_size > 1100 * stored_size + 1024:
            raise _Problem("corrupt file (impossible uncompressed size)")
        decompressor = zlib.decompressobj()
        try:
            body = decompressor.decompress(stored, body_size + 1)
        except zlib.error as exc:
            raise _Problem("corrupt file (%s)" % _one_line(str(exc)))
        if (len(body) != body_size or not getattr(decompressor, "eof", True)
                or decompressor.unconsumed_tail or decompressor.unused_data):
            raise _Problem("corrupt file (wrong uncompressed size)")
    else:
        if stored_size != body_size:
            raise _Problem("corrupt file (wrong sizes in the header)")
        body = stored
    if zlib.crc32(body) & 0xffffffff != crc:
        raise _Problem("corrupt file (checksum mismatch)")

    sections = {}
    pos = 0
    while pos < len(body):
        if len(body) - pos < _SECTION.size:
            raise _Problem("corrupt file (incomplete section header)")
        tag, size = _SECTION.unpack(body[pos:pos + _SECTION.size])
        pos += _SECTION.size
        if size > len(body) - pos:
            raise _Problem("corrupt file (a section goes past the end)")
        if tag in sections:
            raise _Problem("corrupt file (two %s sections)" % _safe_repr(tag))
        sections[tag] = body[pos:pos + size]
        pos += size
    for tag in sections:
        if tag not in (b"META", b"STRS", b"FRMS", b"TBKS", b"TRCS", b"STAT"):
            if tag[:1].islower():
                continue  # an optional section of a later version
            raise _Problem("unsupported section %s" % _safe_repr(tag))
    for tag in (b"META", b"STRS"):
        if tag not in sections:
            raise _Problem("corrupt file (no %s section)" % tag.decode("ascii"))
    has_traces = [tag in sections for tag in (b"FRMS", b"TBKS", b"TRCS")]
    if any(has_traces) and not all(has_traces):
        raise _Problem("corrupt file (incomplete trace sections)")
    if not any(has_traces) and b"STAT" not in sections:
        raise _Problem("invalid snapshot: it has neither stats nor traces")

    meta = _load_meta(sections[b"META"], engine)
    result = _new_data()
    if not isinstance(meta, dict):
        raise _Problem("invalid snapshot: the metadata is not a dict")
    meta = dict((_native(key), value) for key, value in meta.items())
    expected = ("pid", "timestamp", "process_memory", "tracemalloc_memory", "user_data",
                "traceback_limit", "attributes")
    if set(meta) != set(expected):
        raise _Problem("invalid snapshot: wrong metadata keys")
    _check_metadata(meta, result)
    result["traceback_limit"] = _check_optional_int("traceback_limit", meta["traceback_limit"])
    result["attributes"] = _check_attributes(meta["attributes"], reserved)

    reader = _Reader(sections[b"STRS"], "STRS")
    count = reader.count()
    lengths = reader.array(_U32, count)
    if sum(lengths) != len(reader.data) - reader.pos:
        raise _Problem("corrupt file (wrong string lengths)")
    strings = []
    pos = reader.pos
    for length in lengths:
        strings.append(_decode_text(reader.data[pos:pos + length]))
        pos += length

    if all(has_traces):
        reader = _Reader(sections[b"FRMS"], "FRMS")
        count = reader.count()
        files = reader.array(_U32, count)
        lines = reader.array(_I32, count)
        reader.done()
        _check_indexes(files, len(strings), "FRMS")
        frames = list(_zip(_map(strings.__getitem__, files), lines))

        reader = _Reader(sections[b"TBKS"], "TBKS")
        count = reader.count()
        lengths = reader.array(_U32, count)
        total = sum(lengths)
        frame_indexes = reader.array(_U32, total)
        reader.done()
        _check_indexes(frame_indexes, len(frames), "TBKS")
        tracebacks = []
        pos = 0
        get_frame = frames.__getitem__
        for length in lengths:
            tracebacks.append(tuple(_map(get_frame, frame_indexes[pos:pos + length])))
            pos += length

        reader = _Reader(sections[b"TRCS"], "TRCS")
        count = reader.count()
        columns = [reader.take(count * width) for width in (4, 8, 4, 4)]
        reader.done()
        build = getattr(engine, "build_traces", None)
        if build is not None:
            try:
                result["traces"] = build(tracebacks, *columns)
            except ValueError as exc:
                raise _Problem("corrupt file (%s in the TRCS section)" % exc)
        else:
            domains, sizes, tb_indexes, nframes = [
                _array_from_bytes(code, column)
                for code, column in zip((_U32, _U64, _U32, _I32), columns)]
            _check_indexes(tb_indexes, len(tracebacks), "TRCS")
            if len(nframes) and min(nframes) < _NONE_NFRAME:
                raise _Problem("corrupt file (a negative total_nframe in the TRCS section)")
            if len(nframes) and min(nframes) == _NONE_NFRAME:
                nframes = [None if value == _NONE_NFRAME else value for value in nframes]
            result["traces"] = list(_zip(_ints(domains), _ints(sizes),
                                         _map(tracebacks.__getitem__, tb_indexes), nframes))

    if b"STAT" in sections:
        reader = _Reader(sections[b"STAT"], "STAT")
        count = reader.count()
        files = reader.array(_U32, count)
        lines = reader.array(_I32, count)
        sizes = _ints(reader.array(_U64, count))
        counts = _ints(reader.array(_U64, count))
        reader.done()
        _check_indexes(files, len(strings), "STAT")
        stats = {}
        for findex, lineno, size, count in _zip(files, lines, sizes, counts):
            stats.setdefault(strings[findex], {})[lineno] = (size, count)
        result["stats"] = stats
    return result


def _load_meta(raw, engine):
    if raw[:2] != b"\x80\x02":
        raise _Problem("corrupt file (the metadata is not a pickle of protocol 2)")
    return _load_pickle(raw, engine)


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------

# How long a pipe may stay silent before read() gives up: a FIFO that nobody writes to would
# otherwise block the reader forever. Module-level so that a caller can change it.
PIPE_TIMEOUT = 5.0
_PIPE_CHUNK = 1 << 20


def _kind(mode):
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "neither a regular file nor a pipe"


def _check_start(head):
    """Refuse *head*, the first bytes of a file (the whole file when shorter than a compact
    header), if no snapshot starts like that. Return the number of bytes the whole file must
    have when its header says so (compact format), else None."""
    if len(head) < _HEADER.size:
        return None  # the whole file: _read_raw() says what is wrong with it
    if head[:len(COMPACT_MAGIC)] == COMPACT_MAGIC:
        return _HEADER.size + _compact_header(head)[3]
    _check_pickle_start(head)
    return None


def _check_pickle_start(raw):
    # Every pickle a snapshot can be starts with PROTO 2 to 5; a stock dump is of protocol 4
    # (Python 3.4-3.7) or 5 (3.8+).
    head = bytearray(raw[:2])
    if len(head) < 2 or head[0] != 0x80 or not 2 <= head[1] <= 5:
        if len(head) == 1 and head[0] == 0x80:
            raise _Problem("truncated file (incomplete pickle data)")
        raise _Problem("not a snapshot file (neither the compact format nor a pickle of "
                       "protocol 2 to 5)")
    return head[1]


def _read_upto(fd, size):
    """Up to *size* bytes of the regular file *fd*: fewer only at its end."""
    data = os.read(fd, size) if size else b""
    if len(data) == size or not data:
        return data
    # a short read (Linux reads at most 2 GiB at once): read the rest in pieces
    chunks = [data]
    missing = size - len(data)
    while missing:
        chunk = os.read(fd, min(missing, 1 << 30))
        if not chunk:
            break
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _read_regular(fd, size):
    """The content of the regular file *fd* whose size is *size*: the size bounds what is
    read, so that a huge or growing file is not read to its (moving) end."""
    # The header first: a file that is no snapshot (a 10 GB file of zeros) is refused after
    # reading a few bytes, and a compact header tells the exact size of the whole file.
    head = _read_upto(fd, _HEADER.size)
    if len(head) > size:
        raise _Problem("the file grew while being read (more than its %d bytes)" % size)
    expected = _check_start(head)
    if expected is not None:
        if size > expected:
            raise _Problem("corrupt file (%d bytes of garbage after the data)"
                           % (size - expected))
        if size < expected:
            raise _Problem("truncated file (%d of %d bytes)" % (size, expected))
    if len(head) < _HEADER.size:
        data = head
    else:
        # From the start again, in one read, so that the file is in memory once (not as
        # pieces joined in a copy).
        os.lseek(fd, 0, os.SEEK_SET)
        data = _read_upto(fd, size)
    if len(data) < size:
        raise _Problem("the file shrank while being read (%d of its %d bytes)"
                       % (len(data), size))
    # Nothing must follow: a file still being written would be cut at a random place.
    if os.read(fd, 1):
        raise _Problem("the file grew while being read (more than its %d bytes)" % size)
    return data


def _read_pipe(fd):
    """The content of the pipe or FIFO *fd* (opened non-blocking): there is no size, so it
    is read in chunks, waiting at most PIPE_TIMEOUT seconds for each, and the first bytes are
    checked before the rest is read. A compact header bounds the read to its declared size;
    a pickle is read to the end of the pipe."""
    poller = select.poll() if hasattr(select, "poll") else None
    if poller is not None:
        poller.register(fd, select.POLLIN)
    chunks = []
    total = 0
    expected = None
    checked = False
    while True:
        if expected is not None and total >= expected:
            # Everything the header announced is there: more data is garbage. A writer that
            # keeps the pipe open without writing is not waited for longer.
            if _pipe_chunk(fd, poller, 1, wait_error=False):
                raise _Problem("corrupt file (garbage after the data)")
            break
        want = _PIPE_CHUNK if expected is None else min(_PIPE_CHUNK, expected - total)
        chunk = _pipe_chunk(fd, poller, want)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if not checked and total >= _HEADER.size:
            chunks = [b"".join(chunks)]
            expected = _check_start(chunks[0])
            checked = True
    return b"".join(chunks)


def _pipe_chunk(fd, poller, size, wait_error=True):
    """Up to *size* bytes from the pipe *fd*; b"" at its end, or when nothing came within
    PIPE_TIMEOUT seconds if not *wait_error* (else _Problem)."""
    deadline = None
    while True:
        if poller is not None:
            if deadline is None:
                deadline = _monotonic() + PIPE_TIMEOUT
            remaining = deadline - _monotonic()
            events = []
            if remaining > 0:
                try:
                    events = poller.poll(int(remaining * 1000) + 1)
                except (select.error, EnvironmentError) as exc:
                    # Python 2 and 3.4- do not retry after a signal (PEP 475)
                    if exc.args and exc.args[0] == errno.EINTR:
                        continue
                    raise
            if not events:
                if not wait_error:
                    return b""
                raise _Problem("cannot read the file: no data within %g seconds (a pipe "
                               "without a writer?)" % PIPE_TIMEOUT)
        try:
            return os.read(fd, size)
        except EnvironmentError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
                continue
            raise


def _monotonic():
    clock = getattr(time, "monotonic", None)
    return clock() if clock is not None else time.time()


def _read_bounded(filename):
    """The bytes of the file *filename*, read with bounds: only regular files and pipes
    (FIFOs, /dev/fd/N of a shell's process substitution) are read; a directory, a device
    (/dev/zero would be read forever), a socket is refused before it is opened."""
    mode = os.stat(filename).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        raise _Problem("cannot read the file: it is %s" % _kind(mode))
    # O_NONBLOCK: opening a FIFO for reading blocks until a writer opens it, possibly never;
    # a writerless FIFO rather fails after PIPE_TIMEOUT seconds in _read_pipe().
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(filename, flags)
    try:
        # The file opened may not be the one stat() saw (replaced in between): check again.
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode):
            return _read_regular(fd, st.st_size)
        if stat.S_ISFIFO(st.st_mode):
            return _read_pipe(fd)
        raise _Problem("cannot read the file: it is %s" % _kind(st.st_mode))
    finally:
        os.close(fd)


def read(filename, engine, reserved):
    """Read the snapshot file *filename*; return its data (see _new_data()) and a short
    description of the format, or raise SnapshotError(filename, reason).

    *engine*: the module whose scan_pickle() checks pickles (None: the Python scanner).
    *reserved*: names that cannot be extra attributes (the Snapshot class's own).
    """
    try:
        raw = _read_bounded(filename)
    except EnvironmentError as exc:
        raise SnapshotError(filename, "cannot read the file: %s" % (exc.strerror or exc))
    except _Problem as exc:
        raise SnapshotError(filename, str(exc))
    except MemoryError:
        raise SnapshotError(filename, "cannot read the file: out of memory")
    try:
        return _read_raw(raw, engine, reserved)
    except _Problem as exc:
        raise SnapshotError(filename, str(exc))
    except _RecursionError as exc:
        raise SnapshotError(filename, "corrupt file (%s)" % _one_line(str(exc)))
    except MemoryError:
        raise SnapshotError(filename, "corrupt file (out of memory while loading)")
    except Exception as exc:
        # A check above missed a case: still one exception type for the caller. The tests
        # look for "internal error" in the messages of their corrupt files.
        raise SnapshotError(filename, "corrupt file (internal error, please report: %s: %s)"
                            % (type(exc).__name__, _one_line(str(exc))))


def _read_raw(raw, engine, reserved):
    if not raw:
        raise _Problem("empty file, not a snapshot")
    if raw[:len(COMPACT_MAGIC)] == COMPACT_MAGIC:
        return _read_compact(raw, engine, reserved), "compact %d" % COMPACT_VERSION
    if raw[:1] == COMPACT_MAGIC[:1] and COMPACT_MAGIC.startswith(raw[:len(COMPACT_MAGIC)]):
        raise _Problem("truncated file (incomplete header)")
    protocol = _check_pickle_start(raw)
    value = _load_pickle(raw, engine)
    if isinstance(value, _StubSnapshot):
        return _from_stock(value, reserved, engine), "stdlib pickle protocol %d" % protocol
    if isinstance(value, _Stub):
        raise _Problem("not a snapshot (a pickled %s object)" % type(value).__name__[5:])
    result, version = _from_builtins(value, reserved, engine)
    return result, "pickle version %d" % version


def encode(data, fmt, stdlib_object=None, engine=None):
    """The bytes of a snapshot file of format *fmt* holding *data* (already checked).

    "compact" falls back to "pickle" when a value is out of the compact format's ranges
    (sizes of 64 bits, domains of 32 bits, line numbers and total_nframe of 31); *engine*
    gives the C loop (trace_columns) when it has one. "stdlib"
    pickles *stdlib_object* (a Snapshot holding only traces, traceback_limit and the extra
    attributes) with the highest protocol, like the stock Snapshot.dump().
    """
    if fmt == "compact":
        try:
            return _write_compact(data, engine=engine)
        except _NotCompact:
            fmt = "pickle"
    if fmt == "pickle":
        return _write_pickle(data)
    if fmt == "stdlib":
        return _dumps(stdlib_object, pickle.HIGHEST_PROTOCOL)
    raise ValueError("unknown snapshot format %r: expected one of %s"
                     % (fmt, ", ".join(FORMATS)))


def unicode_traces(traces):
    """Python 2: the traces with unicode filenames (bytes that are not UTF-8 become
    U+DC80..U+DCFF, as Python 3 escapes them), for a "stdlib" file that the stock module of
    Python 3 loads (its pickle.load() would not decode str of Python 2). Python 3: *traces*."""
    if not _PY2:
        return traces
    cache = {}

    def text(value):
        if isinstance(value, unicode):  # noqa: F821 (Python 2 only)
            return value
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return u"".join(unichr(ord(char)) if ord(char) < 128  # noqa: F821
                            else unichr(0xdc00 + ord(char)) for char in value)  # noqa: F821

    result = []
    for domain, size, frames, total_nframe in traces:
        converted = cache.get(id(frames))
        if converted is None or converted[0] is not frames:
            converted = cache[id(frames)] = (
                frames, tuple((text(filename), lineno) for filename, lineno in frames))
        result.append((domain, size, converted[1], total_nframe))
    return result


def atomic_write(filename, payload):
    """Write *payload* into *filename* through a temporary file in the same directory,
    renamed over it: a crash never leaves a partial file under *filename*."""
    directory = os.path.dirname(os.path.abspath(filename))
    base = os.path.basename(filename)
    counter = 0
    while True:
        tmp = os.path.join(directory, ".%s.%d-%d.tmp" % (base, os.getpid(), counter))
        try:
            # 0o666 and the umask, as for a file created by open()
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666)
            break
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
            counter += 1
    try:
        with os.fdopen(fd, "wb") as fp:
            fp.write(payload)
            fp.flush()
            os.fsync(fp.fileno())
        if hasattr(os, "replace"):
            os.replace(tmp, filename)
        else:  # Python 2: rename() replaces an existing file on POSIX
            os.rename(tmp, filename)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
