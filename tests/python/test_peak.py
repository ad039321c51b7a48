"""The peak with its tracebacks: get_peak_snapshot(), take_snapshot(peak=True),
Snapshot.create(peak=True), TakeSnapshot.peak and Snapshot.peak_snapshot(), DisplayTop.peak,
the engine's get_peak_traces() and get_peak_stats(); with the real engine, 50 MB allocated
and freed by a function must be found at the peak, exactly. The C tests of the store
(tests/c/test-store.c, /store/peak/*) prove the bookkeeping against a brute-force model."""
from __future__ import absolute_import

import io
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402

engine = tmsupport.REAL_ENGINE
_peak = tracemalloc._peak

try:
    import _testcapi
except ImportError:
    _testcapi = None

# 50 000 blocks of about 1 KB: 50 MB, freed before the test looks at the peak.
COUNT = 50000
SIZE = 1000
BIG = 50 * 1000 * 1000


def _marked_lines():
    """{marker: line number} of the "# peak: MARKER" comments of this file."""
    lines = {}
    with io.open(__file__.replace(".pyc", ".py"), encoding="utf-8") as fp:
        for lineno, line in enumerate(fp, 1):
            if "# peak: " in line and not line.lstrip().startswith("#"):
                lines[line.split("# peak: ")[1].strip()] = lineno
    return lines


def transient_blocks(count, size):
    """Allocate *count* bytes objects of *size* bytes in a list, then free them all."""
    data = [None] * count  # peak: list
    i = 0
    while i < count:
        data[i] = b"x" * size  # peak: blocks
        i += 1
    del data


def transient_bytearray(size):
    """Allocate one bytearray of *size* bytes, then free it."""
    buf = bytearray(size)  # peak: bytearray
    del buf


def keep_small():
    """A few small objects that stay: allocated after the peak, they are not in it."""
    return [str(i) * 3 for i in range(1000)]  # peak: small


LINES = _marked_lines()
FILENAME = transient_blocks.__code__.co_filename


def line_stats(stats, marker):
    """(size, count) of the line *marker* of this file in raw stats, (0, 0) if absent."""
    return tuple(stats.get(FILENAME, {}).get(LINES[marker], (0, 0)))


def statistic(snapshot, marker, key_type="lineno", cumulative=False):
    """(size, count) of the line *marker* in snapshot.statistics(key_type), by the most
    recent frame ('traceback' too: the statistic whose traceback ends there)."""
    for stat in snapshot.statistics(key_type, cumulative):
        frame = stat.traceback[0] if key_type != "traceback" else stat.traceback[-1]
        if frame.filename == FILENAME and frame.lineno == LINES[marker]:
            return stat.size, stat.count
    return 0, 0


def total_of(snapshot):
    return sum(stat.size for stat in snapshot.statistics("filename"))


class GroupTests(unittest.TestCase):
    """The groups of the engine as a Snapshot holds them (no engine needed)."""

    GROUPS = [
        (0, 10, 3, (("a.py", 1), ("b.py", 2)), 2),
        (0, 7, 7, (("a.py", 1), ("c.py", 9)), 2),
        (5, 1000001, 2, (("a.py", 1),), 1),
        (0, 0, 4, (("d.py", 4),), None),
    ]

    def test_traces_from_groups(self):
        traces = _peak.traces_from_groups(self.GROUPS)
        self.assertEqual(len(traces), 3 + 7 + 2 + 4)
        for domain, size, count, traceback, total in self.GROUPS:
            mine = [t for t in traces if t[0] == domain and t[2] is traceback]
            self.assertEqual(len(mine), count)
            self.assertEqual(sum(t[1] for t in mine), size)
            self.assertTrue(max(t[1] for t in mine) - min(t[1] for t in mine) <= 1)
            self.assertEqual(set(t[3] for t in mine), set([total]))

    def test_statistics_exact(self):
        snapshot = tracemalloc.Snapshot(_peak.traces_from_groups(self.GROUPS), 2)
        by_line = dict((stat.traceback[0]._frame, (stat.size, stat.count))
                       for stat in snapshot.statistics("lineno"))
        self.assertEqual(by_line, {("a.py", 1): (1000018, 12), ("d.py", 4): (0, 4)})
        cumulative = dict((stat.traceback[0]._frame, (stat.size, stat.count))
                          for stat in snapshot.statistics("lineno", cumulative=True))
        self.assertEqual(cumulative[("b.py", 2)], (10, 3))
        self.assertEqual(cumulative[("c.py", 9)], (7, 7))
        domain = snapshot.filter_traces([tracemalloc.DomainFilter(True, 5)])
        self.assertEqual([(s.size, s.count) for s in domain.statistics("filename")],
                         [(1000001, 2)])

    def test_stats_from_groups(self):
        self.assertEqual(_peak.stats_from_groups(self.GROUPS),
                         {"a.py": {1: (1000018, 12)}, "d.py": {4: (0, 4)}})


