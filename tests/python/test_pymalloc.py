"""The pymalloc statistics diff (tracemalloc/_pymalloc.py) and where RSS goes
(tracemalloc/_breakdown.py): the parser on recorded reports of every format and on the real
report of the interpreter under test, the capture (file descriptor 2, tracing suspended,
pymalloc put back under the tracer's hook), DiffSysDebugMallocStats on 100 000 small objects
held then dropped, get_memory_breakdown() against the RSS of a child process that allocates
50 MB, and the breakdown in snapshots, DisplayTop and the command line.

The recorded reports, tests/python/data/debugmallocstats-*.txt, are real output:

- 3.11.txt, 3.13.txt: the "track" interpreters of the project, ``python -S -c "import sys;
  x = [str(i) * 3 for i in range(20000)]; y = [(i, i) for i in range(5000)];
  sys._debugmallocstats()"`` (stderr);
- 3.11-malloc.txt: the same with PYTHONMALLOC=malloc (no pymalloc section);
- 3.13-mimalloc.txt: the same with PYTHONMALLOC=mimalloc (mimalloc's own lines);
- 2.7-debug.txt: Python 2.7.18 configured --with-pydebug (2.7 has no
  sys._debugmallocstats(); a debug build prints the report at exit and at each new arena
  with PYTHONMALLOCSTATS=1), ``./python -S -c "x = [str(i) * 3 for i in range(20000)];
  y = [(i, i) for i in range(5000)]"``: of the reports it printed, the one with the most
  bytes in blocks in use.
"""
from __future__ import absolute_import

import gc
import json
import re
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402

engine = tmsupport.REAL_ENGINE
_pymalloc = tracemalloc._pymalloc
_breakdown = tracemalloc._breakdown

DATA_DIR = os.path.join(tmsupport.TESTS_DIR, "data")
PY2 = sys.version_info[0] == 2
VARIANT = engine.PATCH_VARIANT if engine is not None else None
NO_REPORT = "Python 2.7 has no sys._debugmallocstats(): no pymalloc statistics to compare"
HAS_REPORT = hasattr(sys, "_debugmallocstats")

# The objects of the diff test, and the margin of blocks that the test's own work may add to
# a size class (a capture itself adds none: CaptureTests.test_empty_block).
COUNT = 100000
MARGIN = 300


def sample(name):
    with open(os.path.join(DATA_DIR, "debugmallocstats-%s.txt" % name), "rb") as fp:
        return fp.read()


def row(stats, block_class):
    """The DebugMallocStat of *block_class* in *stats*, or None."""
    for stat in stats.malloc_stats:
        if stat.block_class == block_class:
            return stat
    return None


