"""Tests of the display layer (size formatting, DisplayTop, DisplayGarbage) with a fake engine."""
from __future__ import absolute_import

import gc
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402

B = tracemalloc._output._COLOR_BOLD
C = tracemalloc._output._COLOR_CYAN
Y = tracemalloc._output._COLOR_YELLOW

LIB = "/usr/lib/python2.7"


def create_snapshots():
    """Two snapshots in the spirit of CPython's test_tracemalloc.create_snapshots().

    From the first to the second: a/b.py line 10 doubles, c.py disappears, d.py appears,
    <unknown> does not change.
    """
    stats1 = {
        LIB + "/a/b.py": {10: (10240, 10), 20: (500, 5)},
        LIB + "/c.py": {1: (2048, 2)},
        "<unknown>": {0: (32, 1)},
    }
    stats2 = {
        LIB + "/a/b.py": {10: (20480, 20), 20: (500, 5)},
        LIB + "/d.py": {3: (100, 1)},
        "<unknown>": {0: (32, 1)},
    }
    snapshot1 = tracemalloc.Snapshot(stats1, "2013-03-04 01:00:55", 1234, None, None, [])
    snapshot2 = tracemalloc.Snapshot(stats2, "2013-03-04 01:01:55", 1234, None, None, [])
    return snapshot1, snapshot2


class FormatSizeTests(unittest.TestCase):
    def check(self, size, expected, sign=False):
        self.assertEqual(tracemalloc._output._format_top_size(size, sign), expected)

    def test_bytes(self):
        self.check(0, "0 B")
        self.check(1, "1 B")
        self.check(1023, "1023 B")
        self.check(1024, "1024 B")
        self.check(10 * 1024 - 1, "10239 B")

    def test_kib(self):
        self.check(10 * 1024, "10 KiB")
        self.check(10 * 1024 + 1023, "10 KiB")  # truncated, never rounded up
        self.check(1024 ** 2, "1024 KiB")
        self.check(10 * 1024 ** 2 - 1, "10239 KiB")

    def test_bigger_units(self):
        self.check(10 * 1024 ** 2, "10 MiB")
        self.check(10 * 1024 ** 3 - 1, "10239 MiB")
        self.check(10 * 1024 ** 3, "10 GiB")
        self.check(10 * 1024 ** 4, "10 TiB")
        # TiB is the last unit: the number grows
        self.check(20000 * 1024 ** 4, "20000 TiB")

    def test_sign(self):
        self.check(0, "+0 B", sign=True)
        self.check(5, "+5 B", sign=True)
        self.check(-5, "-5 B", sign=True)
        self.check(-5, "-5 B")
        self.check(-10 * 1024, "-10 KiB", sign=True)
        self.check(-10 * 1024 + 1, "-10239 B")
        self.check(408 * 1024 + 3, "+408 KiB", sign=True)

    def test_seed_examples(self):
        # numbers of the pytracemalloc 0.9.1 README
        self.check(1134, "1134 B")
        self.check(1267 * 1024 + 500, "1267 KiB")
        self.check(23 * 1024, "23 KiB")


class ShortenFilenameTests(unittest.TestCase):
    def test_shorten(self):
        shorten = tracemalloc._output._shorten_filename
        self.assertEqual(shorten("/usr/lib/python2.7/Lib/linecache.py", 3),
                         ".../2.7/Lib/linecache.py".replace("2.7", "python2.7"))
        self.assertEqual(shorten("/opt/2.7/Lib/linecache.py", 3), ".../2.7/Lib/linecache.py")
        self.assertEqual(shorten("/a/b.py", 3), "/a/b.py")
        self.assertEqual(shorten("a/b/c.py", 3), "a/b/c.py")
        self.assertEqual(shorten("x/a/b/c.py", 3), ".../a/b/c.py")
        self.assertEqual(shorten("/x/a/b/c.py", 1), ".../c.py")
        self.assertEqual(shorten("<frozen importlib._bootstrap>", 3),
                         "<frozen importlib._bootstrap>")
        self.assertEqual(shorten("/x/a/b/c.py", 0), "/x/a/b/c.py")