class FakeEngineTests(tmsupport.FakeEngineMixin, unittest.TestCase):
    """The Python layer over a fake engine."""

    def setUp(self):
        super(FakeEngineTests, self).setUp()
        self.engine.peak_traces = list(GroupTests.GROUPS)
        self.engine.peak_stats = {"a.py": {1: (1000018, 12)}}

    def test_not_tracing(self):
        self.assertRaises(RuntimeError, tracemalloc.get_peak_snapshot)
        self.assertRaises(RuntimeError, tracemalloc.take_snapshot, peak=True)

    def test_get_peak_snapshot(self):
        tracemalloc.start(2)
        self.process_memory = 12345
        snapshot = tracemalloc.get_peak_snapshot()
        self.assertIs(snapshot.peak, True)
        self.assertEqual(len(snapshot.traces), 16)
        self.assertEqual(snapshot.traceback_limit, 2)
        self.assertEqual(snapshot.process_memory, 12345)
        self.assertIsNotNone(snapshot.timestamp)
        self.assertEqual(snapshot.stats, {"a.py": {1: (1000018, 12)}, "d.py": {4: (0, 4)}})
        stats_only = tracemalloc.get_peak_snapshot(traces=False)
        self.assertIsNone(stats_only.traces)
        self.assertEqual(stats_only.stats, {"a.py": {1: (1000018, 12)}})
        self.assertIs(stats_only.peak, True)
        self.assertIs(tracemalloc.take_snapshot(peak=True).peak, True)
        self.assertIs(tracemalloc.take_snapshot().peak, False)
        self.assertIs(tracemalloc.Snapshot.create(peak=True).peak, True)
        self.assertIs(tracemalloc.Snapshot.create().peak, False)

    def test_filter_keeps_peak(self):
        tracemalloc.start(2)
        snapshot = tracemalloc.get_peak_snapshot()
        self.assertIs(snapshot.filter_traces([]).peak, True)

    def test_display_top(self):
        tracemalloc.start(2)
        stream = tmsupport.text_stream()
        top = tracemalloc.DisplayTop(5, file=stream)
        top.show_lineno = True
        top.peak = True
        top.display()
        output = stream.getvalue()
        self.assertIn("Top 1 allocations per file and line at the peak", output)
        self.assertIn("a.py:1: size=976 KiB", output)
        top.peak = False
        stream.truncate(0)
        stream.seek(0)
        top.display()
        self.assertNotIn("at the peak", stream.getvalue())

    def test_bad_peak_attributes(self):
        snapshot = tracemalloc.Snapshot(stats={})
        snapshot.peak_traces = [(0, 10, 0, (("a.py", 1),), 1)]
        self.assertRaises(ValueError, snapshot.peak_snapshot)
        snapshot.peak_traces = None
        snapshot.peak_stats = {"a.py": {1: 5}}
        self.assertRaises(ValueError, snapshot.peak_snapshot)
        self.assertIsNone(tracemalloc.Snapshot(stats={}).peak_snapshot())


class FileAttributeTests(unittest.TestCase):
    """The peak's extra attributes in snapshot files: checked when written and read."""

    def setUp(self):
        self.tmpdir = tempfile.mkdtemp(prefix="tracemalloc-peak-")
        self.addCleanup(shutil.rmtree, self.tmpdir)

    def snapshot(self):
        snapshot = tracemalloc.Snapshot(stats={"a.py": {1: (10, 1)}}, timestamp="x", pid=1)
        snapshot.peak_stats = {"a.py": {1: (1010, 3)}, "b.py": {2: (5, 1)}}
        snapshot.peak_traces = [(0, 1010, 3, (("a.py", 1),), 1), (0, 5, 1, (("b.py", 2),), 1)]
        return snapshot

    def test_round_trip(self):
        for fmt in ("compact", "pickle"):
            filename = os.path.join(self.tmpdir, "snap." + fmt)
            self.snapshot().write(filename, fmt)
            loaded = tracemalloc.Snapshot.load(filename)
            self.assertIs(loaded.peak, False)
            peak = loaded.peak_snapshot()
            self.assertIs(peak.peak, True)
            self.assertEqual((peak.pid, peak.timestamp), (1, "x"))
            self.assertEqual(len(peak.traces), 4)
            self.assertEqual(peak.stats, {"a.py": {1: (1010, 3)}, "b.py": {2: (5, 1)}})
            self.assertEqual(loaded.peak_snapshot(traces=False).stats, peak.stats)
            # a peak snapshot written and read keeps its mark
            peak.write(filename, fmt)
            self.assertIs(tracemalloc.Snapshot.load(filename).peak, True)

    def test_refused(self):
        filename = os.path.join(self.tmpdir, "snap.tms")
        bad = [("peak", 1), ("peak_stats", {"a.py": [1]}),
               ("peak_traces", [(0, 10, 0, (("a.py", 1),), 1)]),
               ("peak_traces", [(0, -1, 1, (("a.py", 1),), 1)]),
               ("peak_traces", [(0, 10, 1, ("a.py", 1), 1)]),
               ("peak_traces", {"a": 1})]
        for name, value in bad:
            snapshot = self.snapshot()
            setattr(snapshot, name, value)
            with self.assertRaises(tracemalloc.SnapshotError) as cm:
                snapshot.write(filename)
            self.assertIn(name, str(cm.exception))


