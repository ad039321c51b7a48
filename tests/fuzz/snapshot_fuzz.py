#!/usr/bin/env python
"""Structure-aware mutation fuzzing of the snapshot file readers (Snapshot.load()).

For one format ("compact", "pickle" or "stdlib"; "all" runs the three one after the other),
it takes the valid files of that format (tests/python/data and tests/fuzz/corpus/FORMAT),
mutates them knowing their structure, and loads each mutant with Snapshot.load(). Each load
must give a snapshot whose API works, or a SnapshotError whose message is one line without
"internal error"; never another exception, a crash, more than --cpu-limit CPU seconds, or a
memory blow-up (the child that loads runs under RLIMIT_AS: a MemoryError is a finding).

Mutations: compact files are taken apart (header fields, sections, their counts, columns and
the META pickle), changed and put together again, mostly with a valid zlib stream, sizes and
checksum so that the change reaches the checks behind them; pickles are changed opcode by
opcode (delete, duplicate, splice from another file, arguments and lengths set to extremes,
hostile snippets: deep nesting, huge declared sizes, memo indexes, forbidden globals) and
value by value (a pickle is decoded, one value is replaced by one of a wrong type, a huge
int, a deep nest, a key is added or dropped, then it is encoded again); and byte by byte
(flip, truncate, insert, delete, duplicate).

Input number I of a run is a function of --seed and I only: a finding is written to
--findings DIR as FORMAT-SEED-I.bin and is made again by ``--replay FORMAT SEED I``. The
inputs load in a child process, which reports each input it starts on a pipe; a child that
dies or stays silent for --hang-seconds is a finding, and a new child goes on with the next
input.

    snapshot_fuzz.py [--format compact|pickle|stdlib|all] [--inputs N] [--seed S]
                     [--findings DIR] [--cpu-limit SEC] [--memory-limit MB]
                     [--hang-seconds SEC] [--json]

The summary (one line per format, or JSON with --json) goes to stdout; the exit status is 0
without findings, 1 with findings, 2 for a usage error. Python 2.7 and 3, stdlib only; the
package is imported from sys.path (PYTHONPATH). tests/fuzz/run drives it (and the libFuzzer
target of the pickle scanner); README.rst, "Reliability", has the campaigns run.
"""
from __future__ import absolute_import, print_function

import json
import os
import random
import select
import struct
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
DATA_DIR = os.path.join(TOP, "tests", "python", "data")
CORPUS_DIR = os.path.join(HERE, "corpus")
FORMATS = ("compact", "pickle", "stdlib")
PY2 = sys.version_info[0] == 2
if PY2:
    _text = unicode  # noqa: F821
    _int_types = (int, long)  # noqa: F821
else:
    _text = str
    _int_types = (int,)


def _bchr(value):
    return struct.pack("B", value)


# ------------------------------------------------------------------------------ the seeds

def _data_format(name):
    """The format of a file of tests/python/data by its name, or None."""
    if name.endswith(".tms"):
        return "compact"
    if name.endswith("-pickle.pickle") or name.endswith("-v1.pickle"):
        return "pickle"
    if name.endswith(".pickle"):
        return "stdlib"
    return None


def seed_files(fmt):
    """[(name, bytes)]: the valid files of *fmt*, sorted by name (the order is part of what
    makes an input number reproducible)."""
    seeds = []
    for name in sorted(os.listdir(DATA_DIR)):
        if _data_format(name) == fmt:
            with open(os.path.join(DATA_DIR, name), "rb") as fp:
                seeds.append((name, fp.read()))
    directory = os.path.join(CORPUS_DIR, fmt)
    if os.path.isdir(directory):
        for name in sorted(os.listdir(directory)):
            with open(os.path.join(directory, name), "rb") as fp:
                seeds.append((fmt + "/" + name, fp.read()))
    return seeds


# ------------------------------------------------------------------ byte-level mutations

SPECIAL_U32 = (0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe,
               0xffffffff)


