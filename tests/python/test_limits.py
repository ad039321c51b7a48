"""Tests of tracemalloc.limit_memory() and limit_leaks() (tracemalloc/_limits.py), the checks
the pytest plugin shares: sizes, peaks, leaks, messages, tracing started and stopped."""
from __future__ import absolute_import

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402

_limits = tracemalloc._limits
MiB = 1024 ** 2
THIS_FILE = os.path.abspath(__file__)
if THIS_FILE.endswith((".pyc", ".pyo")):
    THIS_FILE = THIS_FILE[:-1]


def line_of(marker):
    """The number of the line of this file that ends with the comment *marker*."""
    with open(THIS_FILE) as fp:
        for number, line in enumerate(fp, 1):
            if line.rstrip().endswith("# " + marker):
                return number
    raise AssertionError("no line marked %r" % marker)


# What the functions measured below keep (module level: it outlives a call).
HELD = []
CACHE = {}
CALLS = []


def allocate_peak(size):
    data = bytearray(size)  # PEAK LINE
    del data
    return "result"


def leak(size):
    CALLS.append(None)
    HELD.append(bytearray(size))  # LEAK LINE


def fill_cache_and_churn():
    """Fills a cache once, and makes garbage of every kind a free list keeps: nothing it
    does in a second run stays allocated."""
    CALLS.append(None)
    if "table" not in CACHE:
        CACHE["table"] = [str(index) * 3 for index in range(5000)]  # CACHE LINE
    garbage = [(index, float(index), {index: index}, [index], set([index]), str(index) * 2)
               for index in range(20000)]
    text = "-".join(str(index) for index in range(1000))
    return len(garbage) + len(text)


class ParseSizeTests(unittest.TestCase):
    def test_sizes(self):
        parse = _limits.parse_size
        self.assertEqual(parse("512 B"), 512)
        self.assertEqual(parse("1 KB"), 1024)
        self.assertEqual(parse("24 MB"), 24 * MiB)
        self.assertEqual(parse("1.5 MiB"), 1572864)
        self.assertEqual(parse("1.5 MB"), 1572864)  # powers of 1024, as pytest-memray
        self.assertEqual(parse("2gb"), 2 * 1024 ** 3)
        self.assertEqual(parse("  3 kib "), 3072)
        self.assertEqual(parse("1 TB"), 1024 ** 4)
        self.assertEqual(parse(".5 KB"), 512)
        self.assertEqual(parse(u"7 B"), 7)
        self.assertEqual(parse(100), 100)
        self.assertEqual(parse(0), 0)

    def test_bad_sizes(self):
        for bad in ("", "24", "24 XB", "-1 KB", "MB", "1.2.3 MB", "24 MBB", "1 K", "24 M B",
                    "x KB", None, True, -5, 1.5, [1]):
            try:
                _limits.parse_size(bad)
            except ValueError as exc:
                message = str(exc)
            else:
                self.fail("no error for %r" % (bad,))
            self.assertTrue(message.startswith("invalid size %r: " % (bad,)), message)
            self.assertNotIn("\n", message)
        try:
            _limits.parse_size("24 XB")
        except ValueError as exc:
            self.assertIn("a number and a unit, B, KB, MB, GB or TB (powers of 1024", str(exc))
        # the limits check their size where they are written
        self.assertRaises(ValueError, tracemalloc.limit_memory, "24 XB")
        self.assertRaises(ValueError, tracemalloc.limit_leaks, "lots")


