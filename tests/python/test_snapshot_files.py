"""Tests of snapshot files: every format, stock dumps, other versions, hostile and broken files.

- The files of tests/python/data (made by data/make_fixtures.py): Snapshot.dump() of the
  stock module of 3.11 and 3.13 (and the trace layouts of 3.4-3.8), our three formats
  written by Python 2.7 and 3, the format of pytracemalloc 1.0.0.dev0; with the stdlib
  API and the command line.
- Round trips of every format, and the "stdlib" format read by a stock interpreter.
- The compact format's header and checks.
- Crafted malicious pickles: each raises SnapshotError, quickly, without side effect.
- Fuzzing: thousands of mutations (fixed seed) of valid files of each format; each load
  succeeds or raises SnapshotError, never another exception, within a time bound; a
  snapshot that loads works. The C and Python pickle scanners agree on every input.
"""
from __future__ import absolute_import

import json
import os
import pickle
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402

DATA_DIR = os.path.join(tmsupport.TESTS_DIR, "data")
sys.path.insert(0, DATA_DIR)
_saved_dont_write_bytecode = sys.dont_write_bytecode
sys.dont_write_bytecode = True  # no .pyc in data/ (distributed as a directory)
import make_fixtures  # noqa: E402
sys.dont_write_bytecode = _saved_dont_write_bytecode

_compact = tracemalloc._compact
_pickle_scan = tracemalloc._pickle_scan
PY2 = sys.version_info[0] == 2
RAW = make_fixtures.RAW_TRACES
EXTRA = make_fixtures.EXTRA

# Set by _mark_code_ran(): a malicious pickle would call it if loading ran code.
CODE_RAN = []


def _mark_code_ran(*args):
    CODE_RAN.append(args)
    return "ran"


class Reduce(object):
    """Pickles as a call of *func* with *args*."""

    def __init__(self, func, args):
        self.func = func
        self.args = args

    def __reduce__(self):
        return (self.func, self.args)


def data_file(name):
    return os.path.join(DATA_DIR, name)


stock_interpreters = tmsupport.stock_interpreters


class TempDirMixin(object):
    def setUp(self):
        super(TempDirMixin, self).setUp()
        self.tmpdir = tempfile.mkdtemp(prefix="tracemalloc-files-")
        del CODE_RAN[:]

    def tearDown(self):
        shutil.rmtree(self.tmpdir)
        super(TempDirMixin, self).tearDown()

    def path(self, name):
        return os.path.join(self.tmpdir, name)

    def write_bytes(self, name, data):
        path = self.path(name)
        with open(path, "wb") as fp:
            fp.write(data)
        return path


# ---------------------------------------------------------------------------------------------
# The fixtures
# ---------------------------------------------------------------------------------------------

class FixtureTests(unittest.TestCase):
    def check_raw(self, snapshot):
        self.assertEqual(snapshot.traces._traces, RAW)
        self.assertEqual(snapshot.traceback_limit, 3)
        for trace in snapshot.traces._traces:
            for filename, lineno in trace[2]:
                self.assertIs(type(filename), str)
        self.assertEqual(snapshot.test_attr, "new")
        self.assertEqual(snapshot.extra, EXTRA)
        self.assertIsNone(snapshot.lost_traces)  # files made before it was recorded

    def test_stock_dumps(self):
        for name in ("stock-3.11.pickle", "stock-3.13.pickle", "py2-stdlib.pickle",
                     "py3-stdlib.pickle"):
            snapshot = tracemalloc.Snapshot.load(data_file(name))
            self.check_raw(snapshot)
            self.assertIsNone(snapshot.pid)
            # the stdlib API and the pytracemalloc one on a stock dump
            top = snapshot.statistics("lineno")
            self.assertEqual((top[0].traceback[0].filename, top[0].size),
                             (make_fixtures.NAME, 2 ** 40))
            self.assertEqual(snapshot.stats["a.py"], {2: (20, 2), 5: (2, 1)})

    def test_stock_old_layouts(self):
        v35 = tracemalloc.Snapshot.load(data_file("stock-3.5-layout.pickle"))
        self.assertEqual(v35.traces._traces, [(0,) + trace[1:3] + (None,) for trace in RAW])
        v38 = tracemalloc.Snapshot.load(data_file("stock-3.8-layout.pickle"))
        self.assertEqual(v38.traces._traces, [trace[:3] + (None,) for trace in RAW])
        self.assertIsNone(v38.traces[0].traceback.total_nframe)
        self.assertEqual(v38.test_attr, "new")

    def test_stock_real_snapshots(self):
        for name in ("stock-3.11-real.pickle", "stock-3.13-real.pickle"):
            snapshot = tracemalloc.Snapshot.load(data_file(name))
            self.assertGreaterEqual(len(snapshot.traces), 20)
            self.assertEqual(snapshot.traceback_limit, 4)
            for trace in snapshot.traces:
                self.assertTrue(trace.traceback[-1].filename.endswith("make_fixtures.py"))
            self.assertTrue(snapshot.statistics("traceback"))

    def test_our_formats(self):
        for major in (2, 3):
            for name in ("compact.tms", "pickle.pickle", "stdlib.pickle"):
                snapshot = tracemalloc.Snapshot.load(data_file("py%d-%s" % (major, name)))
                self.check_raw(snapshot)
                if name != "stdlib.pickle":  # the stdlib format has no metadata
                    self.assertEqual((snapshot.pid, snapshot.timestamp, snapshot.process_memory,
                                      snapshot.tracemalloc_memory, snapshot.user_data),
                                     (4242, "2013-03-04 01:01:55", 10485760, 5,
                                      [("Video memory", "size", 234902)]))
                    self.assertIs(type(snapshot.timestamp), str)

    def test_version_1(self):
        snapshot = tracemalloc.Snapshot.load(data_file("py2-v1.pickle"))
        self.assertIsNone(snapshot.traces)
        self.assertEqual(snapshot.stats["b.py"], {1: (66, 1)})
        self.assertEqual(snapshot.statistics("filename")[0].size, 2 ** 40)
        self.assertIsNone(snapshot.lost_traces)

    @unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
    def test_command_line(self):
        for name in ("stock-3.11-real.pickle", "stock-3.13.pickle", "py2-compact.tms",
                     "py2-v1.pickle"):
            code, out, err = tmsupport.run_python(["-m", "tracemalloc", "-l", "--no-color",
                                                   data_file(name), data_file("py3-compact.tms")])
            self.assertEqual((code, err), (0, ""), name)
            self.assertIn("Top ", out)
            self.assertIn("b.py:1: size=66 B", out)