def mutate_bytes(rng, data):
    data = bytearray(data)
    kind = rng.randrange(8)
    if kind == 0 and data:  # flip bits
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == 1 and data:  # special byte values
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.choice((0, 1, 0x0a, 0x7f, 0x80, 0xff,
                                                         rng.randrange(256)))
    elif kind == 2:  # truncate
        del data[rng.randrange(len(data) + 1):]
    elif kind == 3:  # insert random bytes
        pos = rng.randrange(len(data) + 1)
        data[pos:pos] = bytearray(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif kind == 4 and data:  # delete a range
        pos = rng.randrange(len(data))
        del data[pos:pos + rng.randint(1, 16)]
    elif kind == 5 and data:  # duplicate a chunk
        pos = rng.randrange(len(data))
        chunk = data[pos:pos + rng.randint(1, 64)]
        insert = rng.randrange(len(data) + 1)
        data[insert:insert] = chunk
    elif kind == 6 and len(data) > 8:  # a little-endian length somewhere set to an extreme
        pos = rng.randrange(len(data) - 8)
        data[pos:pos + 4] = struct.pack("<I", rng.choice(SPECIAL_U32))
    else:  # append garbage
        data.extend(bytearray(rng.randrange(256) for _ in range(rng.randint(1, 8))))
    return bytes(data)


# ------------------------------------------------------------------------- pickle encoding

class Obj(object):
    """A pickled instance: the global module.name called with args (NEWOBJ), then state
    (BUILD) unless it is None. What a tracemalloc stub decodes to, and a wrong-type value."""

    __slots__ = ("module", "name", "args", "state")

    def __init__(self, module, name, args=(), state=None):
        self.module, self.name, self.args, self.state = module, name, args, state


def _encode_int(value, out):
    if 0 <= value < 256:
        out.append(b"K" + _bchr(value))
    elif 0 <= value < 65536:
        out.append(b"M" + struct.pack("<H", value))
    elif -2 ** 31 <= value < 2 ** 31:
        out.append(b"J" + struct.pack("<i", value))
    else:
        raw = bytearray()
        rest = value
        while rest not in (0, -1):
            raw.append(rest & 0xff)
            rest >>= 8
        if not raw or (raw[-1] & 0x80) != (0x80 if value < 0 else 0):
            raw.append(0xff if value < 0 else 0)
        if len(raw) < 256:
            out.append(b"\x8a" + _bchr(len(raw)) + bytes(raw))
        else:
            out.append(b"\x8b" + struct.pack("<i", len(raw)) + bytes(raw))


def encode(value, out, depth=0):
    """Append the protocol 2 opcodes of *value* to the list *out* (no memo). Deep values
    are encoded without recursion into the deep part (see Deep)."""
    if value is None:
        out.append(b"N")
    elif value is True or value is False:
        out.append(b"\x88" if value else b"\x89")
    elif isinstance(value, _int_types):
        _encode_int(value, out)
    elif isinstance(value, float):
        out.append(b"G" + struct.pack(">d", value))
    elif isinstance(value, _text):
        raw = value.encode("utf-8", "surrogatepass") if not PY2 else value.encode("utf-8")
        out.append(b"X" + struct.pack("<I", len(raw)) + raw)
    elif isinstance(value, bytes):  # a str of Python 2, bytes of 3 (SHORT_BINBYTES, BINBYTES)
        if PY2:
            out.append(b"U" + _bchr(len(value)) + value if len(value) < 256
                       else b"T" + struct.pack("<I", len(value)) + value)
        else:
            out.append(b"C" + _bchr(len(value)) + value if len(value) < 256
                       else b"B" + struct.pack("<I", len(value)) + value)
    elif isinstance(value, tuple):
        if not value:
            out.append(b")")
        elif len(value) <= 3:
            for item in value:
                encode(item, out, depth + 1)
            out.append(_bchr(0x84 + len(value)))
        else:
            out.append(b"(")
            for item in value:
                encode(item, out, depth + 1)
            out.append(b"t")
    elif isinstance(value, list):
        out.append(b"]")
        if value:
            out.append(b"(")
            for item in value:
                encode(item, out, depth + 1)
            out.append(b"e")
    elif isinstance(value, dict):
        out.append(b"}")
        if value:
            out.append(b"(")
            for key, item in value.items():
                encode(key, out, depth + 1)
                encode(item, out, depth + 1)
            out.append(b"u")
    elif isinstance(value, Obj):
        out.append(b"c" + value.module.encode("ascii", "replace") + b"\n"
                   + value.name.encode("ascii", "replace") + b"\n")
        encode(tuple(value.args), out, depth + 1)
        out.append(b"\x81")
        if value.state is not None:
            encode(value.state, out, depth + 1)
            out.append(b"b")
    elif isinstance(value, Deep):
        out.append(value.opcodes)
    else:
        raise TypeError("cannot encode %r" % type(value))


def dumps(value, proto=2):
    out = [b"\x80" + _bchr(proto)]
    encode(value, out)
    out.append(b".")
    return b"".join(out)


class Deep(object):
    """A value given by its opcodes (a nest too deep to build or encode by recursion)."""

    __slots__ = ("opcodes",)

    def __init__(self, opcodes):
        self.opcodes = opcodes


def decode_tree(data):
    """The value of the pickle *data* with tracemalloc's stubs as Obj, or None if it does not
    load (the package's restricted unpickler decodes it: nothing runs)."""
    from tracemalloc import _unpickler
    try:
        value = _unpickler._load_pickle(data)
    except Exception:
        return None
    names = dict((stub, key) for key, stub in _unpickler._STUBS.items())

    def convert(item):
        if isinstance(item, _unpickler._Stub):
            module, name = names[type(item)]
            return Obj(module, name, tuple(convert(arg) for arg in item.args),
                       convert(item.state))
        if isinstance(item, tuple):
            return tuple(convert(sub) for sub in item)
        if isinstance(item, list):
            return [convert(sub) for sub in item]
        if isinstance(item, dict):
            return dict((convert(key), convert(sub)) for key, sub in item.items())
        return item
    return convert(value)


# ---------------------------------------------------------------- value-level mutations

def _deep(rng):
    depth = rng.choice((50, 999, 1000, 1001, 5000, 100000))
    kind = rng.randrange(4)
    if kind == 0:  # tuples: hashable, what a dict key or a frame may be
        return Deep(b")" + b"\x85" * depth)
    if kind == 1:
        return Deep(b"(" * depth + b")" + b"t" * depth)
    if kind == 2:  # lists: the scanner lets them nest, the loader must still say no
        return Deep(b"]" * depth + b"a" * (depth - 1))
    return Deep(b"}K\x01" * (depth - 1) + b"}" + b"s" * (depth - 1))  # dicts


def wrong_value(rng, node):
    """A value of another type or an extreme of the same type in place of *node*."""
    choices = [None, True, False, 0, -1, -2, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 63 - 1,
               2 ** 63, 2 ** 64, -2 ** 63 - 1, 10 ** 100, -(10 ** 5000), 1.5, -0.0,
               float("nan"), float("inf"), u"", u"x" * rng.choice((1, 300, 70000)),
               u"a\nb\x00\udc80" if not PY2 else u"a\nb\x00", b"raw\xff", (), [], {},
               ((u"a.py", 1),), (u"a.py", 1), [(0, 1, ((u"a.py", 1),), 1)],
               {u"a.py": {1: (2, 3)}}, {1: 2}, {(): ()},
               Obj(u"tracemalloc", rng.choice((u"Snapshot", u"_Traces", u"Trace",
                                               u"Traceback", u"Frame"))),
               Obj(u"tracemalloc", u"Frame", (), (u"a.py", 1)),
               Obj(u"os", u"system", (u"true",)),
               Obj(u"builtins" if not PY2 else u"__builtin__", u"eval", (u"1",)),
               _deep(rng)]
    if isinstance(node, _int_types) and not isinstance(node, bool):
        choices.extend((node + 1, node - 1, -node, node * 2 ** 32))
    if isinstance(node, (tuple, list)) and node:
        items = list(node)
        choices.extend((type(node)(items[:-1]), type(node)(items + items[-1:]),
                        type(node)(items * rng.choice((2, 100)))))
    return rng.choice(choices)


def mutate_tree(rng, node, depth=0):
    """A copy of *node* with one change somewhere in it (the path is chosen at random: stop
    here with some probability, else go into a random item)."""
    if isinstance(node, Obj):
        children = [node.args, node.state]
    elif isinstance(node, (tuple, list)):
        children = list(node)
    elif isinstance(node, dict):
        children = list(node.items())
    else:
        children = []
    if not children or rng.random() < 0.25 or depth > 60:
        if isinstance(node, dict) and rng.random() < 0.5:
            copy = dict(node)
            if copy and rng.random() < 0.5:
                del copy[rng.choice(list(copy))]
            else:
                copy[rng.choice((u"traces", u"format", u"__class__", u"x" * 50, 7, None,
                                 u"stats", u"_traces", u"version"))] = wrong_value(rng, None)
            return copy
        if isinstance(node, Obj) and rng.random() < 0.5:
            return Obj(rng.choice((node.module, u"tracemalloc", u"os", u"")),
                       rng.choice((node.name, u"Snapshot", u"Frame", u"_Traces", u"a.b")),
                       node.args, node.state)
        return wrong_value(rng, node)
    index = rng.randrange(len(children))
    if isinstance(node, Obj):
        changed = mutate_tree(rng, children[index], depth + 1)
        if index == 0:
            changed = changed if isinstance(changed, tuple) else (changed,)
            return Obj(node.module, node.name, changed, node.state)
        return Obj(node.module, node.name, node.args, changed)
    if isinstance(node, dict):
        key, value = children[index]
        copy = dict(node)
        if rng.random() < 0.15:
            del copy[key]
            try:
                copy[mutate_tree(rng, key, depth + 1)] = value
            except TypeError:  # an unhashable key: keep the old one
                copy[key] = value
        else:
            copy[key] = mutate_tree(rng, value, depth + 1)
        return copy
    children[index] = mutate_tree(rng, children[index], depth + 1)
    return type(node)(children)


# --------------------------------------------------------------- opcode-level mutations

def opcode_spans(data):
    """[(start, end, code)] of the opcodes of the pickle *data*, or [] (Python 2's
    pickletools does not know the opcodes of protocols 3 to 5)."""
    import pickletools
    spans = []
    try:
        previous = None
        for opcode, _, pos in pickletools.genops(data):
            if previous is not None:
                spans[-1] = (spans[-1][0], pos, spans[-1][2])
            spans.append((pos, pos + 1, opcode.code))
            previous = pos
        if spans:
            spans[-1] = (spans[-1][0], spans[-1][0] + 1, spans[-1][2])
    except Exception:
        return []
    return spans


FIXED_ARG = {"K": 1, "M": 2, "J": 4, "h": 1, "j": 4, "q": 1, "r": 4, "G": 8, "\x80": 1}
LENGTH_ARG = {"T": 4, "U": 1, "X": 4, "\x8a": 1, "\x8b": 4, "B": 4, "C": 1, "\x8c": 1,
              "\x8d": 8, "\x8e": 8, "\x96": 8, "\x95": 8}
SNIPPETS = [
    b"(" * 1001, b"(" * 100000, b"]" * 1000 + b"a" * 999, b")" + b"\x85" * 1001,
    b"\x95" + struct.pack("<Q", 2 ** 63 - 1), b"\x95" + struct.pack("<Q", 2 ** 31),
    b"X" + struct.pack("<I", 0x7fffffff), b"\x8d" + struct.pack("<Q", 2 ** 63),
    b"\x8b" + struct.pack("<I", 5000) + b"\x01" * 5000, b"\x8a\xff" + b"\x7f" * 255,
    b"h\xff", b"j\xff\xff\xff\x7f", b"r\xff\xff\xff\x7f", b"r\x00\x00\x00\x80", b"p2147483648\n",
    b"g99\n", b"cos\nsystem\n", b"\x8c\x02os\x8c\x06system\x93", b"c__builtin__\neval\n",
    b"cbuiltins\ngetattr\n", b"ctracemalloc\nSnapshot\n)\x81", b"ctracemalloc\nFrame\n",
    b"Pid\n", b"Q", b"\x82\x01", b"(cos\nsystem\nS'true'\no", b"(i__builtin__\nlist\n",
    b"\x97", b"\x98", b"N" * 2000, b"0" * 50, b"1", b"2" * 1000, b"\x94" * 1000, b"b", b"R",
    b"s", b"u", b"e", b"a", b"\x81", b"\x92", b"\x93", b"\x80\x09", b"\x80\x01", b".",
    b"I99999999999999999999999999\n", b"L-1L\n", b"F1e999\n", b"Fnan\n", b"V\\ud800\n",
    b"S'\n", b"\x88" * 10, b"}(K\x01K\x02K\x03u", b"(K\x01d", b"\x8f(\x90", b"(\x91",
]


def mutate_opcodes(rng, data, spans, others):
    """*data* changed at an opcode boundary or argument; *others*: spans of other seeds
    [(data, spans)] to splice from."""
    data = bytearray(data)
    start, end, code = spans[rng.randrange(len(spans))]
    kind = rng.randrange(7)
    if kind == 0:  # delete the opcode
        del data[start:end]
    elif kind == 1:  # duplicate it
        data[end:end] = data[start:end]
    elif kind == 2:  # an opcode of another seed
        other, other_spans = rng.choice(others)
        if other_spans:
            o_start, o_end, _ = rng.choice(other_spans)
            if rng.random() < 0.5:
                data[start:end] = other[o_start:o_end]
            else:
                data[start:start] = other[o_start:o_end]
    elif kind == 3:  # a hostile snippet
        data[start:start] = rng.choice(SNIPPETS)
    elif kind == 4 and code in FIXED_ARG:  # an argument set to an extreme or at random
        size = FIXED_ARG[code]
        value = rng.choice((0, 1, 2 ** (8 * size) - 1, 2 ** (8 * size - 1),
                            2 ** (8 * size - 1) - 1, rng.randrange(2 ** (8 * size))))
        data[start + 1:start + 1 + size] = struct.pack("<Q", value)[:size]
    elif kind == 5 and code in LENGTH_ARG:  # a declared length set to a lie
        size = LENGTH_ARG[code]
        field = data[start + 1:start + 1 + size].ljust(8, b"\0")
        length = struct.unpack("<Q", bytes(field))[0]
        value = rng.choice((0, length + 1, max(length - 1, 0), 2 ** (8 * size) - 1,
                            2 ** (8 * size - 1), 2 ** (8 * size - 1) - 1))
        data[start + 1:start + 1 + size] = struct.pack("<Q", value)[:size]
    else:  # truncate at the opcode, or move it
        if rng.random() < 0.5:
            del data[start:]
        else:
            chunk = data[start:end]
            del data[start:end]
            pos = rng.choice(spans)[0]
            data[pos:pos] = chunk
    return bytes(data)


def strip_frames(data, spans):
    """The pickle *data* without its FRAME opcodes (the frames' lengths would otherwise hide
    most changes behind a truncated or garbled frame)."""
    return b"".join(data[start:end] for start, end, code in spans if code != "\x95") \
        if spans else data


# ---------------------------------------------------------------- compact-level mutations

HEADER = struct.Struct("<8sIIQQII")
SECTION = struct.Struct("<4sQ")


def split_compact(data):
    """(header fields, [[tag, payload]]) of a valid compact file."""
    fields = list(HEADER.unpack(data[:HEADER.size]))
    body = data[HEADER.size:]
    if fields[2] & 1:
        body = zlib.decompress(body)
    sections = []
    pos = 0
    while pos < len(body):
        tag, size = SECTION.unpack(body[pos:pos + SECTION.size])
        pos += SECTION.size
        sections.append([tag, body[pos:pos + size]])
        pos += size
    return fields, sections


def join_compact(rng, fields, sections, sizes=None):
    """A compact file of these sections (*sizes*: declared section sizes, if lying);
    compressed or not, with right sizes and checksum most of the time."""
    chunks = []
    for index, (tag, payload) in enumerate(sections):
        size = len(payload) if sizes is None or sizes[index] is None else sizes[index]
        chunks.append(SECTION.pack(tag, size))
        chunks.append(payload)
    body = b"".join(chunks)
    fields = list(fields)
    compress = rng.random() < 0.8
    stored = zlib.compress(body, 1) if compress else body
    fields[2] = (fields[2] | 1) if compress else (fields[2] & ~1)
    fields[3], fields[4] = len(stored), len(body)
    fields[5] = zlib.crc32(body) & 0xffffffff
    if rng.random() < 0.05:  # a lie in the header
        index = rng.choice((1, 2, 3, 4, 5, 6))
        limit = 2 ** 64 - 1 if index in (3, 4) else 2 ** 32 - 1
        fields[index] = rng.choice((0, 1, limit, fields[index] + 1, max(fields[index] - 1, 0),
                                    rng.randrange(limit)))
    return HEADER.pack(*fields) + stored


def mutate_compact(rng, fields, sections, others, metas):
    """A mutant of the compact file of these header *fields* and *sections*; *others*: the
    (fields, sections) of every seed, *metas*: their META pickles and opcodes."""
    sections = [list(section) for section in sections]
    sizes = None
    kind = rng.randrange(10)
    tags = [tag for tag, _ in sections]
    index = rng.randrange(len(sections))
    tag, payload = sections[index]
    if kind == 0:  # drop, duplicate, swap or rename a section
        action = rng.randrange(4)
        if action == 0:
            del sections[index]
        elif action == 1:
            sections.insert(rng.randrange(len(sections) + 1), [tag, payload])
        elif action == 2:
            other = rng.randrange(len(sections))
            sections[index], sections[other] = sections[other], sections[index]
        else:
            sections[index][0] = rng.choice(tags + [b"xtra", b"XTRA", b"\0\0\0\0", b"meta"])
    elif kind == 1:  # a declared size that lies
        sizes = [None] * len(sections)
        sizes[index] = rng.choice((0, len(payload) + 1, max(len(payload) - 1, 0), 2 ** 63,
                                   2 ** 64 - 1, 2 ** 32))
    elif kind == 2 and tag != b"META" and len(payload) >= 4:  # the item count
        count = struct.unpack("<I", payload[:4])[0]
        value = rng.choice((0, 1, count + 1, max(count - 1, 0), 2 ** 31, 2 ** 32 - 1,
                            count * 2))
        sections[index][1] = struct.pack("<I", value) + payload[4:]
    elif kind in (3, 4) and tag != b"META" and len(payload) >= 8:  # a value in a column
        words = (len(payload) - 4) // 4
        pos = 4 + 4 * rng.randrange(words)
        value = rng.choice(SPECIAL_U32 + (0xffffffff - 1, rng.randrange(2 ** 32)))
        sections[index][1] = payload[:pos] + struct.pack("<I", value) + payload[pos + 4:]
    elif kind == 5 and tag == b"META":  # the metadata: a value of a wrong type
        tree = decode_tree(payload)
        if tree is not None:
            sections[index][1] = dumps(mutate_tree(rng, tree))
        else:
            sections[index][1] = mutate_bytes(rng, payload)
    elif kind == 6 and tag == b"META":  # the metadata's opcodes
        spans = opcode_spans(payload)
        if spans:
            sections[index][1] = mutate_opcodes(rng, payload, spans, metas)
    elif kind == 7:  # a section's payload from another file
        other_fields, other_sections = rng.choice(others)
        same = [p for t, p in other_sections if t == tag] or [p for _, p in other_sections]
        sections[index][1] = rng.choice(same)
    else:  # bytes of a payload
        sections[index][1] = mutate_bytes(rng, payload)
    return join_compact(rng, fields, sections, sizes)


# -------------------------------------------------------------------------- the generator

class Generator(object):
    """Input number I of a format and seed, always the same."""

    def __init__(self, fmt, seed):
        self.fmt = fmt
        self.seed = seed
        self.files = seed_files(fmt)
        if not self.files:
            raise SystemExit("snapshot_fuzz: no valid %s file to start from" % fmt)
        if fmt == "compact":
            self.compact = [split_compact(data) for _, data in self.files]
            self.meta_spans = []
            for _, sections in self.compact:
                for tag, payload in sections:
                    if tag == b"META":
                        self.meta_spans.append((payload, opcode_spans(payload)))
        else:
            self.spans = [opcode_spans(data) for _, data in self.files]
            self.unframed = [strip_frames(data, spans)
                             for (_, data), spans in zip(self.files, self.spans)]
            self.unframed_spans = [opcode_spans(data) for data in self.unframed]
            self.trees = [decode_tree(data) for _, data in self.files]

    def make(self, number):
        rng = random.Random(self.seed * 1000003 + number)
        index = rng.randrange(len(self.files))
        name, data = self.files[index]
        if self.fmt == "compact":
            fields, sections = self.compact[index]
            if rng.random() < 0.75:
                data = mutate_compact(rng, fields, sections, self.compact, self.meta_spans)
            else:
                data = mutate_bytes(rng, data)
        else:
            kind = rng.random()
            tree = self.trees[index]
            if kind < 0.35 and tree is not None:
                data = dumps(mutate_tree(rng, tree), rng.choice((2, 2, 4, 5)))
            elif kind < 0.8:
                use_unframed = rng.random() < 0.6
                source = self.unframed[index] if use_unframed else data
                spans = self.unframed_spans[index] if use_unframed else self.spans[index]
                if spans:
                    others = [(d, s) for d, s in zip(self.unframed, self.unframed_spans)]
                    data = mutate_opcodes(rng, source, spans, others)
                    if rng.random() < 0.3:
                        data = mutate_opcodes(rng, data, opcode_spans(data) or spans, others)
                else:
                    data = mutate_bytes(rng, source)
            else:
                data = mutate_bytes(rng, data)
        for _ in range(rng.choice((0, 0, 0, 1, 2))):
            data = mutate_bytes(rng, data)
        return name, data


# ------------------------------------------------------------------------------- the child

def _cpu_time():
    times = os.times()
    return times[0] + times[1]


def _vm_bytes():
    try:
        with open("/proc/self/statm") as fp:
            return int(fp.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (IOError, OSError, ValueError):
        return 0


def check_load(tracemalloc, path):
    """"loaded", "refused" or ("finding kind", message) for the file *path*."""
    try:
        snapshot = tracemalloc.Snapshot.load(path)
    except tracemalloc.SnapshotError as exc:
        message = str(exc)
        if "\n" in message or "\r" in message:
            return "multi-line", message
        if "internal error" in message:
            return "internal-error", message
        if "out of memory" in message:
            return "memory", message
        if not message.startswith(path + ": "):
            return "message", message
        if len(message) - len(path) > 400:
            return "long-message", message[:200]
        return "refused"
    except MemoryError:
        return "memory", "MemoryError"
    except RecursionError_ as exc:
        return "recursion", "%s: %s" % (type(exc).__name__, exc)
    except Exception as exc:
        return "exception", "%s: %s" % (type(exc).__name__, exc)
    # what loads is valid: its API works on it
    try:
        if snapshot.traces is not None:
            stats = snapshot.statistics("traceback")
            stats += snapshot.statistics("lineno", True)
            # an empty traceback is an IndexError of filename grouping, filtering and str(),
            # as with the stock module (tests/python/test_stdlib_api.py)
            if all(len(trace.traceback) for trace in snapshot.traces):
                snapshot.filter_traces([tracemalloc.Filter(False, "a*", all_frames=True)])
                stats += snapshot.statistics("filename")
        else:
            stats = snapshot.statistics("filename")
        for stat in stats[:3] + stats[-3:]:
            if len(stat.traceback):
                str(stat)
            stat.traceback.format()
        snapshot.stats
        repr(snapshot)
    except MemoryError:
        return "memory", "MemoryError using the loaded snapshot"
    except Exception as exc:
        return "api", "%s: %s" % (type(exc).__name__, exc)
    return "loaded"


RecursionError_ = getattr(__import__("__builtin__" if PY2 else "builtins"), "RecursionError",
                          RuntimeError)


def child(fmt, seed, start, stop, cpu_limit, memory_limit):
    """Load inputs start..stop-1: "+I" on stdout when input I starts, "!I KIND MESSAGE" for a
    finding, "=" and the counts in JSON at the end."""
    import tracemalloc
    out = sys.stdout.fileno()
    generator = Generator(fmt, seed)
    directory = tempfile.mkdtemp(prefix="tm-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm")
                                 else None)
    path = os.path.join(directory, "input")
    try:
        import resource
        if memory_limit:
            limit = _vm_bytes() + memory_limit * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError):
        pass
    counts = {"loaded": 0, "refused": 0, "slowest": 0.0, "slowest_input": None}
    try:
        for number in range(start, stop):
            os.write(out, ("+%d\n" % number).encode("ascii"))
            name, data = generator.make(number)
            with open(path, "wb") as fp:
                fp.write(data)
            begin = _cpu_time()
            outcome = check_load(tracemalloc, path)
            elapsed = _cpu_time() - begin
            if elapsed > counts["slowest"]:
                counts["slowest"], counts["slowest_input"] = elapsed, number
            if elapsed > cpu_limit:
                outcome = "slow", "%.2f CPU seconds (%s)" % (elapsed, outcome if
                                                            isinstance(outcome, str)
                                                            else outcome[0])
            if isinstance(outcome, str):
                counts[outcome] += 1
            else:
                message = " ".join(outcome[1].replace(path, "FILE").split())[:300]
                os.write(out, ("!%d %s %s (from %s)\n" % (number, outcome[0], message, name))
                         .encode("ascii", "backslashreplace"))
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
        os.rmdir(directory)
    os.write(out, ("=%s\n" % json.dumps(counts)).encode("ascii"))