class Consistency(object):
    """Checks that hold for any complete pymalloc report: its sums, as CPython computes
    them."""

    def check_consistent(self, stats):
        self.assertTrue(stats.has_pymalloc)
        pools = stats.pools_blocks
        arenas = stats.arenas
        self.assertEqual(sum(s.allocated_bytes for s in stats.malloc_stats),
                         pools.allocated_bytes)
        self.assertEqual(sum(s.available_bytes for s in stats.malloc_stats),
                         pools.available_bytes)
        self.assertEqual(pools.allocated_bytes + pools.available_bytes
                         + pools.unused_pool_total + pools.pool_header_bytes
                         + pools.quantization + pools.arena_alignment, pools.total)
        self.assertEqual(arenas.narenas * arenas.arena_size, arenas.arenas_total)
        self.assertEqual(arenas.arenas_total, pools.total)
        self.assertEqual(arenas.ntimes_arena_allocated - arenas.narenas,
                         arenas.arenas_reclaimed)
        self.assertTrue(arenas.narenas_highwater >= arenas.narenas)
        for stat in stats.malloc_stats:
            self.assertEqual(stat.size, (stat.block_class + 1) * stats.small_block_threshold
                             // stats.size_classes)
            self.assertTrue(stat.num_pools > 0)
        # every pool of a class has the same number of blocks
        per_pool = set()
        for stat in stats.malloc_stats:
            blocks = stat.blocks_in_use + stat.avail_blocks
            self.assertEqual(blocks % stat.num_pools, 0, stat)
            per_pool.add((stat.size, blocks // stat.num_pools))
        for size, blocks in per_pool:
            self.assertEqual(blocks, (pools.pool_size - pools.pool_header_bytes
                                      // sum(s.num_pools for s in stats.malloc_stats))
                             // size)
        self.assertEqual(stats.pymalloc_free, pools.total - pools.allocated_bytes
                         - pools.arena_alignment)
        for stat in stats.type_stats:
            self.assertEqual(stat.free_count * stat.bytes_each, stat.bytes_total)


class RecordedReportTests(Consistency, unittest.TestCase):
    """The parser on the recorded report of each format (every interpreter parses them
    all): a change of a format that the parser misses fails here."""

    def test_3_11(self):
        stats = tracemalloc.SysDebugMallocStats(sample("3.11"))
        self.assertEqual((stats.small_block_threshold, stats.size_classes), (512, 32))
        self.assertEqual(len(stats.malloc_stats), 29)
        self.assertEqual(row(stats, 3), (3, 64, 112, 28510, 50))
        self.assertEqual(row(stats, 4), (4, 80, 15, 2862, 198))
        self.assertEqual(stats.arenas, (3, 0, 3, 3, 1048576, 3145728))
        self.assertEqual(stats.pools_blocks, (2410976, 376240, 18, 16384, 8208, 6240, 49152,
                                              3145728))
        self.assertEqual(stats.arena_map, {"mid_nodes": 1, "bot_nodes": 1,
                                           "root_bytes": 262144, "mid_bytes": 262144,
                                           "bot_bytes": 131072, "total": 655360})
        self.assertIsNone(stats.malloc_calls)
        self.assertEqual(len(stats.type_stats), 23)
        self.assertEqual(stats.type_stat("PyDictObjects"), (15, "PyDictObjects", 48, 720))
        self.assertEqual(stats.type_stat("20-sized PyTupleObjects").bytes_each, 184)
        self.assertFalse(stats.has_object_type("PyDictKeysObjects"))
        self.assertEqual(stats.unknown_lines, [])
        self.check_consistent(stats)

    def test_3_13(self):
        stats = tracemalloc.SysDebugMallocStats(sample("3.13"))
        self.assertEqual((stats.small_block_threshold, stats.size_classes), (512, 32))
        self.assertEqual(len(stats.malloc_stats), 32)
        self.assertEqual(row(stats, 3), (3, 64, 114, 29052, 18))
        self.assertEqual(stats.arenas, (3, 0, 3, 3, 1048576, 3145728))
        self.assertEqual(stats.pools_blocks, (2752864, 278048, 3, 16384, 8928, 7584, 49152,
                                              3145728))
        self.assertEqual(stats.arena_map["total"], 655360)
        self.assertEqual(stats.type_stat("PyDictKeysObjects"),
                         (8, "PyDictKeysObjects", 32, 256))
        self.assertEqual(len(stats.type_stats), 24)
        self.assertEqual(stats.unknown_lines, [])
        self.check_consistent(stats)

    def test_2_7_debug_build(self):
        stats = tracemalloc.SysDebugMallocStats(sample("2.7-debug"))
        self.assertEqual((stats.small_block_threshold, stats.size_classes), (512, 32))
        self.assertEqual(len(stats.malloc_stats), 29)
        self.assertEqual(row(stats, 6), (6, 112, 547, 19680, 12))
        self.assertEqual(stats.malloc_calls, 93726)
        self.assertEqual(stats.arenas, (16, 3, 13, 13, 262144, 3407872))
        self.assertEqual(stats.pools_blocks, (3253216, 88016, 0, 4096, 39936, 26704, 0,
                                              3407872))
        self.assertIsNone(stats.arena_map)
        self.assertEqual(stats.type_stats, [])
        self.assertEqual(stats.unknown_lines, [])
        self.check_consistent(stats)

    def test_log_of_reports(self):
        # a debug 2.7 prints a report at each new arena: the last one is parsed
        first = sample("2.7-debug").replace(b"93,726", b"12")
        stats = tracemalloc.SysDebugMallocStats(first + sample("2.7-debug"))
        self.assertEqual(stats.malloc_calls, 93726)
        self.assertEqual(len(stats.malloc_stats), 29)
        self.assertTrue(any("12" in line for line in stats.unknown_lines))
        self.check_consistent(stats)

    def test_malloc(self):
        # PYTHONMALLOC=malloc: no pymalloc section, the free lists' section only
        stats = tracemalloc.SysDebugMallocStats(sample("3.11-malloc"))
        self.assertFalse(stats.has_pymalloc)
        self.assertIsNone(stats.pymalloc_free)
        self.assertIsNone(stats.small_block_threshold)
        self.assertEqual(stats.malloc_stats, [])
        self.assertEqual(len(stats.type_stats), 23)
        self.assertEqual(stats.unknown_lines, [])
        self.assertIn("pymalloc is not the object allocator", stats.why_no_pymalloc())

    def test_mimalloc(self):
        # mimalloc's lines are not pymalloc's: kept as they are
        stats = tracemalloc.SysDebugMallocStats(sample("3.13-mimalloc"))
        self.assertFalse(stats.has_pymalloc)
        self.assertEqual(stats.malloc_stats, [])
        self.assertEqual((stats.small_block_threshold, stats.size_classes), (16384, 73))
        self.assertIn("Medium block threshold = 131072", stats.unknown_lines)
        self.assertIn("    Allocated Blocks: 41931", stats.unknown_lines)
        self.assertEqual(len(stats.unknown_lines), 7)
        self.assertEqual(len(stats.type_stats), 24)

    def test_text_and_bytes(self):
        text = sample("3.13").decode("ascii")
        self.assertEqual(tracemalloc.SysDebugMallocStats(text).as_dict(),
                         tracemalloc.SysDebugMallocStats(sample("3.13")).as_dict())

    def test_unknown_and_broken_lines(self):
        # never an error: what the parser does not know is kept, what is missing is None
        report = sample("3.11").decode("ascii")
        lines = report.splitlines()
        end = [index for index, line in enumerate(lines) if "unused pools" in line][0]
        cut = [line for line in lines[:end + 1]
               if not line.startswith("# bytes in available")]
        stats = tracemalloc.SysDebugMallocStats("\n".join(cut))
        self.assertIsNone(stats.pools_blocks.available_bytes)
        self.assertIsNone(stats.pools_blocks.total)
        self.assertIsNone(stats.pymalloc_free)
        self.assertEqual(stats.pools_blocks.unused_pool_total, 18 * 16384)
        self.assertEqual(stats.type_stats, [])
        odd = [u"# bytes of something new          =                1,024",
               u"    7   1024   not a row", u"\x00\xff garbage", u"Total = many"]
        stats = tracemalloc.SysDebugMallocStats("\n".join(lines[:10] + odd + lines[10:]))
        self.assertEqual(stats.unknown_lines, odd)
        self.check_consistent(stats)
        for text in (b"", b"\xff\xfe\x00", b"=\n= 1\n1 = 1", b"\n\n\n"):
            stats = tracemalloc.SysDebugMallocStats(text)
            self.assertFalse(stats.has_pymalloc)
            self.assertIn("no pymalloc arenas", stats.why_no_pymalloc())

    def test_as_dict_is_json(self):
        stats = tracemalloc.SysDebugMallocStats(sample("3.11"))
        value = json.loads(json.dumps(stats.as_dict()))
        self.assertEqual(value["arenas"]["narenas"], 3)
        self.assertEqual(value["malloc_stats"][0]["size"], 16)
        self.assertIn("3 arenas", repr(stats))


def _changed(text, old, new):
    """*text* (bytes) with the first occurrence of *old* replaced by *new*."""
    return text.replace(old, new, 1)


class DiffTests(unittest.TestCase):
    """diff_debugmallocstats() and compare_debugmallocstats() on recorded reports."""

    def test_text(self):
        before = sample("3.11")
        after = _changed(before, b"    3     64         112           28510            50",
                         b"    3     64         120           28990            10")
        # a class missing on one side (CPython prints no class without pools)
        after = _changed(after, b"   21    352           1               1            45\n",
                         b"")
        after = _changed(after, b"           4 free PyFloatObjects * 24 bytes each =      "
                         b"             96", b"           9 free PyFloatObjects * 24 bytes "
                         b"each =                  216")
        after = _changed(after, b"# arenas allocated total           =                    3",
                         b"# arenas allocated total           =                    4")
        a_stats = tracemalloc.SysDebugMallocStats(before)
        b_stats = tracemalloc.SysDebugMallocStats(after)
        self.assertEqual(len(b_stats.malloc_stats), len(a_stats.malloc_stats) - 1)
        self.assertEqual(tracemalloc.diff_debugmallocstats(a_stats, b_stats), [
            "class   size   num pools   blocks in use  avail blocks",
            "-----   ----   ---------   -------------  ------------",
            "    3     64          +8            +480           -40",
            "   21    352          -1              -1           -45",
            "",
            "# arenas allocated total           =                   +1",
            "",
            "          +5 free PyFloatObjects * 24 bytes each =                 +120",
        ])
        changes = tracemalloc.compare_debugmallocstats(a_stats, b_stats)
        self.assertEqual(changes["malloc_stats"], [(3, 64, 8, 480, -40),
                                                   (21, 352, -1, -1, -45)])
        self.assertEqual(changes["arenas"], {"ntimes_arena_allocated": 1})
        self.assertEqual(changes["pools_blocks"], {})
        self.assertEqual(changes["type_stats"], [(5, "PyFloatObjects", 24, 120)])
        self.assertEqual(changes["engine"], {})
        self.assertTrue(changes["pymalloc"])

    def test_same_report(self):
        stats = tracemalloc.SysDebugMallocStats(sample("3.13"))
        self.assertEqual(tracemalloc.diff_debugmallocstats(stats, stats), [])

    def test_sections(self):
        # arenas, pools and the tracer's figures, as printone() prints them
        a_stats = tracemalloc.SysDebugMallocStats(sample("2.7-debug"))
        b_stats = tracemalloc.SysDebugMallocStats(sample("2.7-debug").replace(
            b"# arenas allocated current         =                   13",
            b"# arenas allocated current         =                   15").replace(
            b"13 arenas * 262144 bytes/arena     =            3,407,872",
            b"15 arenas * 262144 bytes/arena     =            3,932,160").replace(
            b"0 unused pools * 4096 bytes        =                    0",
            b"128 unused pools * 4096 bytes      =              524,288").replace(
            b"Total                              =            3,407,872",
            b"Total                              =            3,932,160"))
        a_stats.engine = {"tracing": True, "traced": 1000, "freelists": (64, 1),
                          "tracer": 5000}
        b_stats.engine = {"tracing": True, "traced": 1001000, "freelists": (64, 1),
                          "tracer": 4000}
        self.assertEqual(tracemalloc.diff_debugmallocstats(a_stats, b_stats), [
            "# arenas allocated current         =                   +2",
            "+2 arenas * 262144 bytes/arena     =             +524,288",
            "",
            "+128 unused pools * 4096 bytes     =             +524,288",
            "Total                              =             +524,288",
            "",
            "tracemalloc",
            "# bytes traced                     =           +1,000,000",
            "# bytes of the tracer              =               -1,000",
        ])

    def test_one_side_without_pymalloc(self):
        a_stats = tracemalloc.SysDebugMallocStats(sample("3.11-malloc"))
        b_stats = tracemalloc.SysDebugMallocStats(sample("3.11"))
        lines = tracemalloc.diff_debugmallocstats(a_stats, b_stats)
        self.assertTrue(lines[0].startswith("No pymalloc statistics: the report has no "
                                            "pymalloc arenas"), lines[0])
        changes = tracemalloc.compare_debugmallocstats(a_stats, b_stats)
        self.assertFalse(changes["pymalloc"])
        # the classes of the side that has them are differences from nothing
        self.assertEqual(len(changes["malloc_stats"]), 29)
        self.assertEqual(changes["arenas"], {})
        self.assertEqual(changes["type_stats"], [])  # the same free lists


class ContextManagerTests(unittest.TestCase):
    """DiffSysDebugMallocStats as a context manager and a decorator (on every interpreter:
    where there is no report, the tracer's figures still compare)."""

    def test_not_entered(self):
        diff = tracemalloc.DiffSysDebugMallocStats()
        self.assertIsNone(diff.before)
        with self.assertRaises(RuntimeError) as cm:
            diff.diff()
        self.assertEqual(str(cm.exception),
                         "DiffSysDebugMallocStats: the context manager was not entered")
        with diff:
            with self.assertRaises(RuntimeError) as cm:
                diff.changes()
            self.assertEqual(str(cm.exception),
                             "DiffSysDebugMallocStats: the context manager was not exited")
            self.assertIsNotNone(diff.before)
            self.assertIsNone(diff.after)
        self.assertIsNotNone(diff.after)
        self.assertIsInstance(diff.diff(), str)

    def test_decorator(self):
        stream = tmsupport.text_stream()
        diff = tracemalloc.DiffSysDebugMallocStats(file=stream)

        @diff
        def build(count):
            """Build strings."""
            return ["%015d" % i for i in range(count)]

        self.assertEqual(build.__name__, "build")
        self.assertEqual(len(build(10)), 10)
        self.assertEqual(tmsupport.take_text(stream), diff.diff() + "\n")

        @diff
        def fail():
            raise KeyError("x")

        with self.assertRaises(KeyError):
            fail()
        self.assertIsNotNone(diff.after)
        self.assertEqual(tmsupport.take_text(stream), diff.diff() + "\n")

    @unittest.skipIf(engine is None, tmsupport.SKIP_REASON)
    def test_tracer_section(self):
        tracemalloc.start()
        try:
            size = 1000
            with tracemalloc.DiffSysDebugMallocStats() as diff:
                data = [b"x" * size for i in range(100)]
            changes = diff.changes()
            self.assertTrue(changes["engine"]["traced"] >= 100 * 1000, changes["engine"])
            self.assertIn("# bytes traced", diff.diff())
            self.assertEqual(len(data), 100)
        finally:
            tracemalloc.stop()
        with tracemalloc.DiffSysDebugMallocStats() as diff:
            pass
        self.assertEqual(diff.before.engine["traced"], None)
        self.assertNotIn("# bytes traced", diff.diff())


class InterpreterTests(unittest.TestCase):

    def test_every_interpreter_has_the_report(self):
        # 3.x has it in every build; stock 2.7 only in debug builds, and our 2.7 series adds
        # it to release builds (patches/2.7/0005-debugmallocstats-in-release-builds.patch)
        self.assertTrue(HAS_REPORT, "sys._debugmallocstats() is missing")
        self.assertEqual(type(sys._debugmallocstats).__name__, "builtin_function_or_method")


@unittest.skipIf(engine is None, tmsupport.SKIP_REASON)
class CaptureTests(Consistency, unittest.TestCase):
    """The real report of the interpreter under test, tracing or not."""

    def setUp(self):
        if tmsupport.built_with_address_sanitizer():
            self.skipTest(tmsupport.ASAN_PYMALLOC_REASON)

    def tearDown(self):
        tracemalloc.stop()

    def check_report(self, stats):
        if not HAS_REPORT:  # Python 2.7
            self.assertFalse(stats.has_pymalloc)
            self.assertEqual(stats.text, "")
            self.assertTrue(stats.unavailable.startswith(
                "Python 2.7 has no sys._debugmallocstats()"), stats.unavailable)
            self.assertEqual(stats.why_no_pymalloc(), stats.unavailable)
            return
        self.assertIsNone(stats.unavailable)
        self.assertEqual(stats.unknown_lines, [])  # every line of this version is known
        self.check_consistent(stats)
        self.assertEqual((stats.small_block_threshold, stats.size_classes), (512, 32))
        if PY2:  # arenas of 256 KiB, pools of 4 KiB, no arena map
            self.assertEqual((stats.arenas.arena_size, stats.pools_blocks.pool_size),
                             (1 << 18, 1 << 12))
            self.assertIsNone(stats.arena_map)
        else:
            self.assertEqual((stats.arenas.arena_size, stats.pools_blocks.pool_size),
                             (1 << 20, 1 << 14))
            self.assertEqual(sorted(stats.arena_map), ["bot_bytes", "bot_nodes", "mid_bytes",
                                                       "mid_nodes", "root_bytes", "total"])
        types = set(stats.object_types())
        if VARIANT == "disabled" or PY2:
            self.assertEqual(types, set())  # no free lists, or (2.7) no such section
        else:
            expected = set(["PyDictObjects", "PyFloatObjects", "PyListObjects"] + [
                "%d-sized PyTupleObjects" % size for size in range(1, 21)])
            if sys.version_info >= (3, 13):
                expected.add("PyDictKeysObjects")
            self.assertEqual(types, expected)

    def test_not_tracing(self):
        stats = tracemalloc.SysDebugMallocStats()
        self.check_report(stats)
        self.assertEqual(stats.engine["tracing"], False)
        self.assertIsNone(stats.engine["traced"])
        self.assertIsNone(stats.engine["freelists"])

    def test_tracing(self):
        # pymalloc prints its part only when it is the object allocator: the engine puts it
        # back under its hook for the call, and its hook again after
        tracemalloc.start()
        stats = tracemalloc.SysDebugMallocStats()
        self.check_report(stats)
        self.assertEqual(stats.engine["tracing"], True)
        self.assertTrue(stats.engine["traced"] > 0)
        self.assertEqual(stats.engine["tracer"] > 0, True)
        if VARIANT == "track":
            self.assertEqual(len(stats.engine["freelists"]), 2)
        else:
            self.assertIsNone(stats.engine["freelists"])
        obj = [object() for i in range(3)]
        self.assertIsNotNone(tracemalloc.get_object_traceback(obj[1]))  # still traced

    def test_engine_function(self):
        self.assertEqual(engine.debug_malloc_stats.__doc__.split(" ")[0],
                         "debug_malloc_stats()")
        saved = getattr(sys, "_debugmallocstats", None)
        calls = []
        sys._debugmallocstats = lambda: calls.append(1)
        try:
            # only the builtin: Python code would run with the hook away
            self.assertIs(engine.debug_malloc_stats(), False)
        finally:
            if saved is None:
                del sys._debugmallocstats
            else:
                sys._debugmallocstats = saved
        self.assertEqual(calls, [])
        self.assertIs(tracemalloc.get_debugmallocstats() is not None, HAS_REPORT)

    def test_nothing_traced(self):
        # the capture runs suspended: none of its work is in the user's traces
        tracemalloc.start(25)
        tracemalloc.SysDebugMallocStats()  # the imports of a first capture
        kept = [object() for i in range(10)]
        tracemalloc.get_debugmallocstats()
        tracemalloc.get_memory_breakdown()
        with tracemalloc.DiffSysDebugMallocStats():
            pass
        snapshot = tracemalloc.take_snapshot()
        package = os.path.dirname(tracemalloc.__file__)
        for trace in snapshot.traces:
            for frame in trace.traceback:
                self.assertFalse(frame.filename.startswith(package)
                                 and "_pymalloc" in frame.filename, trace)
                self.assertNotIn("tempfile", frame.filename)
        self.assertTrue(len(snapshot.traces) > 0)  # kept, at least
        self.assertEqual(len(kept), 10)

    def test_stderr(self):
        # the report never reaches the process's stderr; what was written before does
        code = ("import sys, tracemalloc\n"
                "sys.stderr.write('before')\n"
                "tracemalloc.start()\n"
                "stats = tracemalloc.SysDebugMallocStats()\n"
                "print(len(stats.malloc_stats) > 0)\n"
                "sys.stderr.write('after')\n")
        status, out, err = tmsupport.run_python(["-c", code])
        self.assertEqual((status, out.strip(), err), (0, str(HAS_REPORT), "beforeafter"))

    def test_no_stderr_descriptor(self):
        code = ("import os, sys, tracemalloc\n"
                "sys.stderr = None\n"
                "os.close(2)\n"
                "stats = tracemalloc.SysDebugMallocStats()\n"
                "print(stats.has_pymalloc)\n"
                "try:\n"
                "    os.fstat(2)\n"
                "except OSError:\n"
                "    print('closed')\n")
        status, out, err = tmsupport.run_python(["-c", code])
        self.assertEqual((status, out.split(), err), (0, [str(HAS_REPORT), "closed"], ""))

    @unittest.skipUnless(HAS_REPORT, NO_REPORT)
    def test_empty_block(self):
        # the captures of the context manager leave nothing of their own in the report but
        # the bound method __enter__, alive during the first one (a block of 64 bytes on
        # 3.x, with its 16 bytes of GC header; on 2.7 it comes from the method free list,
        # whose blocks stay in use, but for the "disabled" variant, which has none); the
        # garbage collector, which could free anything in between, is off
        bound = tracemalloc.DiffSysDebugMallocStats().__enter__
        if PY2 and VARIANT != "disabled":
            expected = []
        elif PY2:
            # 2.7 "disabled" mallocs every frame: the frames alive during the first capture
            # (__enter__'s) and the second (__exit__'s) differ in size, as many blocks
            expected = None
        else:
            index = block_class(bound)
            expected = [(index, (index + 1) * 16, 0, -1, 1)]
        del bound
        gc.disable()
        self.addCleanup(gc.enable)
        for tracing in (False, True):
            if tracing:
                tracemalloc.start()
            for i in range(3):
                # made before, so that the one it replaces dies before the first capture
                diff = tracemalloc.DiffSysDebugMallocStats()
                with diff:
                    pass
            changes = diff.changes()
            if expected is None:
                rows = changes["malloc_stats"]
                self.assertEqual(sum(row.blocks_in_use for row in rows), 0, rows)
                self.assertTrue(len(rows) <= 4, rows)
            else:
                self.assertEqual(changes["malloc_stats"], expected)


def block_class(obj):
    """pymalloc's size class of *obj*'s block: sys.getsizeof() counts the GC header, and
    pymalloc rounds to 16 bytes (2.7.18 and 3.x on 64-bit)."""
    return (sys.getsizeof(obj) + 15) // 16 - 1


@unittest.skipIf(engine is None, tmsupport.SKIP_REASON)
@unittest.skipUnless(HAS_REPORT, NO_REPORT)
class SmallObjectsTests(unittest.TestCase):
    """100 000 small objects held then dropped: their size class's blocks in use rise by as
    many, and come back."""

    def setUp(self):
        if tmsupport.built_with_address_sanitizer():
            self.skipTest(tmsupport.ASAN_PYMALLOC_REASON)
        # a collection would free the garbage of earlier tests in the middle of a diff
        gc.collect()
        gc.disable()

    def tearDown(self):
        gc.enable()
        tracemalloc.stop()

    def check(self, make, free_list):
        """*make(i)* builds an object; *free_list*: the type of the free list that keeps
        some of them, as the report names it (None: none). Returns the changes of the drop
        and how many the free list kept."""
        index = block_class(make(0))

        def on_free_list(stats):
            if free_list is None or not stats.has_object_type(free_list):
                return 0
            return stats.type_stat(free_list).free_count

        with tracemalloc.DiffSysDebugMallocStats() as diff:
            held = [make(i) for i in range(COUNT)]
        # the blocks in use of the class rise by as many objects, but those that came from
        # the free list, whose blocks were in use already
        rows = dict((stat.block_class, stat) for stat in diff.changes()["malloc_stats"])
        rise = rows[index].blocks_in_use
        if PY2 and free_list is not None and VARIANT != "disabled":
            # 2.7's report has no free-list section: up to the 2000 of the free list
            # were reused
            self.assertTrue(COUNT - 2000 - MARGIN <= rise <= COUNT + MARGIN, rows[index])
        else:
            reused = on_free_list(diff.before) - on_free_list(diff.after)
            self.assertTrue(abs(rise - (COUNT - reused)) <= MARGIN, (rows[index], reused))
        for stat in rows.values():  # the others: the margin at most
            if stat.block_class != index:
                self.assertTrue(abs(stat.blocks_in_use) <= MARGIN, stat)
        # every pool has as many blocks: pools of 16 KiB (2.7: 4 KiB) minus a 48-byte header
        per_pool = ((4096 if PY2 else 16384) - 48) // rows[index].size
        self.assertEqual(rows[index].num_pools * per_pool,
                         rows[index].blocks_in_use + rows[index].avail_blocks)
        line = [text for text in diff.diff().splitlines()
                if text.split()[:2] == [str(index), str(rows[index].size)]]
        self.assertEqual(line[0].split()[3], "%+d" % rise)
        self.assertEqual(len(held), COUNT)

        with tracemalloc.DiffSysDebugMallocStats() as diff:
            del held
        changes = diff.changes()
        rows = dict((stat.block_class, stat) for stat in changes["malloc_stats"])
        # and fall by as many, but those that the free list keeps
        if PY2 and free_list is not None and VARIANT != "disabled":
            # 2.7's report has no free-list section: the free list keeps what did not
            # fall, up to its 2000
            kept = COUNT + rows[index].blocks_in_use
            self.assertTrue(-MARGIN <= kept <= 2000 + MARGIN, (rows[index], kept))
        else:
            kept = on_free_list(diff.after) - on_free_list(diff.before)
            self.assertTrue(abs(rows[index].blocks_in_use + COUNT - kept) <= MARGIN,
                            (rows[index], kept))
        return changes, kept

    def test_str(self):
        # ASCII str of 15 characters: 64 bytes, no free list
        for tracing in (False, True):
            if tracing:
                tracemalloc.start()
            self.check(lambda i: "%015d" % i, None)

    def test_tuple(self):
        # tuples of 5: 80 bytes; their free list (none on "disabled") keeps up to 2000 of
        # the dropped ones, their blocks still in use
        x = object()
        for tracing in (False, True):
            if tracing:
                tracemalloc.start()
            changes, kept = self.check(lambda i: (x, x, x, x, x), "5-sized PyTupleObjects")
            if VARIANT == "disabled":
                self.assertEqual(kept, 0)
            else:
                self.assertTrue(0 < kept <= 2000, kept)
            if tracing and VARIANT == "track":
                # the tracer saw them parked (and the other blocks pushed onto free lists)
                self.assertTrue(changes["engine"].get("freelists_count", 0) >= kept, changes)


# The child of BreakdownTests: 50 MB of small objects (tuples of 5: pymalloc, 80 bytes on
# 3.x, no rounding; a chain, each holding the one before, so that no list holds them), then
# 50 MB of bytes of 1000 bytes (malloc), then each dropped; a breakdown at each step, as JSON
# on stdout. After each drop, malloc_trim(0) gives back to the system the free space that
# glibc's malloc keeps (the rest, which the parts do not follow): what the tracer's tables
# and the list of bytes leave there.
CHILD = """
import ctypes, itertools, json, sys, tracemalloc
if sys.argv[1] == "trace":
    tracemalloc.start()
x = object()
size = 1000
trim = ctypes.CDLL(None).malloc_trim
steps = [tracemalloc.get_memory_breakdown().as_dict()]
small = None
for _ in itertools.repeat(None, TUPLES):
    small = (x, x, x, x, small)
steps.append(tracemalloc.get_memory_breakdown().as_dict())
big = [b"y" * size for _ in itertools.repeat(None, 50000)]
steps.append(tracemalloc.get_memory_breakdown().as_dict())
del big
trim(0)
steps.append(tracemalloc.get_memory_breakdown().as_dict())
del small
trim(0)
steps.append(tracemalloc.get_memory_breakdown().as_dict())
print(json.dumps(steps))
"""
MB50 = 50 * 1000 * 1000


@unittest.skipIf(engine is None, tmsupport.SKIP_REASON)
class BreakdownTests(unittest.TestCase):
    """get_memory_breakdown(): the parts add up to the RSS, each is plausible, and where 50
    MB go is where they show (traced), the rest staying where it was."""

    def setUp(self):
        if tmsupport.address_sanitizer():  # the parts add up to the RSS
            self.skipTest(tmsupport.ASAN_SKIP_REASON)

    def tearDown(self):
        tracemalloc.stop()

    def test_parts(self):
        for tracing in (False, True):
            if tracing:
                tracemalloc.start()
            breakdown = tracemalloc.get_memory_breakdown()
            rss = tracemalloc.get_process_memory()
            self.assertTrue(abs(breakdown.rss - rss) < rss // 20, (breakdown, rss))
            self.assertEqual(sum(value for name, value in breakdown.parts()
                                 if value is not None), breakdown.rss)
            for name, value in breakdown.parts():
                if value is None:
                    self.assertIn(name, breakdown.unknown)
                    continue
                self.assertNotIn(name, breakdown.unknown)
                self.assertTrue(0 <= value <= breakdown.rss, (name, breakdown))
            # the rest holds at least the interpreter's own code and data, resident
            self.assertTrue(breakdown.rest > 1 << 20, breakdown)
            if tracing:
                self.assertTrue(breakdown.tracer > 0, breakdown)
            expected_unknown = set()
            if not tracing:
                expected_unknown.add("traced")
            if VARIANT == "disabled":
                self.assertEqual(breakdown.freelists, 0)  # it has none
            elif not tracing or VARIANT != "track":
                expected_unknown.add("freelists")
            if not HAS_REPORT:
                expected_unknown.add("pymalloc_free")
            self.assertEqual(set(breakdown.unknown), expected_unknown, breakdown.unknown)
            if HAS_REPORT:
                self.assertTrue(0 < breakdown.pymalloc_free < breakdown.rss)
                self.assertTrue(breakdown.pymalloc_used > 0)
            else:
                self.assertIn("Python 2.7 has no sys._debugmallocstats()",
                              breakdown.unknown["pymalloc_free"])
                self.assertIsNone(breakdown.pymalloc_used)
        self.assertTrue(str(breakdown).startswith("RSS "), str(breakdown))

    def test_unknown_rss(self):
        saved = tracemalloc.get_process_memory
        tracemalloc.get_process_memory = lambda: None
        try:
            breakdown = tracemalloc.get_memory_breakdown()
        finally:
            tracemalloc.get_process_memory = saved
        self.assertIsNone(breakdown.rss)
        self.assertIsNone(breakdown.rest)
        self.assertIn("rest", breakdown.unknown)
        self.assertTrue(breakdown.format().startswith("unknown = "), breakdown.format())

    def run_child(self, mode):
        x = object()
        tuples = MB50 // sys.getsizeof((x, x, x, x, x))
        status, out, err = tmsupport.run_python(["-c", CHILD.replace("TUPLES", str(tuples)),
                                                 mode])
        self.assertEqual((status, err), (0, ""))
        return [_breakdown.from_record(step) for step in json.loads(out)]

    def check_rise(self, before, after, expected):
        """*after* holds *expected* bytes more than *before*, about 50 MB: the traced part
        shows them (and the list that holds them), and the RSS rose by what the known parts
        say, within 5% of 50 MB."""
        traced = after.traced - before.traced
        self.assertTrue(expected <= traced <= expected * 1.02, (before, after))
        known = sum(getattr(after, name) - getattr(before, name) for name in
                    ("traced", "freelists", "pymalloc_free", "tracer")
                    if getattr(after, name) is not None)
        self.assertTrue(abs((after.rss - before.rss) - known) <= MB50 * 0.05,
                        (before, after))
        # so the rest of before, with the known parts of after, is after's RSS within 5%
        predicted = before.rest + sum(value for name, value in after.parts()
                                      if name != "rest" and value is not None)
        self.assertTrue(abs(predicted - after.rss) <= after.rss * 0.05, (before, after))

    def test_where_50_mb_go(self):
        start, small, big, no_big, dropped = self.run_child("trace")
        x = object()
        size = 1000
        self.check_rise(start, small,
                        MB50 // sys.getsizeof((x, x, x, x, x)) * sys.getsizeof((x, x, x, x, x)))
        self.check_rise(small, big, 50000 * sys.getsizeof(b"y" * size))
        # dropped, the traced part comes back each time; what pymalloc, malloc (once
        # trimmed) and the tracer no longer hold leaves the RSS, or stays in pymalloc_free:
        # the rest stays where it was
        # Open problem: on 2.7 "plain", now and then (1 child in 4 to 20, alone or in the
        # suite), 12 to 18 MB of the dropped bytes stay resident after malloc_trim(0) while
        # the tuples live, and leave with them; the cause is not known. There only the end
        # is checked: once both are dropped, the rest is back where it was.
        steps = ((big, dropped),) if PY2 and VARIANT == "plain" else ((big, no_big),
                                                                      (no_big, dropped))
        for before, after in steps:
            self.assertTrue(abs(after.rest - before.rest) <= MB50 * 0.05, (before, after))
        self.assertTrue(abs(no_big.traced - small.traced) <= MB50 * 0.01, (small, no_big))
        self.assertTrue(abs(dropped.traced - start.traced) <= MB50 * 0.01, (start, dropped))
        if HAS_REPORT:
            # tuples of 5 fill their blocks exactly: pymalloc's blocks in use rise by them
            # and come back; bytes of 1000 bytes are malloc's, not pymalloc's
            used = small.pymalloc_used - start.pymalloc_used
            self.assertTrue(MB50 * 0.99 <= used <= MB50 * 1.01, (start, small))
            self.assertTrue(abs(big.pymalloc_used - small.pymalloc_used) <= MB50 * 0.01,
                            (small, big))
            self.assertTrue(abs(dropped.pymalloc_used - start.pymalloc_used)
                            <= MB50 * 0.01, (start, dropped))

    def test_not_tracing(self):
        # not tracing: the 50 MB are nobody's known part; they are in the rest, as
        # pymalloc's blocks in use
        start, small, big, no_big, dropped = self.run_child("plain")
        self.assertIn("traced", small.unknown)
        self.assertEqual("freelists" in small.unknown, VARIANT != "disabled")
        self.assertTrue(small.rest - start.rest >= MB50 * 0.95, (start, small))
        if HAS_REPORT:
            used = small.pymalloc_used - start.pymalloc_used
            self.assertTrue(MB50 * 0.99 <= used <= MB50 * 1.01, (start, small))


class RecordTests(tmsupport.FakeEngineMixin, unittest.TestCase):
    """The breakdown in snapshots, their files, DisplayTop and the command line (a fake
    engine: the figures are the test's)."""

    BREAKDOWN = {"rss": 30 << 20, "traced": 20 << 20, "freelists": 12288,
                 "pymalloc_free": 1 << 20, "tracer": 4 << 20,
                 "rest": (30 << 20) - (20 << 20) - 12288 - (1 << 20) - (4 << 20),
                 "pymalloc_used": 18 << 20, "unknown": {}}

    def snapshot(self, breakdown=None):
        snapshot = tracemalloc.Snapshot(stats={"a.py": {1: (10, 1)}})
        snapshot.timestamp = "2026-12-07 10:00:00"
        if breakdown is not None:
            snapshot.memory_breakdown = breakdown
        return snapshot

    def test_display(self):
        stream = tmsupport.text_stream()
        top = tracemalloc.DisplayTop(3, file=stream)
        top.color = False
        self.assertFalse(top.show_memory_breakdown)
        top.display_snapshot(self.snapshot(self.BREAKDOWN))
        lines = tmsupport.take_text(stream).splitlines()
        self.assertEqual(lines[-2], "Where RSS goes: 30 MiB = traced 20 MiB + free lists "
                                    "12 KiB + pymalloc free 1024 KiB + tracer 4096 KiB + rest "
                                    "5108 KiB")
        later = dict(self.BREAKDOWN, rss=31 << 20, traced=21 << 20, pymalloc_free=None,
                     rest=self.BREAKDOWN["rest"] + (1 << 20),
                     unknown={"pymalloc_free": "no report"})
        top.display_snapshot(self.snapshot(later))
        lines = tmsupport.take_text(stream).splitlines()
        self.assertEqual(lines[-2], "Where RSS goes: 31 MiB (+1024 KiB) = traced 21 MiB "
                                    "(+1024 KiB) + free lists 12 KiB (+0 B) + pymalloc free "
                                    "unknown + tracer 4096 KiB (+0 B) + rest 6132 KiB "
                                    "(+1024 KiB)")
        # no breakdown, or one of the wrong shape (set by hand): no line
        for value in (None, {"rss": 1}, dict(self.BREAKDOWN, traced="x"),
                      dict(self.BREAKDOWN, unknown=[])):
            top.display_snapshot(self.snapshot(value))
            self.assertNotIn("Where RSS goes", tmsupport.take_text(stream))

    def test_create_and_files(self):
        self.engine.tracing = True
        self.engine.traced = [5000, 5000]
        self.engine.tracemalloc_memory = 700
        self.engine.freelist_memory = (64, 1)
        self.process_memory = 50 << 20
        snapshot = tracemalloc.Snapshot.create()
        self.assertFalse(hasattr(snapshot, "memory_breakdown"))
        snapshot = tracemalloc.Snapshot.create(traces=True, memory_breakdown=True)
        recorded = snapshot.memory_breakdown
        self.assertEqual((recorded["rss"], recorded["traced"], recorded["tracer"]),
                         (50 << 20, 5000, 700))
        self.assertEqual(recorded["freelists"], 64)
        self.assertEqual(sum(recorded[name] for name in _breakdown.PARTS
                             if recorded[name] is not None), 50 << 20)
        for file_format in ("compact", "pickle", "stdlib"):
            loaded = self.round_trip(snapshot, file_format)
            self.assertEqual(loaded.memory_breakdown, recorded, file_format)
            self.assertEqual(_breakdown.of_snapshot(loaded),
                             _breakdown.from_record(recorded))

    def round_trip(self, snapshot, file_format):
        directory = tempfile.mkdtemp()
        try:
            filename = os.path.join(directory, "a.tms")
            snapshot.write(filename, file_format)
            return tracemalloc.Snapshot.load(filename)
        finally:
            shutil.rmtree(directory)

    def test_take_snapshot(self):
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        self.engine.tracing = True
        self.process_memory = 40 << 20
        take = tracemalloc.TakeSnapshot(os.path.join(directory, "s-$counter.tms"))
        self.assertFalse(take.memory_breakdown)
        snapshot, filename = take.take_snapshot()
        self.assertFalse(hasattr(snapshot, "memory_breakdown"))
        take.memory_breakdown = True
        snapshot, filename = take.take_snapshot()
        self.assertEqual(tracemalloc.Snapshot.load(filename).memory_breakdown["rss"],
                         40 << 20)

    def test_from_record(self):
        breakdown = _breakdown.from_record(self.BREAKDOWN)
        self.assertEqual(breakdown.as_dict(), self.BREAKDOWN)
        self.assertEqual(breakdown.parts()[0], ("traced", 20 << 20))
        for bad in ([], dict(self.BREAKDOWN, extra=1), dict(self.BREAKDOWN, rss=True),
                    dict(self.BREAKDOWN, unknown={"traced": 1})):
            self.assertIsNone(_breakdown.from_record(bad))


@unittest.skipIf(engine is None, tmsupport.SKIP_REASON)
class CommandLineTests(unittest.TestCase):
    """A file of TakeSnapshot(memory_breakdown=True): python -m tracemalloc shows its line
    and its JSON object; a file without has none."""

    def test_files(self):
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        code = ("import tracemalloc\n"
                "tracemalloc.start()\n"
                "take = tracemalloc.TakeSnapshot('s-$counter.tms')\n"
                "take.take_snapshot()\n"
                "take.memory_breakdown = True\n"
                "data = [str(i) for i in range(10000)]\n"
                "take.take_snapshot()\n")
        status, out, err = tmsupport.run_python(["-c", code], cwd=directory)
        self.assertEqual((status, err), (0, ""))
        status, out, err = tmsupport.run_python(
            ["-m", "tracemalloc", "s-0001.tms", "s-0002.tms"], cwd=directory)
        self.assertEqual((status, err), (0, ""))
        lines = [line for line in out.splitlines() if line.startswith("Where RSS goes: ")]
        self.assertEqual(len(lines), 1, out)  # the second file only, compared to nothing
        size = r"-?\d+ [KMG]?i?B"
        self.assertTrue(re.match(r"^Where RSS goes: %s = traced %s \+ free lists (%s|unknown) "
                                 r"\+ pymalloc free (%s|unknown) \+ tracer %s \+ rest %s$"
                                 % ((size,) * 6), lines[0]), lines[0])
        status, out, err = tmsupport.run_python(
            ["-m", "tracemalloc", "--json", "s-0001.tms", "s-0002.tms"], cwd=directory)
        self.assertEqual((status, err), (0, ""))
        document = json.loads(out)
        first, second = [item["metadata"]["memory_breakdown"]
                         for item in document["snapshots"]]
        self.assertIsNone(first)
        self.assertEqual(sorted(second), sorted(tracemalloc.MemoryBreakdown._fields))
        self.assertEqual(sum(second[name] for name in _breakdown.PARTS
                             if second[name] is not None), second["rss"])


class ReadmeTests(unittest.TestCase):
    """The README's examples of "The pymalloc statistics diff" and "Where RSS goes" run as
    written and show what the README says."""

    def example(self, first_line):
        return tmsupport.run_readme_example(self, first_line)

    @unittest.skipIf(engine is None, tmsupport.SKIP_REASON)
    def test_diff_example(self):
        if tmsupport.built_with_address_sanitizer():
            self.skipTest(tmsupport.ASAN_PYMALLOC_REASON)
        out, shown = self.example("# pymalloc diff example")
        lines = out.splitlines()
        if not HAS_REPORT:
            self.assertTrue(lines[0].startswith("No pymalloc statistics: Python 2.7 has no "
                                                "sys._debugmallocstats()"), out)
            self.assertIn("# bytes traced", out)
            return
        shown_lines = shown.splitlines()
        # the table's head and the rows of the strings' class as the README shows them
        self.assertEqual(lines[:2], shown_lines[:2])
        self.assertIn("    3     64", out)
        rows = [line for line in lines if line.startswith("    3     64")]
        self.assertTrue(abs(int(rows[0].split()[3]) - COUNT) <= MARGIN, rows)
        for label in ("# bytes in allocated blocks", "tracemalloc", "# bytes traced"):
            self.assertIn(label, out)
            self.assertIn(label, shown)

    @unittest.skipIf(engine is None, tmsupport.SKIP_REASON)
    def test_breakdown_example(self):
        out, shown = self.example("# where RSS goes example")
        lines = out.splitlines()
        shown_lines = shown.splitlines()
        self.assertEqual(len(lines), len(shown_lines), out)
        for line, expected in zip(lines, shown_lines):
            self.assertEqual(line.split(" = ")[0].split()[0], expected.split(" = ")[0]
                             .split()[0])
        self.assertIn(" + rest ", out)


if __name__ == "__main__":
    unittest.main()