# ---------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------

class RoundTripTests(TempDirMixin, unittest.TestCase):
    def snapshots(self):
        odd_name = "/tmp/\udce9t\udce9.py" if not PY2 else "/tmp/\xe9t\xe9.py"
        with_traces = tracemalloc.Snapshot(list(RAW) + [(5, 0, ((odd_name, 0),), None),
                                                        (2 ** 32 - 1, 2 ** 64 - 1, (), 0)], 7)
        with_traces.timestamp = "2020-01-01 00:00:00"
        with_traces.attribute = {"a": (1, [2, None]), "b": -1.5}
        with_traces.lost_traces = 12
        both = tracemalloc.Snapshot(list(RAW), 1, stats={"x.py": {1: (5, 1)}}, pid=3,
                                    user_data=[("t", "count", 3)])
        both.lost_traces = 0
        # names of the statistics not ASCII, and not UTF-8 (a byte, escaped on Python 3)
        accented = u"/tmp/d\xe9j\xe0.py" if not PY2 else u"/tmp/d\xe9j\xe0.py".encode("utf-8")
        stats_only = tracemalloc.Snapshot({"x.py": {1: (5, 1), 2: (2 ** 63, 7)},
                                           odd_name: {3: (1, 1)}, accented: {4: (2, 1)}},
                                          "2013-03-04 01:01:55", 99, 1, 2, [("t", "size", 1)])
        # out of the compact format's ranges: written as a pickle
        big = tracemalloc.Snapshot([(0, 2 ** 64, (("a.py", -2 ** 40),), 1)], 1)
        big.lost_traces = 2 ** 64 - 1  # the engine's counter is 64 bits
        return [("traces", with_traces), ("both", both), ("stats", stats_only), ("big", big)]

    def fields(self, snapshot, fmt):
        result = [snapshot.traces._traces if snapshot.traces is not None else None,
                  snapshot.traceback_limit, snapshot._extra_attributes(), snapshot.lost_traces]
        if fmt != "stdlib":
            result.extend([snapshot.stats, snapshot.timestamp, snapshot.pid,
                           snapshot.process_memory, snapshot.tracemalloc_memory,
                           snapshot.user_data])
        return result

    def test_round_trips(self):
        for name, snapshot in self.snapshots():
            for fmt in ("compact", "pickle", "stdlib"):
                path = self.path("%s.%s" % (name, fmt))
                if fmt == "stdlib" and snapshot.traces is None:
                    self.assertRaises(tracemalloc.SnapshotError, snapshot.dump, path, fmt)
                    continue
                snapshot.dump(path, format=fmt)
                loaded = tracemalloc.Snapshot.load(path)
                self.assertEqual(self.fields(loaded, fmt), self.fields(snapshot, fmt),
                                 (name, fmt))
        with open(self.path("big.compact"), "rb") as fp:
            self.assertEqual(fp.read(2), b"\x80\x02")  # fell back to the pickle format

    def test_lost_traces_round_trip(self):
        # every format keeps the count (None: not written, so not known after loading)
        expected = {"traces": 12, "both": 0, "stats": None, "big": 2 ** 64 - 1}
        for name, snapshot in self.snapshots():
            for fmt in ("compact", "pickle", "stdlib"):
                if fmt == "stdlib" and snapshot.traces is None:
                    continue
                path = self.path("%s.%s" % (name, fmt))
                snapshot.dump(path, format=fmt)
                loaded = tracemalloc.Snapshot.load(path)
                self.assertEqual(loaded.lost_traces, expected[name], (name, fmt))
                self.assertEqual("lost_traces" in vars(loaded), expected[name] is not None)
        # an extra attribute in the metadata: the compact format is still version 2
        with open(self.path("traces.compact"), "rb") as fp:
            self.assertEqual(_compact._HEADER.unpack(fp.read(_compact._HEADER.size))[1], 2)

    def test_lost_traces_checked(self):
        # a wrong value is refused when written and when read
        for value in (-1, "12", 1.5, True, [1]):
            snapshot = tracemalloc.Snapshot(list(RAW), 1)
            snapshot.lost_traces = value
            for fmt in ("compact", "pickle", "stdlib"):
                path = self.path("bad-lost.%s" % fmt)
                with self.assertRaises(tracemalloc.SnapshotError) as cm:
                    snapshot.dump(path, fmt)
                self.assertIn("cannot write: the attribute 'lost_traces' must be an int >= 0 "
                              "or None", str(cm.exception))
                self.assertFalse(os.path.exists(path))
            # a pickle of the "pickle" format, made by hand
            data = {"format": "pytracemalloc.snapshot", "version": 2, "pid": None,
                    "timestamp": None, "process_memory": None, "tracemalloc_memory": None,
                    "user_data": [], "stats": None, "traces": list(RAW),
                    "traceback_limit": 1, "attributes": {"lost_traces": value}}
            path = self.write_bytes("handmade.pickle", pickle.dumps(data, 2))
            with self.assertRaises(tracemalloc.SnapshotError) as cm:
                tracemalloc.Snapshot.load(path)
            self.assertIn("invalid snapshot: the attribute 'lost_traces' must be an int >= 0 "
                          "or None", str(cm.exception))

    def test_write_checks(self):
        path = self.path("bad")
        snapshot = tracemalloc.Snapshot([(0, 1, (("a.py", "1"),), 1)], 1)
        with self.assertRaises(tracemalloc.SnapshotError) as cm:
            snapshot.dump(path)
        self.assertIn("cannot write", str(cm.exception))
        snapshot = tracemalloc.Snapshot(list(RAW), 1)
        snapshot.handle = open(os.devnull)
        try:
            with self.assertRaises(tracemalloc.SnapshotError) as cm:
                snapshot.dump(path)
        finally:
            snapshot.handle.close()
        self.assertIn("the attribute 'handle' holds a", str(cm.exception))
        self.assertRaises(ValueError, tracemalloc.Snapshot(list(RAW), 1).dump, path, "xml")
        self.assertFalse(os.path.exists(path))

    def test_stock_module_loads_stdlib_format(self):
        interpreters = stock_interpreters()
        if not interpreters:
            self.skipTest("no stock Python 3 interpreter found (TRACEMALLOC_TEST_STOCK_PYTHONS, "
                          "pyenv, the cache)")
        path = self.path("snap.pickle")
        snapshot = tracemalloc.Snapshot(list(RAW), 3)
        snapshot.test_attr = "new"
        snapshot.lost_traces = 12
        snapshot.dump(path, format="stdlib")
        script = ("import json, sys, tracemalloc\n"
                  "s = tracemalloc.Snapshot.load(sys.argv[1])\n"
                  "print(json.dumps([s.traces._traces, s.traceback_limit, s.test_attr,\n"
                  "                  s.lost_traces]))\n"
                  "print(s.statistics('lineno')[0])\n")
        expected = json.loads(json.dumps([RAW, 3, "new", 12]))  # unicode and lists on 2.7 too
        for python in interpreters[:2]:
            proc = subprocess.Popen([python, "-I", "-c", script, path], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            out, err = proc.communicate()
            self.assertEqual(proc.returncode, 0, err)
            lines = out.decode("utf-8").splitlines()
            self.assertEqual(json.loads(lines[0]), expected, python)
            self.assertEqual(lines[1], u"/tmp/\xe9t\xe9.py:7: size=1024 GiB, count=1, "
                                       u"average=1024 GiB")


# ---------------------------------------------------------------------------------------------
# The compact format
# ---------------------------------------------------------------------------------------------

def split_compact(raw):
    """(header fields, body) of a compact file."""
    fields = list(_compact._HEADER.unpack(raw[:_compact._HEADER.size]))
    body = zlib.decompress(raw[_compact._HEADER.size:])
    return fields, body


def join_compact(fields, body, compress=True):
    stored = zlib.compress(body, 1) if compress else body
    fields = list(fields)
    fields[2] = 1 if compress else 0
    fields[3], fields[4] = len(stored), len(body)
    fields[5] = zlib.crc32(body) & 0xffffffff
    return _compact._HEADER.pack(*fields) + stored


class CompactFormatTests(TempDirMixin, unittest.TestCase):
    def setUp(self):
        super(CompactFormatTests, self).setUp()
        with open(data_file("py3-compact.tms"), "rb") as fp:
            self.raw = fp.read()
        self.fields, self.body = split_compact(self.raw)

    def assert_error(self, data, *fragments):
        path = self.write_bytes("bad.tms", data)
        with self.assertRaises(tracemalloc.SnapshotError) as cm:
            tracemalloc.Snapshot.load(path)
        for fragment in fragments:
            self.assertIn(fragment, str(cm.exception))
        self.assertNotIn("internal error", str(cm.exception))

    def test_header(self):
        self.assertEqual(self.raw[:8], b"\x89TMS\r\n\x1a\n")
        self.assertEqual(self.fields[1], 1)  # the version of the fixture (still read)
        fields = list(self.fields)
        fields[1] = 3
        self.assert_error(join_compact(fields, self.body),
                          "unsupported compact snapshot format version 3")
        fields = list(self.fields)
        self.assert_error(join_compact(fields, self.body)[:-1], "truncated file")
        self.assert_error(self.raw[:20], "truncated file (incomplete header)")
        self.assert_error(self.raw[:5], "truncated file (incomplete header)")
        self.assert_error(self.raw + b"x", "1 bytes of garbage")
        corrupt = bytearray(self.raw)
        corrupt[-3] ^= 0x40
        self.assert_error(bytes(corrupt), "corrupt file")
        self.assert_error(self.raw[:32] + struct.pack("<I", self.fields[5] ^ 1)
                          + self.raw[36:], "checksum mismatch")
        header = _compact._HEADER.pack(self.fields[0], 1, 4, *self.fields[3:])
        self.assert_error(header + self.raw[len(header):], "unsupported compact snapshot flags")

    def test_equal_tracebacks_stored_once(self):
        frames = (("a.py", 1), ("b.py", 2))
        copy = tuple(list(frames))
        self.assertIsNot(copy, frames)
        snapshot = tracemalloc.Snapshot([(0, 1, frames, 2), (0, 2, copy, 2),
                                         (0, 3, (("c.py", 3),), 1), (0, 4, copy, 2)], 2)
        path = self.path("dedup.tms")
        snapshot.dump(path)
        with open(path, "rb") as fp:
            body = split_compact(fp.read())[1]
        pos = body.index(b"TBKS")
        self.assertEqual(struct.unpack("<I", body[pos + 12:pos + 16])[0], 2)
        loaded = tracemalloc.Snapshot.load(path)
        self.assertEqual(loaded.traces._traces, snapshot.traces._traces)
        self.assertIs(loaded.traces._traces[0][2], loaded.traces._traces[3][2])

    def test_uncompressed_body(self):
        path = self.write_bytes("plain.tms", join_compact(self.fields, self.body, False))
        self.assertEqual(tracemalloc.Snapshot.load(path).traces._traces, RAW)

    def test_decompression_bomb(self):
        bomb = zlib.compress(b"\0" * (50 * 1024 * 1024), 9)
        fields = list(self.fields)
        fields[3], fields[4], fields[5] = len(bomb), 10 ** 12, 0
        start = tmsupport.cpu_time()
        self.assert_error(_compact._HEADER.pack(*fields) + bomb, "impossible uncompressed size")
        fields[4] = 50 * 1024 * 1024 + 1  # a lie within zlib's ratio
        self.assert_error(_compact._HEADER.pack(*fields) + bomb, "corrupt file")
        self.assertLess(tmsupport.cpu_time() - start, 10)

    def test_sections(self):
        sections = []
        pos = 0
        while pos < len(self.body):
            tag, size = _compact._SECTION.unpack(self.body[pos:pos + 12])
            sections.append((tag, self.body[pos + 12:pos + 12 + size]))
            pos += 12 + size
        self.assertEqual([tag for tag, _ in sections], [b"META", b"STRS", b"FRMS", b"TBKS",
                                                        b"TRCS"])

        def body_of(items):
            return b"".join(_compact._SECTION.pack(tag, len(payload)) + payload
                            for tag, payload in items)
        # an optional section of a later version (lowercase) is skipped, others refused
        path = self.write_bytes("extra.tms", join_compact(
            self.fields, body_of(sections + [(b"xtra", b"123")])))
        self.assertEqual(tracemalloc.Snapshot.load(path).traces._traces, RAW)
        self.assert_error(join_compact(self.fields, body_of(sections + [(b"XTRA", b"")])),
                          "unsupported section")
        self.assert_error(join_compact(self.fields, body_of(sections[:4])),
                          "incomplete trace sections")
        self.assert_error(join_compact(self.fields, body_of(sections[1:])), "no META section")
        self.assert_error(join_compact(self.fields, body_of(sections + sections[-1:])),
                          "two")
        trcs = sections[4][1]
        self.assert_error(join_compact(self.fields, body_of(sections[:4] + [
            (b"TRCS", trcs[:4] + b"\xff" * (len(trcs) - 4))])), "corrupt file")


class python_twins(object):
    """Within it, the package runs the Python twins of the engine's C loops (a FakeEngine is
    the package's engine: tracemalloc/_accel.py)."""

    def __enter__(self):
        self.saved = tracemalloc._engine
        tracemalloc._engine = tmsupport.FakeEngine()

    def __exit__(self, *exc):
        tracemalloc._engine = self.saved


class c_loops(object):
    """The engine's C loops, as usual (the other arm of python_twins())."""

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        pass


def trcs_of(raw):
    """The payload of the TRCS section of the compact file *raw*."""
    body = split_compact(raw)[1]
    pos = 0
    while pos < len(body):
        tag, size = _compact._SECTION.unpack(body[pos:pos + 12])
        if tag == b"TRCS":
            return body[pos + 12:pos + 12 + size]
        pos += 12 + size
    raise AssertionError("no TRCS section")


def with_trcs(raw, payload):
    """The compact file *raw* with *payload* as its TRCS section."""
    fields, body = split_compact(raw)
    sections = []
    pos = 0
    while pos < len(body):
        tag, size = _compact._SECTION.unpack(body[pos:pos + 12])
        sections.append(_compact._SECTION.pack(tag, len(payload) if tag == b"TRCS" else size)
                        + (payload if tag == b"TRCS" else body[pos + 12:pos + 12 + size]))
        pos += 12 + size
    return join_compact(fields, b"".join(sections))


class CompactVersion2Tests(TempDirMixin, unittest.TestCase):
    """Version 2 of the compact format: the distinct traces and an index per trace."""

    FRAMES = [(("f%d.py" % (index % 7), index),) for index in range(300)]

    def traces(self, count, distinct):
        rows = [(row % 3, 8 * row, self.FRAMES[row % 300], 1) for row in range(distinct)]
        return [rows[index % distinct] for index in range(count)]

    def dump_bytes(self, traces, name):
        path = self.path(name)
        tracemalloc.Snapshot(traces, 1).dump(path)
        with open(path, "rb") as fp:
            return path, fp.read()

    def test_index_widths(self):
        # (traces, distinct) -> the index width: 0 when more than half of the traces are
        # distinct (every trace a row), else the least of 1, 2, 4 bytes that holds them
        for count, distinct, width in ((0, 1, 1), (6, 5, 0), (1000, 3, 1), (600, 256, 1),
                                       (600, 300, 2), (140001, 70000, 4)):
            traces = self.traces(count, distinct)
            path, raw = self.dump_bytes(traces, "w%d.tms" % width)
            self.assertEqual(_compact._HEADER.unpack(raw[:_compact._HEADER.size])[1], 2)
            # an ordinary zlib stream, though written in pieces
            fields = _compact._HEADER.unpack(raw[:_compact._HEADER.size])
            body = zlib.decompress(raw[_compact._HEADER.size:])
            self.assertEqual((len(body), zlib.crc32(body) & 0xffffffff), fields[4:6])
            head = struct.unpack("<III", trcs_of(raw)[:12])
            rows = len(set(traces)) if width else count
            self.assertEqual(head, (count, rows, width), (count, distinct))
            with python_twins():
                twin_path, twin_raw = self.dump_bytes(traces, "twin%d.tms" % width)
                self.assertEqual(twin_raw, raw)  # the twins write the same bytes
                twin_loaded = tracemalloc.Snapshot.load(path).traces._traces
            loaded = tracemalloc.Snapshot.load(path).traces._traces
            self.assertEqual(loaded, traces)
            self.assertEqual(twin_loaded, traces)
            if width and count:
                # equal traces share one tuple (so statistics walk a few thousand tuples)
                self.assertIs(loaded[0], loaded[distinct])
                self.assertIs(twin_loaded[0], twin_loaded[distinct])

    def test_tracebacks_and_total_nframe(self):
        # distinct objects of equal tracebacks, None and distinct total_nframe, domains
        frames = (("a.py", 1), ("b.py", 2))
        copy = tuple(list(frames))
        traces = [(0, 1, frames, 2), (0, 1, copy, 2), (5, 1, frames, None),
                  (0, 1, frames, 7)] * 10 + [(2 ** 32 - 1, 2 ** 64 - 1, (), 0)]
        path, raw = self.dump_bytes(traces, "nframe.tms")
        self.assertEqual(_compact._HEADER.unpack(raw[:_compact._HEADER.size])[1], 2)
        with python_twins():
            self.assertEqual(self.dump_bytes(traces, "nframe-twin.tms")[1], raw)
            self.assertEqual(tracemalloc.Snapshot.load(path).traces._traces, traces)
        self.assertEqual(tracemalloc.Snapshot.load(path).traces._traces, traces)

    def test_corrupt_table(self):
        traces = self.traces(1000, 3)
        path, raw = self.dump_bytes(traces, "good.tms")
        payload = trcs_of(raw)
        count, rows, width = struct.unpack("<III", payload[:12])
        self.assertEqual((count, rows, width), (1000, 3, 1))
        table = payload[12:12 + 20 * rows]
        index = payload[12 + 20 * rows:]
        cases = [
            (struct.pack("<III", count, rows, 3) + table + index, "wrong index width"),
            (struct.pack("<III", count, rows, 0) + table + index, "wrong index width"),
            (struct.pack("<III", count, rows, 1) + table + index[:-1] + b"\x03",
             "out of range"),
            (struct.pack("<III", count, rows, 2) + table + index, "section is too short"),
            (struct.pack("<III", count, rows, 1) + table + index + b"\0", "unexpected bytes"),
            (struct.pack("<III", count, rows + 1, 1) + table + index, "section is too short"),
            # a traceback index out of range, a total_nframe below -1
            (struct.pack("<III", count, rows, 1) + table[:12 * rows] + b"\xff" * 4
             + table[12 * rows + 4:] + index, "out of range"),
            (struct.pack("<III", count, rows, 1) + table[:16 * rows] + b"\xfe\xff\xff\xff"
             + table[16 * rows + 4:] + index, "negative total_nframe"),
        ]
        for number, (bad, fragment) in enumerate(cases):
            path = self.write_bytes("bad%d.tms" % number, with_trcs(raw, bad))
            for twins in (False, True):
                with (python_twins() if twins else c_loops()):
                    with self.assertRaises(tracemalloc.SnapshotError, msg=(number, twins)) as cm:
                        tracemalloc.Snapshot.load(path)
                message = str(cm.exception)
                self.assertIn("corrupt file", message, (number, twins))
                self.assertIn(fragment, message, (number, twins))
                self.assertNotIn("internal error", message)


# ---------------------------------------------------------------------------------------------
# Malicious files
# ---------------------------------------------------------------------------------------------

def nested_tuple_key(depth):
    """A dict whose key is a tuple nested *depth* times: hashing it recursed in C."""
    return b"\x80\x02}" + b")" + b"\x85" * depth + b"Ns."


def stock_shaped(traces_payload):
    """A stock-looking Snapshot pickle whose _traces list is *traces_payload* (opcodes)."""
    return (b"\x80\x04\x8c\x0btracemalloc\x94\x8c\x08Snapshot\x94\x93\x94)\x81\x94}\x94("
            b"\x8c\x06traces\x94h\x00\x8c\x07_Traces\x94\x93\x94)\x81\x94}\x94\x8c\x07"
            b"_traces\x94]\x94(" + traces_payload + b"es\x62\x8c\x0ftraceback_limit\x94K\x01"
            b"u\x62.")


class MaliciousFileTests(TempDirMixin, unittest.TestCase):
    def setUp(self):
        super(MaliciousFileTests, self).setUp()
        self.marker = self.path("pwned")

    @staticmethod
    def payloads(marker="/nonexistent/pwned"):
        """(name, bytes) of the malicious files; *marker* is the file they would create."""
        touch = "touch %s" % marker
        cases = [
            ("REDUCE os.system, protocol 2", pickle.dumps(Reduce(os.system, (touch,)), 2)),
            ("REDUCE of a function of ours", pickle.dumps(Reduce(_mark_code_ran, ("x",)), 2)),
            ("GLOBAL builtins.eval", b"\x80\x02c__builtin__\neval\nX\x0b\x00\x00\x00"
                                     b"__import__(\x85R."),
            ("GLOBAL builtins.eval (3.x name)", b"\x80\x02cbuiltins\neval\nX\x01\x00\x00\x001"
                                                b"\x85R."),
            ("STACK_GLOBAL os.system", b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x04true"
                                       b"\x85R."),
            ("INST", b"\x80\x02(X\x04\x00\x00\x00trueios\nsystem\n."),
            ("OBJ", b"\x80\x02(cos\nsystem\nX\x04\x00\x00\x00trueo."),
            ("EXT1", b"\x80\x02\x82\x01."), ("EXT2", b"\x80\x02\x83\x01\x00."),
            ("EXT4", b"\x80\x02\x84\x01\x00\x00\x00."),
            ("PERSID", b"\x80\x02Pabc\n."), ("BINPERSID", b"\x80\x02K\x01Q."),
            ("NEXT_BUFFER", b"\x80\x05\x97."), ("READONLY_BUFFER", b"\x80\x05K\x01\x98."),
            ("hidden in a stock snapshot", stock_shaped(
                b"\x8c\x02os\x8c\x06system\x93\x8c\x04true\x85R")),
            ("hidden in a pickle of builtins", pickle.dumps(
                {"format": "pytracemalloc.snapshot", "version": 2, "pid": 1, "timestamp": "x",
                 "stats": None, "process_memory": None, "tracemalloc_memory": None,
                 "user_data": [], "traces": [], "traceback_limit": 1,
                 "attributes": {"x": Reduce(os.system, (touch,))}}, 2)),
            ("tracemalloc class called with arguments", b"\x80\x04\x8c\x0btracemalloc\x8c"
                                                        b"\x08Snapshot\x93K\x01\x85R."),
            ("NEWOBJ_EX with keywords", b"\x80\x04\x8c\x0btracemalloc\x8c\x05Frame\x93)}"
                                        b"\x92."),
            ("a Frame, not a snapshot", b"\x80\x04\x8c\x0btracemalloc\x8c\x05Frame\x93)"
                                        b"\x81."),
            # huge declared lengths: nothing may be allocated for them
            ("BINUNICODE 4 GiB", b"\x80\x02X\xff\xff\xff\xffabc."),
            ("BINBYTES8 2**63", b"\x80\x04\x8e" + struct.pack("<Q", 2 ** 63) + b"abc."),
            ("BINUNICODE8 2**62", b"\x80\x04\x8d" + struct.pack("<Q", 2 ** 62) + b"abc."),
            ("BYTEARRAY8 2**60", b"\x80\x05\x96" + struct.pack("<Q", 2 ** 60) + b"."),
            ("FRAME 2**60", b"\x80\x04\x95" + struct.pack("<Q", 2 ** 60) + b"N."),
            ("FRAME 2 GiB", b"\x80\x04\x95" + struct.pack("<Q", 2 ** 31 - 1) + b"N."),
            ("LONG4 2 GiB", b"\x80\x02\x8b\xff\xff\xff\x7f\x00."),
            ("LONG4 negative", b"\x80\x02\x8b\xff\xff\xff\xff\x00."),
            ("BINSTRING negative", b"\x80\x02T\xff\xff\xff\xff."),
            # memo: CPython's C unpickler grows its memo array to twice the index
            ("LONG_BINPUT 2**31", b"\x80\x02Nr\x00\x00\x00\x80."),
            ("LONG_BINPUT 2**32-1", b"\x80\x02Nr\xff\xff\xff\xff."),
            ("PUT 10**9", b"\x80\x02Np1000000000\n."),
            ("PUT with a superscript digit", b"\x80\x02Np1\xb2\n."),  # str.isdigit() says yes
            ("GET unset", b"\x80\x02h\x05."),
            # nesting: a tuple hashed as a dict key, a set item
            ("tuple nested 10**6 deep as a dict key", nested_tuple_key(10 ** 6)),
            ("tuple nested with MARK/TUPLE", b"\x80\x02}" + b"(" * 200000 + b")"
                                             + b"t" * 200000 + b"Ns."),
            ("frozenset nested", b"\x80\x04" + b"(" * 100000 + b"\x91" * 100000 + b"."),
            # the same with one MARK open at a time, through the memo
            ("tuple nested through the memo", b"\x80\x02)q\x00" + b"(h\x00tq\x00" * 200000
                                              + b"}h\x00Ns."),
            ("frozenset nested through the memo", b"\x80\x04)q\x00"
                                                  + b"(h\x00\x91q\x00" * 200000 + b"."),
            ("lists nested 10**6 deep", b"\x80\x02" + b"]" * 10 ** 6 + b"a" * (10 ** 6 - 1)
                                        + b"."),
            ("marks 10**6", b"\x80\x02" + b"(" * 10 ** 6 + b"N."),
            ("stack underflow", b"\x80\x02a."), ("odd SETITEMS", b"\x80\x02}(Nu."),
            ("unknown opcode", b"\x80\x02\xff."), ("PROTO 9", b"\x80\x09N."),
            ("huge INT line", b"\x80\x02I" + b"1" * 100000 + b"\n."),
            ("int of 2 MB", b"\x80\x02\x8b" + struct.pack("<i", 2 * 10 ** 6) + b"\x01" * 2 * 10 ** 6
                            + b"."),
        ]
        with open(data_file("py3-compact.tms"), "rb") as fp:
            fields, body = split_compact(fp.read())
        size = struct.unpack("<Q", body[4:12])[0]
        evil = pickle.dumps({"pid": Reduce(os.system, (touch,))}, 2)
        cases.append(("compact file whose metadata runs os.system", join_compact(
            fields, _compact._SECTION.pack(b"META", len(evil)) + evil + body[12 + size:])))
        return cases

    def test_malicious_pickles(self):
        for name, payload in self.payloads(self.marker):
            path = self.write_bytes("evil.pickle", payload)
            start = tmsupport.cpu_time()
            with self.assertRaises(tracemalloc.SnapshotError) as cm:
                tracemalloc.Snapshot.load(path)
            elapsed = tmsupport.cpu_time() - start
            message = str(cm.exception)
            self.assertNotIn("internal error", message, name)
            self.assertNotIn("\n", message)
            self.assertLess(elapsed, 5, "%s: %.1f s" % (name, elapsed))
            self.assertFalse(os.path.exists(self.marker), name)
            self.assertEqual(CODE_RAN, [], name)

    def test_deep_lists_are_not_a_crash(self):
        # mutable containers may nest (hashing stops at them); the loader still says no
        for depth in (10 ** 5, 10 ** 6):
            path = self.write_bytes("deep.pickle", b"\x80\x02" + b"]" * depth
                                    + b"a" * (depth - 1) + b".")
            self.assertRaises(tracemalloc.SnapshotError, tracemalloc.Snapshot.load, path)


class FuzzFindingTests(TempDirMixin, unittest.TestCase):
    """What the fuzzing campaigns of tests/fuzz found (README.rst, "Reliability")."""

    def pickle_dict(self):
        with open(data_file("py3-pickle.pickle"), "rb") as fp:
            return pickle.load(fp)

    def load_error(self, data):
        path = self.write_bytes("finding", data)
        with self.assertRaises(tracemalloc.SnapshotError) as cm:
            tracemalloc.Snapshot.load(path)
        message = str(cm.exception)
        self.assertNotIn("\n", message)
        self.assertNotIn("internal error", message)
        return message

    def test_huge_ints_are_refused(self):
        # A pid of 5,000 digits loaded, then repr() of the snapshot failed (str() of such an
        # int is refused on 3.11+); a size beyond 1e308 broke the size formatting. Ints of
        # more than 128 bits are refused, by the C check of the traces too.
        for key, make in (
                ("pid", lambda value: value),
                ("process_memory", lambda value: value),
                ("user_data", lambda value: [("t", "size", value)]),
                ("traceback_limit", lambda value: value),
                ("traces", lambda value: [(0, value, (("a.py", 1),), 1)]),
                ("traces", lambda value: [(value, 1, (("a.py", 1),), 1)]),
                ("traces", lambda value: [(0, 1, (("a.py", value),), 1)]),
                ("traces", lambda value: [(0, 1, (("a.py", 1),), value)]),
                ("traces", lambda value: [(0, 1, (("a.py", 1),), 1)] * 3
                 + [(0, value, (("a.py", 1),), 1)])):
            for value in (10 ** 5000, -(10 ** 400), 2 ** 128):
                data = self.pickle_dict()
                data[key] = make(value)
                message = self.load_error(pickle.dumps(data, 2))
                self.assertIn("an int of %d bits (at most 128)" % value.bit_length(), message)
        data = self.pickle_dict()
        data["traces"] = None
        data["stats"] = {"a.py": {1: (10 ** 400, 1)}}
        self.assertIn("an int of", self.load_error(pickle.dumps(data, 2)))
        # 128 bits still load (the round trips hold sizes of 2**64)
        data = self.pickle_dict()
        data["pid"] = 2 ** 128 - 1
        data["traces"] = [(0, -(2 ** 128) + 1, (("a.py", 2 ** 100),), 2 ** 70)]
        path = self.write_bytes("big", pickle.dumps(data, 2))
        snapshot = tracemalloc.Snapshot.load(path)
        self.assertEqual(snapshot.pid, 2 ** 128 - 1)
        repr(snapshot)
        str(snapshot.statistics("lineno")[0])

    def test_filename_with_a_nul_byte_formats(self):
        # Traceback.format() raised ValueError ("embedded null byte", from linecache's
        # os.stat()) for a frame whose filename, read from a file, holds a NUL
        data = self.pickle_dict()
        data["traces"] = [(0, 5, ((u"a\x00b.py", 3),), 1)]
        path = self.write_bytes("nul", pickle.dumps(data, 2))
        snapshot = tracemalloc.Snapshot.load(path)
        stat = snapshot.statistics("traceback")[0]
        self.assertEqual(stat.traceback.format(), ['  File "a\x00b.py", line 3'])
        self.assertIn("a\x00b.py:3", str(stat))


# ---------------------------------------------------------------------------------------------
# Fuzzing
# ---------------------------------------------------------------------------------------------

# TRACEMALLOC_FUZZ_ROUNDS and TRACEMALLOC_FUZZ_SEED run longer or other campaigns.
FUZZ_SEED = int(os.environ.get("TRACEMALLOC_FUZZ_SEED", "20130904"))
FUZZ_ROUNDS = int(os.environ.get("TRACEMALLOC_FUZZ_ROUNDS", "20000"))
FUZZ_MAX_SECONDS = 2.0  # CPU seconds per load (a valid load takes milliseconds)


def mutate(rng, data):
    data = bytearray(data)
    kind = rng.randrange(7)
    if kind == 0 and data:  # flip bits
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == 1 and data:  # special byte values
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.choice((0, 1, 0x7f, 0x80, 0xff,
                                                         rng.randrange(256)))
    elif kind == 2:  # truncate
        del data[rng.randrange(len(data) + 1):]
    elif kind == 3:  # insert bytes
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
    else:  # a little-endian length field somewhere set to a big value
        if len(data) > 8:
            pos = rng.randrange(len(data) - 8)
            data[pos:pos + 4] = struct.pack("<I", rng.choice((2 ** 31 - 1, 2 ** 32 - 1,
                                                             2 ** 20, rng.randrange(2 ** 32))))
    return bytes(data)


class FuzzTests(TempDirMixin, unittest.TestCase):
    def seeds(self):
        """(name, bytes, kind): valid files of every format; kind "compact" files are
        also mutated inside their compressed body."""
        seeds = []
        for name in ("py2-compact.tms", "py3-compact.tms", "py2-pickle.pickle",
                     "py3-pickle.pickle", "py2-stdlib.pickle", "stock-3.13.pickle",
                     "stock-3.11-real.pickle", "stock-3.5-layout.pickle", "py2-v1.pickle"):
            with open(data_file(name), "rb") as fp:
                seeds.append((name, fp.read()))
        snapshot = tracemalloc.Snapshot(list(RAW), 3, stats={"s.py": {1: (2, 3)}}, pid=1)
        snapshot.attribute = [1, (2.5, None), {"k": "v"}]
        rng = random.Random(1)
        frames = [("f%d.py" % rng.randrange(30), rng.randrange(100)) for _ in range(60)]
        many = tracemalloc.Snapshot(
            [(rng.randrange(3), rng.randrange(10 ** 6),
              tuple(rng.choice(frames) for _ in range(rng.randint(1, 5))), rng.randint(1, 9))
             for _ in range(300)], 5)
        path = self.path("seed")
        for name, value in (("fresh", snapshot), ("many", many)):
            for fmt in ("compact", "pickle", "stdlib"):
                value.dump(path, format=fmt)
                with open(path, "rb") as fp:
                    seeds.append(("%s-%s" % (name, fmt), fp.read()))
        return seeds

    def load(self, data):
        """Load *data*: the snapshot, or the SnapshotError message; checks the bounds."""
        path = self.write_bytes("fuzz", data)
        start = tmsupport.cpu_time()
        try:
            snapshot = tracemalloc.Snapshot.load(path)
        except tracemalloc.SnapshotError as exc:
            result = str(exc)
            self.assertNotIn("internal error", result)
            self.assertNotIn("\n", result)
        else:
            result = snapshot
            # what loads is valid: the APIs work on it
            if snapshot.traces is not None:
                snapshot.statistics("traceback")
                snapshot.statistics("lineno", True)
                snapshot.filter_traces([tracemalloc.Filter(False, "a*", all_frames=True)])
            else:
                snapshot.statistics("filename")
            snapshot.stats
            repr(snapshot)
        elapsed = tmsupport.cpu_time() - start
        self.assertLess(elapsed, FUZZ_MAX_SECONDS, "%.1f CPU s to load %r" % (elapsed, data[:60]))
        return result

    def test_fuzz(self):
        rng = random.Random(FUZZ_SEED)
        seeds = self.seeds()
        for name, data in seeds:
            self.assertIsInstance(self.load(data), tracemalloc.Snapshot, name)
        stats = {"loaded": 0, "refused": 0}
        start = time.time()
        for round_ in range(FUZZ_ROUNDS):
            name, data = seeds[round_ % len(seeds)]
            if data.startswith(_compact.COMPACT_MAGIC) and rng.random() < 0.5:
                # inside the compressed body, with a valid header and checksum
                fields, body = split_compact(data)
                mutated = join_compact(fields, mutate(rng, body))
            else:
                mutated = mutate(rng, data)
                for _ in range(rng.randrange(3)):
                    mutated = mutate(rng, mutated)
            try:
                result = self.load(mutated)
            except AssertionError:
                raise
            except BaseException as exc:
                self.fail("round %d (%s): %s: %s" % (round_, name, type(exc).__name__, exc))
            stats["loaded" if isinstance(result, tracemalloc.Snapshot) else "refused"] += 1
        elapsed = time.time() - start
        sys.stderr.write("[%d mutated files in %.1f s: %d loaded, %d refused] "
                         % (FUZZ_ROUNDS, elapsed, stats["loaded"], stats["refused"]))
        self.assertGreater(stats["refused"], FUZZ_ROUNDS // 4)

    def test_scanners_agree(self):
        engine = tracemalloc._engine
        tmsupport.require(self, hasattr(engine, "scan_pickle"),
                          "the engine has no scan_pickle() (%s)" % tmsupport.SKIP_REASON)
        rng = random.Random(FUZZ_SEED + 1)
        pickles = [data for _, data in self.seeds() if data[:1] == b"\x80"]
        with open(data_file("py3-compact.tms"), "rb") as fp:
            body = split_compact(fp.read())[1]
        pickles.append(body[12:12 + struct.unpack("<Q", body[4:12])[0]])  # the META pickle
        pickles.extend(payload for _, payload in MaliciousFileTests.payloads()
                       if len(payload) < 100000 and payload[:1] == b"\x80")
        outcomes = set()
        for round_ in range(FUZZ_ROUNDS):
            data = pickles[round_ % len(pickles)]
            if round_ >= len(pickles):
                data = mutate(rng, data)
            python = _pickle_scan.scan_pickle_py(data, _pickle_scan.MAX_NESTING)
            c = engine.scan_pickle(data, _pickle_scan.MAX_NESTING)
            self.assertEqual(tuple(c), tuple(python), repr(data[:80]))
            outcomes.add(python[0])
        self.assertEqual(outcomes, set([_pickle_scan.SCAN_OK, _pickle_scan.SCAN_TRUNCATED,
                                        _pickle_scan.SCAN_CORRUPT, _pickle_scan.SCAN_REFUSED]))

    def test_frame_longer_than_the_file_is_truncated(self):
        # The unpickler allocates a FRAME's declared length before reading it: the scanners
        # refuse a frame longer than the rest of the file before any unpickler sees it.
        data = b"\x80\x04\x95" + struct.pack("<Q", 2 ** 31 - 1) + b"N."
        self.assertEqual(_pickle_scan.scan_pickle_py(data, _pickle_scan.MAX_NESTING),
                         (_pickle_scan.SCAN_TRUNCATED, None))
        exact = b"\x80\x04\x95" + struct.pack("<Q", 2) + b"N."
        self.assertEqual(_pickle_scan.scan_pickle_py(exact, _pickle_scan.MAX_NESTING)[0],
                         _pickle_scan.SCAN_OK)
        engine = tracemalloc._engine
        tmsupport.require(self, hasattr(engine, "scan_pickle"),
                          "the engine has no scan_pickle() (%s)" % tmsupport.SKIP_REASON)
        self.assertEqual(tuple(engine.scan_pickle(data, _pickle_scan.MAX_NESTING)),
                         (_pickle_scan.SCAN_TRUNCATED, None))
        self.assertEqual(engine.scan_pickle(exact, _pickle_scan.MAX_NESTING)[0],
                         _pickle_scan.SCAN_OK)


if __name__ == "__main__":
    unittest.main()