# ------------------------------------------------------------------------------ the parent

def campaign(fmt, inputs, seed, findings_dir, cpu_limit, memory_limit, hang_seconds,
             progress):
    """Run *inputs* inputs of *fmt* through children; return the summary dict."""
    summary = {"format": fmt, "inputs": inputs, "seed": seed, "loaded": 0, "refused": 0,
               "findings": [], "seconds": 0.0, "slowest_cpu_seconds": 0.0,
               "slowest_input": None,
               "python": "%d.%d.%d" % sys.version_info[:3]}
    begin = time.time()
    generator = None
    number = 0
    batch = 50000  # inputs per child: a fresh interpreter now and then, no drift
    while number < inputs:
        stop = min(number + batch, inputs)
        argv = [sys.executable, os.path.abspath(__file__), "--child", fmt, str(seed),
                str(number), str(stop), str(cpu_limit), str(memory_limit)]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
        last = None
        finished = False
        pending = b""
        while True:
            ready = select.select([proc.stdout], [], [], hang_seconds)[0]
            if not ready:
                proc.kill()
                proc.wait()
                finding = (last, "hang", "no progress within %d seconds" % hang_seconds)
                break
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                proc.wait()
                finding = (last, "crash", "the child exited with status %s"
                           % proc.returncode)
                break
            pending += chunk
            lines = pending.split(b"\n")
            pending = lines.pop()
            for line in lines:
                line = line.decode("ascii", "replace")
                if line.startswith("+"):
                    last = int(line[1:])
                    if progress and last % 10000 == 0:
                        sys.stderr.write("\r%s: %d/%d" % (fmt, last, inputs))
                        sys.stderr.flush()
                elif line.startswith("!"):
                    where, kind, message = (line[1:].split(" ", 2) + ["", ""])[:3]
                    summary["findings"].append({"input": int(where), "kind": kind,
                                                "message": message})
                elif line.startswith("="):
                    counts = json.loads(line[1:])
                    summary["loaded"] += counts["loaded"]
                    summary["refused"] += counts["refused"]
                    if counts["slowest"] > summary["slowest_cpu_seconds"]:
                        summary["slowest_cpu_seconds"] = counts["slowest"]
                        summary["slowest_input"] = counts["slowest_input"]
                    finished = True
            if finished:
                proc.wait()
                finding = None
                break
        if finding is not None:
            if finding[0] is None:
                raise SystemExit("snapshot_fuzz: the child failed before its first input "
                                 "(%s)" % finding[2])
            summary["findings"].append({"input": finding[0], "kind": finding[1],
                                        "message": finding[2]})
            stop = finding[0] + 1
        number = stop
    if progress:
        sys.stderr.write("\r" + " " * 40 + "\r")
    if summary["findings"] and findings_dir:
        if not os.path.isdir(findings_dir):
            os.makedirs(findings_dir)
        generator = generator or Generator(fmt, seed)
        for finding in summary["findings"]:
            _, data = generator.make(finding["input"])
            name = os.path.join(findings_dir, "%s-%d-%d.bin" % (fmt, seed, finding["input"]))
            with open(name, "wb") as fp:
                fp.write(data)
            finding["file"] = name
    summary["seconds"] = round(time.time() - begin, 1)
    return summary