class _TracingTestCase(unittest.TestCase):
    def setUp(self):
        tmsupport.require(self, not tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
        self.was_tracing = tracemalloc.is_tracing()
        del HELD[:], CALLS[:]
        CACHE.clear()

    def tearDown(self):
        del HELD[:], CALLS[:]
        CACHE.clear()
        if tracemalloc.is_tracing() and not self.was_tracing:
            tracemalloc.stop()

    def failure(self, func, *args):
        """The message of the AssertionError that func(*args) raises."""
        try:
            func(*args)
        except AssertionError as exc:
            return str(exc)
        self.fail("no AssertionError")


class LimitMemoryTests(_TracingTestCase):
    def check_peak_lines(self, message):
        lines = message.splitlines()
        self.assertEqual(lines[1], "Top lines at the peak (growth since the start):")
        self.assertTrue(lines[2].startswith("    %s:%d: 3072 KiB in "
                                            % (THIS_FILE, line_of("PEAK LINE"))), lines)

    def test_decorator(self):
        over = tracemalloc.limit_memory("1 MB")(allocate_peak)
        message = self.failure(over, 3 * MiB)
        first = message.splitlines()[0]
        self.assertTrue(first.startswith("limit_memory: the peak of traced memory was "), first)
        self.assertTrue(first.endswith(" above its start, more than the limit of 1024 KiB "
                                       "(1 MB)"), first)
        peak = first.split(" was ")[1].split(" above")[0]
        self.assertTrue(peak.endswith(" KiB") and 3072 <= float(peak[:-4]) < 3200, first)
        self.check_peak_lines(message)
        under = tracemalloc.limit_memory("4 MB")(allocate_peak)
        self.assertEqual(under(3 * MiB), "result")
        self.assertEqual(under.__name__, "allocate_peak")

    def test_context_manager(self):
        def run(limit):
            with tracemalloc.limit_memory(limit):
                allocate_peak(3 * MiB)
        self.check_peak_lines(self.failure(run, "2 MiB"))
        run("3.5 MiB")
        run(4 * MiB)
        # an exception of the block goes through, unchecked
        limit = tracemalloc.limit_memory("1 KB")
        try:
            with limit:
                data = bytearray(MiB)
                raise KeyError("from the block")
        except KeyError as exc:
            self.assertEqual(exc.args, ("from the block",))
        del data
        self.assertEqual(limit._running, [])

    def test_nested(self):
        # the inner limit resets the engine's peak: the outer one still sees the peak that
        # came before, and the inner one only its own
        def run():
            with tracemalloc.limit_memory("2 MB"):
                allocate_peak(3 * MiB)
                with tracemalloc.limit_memory("1 MB"):
                    allocate_peak(MiB // 2)
        message = self.failure(run)
        self.assertIn("more than the limit of 2048 KiB (2 MB)", message)
        self.assertNotIn("(1 MB)", message)

    def test_tracing(self):
        # not tracing: tracing starts for the limit and stops after it
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        seen = []
        checked = tracemalloc.limit_memory("1 MB")(
            lambda: seen.append((tracemalloc.is_tracing(), tracemalloc.get_traceback_limit())))
        checked()
        self.assertEqual(seen, [(True, _limits.DEFAULT_NFRAME)])
        self.assertFalse(tracemalloc.is_tracing())
        # tracing: it goes on, with its number of frames
        tracemalloc.start(5)
        checked()
        self.assertTrue(tracemalloc.is_tracing())
        self.assertEqual(seen[-1], (True, 5))
        self.assertEqual(tracemalloc.get_traceback_limit(), 5)

    def test_unittest_failure(self):
        # unittest reports an exceeded limit as a failure, not an error
        class Limited(unittest.TestCase):
            @tracemalloc.limit_memory("1 MB")
            def test_over(self):
                allocate_peak(3 * MiB)

            @tracemalloc.limit_memory("8 MB")
            def test_under(self):
                allocate_peak(3 * MiB)

        result = unittest.TestResult()
        unittest.defaultTestLoader.loadTestsFromTestCase(Limited).run(result)
        self.assertEqual((result.testsRun, len(result.failures), len(result.errors)), (2, 1, 0))
        self.assertIn("test_over", result.failures[0][0].id())
        self.assertIn("limit_memory: the peak of traced memory", result.failures[0][1])


class LimitLeaksTests(_TracingTestCase):
    def test_leak_detected(self):
        checked = tracemalloc.limit_leaks("1 KB")(leak)
        message = self.failure(checked, 100000)
        self.assertEqual(len(CALLS), 2)  # a warm-up run, then the measured one
        lines = message.splitlines()
        self.assertTrue(lines[0].startswith("limit_leaks: 9"), lines)  # 97.8 KiB or so
        self.assertTrue(lines[0].endswith(" KiB allocated and still held at the end, more "
                                          "than the limit of 1024 B (1 KB)"), lines)
        self.assertEqual(lines[1], "Top lines still holding memory:")
        self.assertTrue(lines[2].startswith("    %s:%d: 9" % (THIS_FILE, line_of("LEAK LINE"))),
                        lines)
        # under the limit: no failure
        del CALLS[:]
        tracemalloc.limit_leaks("200 KB")(leak)(100000)

    def test_warm_cache_not_a_leak(self):
        # the warm-up run fills the cache and the free lists: the measured run holds
        # nothing more (a few hundred bytes on 2.7 plain, whose int and float blocks stay)
        checked = tracemalloc.limit_leaks("2 KB")(fill_cache_and_churn)
        self.assertEqual(checked(), 20000 + len("-".join(str(index) for index in range(1000))))
        self.assertEqual(len(CALLS), 2)
        # without the warm-up, the cache filled by the one run is memory still held
        CACHE.clear()
        del CALLS[:]
        cold = tracemalloc.limit_leaks("2 KB", warmup=False)(fill_cache_and_churn)
        message = self.failure(cold)
        self.assertEqual(len(CALLS), 1)
        self.assertIn("    %s:%d: " % (THIS_FILE, line_of("CACHE LINE")), message)

    def test_warmup_runs(self):
        # a first run that keeps what the later runs free: on the plain variant and the
        # stock twins, the later runs' first one fills free lists whose blocks still count
        # as traced; a second warm-up run fills them before the measure
        def keep_first():
            CALLS.append(None)
            CACHE.setdefault("rows", [[index] for index in range(2000)])  # SETDEFAULT LINE

        tracemalloc.limit_leaks("1 KB", warmup=2)(keep_first)()
        self.assertEqual(len(CALLS), 3)
        if tracemalloc.get_interpreter_info()["free_lists_tracked"]:
            # track and disabled: nothing parked counts, one warm-up run is enough
            CACHE.clear()
            tracemalloc.limit_leaks("1 KB")(keep_first)()
        del CALLS[:]
        CACHE.clear()
        message = self.failure(tracemalloc.limit_leaks("1 KB", warmup=0)(keep_first))
        self.assertEqual(len(CALLS), 1)
        self.assertIn("    %s:%d: " % (THIS_FILE, line_of("SETDEFAULT LINE")), message)
        for bad in (-1, "2", None, 1.5):
            self.assertRaises(ValueError, tracemalloc.limit_leaks, "1 KB", warmup=bad)

    def test_filter_fn(self):
        seen = []

        def not_the_leak(traceback):
            seen.append(traceback)
            return traceback[-1].lineno != line_of("LEAK LINE")
        tracemalloc.limit_leaks("1 KB", filter_fn=not_the_leak)(leak)(100000)
        self.assertTrue(seen)
        self.assertTrue(all(isinstance(item, tracemalloc.Traceback) for item in seen))
        # a filter that counts everything: the leak is there again
        self.failure(tracemalloc.limit_leaks("1 KB", filter_fn=lambda traceback: True)(leak),
                     100000)

    def test_context_manager(self):
        def run(size):
            with tracemalloc.limit_leaks("1 KB"):
                HELD.append(bytearray(size))  # BLOCK LINE
                data = bytearray(10 * size)
                del data
        message = self.failure(run, 100000)
        self.assertIn("    %s:%d: 9" % (THIS_FILE, line_of("BLOCK LINE")), message)
        run(100)
        if tracemalloc.is_tracing() and not self.was_tracing:
            self.fail("tracing was left on")

    def test_unittest_failure(self):
        class Leaky(unittest.TestCase):
            @tracemalloc.limit_leaks("1 KB")
            def test_leak(self):
                leak(100000)

            @tracemalloc.limit_leaks("2 KB")
            def test_cache(self):
                fill_cache_and_churn()

        result = unittest.TestResult()
        unittest.defaultTestLoader.loadTestsFromTestCase(Leaky).run(result)
        self.assertEqual((result.testsRun, len(result.failures), len(result.errors)), (2, 1, 0),
                         result.failures + result.errors)
        self.assertIn("test_leak", result.failures[0][0].id())


if __name__ == "__main__":
    unittest.main()