@unittest.skipIf(engine is None, tmsupport.SKIP_REASON)
class PeakTests(unittest.TestCase):
    """The real engine: 50 MB allocated and freed, then found at the peak."""

    def setUp(self):
        self.was_tracing = engine.is_tracing()
        tracemalloc.stop()
        tracemalloc.start(5)
        self.tmpdir = tempfile.mkdtemp(prefix="tracemalloc-peak-")

    def tearDown(self):
        tracemalloc.stop()
        if self.was_tracing:
            tracemalloc.start()
        shutil.rmtree(self.tmpdir)

    def block_size(self):
        return sys.getsizeof(b"x" * SIZE)

    def assert_peak_total(self, snapshot, peak):
        """The snapshot's total is the peak, which did not move while it was taken."""
        self.assertEqual(total_of(snapshot), peak)
        self.assertEqual(tracemalloc.get_traced_memory()[1], peak)

    def test_transient_blocks(self):
        transient_blocks(COUNT, SIZE)  # peak: call
        small = keep_small()
        peak = tracemalloc.get_traced_memory()[1]
        snapshot = tracemalloc.get_peak_snapshot()
        self.assertIs(snapshot.peak, True)
        self.assert_peak_total(snapshot, peak)
        blocks = (COUNT * self.block_size(), COUNT)
        # the line of the blocks, exactly, by every key; the line of the list: one list
        self.assertEqual(statistic(snapshot, "blocks"), blocks)
        self.assertEqual(statistic(snapshot, "blocks", "traceback"), blocks)
        size, count = statistic(snapshot, "list")
        self.assertTrue(COUNT * 8 <= size <= COUNT * 8 + 200, size)
        self.assertTrue(1 <= count <= 2, count)
        # the function is the peak: within 1% of it
        function = sum(stat.size for stat in snapshot.statistics("lineno")
                       if stat.traceback[0].filename == FILENAME
                       and LINES["list"] <= stat.traceback[0].lineno <= LINES["blocks"] + 1)
        self.assertTrue(0.99 * peak <= function <= peak, (function, peak))
        # cumulative: the line that called the function holds it all
        size, count = statistic(snapshot, "call", cumulative=True)
        self.assertTrue(function <= size <= peak, (size, function, peak))
        # the small objects came after the peak: not in it, in the current state
        self.assertEqual(statistic(snapshot, "small"), (0, 0))
        current = tracemalloc.take_snapshot()
        self.assertIs(current.peak, False)
        self.assertEqual(statistic(current, "blocks"), (0, 0))
        self.assertTrue(statistic(current, "small")[1] > len(small))
        # stats only: the same lines
        stats = tracemalloc.get_peak_snapshot(traces=False)
        self.assertIsNone(stats.traces)
        self.assertEqual(line_stats(stats.stats, "blocks"), blocks)
        self.assertEqual(line_stats(stats.stats, "list"), statistic(snapshot, "list"))
        self.assertEqual(sum(size for lines in stats.stats.values()
                             for size, count in lines.values()), peak)
        # take_snapshot(peak=True) and Snapshot.create(peak=True) are the same peak
        again = tracemalloc.take_snapshot(peak=True)
        self.assertIs(again.peak, True)
        self.assertEqual(again.stats, snapshot.stats)
        self.assertEqual(tracemalloc.Snapshot.create(peak=True).stats, snapshot.stats)
        self.assertEqual(tracemalloc.Snapshot.create(peak=True, traces=True).stats,
                         snapshot.stats)

    def test_engine_functions_agree(self):
        transient_blocks(COUNT // 10, SIZE)
        groups = engine.get_peak_traces()
        stats = engine.get_peak_stats()
        self.assertEqual(_peak.stats_from_groups(groups), stats)
        self.assertEqual(sum(group[1] for group in groups),
                         tracemalloc.get_traced_memory()[1])
        for domain, size, count, traceback, total in groups:
            self.assertEqual(domain, 0)
            self.assertTrue(count >= 1)
            self.assertTrue(1 <= len(traceback) <= 5)
            self.assertTrue(total >= len(traceback))

    def test_transient_bytearray(self):
        transient_bytearray(BIG)
        keep_small()
        peak = tracemalloc.get_traced_memory()[1]
        snapshot = tracemalloc.get_peak_snapshot()
        self.assert_peak_total(snapshot, peak)
        size, count = statistic(snapshot, "bytearray")
        # the buffer and the object, and on 3.x the tuple of the constructor's argument,
        # alive when the buffer was allocated
        self.assertTrue(BIG < size <= BIG + 256, size)
        self.assertTrue(2 <= count <= 3, count)
        self.assertTrue(size >= 0.99 * peak, (size, peak))
        self.assertEqual(line_stats(tracemalloc.get_peak_snapshot(traces=False).stats,
                                    "bytearray"), (size, count))

    def test_reset_peak(self):
        transient_blocks(COUNT, SIZE)
        small = keep_small()
        tracemalloc.reset_peak()
        snapshot = tracemalloc.get_peak_snapshot()
        current = tracemalloc.take_snapshot()
        # the peak is now the state at the reset: the blocks are gone, the small objects in
        self.assertEqual(statistic(snapshot, "blocks"), (0, 0))
        self.assertEqual(statistic(snapshot, "small"), statistic(current, "small"))
        self.assertTrue(statistic(snapshot, "small")[1] > len(small))
        # what was allocated between the reset and the reading is all that differs
        self.assertTrue(abs(total_of(snapshot) - total_of(current)) <= 0.01 * total_of(current)
                        + 64 * 1024, (total_of(snapshot), total_of(current)))
        # a new peak after the reset is found again
        transient_bytearray(BIG)
        self.assertTrue(statistic(tracemalloc.get_peak_snapshot(), "bytearray")[0] > BIG)

    def test_clear_traces(self):
        transient_blocks(COUNT, SIZE)
        tracemalloc.clear_traces()
        snapshot = tracemalloc.get_peak_snapshot(traces=False)
        self.assertEqual(line_stats(snapshot.stats, "blocks"), (0, 0))
        self.assertTrue(total_of(snapshot) < 1024 * 1024, total_of(snapshot))
        self.assertTrue(tracemalloc.get_traced_memory()[1] < 1024 * 1024)

    def test_not_tracing(self):
        tracemalloc.stop()
        self.assertRaises(RuntimeError, tracemalloc.get_peak_snapshot)
        self.assertRaises(RuntimeError, tracemalloc.get_peak_snapshot, traces=False)
        self.assertRaises(RuntimeError, tracemalloc.take_snapshot, peak=True)
        self.assertEqual(engine.get_peak_traces(), [])
        self.assertEqual(engine.get_peak_stats(), {})
        snapshot = tracemalloc.Snapshot.create(peak=True)
        self.assertEqual((snapshot.stats, snapshot.peak), ({}, True))

    def test_take_snapshot_files(self):
        transient_blocks(COUNT, SIZE)
        keep_small()
        blocks = (COUNT * self.block_size(), COUNT)
        for traces in (False, True):
            for fmt in ("compact", "pickle", "stdlib"):
                if fmt == "stdlib" and not traces:
                    continue  # the stdlib format holds traces
                task = tracemalloc.TakeSnapshot(
                    os.path.join(self.tmpdir, "%s-%d-$counter" % (fmt, traces)))
                task.traces = traces
                task.format = fmt
                task.peak = True
                snapshot, filename = task.take_snapshot()
                self.assertIs(snapshot.peak, False)
                self.assertEqual(line_stats(snapshot.peak_stats, "blocks"), blocks)
                self.assertEqual("peak_traces" in vars(snapshot), traces)
                loaded = tracemalloc.Snapshot.load(filename)
                self.assertEqual(loaded.peak_stats, snapshot.peak_stats)
                peak = loaded.peak_snapshot()
                self.assertIs(peak.peak, True)
                if fmt != "stdlib":  # the stdlib format keeps no metadata
                    self.assertEqual(peak.timestamp, snapshot.timestamp)
                    self.assertEqual(peak.pid, os.getpid())
                self.assertEqual(peak.traces is not None, traces)
                self.assertEqual(peak.stats, snapshot.peak_snapshot().stats)
                self.assertEqual(statistic(peak, "blocks"), blocks)
                self.assertEqual(total_of(peak), tracemalloc.get_traced_memory()[1])
                if traces:
                    self.assertEqual(statistic(peak, "blocks", "traceback"), blocks)
        # taking snapshots does not reset the peak; without peak, no peak in the file
        self.assertEqual(line_stats(tracemalloc.get_peak_snapshot(traces=False).stats,
                                    "blocks"), blocks)
        task = tracemalloc.TakeSnapshot(os.path.join(self.tmpdir, "plain-$counter"))
        snapshot, filename = task.take_snapshot()
        self.assertIsNone(tracemalloc.Snapshot.load(filename).peak_snapshot())

    def test_display_top(self):
        transient_blocks(COUNT, SIZE)
        stream = tmsupport.text_stream()
        top = tracemalloc.DisplayTop(3, file=stream)
        top.show_lineno = True
        top.peak = True
        top.display()
        lines = stream.getvalue().splitlines()
        self.assertIn("allocations per file and line at the peak", lines[0])
        self.assertIn(":%d: size=" % LINES["blocks"], lines[1])


@unittest.skipIf(engine is None, tmsupport.SKIP_REASON)
class ReadmePeakExampleTests(unittest.TestCase):
    """The README's example of the peak runs as written and finds what it shows."""

    def test_example(self):
        out, shown = tmsupport.run_readme_example(self, "# the peak example")
        shown = shown.splitlines()
        lines = out.splitlines()
        self.assertEqual(len(lines), 3, out)
        # the peak, about 52 MB (2.7's range() adds its list of ints), most of it on the
        # line of the list comprehension, as the README shows
        peak_kb = int(lines[0].split()[-2])
        self.assertTrue(52000 <= peak_kb <= 54000, lines[0])
        self.assertEqual(lines[1].split(" size=")[0], shown[1].split(" size=")[0])
        size = lines[1].split(" size=")[1].split(",")[0]
        self.assertTrue(size.endswith(" MiB") and float(size.split()[0]) >= 49, lines[1])


@unittest.skipUnless(engine is not None and sys.version_info[0] >= 3
                     and not tmsupport.STOCK_INTERPRETER,
                     "PyTraceMalloc_Track() reaches this engine on a patched 3.x only")
class TrackDomainTests(unittest.TestCase):
    """PyTraceMalloc_Track() domains at the peak, with sizes the test chooses."""

    DOMAIN = 7
    MB = 1024 * 1024

    def setUp(self):
        tmsupport.require(self, _testcapi is not None and hasattr(_testcapi, "tracemalloc_track"),
                          "_testcapi.tracemalloc_track is missing")
        self.was_tracing = engine.is_tracing()
        tracemalloc.stop()
        tracemalloc.start(1)

    def tearDown(self):
        tracemalloc.stop()
        if self.was_tracing:
            tracemalloc.start()

    def track(self, first, n):
        for ptr in range(first, first + n):
            _testcapi.tracemalloc_track(self.DOMAIN, ptr * 16, 4 * self.MB)  # peak: track

    def domain_groups(self):
        return [(size, count) for domain, size, count, tb, total in engine.get_peak_traces()
                if domain == self.DOMAIN]

    def test_track_untrack(self):
        self.track(1, 10)  # 40 MB
        for ptr in range(1, 6):
            _testcapi.tracemalloc_untrack(self.DOMAIN, ptr * 16)
        self.track(100, 3)  # 32 MB: below the peak
        self.assertEqual(self.domain_groups(), [(40 * self.MB, 10)])
        self.track(200, 3)  # 44 MB: a new peak
        self.assertEqual(self.domain_groups(), [(44 * self.MB, 11)])
        snapshot = tracemalloc.get_peak_snapshot()
        domain = snapshot.filter_traces([tracemalloc.DomainFilter(True, self.DOMAIN)])
        self.assertEqual([(s.size, s.count) for s in domain.statistics("lineno")],
                         [(44 * self.MB, 11)])
        self.assertEqual(domain.statistics("lineno")[0].traceback[0].lineno, LINES["track"])
        for ptr in list(range(6, 11)) + [100, 101, 102, 200, 201, 202]:
            _testcapi.tracemalloc_untrack(self.DOMAIN, ptr * 16)
        self.assertEqual(self.domain_groups(), [(44 * self.MB, 11)])
        tracemalloc.reset_peak()
        self.assertEqual(self.domain_groups(), [])


if __name__ == "__main__":
    unittest.main()