USAGE = __doc__[__doc__.index("    snapshot_fuzz.py"):__doc__.index("\n\nThe summary")]


def usage_error(message):
    sys.stderr.write("snapshot_fuzz: %s\nusage:\n%s\n" % (message, USAGE))
    sys.exit(2)


def main(argv):
    if argv[:1] == ["--child"]:
        fmt, seed, start, stop, cpu_limit, memory_limit = argv[1:7]
        child(fmt, int(seed), int(start), int(stop), float(cpu_limit), int(memory_limit))
        return 0
    if argv[:1] == ["--replay"]:
        if len(argv) != 4 or argv[1] not in FORMATS:
            usage_error("--replay takes FORMAT SEED INPUT")
        name, data = Generator(argv[1], int(argv[2])).make(int(argv[3]))
        out = getattr(sys.stdout, "buffer", sys.stdout)
        out.write(data)
        return 0
    options = {"--format": "all", "--inputs": "20000", "--seed": "1", "--findings": None,
               "--cpu-limit": "2", "--memory-limit": "512", "--hang-seconds": "60"}
    as_json = False
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            print(__doc__)
            return 0
        if arg == "--json":
            as_json = True
        elif arg in options:
            if not args:
                usage_error("%s needs a value" % arg)
            options[arg] = args.pop(0)
        else:
            usage_error("unknown argument %r" % arg)
    if options["--format"] not in FORMATS + ("all",):
        usage_error("--format: one of %s or all" % ", ".join(FORMATS))
    try:
        inputs = int(options["--inputs"])
        seed = int(options["--seed"])
        cpu_limit = float(options["--cpu-limit"])
        memory_limit = int(options["--memory-limit"])
        hang_seconds = int(options["--hang-seconds"])
    except ValueError as exc:
        usage_error(str(exc))
    formats = FORMATS if options["--format"] == "all" else (options["--format"],)
    summaries = []
    for fmt in formats:
        summary = campaign(fmt, inputs, seed, options["--findings"], cpu_limit, memory_limit,
                           hang_seconds, progress=sys.stderr.isatty())
        summaries.append(summary)
        if not as_json:
            print("%s: %d inputs (seed %d) in %.0f s on Python %s: %d loaded, %d refused, "
                  "slowest %.2f CPU s (input %s), %d findings"
                  % (fmt, inputs, seed, summary["seconds"], summary["python"],
                     summary["loaded"], summary["refused"], summary["slowest_cpu_seconds"],
                     summary["slowest_input"], len(summary["findings"])))
            for finding in summary["findings"]:
                print("  input %(input)d: %(kind)s: %(message)s" % finding)
            sys.stdout.flush()
    if as_json:
        print(json.dumps(summaries, indent=1, sort_keys=True))
    return 1 if any(summary["findings"] for summary in summaries) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