class DisplayTopTests(tmsupport.FakeEngineMixin, unittest.TestCase):
    def make_top(self, count=10, **kwargs):
        self.stream = tmsupport.text_stream()
        top = tracemalloc.DisplayTop(count, file=self.stream, **kwargs)
        self.assertFalse(top.color)  # not a tty
        return top

    def output(self):
        return tmsupport.take_text(self.stream)

    def test_defaults(self):
        stream = tmsupport.text_stream()
        top = tracemalloc.DisplayTop(25, file=stream)
        self.assertEqual(top.count, 25)
        self.assertIs(top.stream, stream)
        self.assertIs(top.file, stream)
        self.assertFalse(top.color)
        self.assertTrue(top.compare_with_previous)
        self.assertEqual(top.filename_parts, 3)
        self.assertTrue(top.show_average)
        self.assertTrue(top.show_count)
        self.assertTrue(top.show_size)
        self.assertFalse(top.show_lineno)
        self.assertTrue(top.group_per_file)
        self.assertIsNone(top.user_data_callback)

    def test_default_file_is_stdout(self):
        with tmsupport.captured("stdout") as stdout:
            top = tracemalloc.DisplayTop(5)
        self.assertIs(top.stream, stdout)

    def test_group_per_file_and_show_lineno_agree(self):
        top = self.make_top(group_per_file=False)
        self.assertTrue(top.show_lineno)
        top.group_per_file = True
        self.assertFalse(top.show_lineno)
        top.show_lineno = True
        self.assertFalse(top.group_per_file)

    def test_color_default(self):
        class Tty(object):
            def isatty(self):
                return True

            def write(self, text):
                pass

        saved = os.environ.pop("NO_COLOR", None)
        try:
            self.assertTrue(tracemalloc.DisplayTop(5, file=Tty()).color)
            os.environ["NO_COLOR"] = "1"
            self.assertFalse(tracemalloc.DisplayTop(5, file=Tty()).color)
            self.assertFalse(tracemalloc.DisplayGarbage(file=Tty()).color)
        finally:
            os.environ.pop("NO_COLOR", None)
            if saved is not None:
                os.environ["NO_COLOR"] = saved

    def test_per_file(self):
        snapshot1, snapshot2 = create_snapshots()
        top = self.make_top()
        top.display_snapshot(snapshot1)
        self.assertEqual(self.output(), (
            "2013-03-04 01:00:55: Top 3 allocations per file\n"
            "#1: .../python2.7/a/b.py: size=10 KiB, count=15, average=716 B\n"
            "#2: .../lib/python2.7/c.py: size=2048 B, count=2, average=1024 B\n"
            "#3: <unknown>: size=32 B, count=1, average=32 B\n"
            "Total Python memory: size=12 KiB, count=18, average=712 B\n"
            "\n"))

    def test_compare_per_file(self):
        snapshot1, snapshot2 = create_snapshots()
        top = self.make_top()
        top.display_snapshot(snapshot1)
        self.output()
        top.display_snapshot(snapshot2)
        # sorted by the absolute size difference; c.py disappeared (no average: count 0)
        self.assertEqual(self.output(), (
            "2013-03-04 01:01:55: Top 4 allocations per file\n"
            "#1: .../python2.7/a/b.py: size=20 KiB (+10 KiB), count=25 (+10), average=839 B\n"
            "#2: .../lib/python2.7/c.py: size=0 B (-2048 B), count=0 (-2)\n"
            "#3: .../lib/python2.7/d.py: size=100 B (+100 B), count=1 (+1), average=100 B\n"
            "#4: <unknown>: size=32 B (+0 B), count=1 (+0), average=32 B\n"
            "Total Python memory: size=20 KiB (+8292 B), count=27 (+9), average=781 B\n"
            "\n"))

    def test_more_line(self):
        snapshot1, snapshot2 = create_snapshots()
        top = self.make_top(count=2)
        top.display_snapshot(snapshot1)
        self.assertEqual(self.output(), (
            "2013-03-04 01:00:55: Top 2 allocations per file\n"
            "#1: .../python2.7/a/b.py: size=10 KiB, count=15, average=716 B\n"
            "#2: .../lib/python2.7/c.py: size=2048 B, count=2, average=1024 B\n"
            "1 more: size=32 B, count=1, average=32 B\n"
            "Total Python memory: size=12 KiB, count=18, average=712 B\n"
            "\n"))
        top.display_snapshot(snapshot2)
        self.assertEqual(self.output(), (
            "2013-03-04 01:01:55: Top 2 allocations per file\n"
            "#1: .../python2.7/a/b.py: size=20 KiB (+10 KiB), count=25 (+10), average=839 B\n"
            "#2: .../lib/python2.7/c.py: size=0 B (-2048 B), count=0 (-2)\n"
            "2 more: size=132 B (+100 B), count=2 (+1), average=66 B\n"
            "Total Python memory: size=20 KiB (+8292 B), count=27 (+9), average=781 B\n"
            "\n"))

    def test_per_line(self):
        snapshot1, snapshot2 = create_snapshots()
        top = self.make_top(count=3)
        top.show_lineno = True
        top.display_snapshot(snapshot1)
        self.assertEqual(self.output(), (
            "2013-03-04 01:00:55: Top 3 allocations per file and line\n"
            "#1: .../python2.7/a/b.py:10: size=10 KiB, count=10, average=1024 B\n"
            "#2: .../lib/python2.7/c.py:1: size=2048 B, count=2, average=1024 B\n"
            "#3: .../python2.7/a/b.py:20: size=500 B, count=5, average=100 B\n"
            "1 more: size=32 B, count=1, average=32 B\n"
            "Total Python memory: size=12 KiB, count=18, average=712 B\n"
            "\n"))
        top.display_snapshot(snapshot2)
        self.assertEqual(self.output(), (
            "2013-03-04 01:01:55: Top 3 allocations per file and line\n"
            "#1: .../python2.7/a/b.py:10: size=20 KiB (+10 KiB), count=20 (+10), average=1024 B\n"
            "#2: .../lib/python2.7/c.py:1: size=0 B (-2048 B), count=0 (-2)\n"
            "#3: .../lib/python2.7/d.py:3: size=100 B (+100 B), count=1 (+1), average=100 B\n"
            "2 more: size=532 B (+0 B), count=6 (+0), average=88 B\n"
            "Total Python memory: size=20 KiB (+8292 B), count=27 (+9), average=781 B\n"
            "\n"))

    def test_group_per_file_constructor(self):
        snapshot1, _ = create_snapshots()
        top = self.make_top(count=1, group_per_file=False)
        top.display_snapshot(snapshot1)
        self.assertEqual(self.output().splitlines()[:2], [
            "2013-03-04 01:00:55: Top 1 allocations per file and line",
            "#1: .../python2.7/a/b.py:10: size=10 KiB, count=10, average=1024 B"])

    def test_filename_parts(self):
        snapshot1, _ = create_snapshots()
        top = self.make_top(count=1)
        top.filename_parts = 1
        top.display_snapshot(snapshot1)
        self.assertEqual(self.output().splitlines()[1],
                         "#1: .../b.py: size=10 KiB, count=15, average=716 B")
        top.filename_parts = 0
        top.display_snapshot(snapshot1)
        self.assertEqual(self.output().splitlines()[1],
                         "#1: /usr/lib/python2.7/a/b.py: size=10 KiB (+0 B), count=15 (+0), "
                         "average=716 B")

    def test_hide_columns(self):
        snapshot1, snapshot2 = create_snapshots()
        top = self.make_top(count=1)
        top.show_count = False
        top.display_snapshot(snapshot1)
        self.assertEqual(self.output().splitlines()[1:3], [
            "#1: .../python2.7/a/b.py: size=10 KiB, average=716 B",
            "2 more: size=2080 B, average=693 B"])
        top.show_count = True
        top.show_size = False
        top.display_snapshot(snapshot2)
        self.assertEqual(self.output().splitlines()[1:4], [
            "#1: .../python2.7/a/b.py: count=25 (+10), average=839 B",
            "3 more: count=2 (-1), average=66 B",
            "Total Python memory: count=27 (+9), average=781 B"])
        top.show_size = True
        top.show_average = False
        top.display_snapshot(snapshot1)
        self.assertEqual(self.output().splitlines()[1],
                         "#1: .../python2.7/a/b.py: size=10 KiB (-10 KiB), count=15 (-10)")
        top.show_size = top.show_count = False
        top.display_snapshot(snapshot1)
        self.assertEqual(self.output().splitlines()[1:4], [
            "#1: .../python2.7/a/b.py",
            "2 more",
            "Total Python memory"])

    def test_compare_with_first(self):
        snapshot1, snapshot2 = create_snapshots()
        snapshot3 = tracemalloc.Snapshot(dict(snapshot2.stats), "2013-03-04 01:02:55", 1234)
        top = self.make_top(count=1)
        top.compare_with_previous = False
        top.display_snapshot(snapshot1)
        top.display_snapshot(snapshot2)
        self.output()
        top.display_snapshot(snapshot3)
        # compared with snapshot1, not with snapshot2 (which is identical)
        self.assertEqual(self.output().splitlines()[1],
                         "#1: .../python2.7/a/b.py: size=20 KiB (+10 KiB), count=25 (+10), "
                         "average=839 B")
        top.compare_with_previous = True
        top.display_snapshot(snapshot3)
        self.output()
        top.display_snapshot(snapshot3)
        self.assertEqual(self.output().splitlines()[1],
                         "#1: .../python2.7/a/b.py: size=20 KiB (+0 B), count=25 (+0), "
                         "average=839 B")

    def test_process_memory_and_user_data(self):
        snapshot1, snapshot2 = create_snapshots()
        snapshot1.process_memory = 10 * 1024 ** 2 + 23 * 1024
        snapshot1.tracemalloc_memory = 23 * 1024
        snapshot1.user_data = [("Video memory", "size", 234902), ("Threads", "count", 4)]
        snapshot2.process_memory = 11 * 1024 ** 2 + 23 * 1024
        snapshot2.tracemalloc_memory = 23 * 1024
        snapshot2.user_data = [("Video memory", "size", 200000), ("Threads", "count", 3),
                               ("New", "size", 0)]
        top = self.make_top(count=1)
        top.display_snapshot(snapshot1)
        self.assertEqual(self.output().splitlines()[-4:], [
            "Total process memory: size=10 MiB (ignore tracemalloc: 23 KiB)",
            "Video memory: 229 KiB",
            "Threads: 4",
            ""])
        top.display_snapshot(snapshot2)
        self.assertEqual(self.output().splitlines()[-5:], [
            "Total process memory: size=11 MiB (+1024 KiB) (ignore tracemalloc: 23 KiB)",
            "Video memory: 195 KiB (-34 KiB)",
            "Threads: 3 (-1)",
            "New: 0 B",
            ""])

    def test_process_memory_without_tracemalloc_memory(self):
        snapshot1, _ = create_snapshots()
        snapshot1.process_memory = 5000
        top = self.make_top(count=1)
        top.display_snapshot(snapshot1)
        self.assertEqual(self.output().splitlines()[-2], "Total process memory: size=5000 B")

    def test_empty(self):
        top = self.make_top()
        top.display_snapshot(tracemalloc.Snapshot({}, "2013-03-04 01:00:55", 1))
        self.assertEqual(self.output(), (
            "2013-03-04 01:00:55: Top 0 allocations per file\n"
            "Total Python memory: size=0 B, count=0\n"
            "\n"))

    def test_named_snapshots(self):
        snapshot1, snapshot2 = create_snapshots()
        top = self.make_top(count=1)
        top.display_snapshot(snapshot1, name="one.pickle")
        top.display_snapshot(snapshot2, name="two.pickle")
        headers = [line for line in self.output().splitlines() if "Top" in line]
        self.assertEqual(headers, [
            "one.pickle (2013-03-04 01:00:55): Top 1 allocations per file",
            "two.pickle (2013-03-04 01:01:55): Top 1 allocations per file "
            "(compared to one.pickle)"])

    def test_colors(self):
        snapshot1, snapshot2 = create_snapshots()
        snapshot2.process_memory = 5000
        snapshot2.tracemalloc_memory = 1000
        top = self.make_top(count=1)
        top.color = True
        top.display_snapshot(snapshot1)
        self.assertEqual(self.output().splitlines()[:2], [
            B % "2013-03-04 01:00:55" + ": " + C % "Top 1 allocations per file",
            "#1: " + C % ".../python2.7/a/" + "b.py: size=" + Y % "10 KiB"
            + ", count=15, average=716 B"])
        top.show_lineno = True
        top.display_snapshot(snapshot2)
        lines = self.output().splitlines()
        self.assertEqual(lines[1], "#1: " + C % ".../python2.7/a/" + "b.py:10: size="
                         + B % "20 KiB" + " (" + Y % "+10 KiB" + "), count=20 (+10), "
                         "average=1024 B")
        self.assertEqual(lines[-2], "Total process memory: size=" + Y % "4000 B"
                         + C % " (ignore tracemalloc: 1000 B)")
        top.color = False
        top.display_snapshot(snapshot2)
        self.assertNotIn("\x1b", self.output())

    def test_display_takes_a_snapshot(self):
        self.engine.tracing = True
        self.engine.stats = {"/x/y.py": {1: (100, 2)}}
        self.engine.tracemalloc_memory = 2048
        self.process_memory = 100000
        top = self.make_top()
        top.user_data_callback = lambda: [("Cache", "size", 20480)]
        top.display()
        lines = self.output().splitlines()
        self.assertTrue(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d: Top 1 allocations per file$",
                                 lines[0]), lines[0])
        self.assertEqual(lines[1:], [
            "#1: /x/y.py: size=100 B, count=2, average=50 B",
            "Total Python memory: size=100 B, count=2, average=50 B",
            "Total process memory: size=95 KiB (ignore tracemalloc: 2048 B)",
            "Cache: 20 KiB",
            ""])
        self.engine.stats = {"/x/y.py": {1: (300, 3)}}
        top.display()
        self.assertEqual(self.output().splitlines()[1],
                         "#1: /x/y.py: size=300 B (+200 B), count=3 (+1), average=100 B")

    def test_display_traceback_and_cumulative(self):
        # show_traceback and cumulative take snapshots with traces (stats cannot serve them)
        self.engine.tracing = True
        self.engine.nframe = 2
        self.engine.get_traces = lambda: [(0, 100, (("/x/y.py", 1), ("/x/main.py", 7)), 2),
                                          (0, 50, (("/x/y.py", 1), ("/x/main.py", 8)), 2)]
        top = self.make_top(1)
        top.show_traceback = True
        self.assertEqual(top.key_type, "traceback")
        top.display()
        lines = self.output().splitlines()
        self.assertTrue(lines[0].endswith(": Top 1 allocations per traceback"), lines[0])
        self.assertEqual(lines[1:4], ["#1: /x/y.py:1: size=100 B, count=1, average=100 B",
                                      "    /x/main.py:7",
                                      "1 more: size=50 B, count=1, average=50 B"])
        top = self.make_top(2, group_per_file=False)
        top.cumulative = True
        self.assertEqual(top.key_type, "lineno")
        top.display()
        lines = self.output().splitlines()
        self.assertTrue(lines[0].endswith(": Top 2 allocations per file and line (cumulative)"),
                        lines[0])
        self.assertEqual(lines[1:5], ["#1: /x/y.py:1: size=150 B, count=2, average=75 B",
                                      "#2: /x/main.py:7: size=100 B, count=1, average=100 B",
                                      "1 more",
                                      "Total Python memory: size=150 B, count=2, average=75 B"])
        # a snapshot of statistics only: ValueError of Snapshot.statistics()
        stats_only = tracemalloc.Snapshot({"/x/y.py": {1: (100, 2)}}, "t")
        self.assertRaises(ValueError, top.display_snapshot, stats_only)

    def test_freelist_memory_line(self):
        # the "track" variant: the memory parked on free lists, after the process memory
        self.engine.tracing = True
        self.engine.stats = {"/x/y.py": {1: (100, 2)}}
        self.engine.freelist_memory = (169848, 3053)
        self.process_memory = 100000
        top = self.make_top()
        top.display()
        self.assertEqual(self.output().splitlines()[-3:], [
            "Total process memory: size=97 KiB (ignore tracemalloc: 0 B)",
            "Free lists: size=165 KiB, count=3053, average=55 B",
            ""])
        self.engine.freelist_memory = (169848 - 2048, 3053 - 40)
        top.display()
        self.assertEqual(self.output().splitlines()[-2],
                         "Free lists: size=163 KiB (-2048 B), count=3013 (-40), average=55 B")

    def test_freelist_memory_without_hooks(self):
        # other variants: no free-list line, and the snapshot has no freelist_memory
        self.engine.tracing = True
        self.engine.stats = {"/x/y.py": {1: (100, 2)}}
        top = self.make_top()
        top.display()
        self.assertNotIn("Free lists", self.output())
        self.assertFalse(hasattr(tracemalloc.Snapshot.create(), "freelist_memory"))

    def test_freelist_memory_kept_by_snapshot_files(self):
        self.engine.tracing = True
        self.engine.stats = {"/x/y.py": {1: (100, 2)}}
        self.engine.freelist_memory = (4096, 10)
        snapshot = tracemalloc.Snapshot.create()
        self.assertEqual(snapshot.freelist_memory, (4096, 10))
        loaded = tmsupport.written_and_loaded(snapshot, "snapshot.pickle")
        self.assertEqual(tuple(loaded.freelist_memory), (4096, 10))
        top = self.make_top()
        top.display_snapshot(loaded)
        self.assertIn("Free lists: size=4096 B, count=10, average=409 B",
                      self.output().splitlines())

    def test_lost_traces_warning(self):
        # the warning line comes, after the header, exactly when traces were lost
        warning = ("WARNING: %s for lack of memory: the statistics below are "
                   "incomplete")
        self.engine.tracing = True
        self.engine.stats = {"/x/y.py": {1: (100, 2)}}
        top = self.make_top()
        top.display()
        self.assertNotIn("WARNING", self.output())
        self.engine.lost_traces = 12
        top.display()
        lines = self.output().splitlines()
        self.assertEqual(lines[1], warning % "12 traces were lost")
        self.assertEqual(lines[2], "#1: /x/y.py: size=100 B (+0 B), count=2 (+0), "
                                   "average=50 B")
        self.assertEqual(len([line for line in lines if "WARNING" in line]), 1)
        self.engine.lost_traces = 1
        top.display()
        self.assertEqual(self.output().splitlines()[1], warning % "1 trace was lost")
        self.engine.lost_traces = 0
        top.display()
        self.assertNotIn("WARNING", self.output())

    def test_lost_traces_unknown(self):
        # a snapshot that does not know (by hand, a stock dump, an older file, or an odd
        # value): no warning
        top = self.make_top()
        snapshot = tracemalloc.Snapshot({"/x/y.py": {1: (100, 2)}}, "2013-03-04 01:01:55")
        self.assertIsNone(snapshot.lost_traces)
        for value in (None, 0, True, "12", 1.5):
            snapshot.lost_traces = value
            top.display_snapshot(snapshot)
            self.assertNotIn("WARNING", self.output(), value)
        snapshot.lost_traces = 3
        top.display_snapshot(snapshot)
        self.assertIn("WARNING: 3 traces were lost", self.output())

    def test_lost_traces_of_snapshots(self):
        self.engine.lost_traces = 7
        # not tracing: the count of a past run says nothing about an empty snapshot
        self.assertIsNone(tracemalloc.Snapshot.create().lost_traces)
        self.engine.tracing = True
        self.assertEqual(tracemalloc.Snapshot.create().lost_traces, 7)
        self.assertEqual(tracemalloc.Snapshot.create(traces=True).lost_traces, 7)
        snapshot = tracemalloc.take_snapshot()
        self.assertEqual(snapshot.lost_traces, 7)
        # a filtered snapshot is no more complete than its source
        self.assertEqual(snapshot.filter_traces([]).lost_traces, 7)
        self.engine.lost_traces = 0
        self.assertEqual(tracemalloc.take_snapshot().lost_traces, 0)
        self.assertNotIn("lost_traces", vars(tracemalloc.Snapshot([], 1).filter_traces([])))

    def test_lost_traces_kept_by_snapshot_files(self):
        self.engine.tracing = True
        self.engine.stats = {"/x/y.py": {1: (100, 2)}}
        self.engine.lost_traces = 12
        snapshot = tracemalloc.Snapshot.create()
        loaded = tmsupport.written_and_loaded(snapshot, "snapshot.tms")
        self.assertEqual(loaded.lost_traces, 12)
        top = self.make_top()
        top.display_snapshot(loaded)
        self.assertIn("WARNING: 12 traces were lost for lack of memory: the statistics below "
                      "are incomplete", self.output().splitlines())

    def test_timers(self):
        top = self.make_top()
        take = tracemalloc.TakeSnapshot()
        top.start(60)
        self.assertEqual(len(self.engine.timers), 1)
        top.start(30)  # restarting replaces the timer of this task
        self.assertEqual(len(self.engine.timers), 1)
        take.start(60)  # another task, another timer
        self.assertEqual(len(self.engine.timers), 2)
        self.assertNotEqual(top._timer_id, take._timer_id)
        delay, func, args, kwargs = self.engine.timers[top._timer_id]
        self.assertEqual((delay, func, args, kwargs), (30, top.display, (), None))
        top.stop()
        self.assertEqual(list(self.engine.timers), [take._timer_id])
        top.stop()  # stopping twice is harmless
        take.stop()
        self.assertEqual(self.engine.timers, {})

    def test_timer_fires_display(self):
        self.engine.tracing = True
        self.engine.stats = {"/x/y.py": {1: (100, 2)}}
        top = self.make_top()
        top.start(1)
        self.engine.fire_timers()
        self.assertIn("#1: /x/y.py: size=100 B", self.output())


