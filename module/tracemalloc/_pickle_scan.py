"""The pickle scanner in Python: the twin of module/engine/pickle_scan.c, with the same rules
and the same results (the tests compare them on mutated files).

It walks a pickle without building anything and says whether the unpickler may load it:
known opcodes only, lengths within the data, a bounded memo and bounded nesting (see
scan_pickle_py()). scan_pickle() runs the C scanner when the engine's C loops are in use
(tracemalloc/_accel.py), else this one.
"""
from __future__ import absolute_import

from tracemalloc import _accel
from tracemalloc._compat import _PY2

# The scanner's limits. A valid snapshot nests tuples 3 deep (trace, traceback, frame) and
# its integers fit in 8 bytes; extra attributes of a stock snapshot may nest a little more.
MAX_NESTING = 1000
MAX_INT_BYTES = 4096
_MAX_NUMBER_LINE = 64
_MAX_NAME_LINE = 1024

SCAN_OK, SCAN_TRUNCATED, SCAN_CORRUPT, SCAN_REFUSED = range(4)


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
            index = _memo_index(op == 0x67, line, arg)
            if index is None:
                return SCAN_CORRUPT, "invalid memo index at offset %d" % start
            if index >= len(memo) or memo[index] is None:
                return SCAN_CORRUPT, "memo entry %d not set at offset %d" % (index, start)
            stack.append(memo[index])
        elif op in (0x70, 0x71, 0x72, 0x94):  # PUT, BINPUT, LONG_BINPUT, MEMOIZE
            if len(stack) <= fence:
                return underflow()
            index = memo_set if op == 0x94 else _memo_index(op == 0x70, line, arg)
            if index is None:
                return SCAN_CORRUPT, "invalid memo index at offset %d" % start
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


def _memo_index(text_opcode, line, arg):
    """The memo index of a GET/PUT opcode: parsed from its *line* for the text opcodes, its
    binary argument *arg* otherwise. None for a text index that is not one."""
    return _parse_index(line) if text_opcode else arg


def _parse_index(line):
    """A memo index of a GET/PUT line: decimal digits only (None otherwise)."""
    text = line.decode("latin-1") if not _PY2 else line
    # not str.isdigit(): "\xb2" (superscript two) is a digit for it, not for int()
    if not text or len(text) > 10 or text.strip("0123456789"):
        return None
    return int(text)


def scan_pickle(data):
    """scan_pickle_py(data, MAX_NESTING), by the C scanner when the C loops are in use."""
    if _accel.use_c():
        return _accel.scan_pickle(data, MAX_NESTING)
    return scan_pickle_py(data, MAX_NESTING)
