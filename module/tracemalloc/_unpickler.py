"""The restricted unpickler of snapshot files.

_load_pickle() first has the pickle scanned (tracemalloc/_pickle_scan.py), then loads it
with find_class answering only the five names a stock dump refers to
(tracemalloc.Snapshot, _Traces, Trace, Traceback and Frame), each with an inert stand-in
(_Stub) that records its arguments and state and runs nothing. Python 3 uses the C
unpickler; Python 2 cPickle for protocol 2 and _MiniUnpickler, a small loader in Python, for
protocols 3 to 5. Every problem is _Problem.
"""
from __future__ import absolute_import

import io
import pickle
import struct

from tracemalloc._compat import _TEXT_TYPES, _native, cPickle
from tracemalloc._errors import _Problem, _Refused, _one_line
from tracemalloc._pickle_scan import SCAN_CORRUPT, SCAN_REFUSED, SCAN_TRUNCATED, scan_pickle


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


def _load_pickle(raw):
    """Scan, then unpickle *raw* (a pickle of protocol 2 or more); return the object."""
    protocol = bytearray(raw[1:2])[0]
    status, value = scan_pickle(raw)
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