class GarbageObject(object):
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "<GarbageObject %s>" % self.name


class DisplayGarbageTests(tmsupport.FakeEngineMixin, unittest.TestCase):
    def setUp(self):
        super(DisplayGarbageTests, self).setUp()
        self.saved_garbage = list(gc.garbage)
        del gc.garbage[:]
        self.stream = tmsupport.text_stream()

    def tearDown(self):
        gc.garbage[:] = self.saved_garbage
        super(DisplayGarbageTests, self).tearDown()

    def output(self):
        return tmsupport.take_text(self.stream)

    def test_defaults(self):
        display = tracemalloc.DisplayGarbage(file=self.stream)
        self.assertIs(display.stream, self.stream)
        self.assertFalse(display.color)
        self.assertFalse(display.cumulative)
        self.assertEqual(display.format_object("x" * 90), repr("x" * 90))
        self.assertEqual(display.format_object(list(range(3))), "[0, 1, 2]")
        self.assertEqual(display.format_object(list(range(10))), "[0, 1, 2, 3, 4, 5, ...]")
        self.assertTrue(len(display.format_object("x" * 1000)) <= 100)
        self.assertEqual(display.format_object(GarbageObject("a" * 20)),
                         "<GarbageObject %s>" % ("a" * 20))

    def test_display(self):
        first = GarbageObject("first")
        second = GarbageObject("second")
        # the engine returns the most recent frame first
        self.engine.object_tracebacks[id(first)] = (("/a/inner.py", 5), ("/a/outer.py", 9))
        gc.garbage.append(first)
        gc.garbage.append(second)
        display = tracemalloc.DisplayGarbage(file=self.stream)
        display.display()
        self.assertEqual(self.output(), (
            "/a/inner.py:5: <GarbageObject first>\n"
            "unknown allocation site: <GarbageObject second>\n"))
        display.display()
        self.assertEqual(self.output(), "")  # nothing new
        third = GarbageObject("third")
        self.engine.object_tracebacks[id(third)] = (("/a/third.py", 1),)
        gc.garbage.append(third)
        display.display()
        self.assertEqual(self.output(), "/a/third.py:1: <GarbageObject third>\n")

        display.cumulative = True
        display.display()
        self.assertEqual(self.output(), (
            "/a/inner.py:5: <GarbageObject first>\n"
            "unknown allocation site: <GarbageObject second>\n"
            "/a/third.py:1: <GarbageObject third>\n"))

    def test_garbage_cleared_by_the_user(self):
        display = tracemalloc.DisplayGarbage(file=self.stream)
        gc.garbage.extend([GarbageObject("a"), GarbageObject("b")])
        display.display()
        self.output()
        del gc.garbage[:]
        gc.garbage.append(GarbageObject("c"))
        display.display()
        self.assertEqual(self.output(), "unknown allocation site: <GarbageObject c>\n")

    def test_format_object_and_color(self):
        obj = GarbageObject("x")
        self.engine.object_tracebacks[id(obj)] = (("/a/b.py", 3),)
        gc.garbage.append(obj)
        display = tracemalloc.DisplayGarbage(file=self.stream)
        display.color = True
        display.format_object = lambda o: "custom %s" % o.name
        display.display()
        self.assertEqual(self.output(), C % "/a/b.py:3" + ": custom x\n")

    def test_format_object_failure(self):
        gc.garbage.append(GarbageObject("x"))
        display = tracemalloc.DisplayGarbage(file=self.stream)

        def broken(obj):
            raise RuntimeError("boom")
        display.format_object = broken
        display.display()
        self.assertEqual(self.output(), "unknown allocation site: <GarbageObject object: "
                                        "formatting failed: RuntimeError: boom>\n")


if __name__ == "__main__":
    unittest.main()
