"""Tests of the stdlib tracemalloc API of the package, on Python 2.7 and 3.

- The documented behaviour (stdlib documentation up to 3.13) on hand-made raw traces, with
  the fake engine: every 2.7 user gets it too.
- Our statistics(), compare_to() and filter_traces() against a reference: the stdlib's own
  Lib/tracemalloc.py (from the interpreter, the cached CPython tarball or a pyenv
  installation) on 3.x, on the same random raw traces, every key type, cumulative on and
  off; and the engine's C loops against the Python loops everywhere.
- With the real engine: take_snapshot(), get_object_traceback(), the C functions' argument
  checks, and get_tracemalloc_memory() against the memory tracing really costs.
"""
from __future__ import absolute_import

import glob
import os
import random
import re
import sys
import tarfile
import types
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402

PY2 = sys.version_info[0] == 2

# Raw traces as _get_traces() returns them: (domain, size, traceback, total_nframe), the
# traceback most recent frame first.
TB_AB = (("a.py", 2), ("b.py", 4))
TB_A5 = (("a.py", 5), ("b.py", 4))
RAW1 = [(0, 10, TB_AB, 3), (0, 10, TB_AB, 3), (0, 10, TB_AB, 3), (1, 2, TB_A5, 3),
        (2, 66, (("b.py", 1),), 1), (3, 7, (("<unknown>", 0),), 1)]
RAW2 = [(0, 10, TB_AB, 3), (0, 10, TB_AB, 3), (0, 10, TB_AB, 3), (2, 2, TB_A5, 3),
        (2, 5000, TB_A5, 3), (4, 400, (("c.py", 578),), 1)]


def tb(*frames):
    """A Traceback from frames given most recent first, as the engine returns them."""
    return tracemalloc.Traceback(frames)


def line(filename, lineno):
    return tb((filename, lineno))


def stats_tuples(stats):
    return [(stat.traceback, stat.size, stat.count) for stat in stats]


class StdlibApiMixin(object):
    """The expectations, run with the C loops and with the Python loops."""

    use_c = True

    def setUp(self):
        super(StdlibApiMixin, self).setUp()
        self._saved_use_c = tracemalloc._USE_C_STATS
        tracemalloc._USE_C_STATS = self.use_c
        self.snap1 = tracemalloc.Snapshot(list(RAW1), 2)
        self.snap2 = tracemalloc.Snapshot(list(RAW2), 2)

    def tearDown(self):
        tracemalloc._USE_C_STATS = self._saved_use_c
        super(StdlibApiMixin, self).tearDown()

    def test_names(self):
        for name in ("start", "stop", "is_tracing", "clear_traces", "get_object_traceback",
                     "get_traceback_limit", "get_traced_memory", "reset_peak",
                     "get_tracemalloc_memory", "take_snapshot", "BaseFilter", "Filter",
                     "DomainFilter", "Frame", "Traceback", "Trace", "Snapshot", "Statistic",
                     "StatisticDiff", "get_object_trace", "get_stats", "get_traces"):
            self.assertIn(name, tracemalloc.__all__)
            self.assertTrue(hasattr(tracemalloc, name), name)
        for name in ("_get_traces", "_get_object_traceback", "_format_size",
                     "_normalize_filename", "_Traces"):
            self.assertTrue(hasattr(tracemalloc, name), name)

    def test_statistics_lineno(self):
        self.assertEqual(stats_tuples(self.snap1.statistics("lineno")), [
            (line("b.py", 1), 66, 1), (line("a.py", 2), 30, 3),
            (line("<unknown>", 0), 7, 1), (line("a.py", 5), 2, 1)])
        self.assertEqual(self.snap2.statistics("lineno"), [
            tracemalloc.Statistic(line("a.py", 5), 5002, 2),
            tracemalloc.Statistic(line("c.py", 578), 400, 1),
            tracemalloc.Statistic(line("a.py", 2), 30, 3)])

    def test_statistics_filename(self):
        self.assertEqual(stats_tuples(self.snap1.statistics("filename")), [
            (line("b.py", 0), 66, 1), (line("a.py", 0), 32, 4), (line("<unknown>", 0), 7, 1)])

    def test_statistics_traceback(self):
        self.assertEqual(stats_tuples(self.snap2.statistics("traceback")), [
            (tb(*TB_A5), 5002, 2), (line("c.py", 578), 400, 1), (tb(*TB_AB), 30, 3)])
        with self.assertRaises(ValueError) as cm:
            self.snap1.statistics("traceback", cumulative=True)
        self.assertEqual(str(cm.exception),
                         "cumulative mode cannot by used with key type 'traceback'")
        with self.assertRaises(ValueError) as cm:
            self.snap1.statistics("module")
        self.assertEqual(str(cm.exception), "unknown key_type: 'module'")

    def test_statistics_cumulative(self):
        self.assertEqual(stats_tuples(self.snap1.statistics("filename", True)), [
            (line("b.py", 0), 98, 5), (line("a.py", 0), 32, 4), (line("<unknown>", 0), 7, 1)])
        self.assertEqual(stats_tuples(self.snap1.statistics("lineno", True)), [
            (line("b.py", 1), 66, 1), (line("b.py", 4), 32, 4), (line("a.py", 2), 30, 3),
            (line("<unknown>", 0), 7, 1), (line("a.py", 5), 2, 1)])
        # a frame repeated in a traceback (recursion) counts each time, as in the stdlib
        snapshot = tracemalloc.Snapshot([(0, 5, (("r.py", 1), ("r.py", 1)), 2)], 2)
        self.assertEqual(stats_tuples(snapshot.statistics("lineno", True)),
                         [(line("r.py", 1), 10, 2)])

    def test_compare_to(self):
        self.assertEqual(self.snap2.compare_to(self.snap1, "lineno"), [
            tracemalloc.StatisticDiff(line("a.py", 5), 5002, 5000, 2, 1),
            tracemalloc.StatisticDiff(line("c.py", 578), 400, 400, 1, 1),
            tracemalloc.StatisticDiff(line("b.py", 1), 0, -66, 0, -1),
            tracemalloc.StatisticDiff(line("<unknown>", 0), 0, -7, 0, -1),
            tracemalloc.StatisticDiff(line("a.py", 2), 30, 0, 3, 0)])
        diff = self.snap2.compare_to(self.snap1, "filename")
        self.assertEqual([(d.traceback, d.size_diff) for d in diff], [
            (line("a.py", 0), 5000), (line("c.py", 0), 400), (line("b.py", 0), -66),
            (line("<unknown>", 0), -7)])

    def test_formats(self):
        trace = self.snap1.traces[0]
        self.assertEqual(str(trace), "b.py:4: 10 B")
        self.assertEqual(repr(trace), "<Trace domain=0 size=10 B, traceback=<Traceback (<Frame "
                                      "filename='b.py' lineno=4>, <Frame filename='a.py' "
                                      "lineno=2>) total_nframe=3>>")
        self.assertEqual(str(trace.traceback), "b.py:4")
        self.assertEqual(str(trace.traceback[0]), "b.py:4")
        self.assertEqual(str(self.snap1.statistics("lineno")[0]),
                         "b.py:1: size=66 B, count=1, average=66 B")
        self.assertEqual(str(self.snap2.compare_to(self.snap1, "lineno")[0]),
                         "a.py:5: size=5002 B (+5000 B), count=2 (+1), average=2501 B")
        self.assertEqual(repr(self.snap1.statistics("lineno")[0]),
                         "<Statistic traceback=<Traceback (<Frame filename='b.py' lineno=1>,)>"
                         " size=66 count=1>")
        self.assertEqual(repr(self.snap2.compare_to(self.snap1, "lineno")[2]),
                         "<StatisticDiff traceback=<Traceback (<Frame filename='b.py' "
                         "lineno=1>,)> size=0 (-66) count=0 (-1)>")
        self.assertEqual(repr(self.snap1.traces), "<Traces len=6>")
        self.assertEqual(repr(tracemalloc.Traceback((), 0)), "<Traceback () total_nframe=0>")

    def test_format_size(self):
        cases = [(0, False, "0 B"), (10239, False, "10239 B"), (10240, False, "10.0 KiB"),
                 (102399, False, "100.0 KiB"), (102400, False, "100 KiB"),
                 (5000, True, "+5000 B"), (-66, True, "-66 B"),
                 (1024 ** 4 * 20000, False, "20000 TiB"), (1536 * 1024, True, "+1536 KiB"),
                 (2501.0, False, "2501 B"), (12.5 * 1024 ** 2, False, "12.5 MiB")]
        for size, sign, expected in cases:
            self.assertEqual(tracemalloc._format_size(size, sign), expected)

    def test_traceback_format(self):
        traceback = self.snap1.traces[0].traceback
        getline = tracemalloc.linecache.getline
        tracemalloc.linecache.getline = lambda filename, lineno: "  <%s, %s>" % (filename,
                                                                                 lineno)
        try:
            self.assertEqual(traceback.format(), ['  File "b.py", line 4', "    <b.py, 4>",
                                                  '  File "a.py", line 2', "    <a.py, 2>"])
            self.assertEqual(traceback.format(limit=1),
                             ['  File "a.py", line 2', "    <a.py, 2>"])
            self.assertEqual(traceback.format(limit=-1),
                             ['  File "b.py", line 4', "    <b.py, 4>"])
            self.assertEqual(traceback.format(most_recent_first=True),
                             ['  File "a.py", line 2', "    <a.py, 2>",
                              '  File "b.py", line 4', "    <b.py, 4>"])
            self.assertEqual(traceback.format(-1, True), ['  File "b.py", line 4',
                                                          "    <b.py, 4>"])
        finally:
            tracemalloc.linecache.getline = getline

    def test_sequences(self):
        traces = self.snap1.traces
        self.assertEqual(len(traces), 6)
        self.assertEqual(traces[:2], (traces[0], traces[1]))
        self.assertIn(traces[3], traces)
        self.assertNotEqual(traces[3], traces[0])
        self.assertEqual(traces[0].domain, 0)
        self.assertEqual(traces[0].size, 10)
        self.assertEqual(traces[0].traceback.total_nframe, 3)
        traceback = traces[0].traceback
        self.assertEqual(len(traceback), 2)
        self.assertEqual(traceback[:2], (traceback[0], traceback[1]))
        self.assertEqual(traceback[-1], tracemalloc.Frame(("a.py", 2)))
        self.assertIn(tracemalloc.Frame(("a.py", 2)), traceback)
        self.assertTrue(tracemalloc.Frame(("a.py", 2)) < tracemalloc.Frame(("b.py", 1)))
        self.assertTrue(line("a.py", 2) < line("a.py", 3))
        self.assertEqual(len(set([line("a.py", 2), line("a.py", 2)])), 1)
        self.assertRaises(TypeError, hash, traces)

    def test_filters(self):
        f = tracemalloc.Filter(True, "abc.pyc", 5, True, 2)
        self.assertEqual((f.inclusive, f.filename_pattern, f.lineno, f.all_frames, f.domain),
                         (True, "abc.py", 5, True, 2))
        self.assertRaises(AttributeError, setattr, f, "filename_pattern", "x")
        d = tracemalloc.DomainFilter(False, 3)
        self.assertEqual((d.inclusive, d.domain), (False, 3))
        self.assertRaises(AttributeError, setattr, d, "domain", 4)
        self.assertTrue(tracemalloc.Filter(True, "a.py")._match_frame("a.pyc", 1))
        self.assertFalse(tracemalloc.Filter(True, "a.py")._match_frame("a.pyo", 1))
        self.assertTrue(tracemalloc.Filter(False, "b.py", all_frames=True)._match_traceback(
            (("c.py", 5), ("<unknown>", 0))))

    def test_filter_traces(self):
        snapshot = self.snap1.filter_traces((tracemalloc.Filter(False, "b.py"),))
        self.assertEqual(snapshot.traces._traces, [RAW1[0], RAW1[1], RAW1[2], RAW1[3], RAW1[5]])
        self.assertEqual(self.snap1.traces._traces, RAW1)  # untouched
        only = snapshot.filter_traces((tracemalloc.Filter(True, "a.py", 2),
                                       tracemalloc.Filter(True, "a.py", 5)))
        self.assertEqual(only.traces._traces, RAW1[:4])
        self.assertEqual(self.snap1.filter_traces([tracemalloc.DomainFilter(True, 3)])
                         .traces._traces, [RAW1[5]])
        excluded = self.snap1.filter_traces([tracemalloc.Filter(False, "a.py", domain=1)])
        self.assertEqual(excluded.traces._traces, RAW1[:3] + RAW1[4:])
        copy = self.snap1.filter_traces(())
        self.assertIsNot(copy.traces, self.snap1.traces)
        self.assertEqual(copy.traces, self.snap1.traces)
        self.assertEqual(copy.traceback_limit, 2)
        with self.assertRaises(TypeError) as cm:
            self.snap1.filter_traces(tracemalloc.Filter(True, "a.py"))
        self.assertEqual(str(cm.exception), "filters must be a list of filters, not Filter")

    def test_take_snapshot(self):
        engine = tmsupport.FakeEngine()
        saved = tracemalloc._engine
        tracemalloc._engine = engine
        try:
            with self.assertRaises(RuntimeError) as cm:
                tracemalloc.take_snapshot()
            self.assertEqual(str(cm.exception), "the tracemalloc module must be tracing "
                                                "memory allocations to take a snapshot")
            engine.tracing = True
            engine.nframe = 5
            engine.get_traces = lambda: [(0, 5, (("a.py", 2),), 10)]
            snapshot = tracemalloc.take_snapshot()
            self.assertEqual(snapshot.traceback_limit, 5)
            self.assertEqual(snapshot.traces[0].traceback.total_nframe, 10)
            self.assertEqual(snapshot.pid, os.getpid())
            self.assertEqual(snapshot.stats, {"a.py": {2: (5, 1)}})
            # the stock module's patch points: module globals
            saved_get = tracemalloc._get_traces
            tracemalloc._get_traces = lambda: [(1, 7, (("z.py", 9),), 1)]
            try:
                self.assertEqual(tracemalloc.take_snapshot().traces._traces,
                                 [(1, 7, (("z.py", 9),), 1)])
                self.assertEqual(tracemalloc.get_traces(), [(1, 7, (("z.py", 9),), 1)])
            finally:
                tracemalloc._get_traces = saved_get
            engine.object_tracebacks[id(engine)] = (("x.py", 3), ("y.py", 1))
            self.assertEqual(tracemalloc.get_object_traceback(engine),
                             tb(("x.py", 3), ("y.py", 1)))
            self.assertEqual(tracemalloc.get_object_trace(engine),
                             tb(("x.py", 3), ("y.py", 1)))
            self.assertIsNone(tracemalloc.get_object_traceback(self))
        finally:
            tracemalloc._engine = saved

    def test_unusual_traces(self):
        # shapes the C loops do not take: the Python loop answers, with the stdlib's result
        # or error
        odd = tracemalloc.Snapshot([(0, 2.5, (("a.py", 1),), 1), (0, True, (("a.py", 1),), 1),
                                    (0, 2 ** 70, (("b.py", 1),), 1)], 1)
        self.assertEqual(stats_tuples(odd.statistics("lineno")),
                         [(line("b.py", 1), 2 ** 70, 1), (line("a.py", 1), 3.5, 2)])
        self.assertRaises(ValueError, tracemalloc.Snapshot([(0, 1, (("a.py", 1),))], 1)
                          .statistics, "lineno")
        empty = tracemalloc.Snapshot([(0, 1, (), 0)], 1)
        self.assertRaises(IndexError, empty.statistics, "filename")
        self.assertEqual(stats_tuples(empty.statistics("lineno")), [(tb(), 1, 1)])
        self.assertEqual(stats_tuples(empty.statistics("traceback")), [(tb(), 1, 1)])
        self.assertRaises(IndexError, empty.filter_traces, [tracemalloc.Filter(True, "*")])
        self.assertEqual(empty.stats, {"<unknown>": {0: (1, 1)}})

    def test_snapshot_both_worlds(self):
        # the pytracemalloc view of stdlib traces, and the stdlib view of pytracemalloc stats
        self.assertEqual(self.snap1.stats, {"a.py": {2: (30, 3), 5: (2, 1)}, "b.py": {1: (66, 1)},
                                            "<unknown>": {0: (7, 1)}})
        stats_only = tracemalloc.Snapshot({"a.py": {2: (30, 3), 5: (2, 1)}}, "2013-03-04 01:01:55",
                                          1)
        self.assertIsNone(stats_only.traces)
        self.assertEqual(stats_tuples(stats_only.statistics("lineno")),
                         [(line("a.py", 2), 30, 3), (line("a.py", 5), 2, 1)])
        self.assertEqual(stats_tuples(stats_only.statistics("filename")),
                         [(line("a.py", 0), 32, 4)])
        self.assertEqual(stats_tuples(stats_only.compare_to(self.snap1, "lineno"))[:1],
                         [(line("b.py", 1), 0, 0)])
        self.assertRaises(ValueError, stats_only.statistics, "traceback")
        self.assertRaises(ValueError, stats_only.statistics, "lineno", True)
        filtered = stats_only.filter_traces([tracemalloc.Filter(True, "a.py", 5)])
        self.assertEqual(filtered.stats, {"a.py": {5: (2, 1)}})
        self.assertRaises(ValueError, stats_only.filter_traces,
                          [tracemalloc.DomainFilter(True, 0)])
        # filter_filenames() filters the traces too
        self.snap1.filter_filenames("a.py", True)
        self.assertEqual(self.snap1.traces._traces, RAW1[:4])
        self.assertEqual(sorted(self.snap1.stats), ["a.py"])

    def test_plain_pickle(self):
        # pickle.dump()/load() of a snapshot, as code written for the stock module does
        import pickle
        self.snap1.test_attr = "x"
        self.snap1.stats  # fills the cache of derived stats: not pickled
        data = pickle.dumps(self.snap1, 2)
        self.assertNotIn(b"_derived_stats", data)
        copy = pickle.loads(data)
        self.assertEqual(copy.traces, self.snap1.traces)
        self.assertEqual((copy.traceback_limit, copy.test_attr), (2, "x"))
        self.assertEqual(copy.stats, self.snap1.stats)

    def test_constructor(self):
        snapshot = tracemalloc.Snapshot(traces=RAW1, traceback_limit=3, pid=7)
        self.assertEqual((snapshot.traceback_limit, snapshot.pid), (3, 7))
        self.assertRaises(TypeError, tracemalloc.Snapshot, RAW1, 1, unknown=1)
        self.assertRaises(TypeError, tracemalloc.Snapshot, RAW1, 1, traces=RAW1)


class StdlibApiCTests(StdlibApiMixin, unittest.TestCase):
    use_c = True

    def setUp(self):
        if tmsupport.USING_FAKE_ENGINE:
            self.skipTest(tmsupport.SKIP_REASON)
        super(StdlibApiCTests, self).setUp()


class StdlibApiPythonTests(StdlibApiMixin, unittest.TestCase):
    use_c = False


# ---------------------------------------------------------------------------------------------
# Against the stdlib's own code
# ---------------------------------------------------------------------------------------------

def find_stdlib_source():
    """(source, where) of a stock Lib/tracemalloc.py (3.x only), or (None, reason)."""
    if PY2:
        return None, "the stdlib tracemalloc.py is Python 3 code"
    import sysconfig
    candidates = [os.path.join(sysconfig.get_paths()["stdlib"], "tracemalloc.py")]
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates.extend(sorted(glob.glob(os.path.join(pyenv, "versions", "3.*", "lib",
                                                    "python3.*", "tracemalloc.py"))))
    for path in candidates:
        if os.path.isfile(path):
            with open(path) as fp:
                return fp.read(), path
    cache = os.environ.get("PYTRACEMALLOC_CACHE") or os.path.expanduser("~/.cache/pytracemalloc")
    version = "%d.%d.%d" % sys.version_info[:3]
    tarballs = sorted(glob.glob(os.path.join(cache, "tarballs", "Python-3.*")))
    tarballs.sort(key=lambda path: version not in path)
    for path in tarballs:
        match = re.search(r"Python-(3\.\d+\.\d+)\.t", path)
        if not match:
            continue
        try:
            with tarfile.open(path) as tar:
                member = tar.extractfile("Python-%s/Lib/tracemalloc.py" % match.group(1))
                return member.read().decode("utf-8"), path
        except (KeyError, tarfile.TarError, OSError):
            continue
    return None, "no stock Lib/tracemalloc.py found (interpreter, pyenv, tarball cache)"


def load_stdlib_tracemalloc():
    source, where = find_stdlib_source()
    if source is None:
        return None, where
    fake = types.ModuleType("_tracemalloc")
    for name in ("clear_traces", "get_traceback_limit", "get_traced_memory",
                 "get_tracemalloc_memory", "is_tracing", "reset_peak", "start", "stop",
                 "_get_object_traceback", "_get_traces"):
        setattr(fake, name, lambda *args: None)
    saved = sys.modules.get("_tracemalloc")
    sys.modules["_tracemalloc"] = fake
    try:
        module = types.ModuleType("stdlib_tracemalloc_reference")
        exec(compile(source, where + ":Lib/tracemalloc.py", "exec"), module.__dict__)
    finally:
        if saved is None:
            del sys.modules["_tracemalloc"]
        else:
            sys.modules["_tracemalloc"] = saved
    return module, where


def random_traces(rng, count):
    files = ["a.py", "b.py", "dir/c.py", "dir/d.pyc", "<unknown>", "e.py"]
    frames = [(rng.choice(files), rng.randint(0, 6)) for _ in range(25)]
    tracebacks = []
    for _ in range(40):
        frames_ = tuple(rng.choice(frames) for _ in range(rng.randint(1, 4)))
        tracebacks.append(frames_)
    # equal tracebacks that are different objects, and a recursive one
    tracebacks.append(tuple(list(tracebacks[0])))
    tracebacks.append((frames[0], frames[0], frames[1]))
    traces = [(rng.randint(0, 3), rng.choice((0, 1, 7, 16, 100, 4096, rng.randint(0, 10 ** 6))),
               rng.choice(tracebacks), rng.randint(1, 6)) for _ in range(count)]
    # the same tuple more than once, as in the engine's lists (equal traces share one)
    for _ in range(count // 3):
        traces.insert(rng.randint(0, len(traces)), rng.choice(traces))
    return traces


def random_filters(rng, module):
    filters = []
    for _ in range(rng.randint(0, 3)):
        if rng.random() < 0.25:
            filters.append(module.DomainFilter(rng.random() < 0.5, rng.randint(0, 3)))
        else:
            filters.append(module.Filter(
                rng.random() < 0.5, rng.choice(["a.py", "*.py", "dir/*", "?.py", "d.py",
                                                "<unknown>", "[ab].py"]),
                rng.choice([None, None, 0, 2, 5]), rng.random() < 0.5,
                rng.choice([None, None, 1, 2])))
    return filters


class ReferenceTests(unittest.TestCase):
    """Same raw traces through the stdlib's code and ours: equal results, in the same order."""

    @classmethod
    def setUpClass(cls):
        cls.stdlib, cls.where = load_stdlib_tracemalloc()

    def setUp(self):
        self._saved_use_c = tracemalloc._USE_C_STATS

    def tearDown(self):
        tracemalloc._USE_C_STATS = self._saved_use_c

    def variants(self):
        """(name, use_c) of our implementations to check."""
        result = [("python", False)]
        if hasattr(tracemalloc._engine, "group_traces"):
            result.append(("c", True))
        return result

    def run_ours(self, use_c, func):
        tracemalloc._USE_C_STATS = use_c
        return func(tracemalloc)

    def check_same(self, func, describe):
        """func(module) -> comparable result, for the stdlib and each of ours."""
        results = {}
        errors = {}
        for name, use_c in self.variants():
            try:
                results[name] = self.run_ours(use_c, func)
            except Exception as exc:
                errors[name] = (type(exc), str(exc))
        if self.stdlib is not None:
            try:
                results["stdlib"] = func(self.stdlib)
            except Exception as exc:
                errors["stdlib"] = (type(exc), str(exc))
        names = sorted(set(results) | set(errors))
        first = names[0]
        for name in names[1:]:
            if first in errors or name in errors:
                self.assertEqual(errors.get(name), errors.get(first),
                                 "%s: %s vs %s" % (describe, name, first))
            else:
                self.assertEqual(results[name], results[first],
                                 "%s: %s vs %s" % (describe, name, first))

    def test_statistics_and_compare_to(self):
        rng = random.Random(454)
        for round_ in range(25):
            raw_new = random_traces(rng, rng.randint(0, 300))
            raw_old = random_traces(rng, rng.randint(0, 300)) + raw_new[:50]
            for key_type in ("traceback", "lineno", "filename"):
                for cumulative in (False, True):
                    def statistics(module):
                        snapshot = module.Snapshot(list(raw_new), 4)
                        return [(s.traceback._frames, s.size, s.count, str(s))
                                for s in snapshot.statistics(key_type, cumulative)]

                    def compare(module):
                        new = module.Snapshot(list(raw_new), 4)
                        old = module.Snapshot(list(raw_old), 4)
                        return [(s.traceback._frames, s.size, s.size_diff, s.count,
                                 s.count_diff, str(s))
                                for s in new.compare_to(old, key_type, cumulative)]
                    what = "round %d, %s, cumulative=%s" % (round_, key_type, cumulative)
                    self.check_same(statistics, "statistics " + what)
                    self.check_same(compare, "compare_to " + what)

    def test_filter_traces(self):
        rng = random.Random(1308)
        for round_ in range(200):
            raw = random_traces(rng, rng.randint(0, 200))
            seed = rng.random()

            def filtered(module):
                filters = random_filters(random.Random(seed), module)
                return module.Snapshot(list(raw), 4).filter_traces(filters).traces._traces
            self.check_same(filtered, "filter_traces round %d" % round_)

    def test_odd_traces(self):
        # what the C loops leave to Python: same results and errors as the stdlib
        odd_sets = [
            [(0, 1.5, (("a.py", 1),), 1), (0, 2, (("a.py", 1),), 1)],
            [(0, True, (("a.py", 1),), 1)],
            [(0, 2 ** 64, (("a.py", 1),), 1), (0, 2 ** 64, (("a.py", 1),), 1)],
            # one tuple whose sizes overflow 64 bits only once added up
            [(0, 2 ** 62, (("a.py", 1),), 1)] * 4,
            [(0, -2 ** 62, (("a.py", 1),), 1)] * 5,
            [(0, 2 ** 62, (("a.py", 1),), 1)] * 2 + [(0, 2 ** 62 + 1, (("a.py", 1),), 1)],
            [(0, 1, (), 0)],
            [(0, 1, (("a.py", 1),))],
            [(0, 1, [("a.py", 1)], 1)],
            [(0, 1, (("a.py", None),), 1), (0, 1, (("a.py", 2),), 1)],
        ]
        for index, raw in enumerate(odd_sets):
            for key_type in ("traceback", "lineno", "filename"):
                for cumulative in (False, True):
                    def statistics(module):
                        return [(s.traceback._frames, s.size, s.count) for s in
                                module.Snapshot(list(raw), 1).statistics(key_type, cumulative)]
                    self.check_same(statistics, "odd set %d %s %s" % (index, key_type,
                                                                      cumulative))

            def filtered(module):
                return module.Snapshot(list(raw), 1).filter_traces(
                    [module.Filter(True, "a.py", 1)]).traces._traces
            self.check_same(filtered, "odd set %d filter" % index)

    def test_reference_found(self):
        if self.stdlib is None:
            self.skipTest("C and Python loops compared only: %s" % self.where)
        self.assertTrue(hasattr(self.stdlib, "Snapshot"))


# ---------------------------------------------------------------------------------------------
# With the real engine
# ---------------------------------------------------------------------------------------------

def _allocate(size):
    return b"x" * size  # this line allocates the block


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class RealEngineTests(unittest.TestCase):
    def setUp(self):
        if tracemalloc.is_tracing():
            self.skipTest("tracing is on already")

    def tearDown(self):
        tracemalloc.stop()

    def test_take_snapshot(self):
        tracemalloc.start(3)
        data = _allocate(123456)
        snapshot = tracemalloc.take_snapshot()
        self.assertEqual(snapshot.traceback_limit, 3)
        self.assertEqual(snapshot.pid, os.getpid())
        traceback = tracemalloc.get_object_traceback(data)
        self.assertEqual(traceback[-1].filename, __file__.replace(".pyc", ".py"))
        self.assertEqual(traceback[-1].lineno, _allocate.__code__.co_firstlineno + 1)
        top = snapshot.statistics("lineno")
        self.assertTrue(any(stat.traceback == tracemalloc.Traceback(traceback._frames[-1:])
                            and stat.size >= 123456 for stat in top[:5]), top[:5])
        for key_type in ("filename", "lineno", "traceback"):
            tracemalloc._USE_C_STATS = False
            python = snapshot.statistics(key_type)
            tracemalloc._USE_C_STATS = True
            self.assertEqual(snapshot.statistics(key_type), python)
        self.assertTrue(snapshot.stats)
        tracemalloc.stop()
        self.assertRaises(RuntimeError, tracemalloc.take_snapshot)
        self.assertEqual(tracemalloc.get_traces(), [])
        self.assertEqual(tracemalloc.get_stats(), {})

    def test_c_functions_check_their_arguments(self):
        engine = tracemalloc._engine
        self.assertRaises(TypeError, engine.group_traces, (), 0, False)
        self.assertRaises(ValueError, engine.group_traces, [], 3, False)
        self.assertIsNone(engine.group_traces([], 0, True))
        self.assertEqual(engine.group_traces([], 1, False), [])
        self.assertRaises(TypeError, engine.filter_traces, [], [("x",)], [])
        self.assertRaises(TypeError, engine.filter_traces, [], [(0, True, None, None, False,
                                                                 None)], [])
        self.assertRaises(TypeError, engine.filter_traces, [], [(1, True, None, None, False,
                                                                 None)], [])

        def failing(filename):
            raise ZeroDivisionError
        self.assertRaises(ZeroDivisionError, engine.filter_traces, [(0, 1, (("a", 1),), 1)],
                          [(0, True, failing, None, False, None)], [])


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
@unittest.skipIf(PY2 or tmsupport.STOCK_INTERPRETER,
                 "-X tracemalloc and PYTHONTRACEMALLOC start our engine on a patched 3.x only")
class StartupOptionTests(unittest.TestCase):
    """-X tracemalloc=N and PYTHONTRACEMALLOC=N with N out of range, the two subtests of
    test_tracemalloc's test_sys_xoptions_invalid and test_env_var_invalid (nframe=2**30 and
    nframe=-1), and the stock interpreter's output for them. N=2**30 parses as a number
    but is more frames than the engine keeps (65535): startup stops where the stock
    interpreter started its engine, with the stock fatal error ("can't initialize
    tracemalloc" on 3.11, "can't start tracemalloc" on 3.13, then the engine's ValueError)
    and exit status 1; the program does not run (doc/internals.rst). N=-1 is refused by the
    interpreter's own parsing of the option (Python/initconfig.c, unchanged by the patches):
    a fatal error, exit status 1, the program does not run. PYTRACEMALLOC=N, ours, keeps its
    one line and exit status 2 (test_engine.StartupTests)."""

    CODE = "import tracemalloc; print(tracemalloc.is_tracing())"
    STATUS_MESSAGE = {(3, 11): "can't initialize tracemalloc",
                      (3, 13): "can't start tracemalloc"}

    def fatal_error_pattern(self):
        message = self.STATUS_MESSAGE.get(sys.version_info[:2])
        self.assertIsNotNone(message, "no stock message known for Python %d.%d"
                             % sys.version_info[:2])
        return ("\\AFatal Python error: init_interp_main: %s\n"
                "Python runtime state: core initialized\n"
                "ValueError: the number of frames must be in range \\[1; 65535\\]\n"
                "\n"
                "Current thread 0x[0-9a-f]+ \\(most recent call first\\):\n"
                "  <no Python frame>\n\\Z" % re.escape(message))

    def check(self, args, env, executable=None):
        code, out, err = tmsupport.run_python(args + ["-c", self.CODE], executable=executable,
                                              env=tmsupport.child_env(**env))
        self.assertEqual((code, out), (1, ""), err)
        self.assertRegex(err, self.fatal_error_pattern())
        return err

    def test_xoption(self):
        self.check(["-X", "tracemalloc=%d" % 2 ** 30], {})

    def test_environment_variable(self):
        self.check([], {"PYTHONTRACEMALLOC": str(2 ** 30)})

    def test_xoption_over_environment_variable(self):
        # -X tracemalloc overrides PYTHONTRACEMALLOC; a valid PYTRACEMALLOC, which wins over
        # both, does not make an invalid -X value valid (nor does it a -1, refused earlier)
        self.check(["-X", "tracemalloc=65536"], {"PYTHONTRACEMALLOC": "5"})
        self.check(["-X", "tracemalloc=65536"], {"PYTRACEMALLOC": "5"})

    def test_engine_limit(self):
        """The interpreter refuses exactly the numbers the engine refuses, with its message."""
        with self.assertRaises(ValueError) as cm:
            tracemalloc.start(65536)
        err = self.check(["-X", "tracemalloc=65536"], {})
        self.assertIn("\nValueError: %s\n" % cm.exception, err)
        code, out, err = tmsupport.run_python(
            ["-X", "tracemalloc=65535", "-c", "import tracemalloc; print(tracemalloc."
                                              "get_traceback_limit())"])
        self.assertEqual((code, out.strip(), err), (0, "65535", ""))

    def test_same_as_stock(self):
        """Output and exit status are those of the stock interpreter of the same version."""
        version = "%d.%d" % sys.version_info[:2]
        stock = [python for python in tmsupport.stock_interpreters()
                 if tmsupport.run_python(["-c", "import sys; print('%d.%d' % "
                                                "sys.version_info[:2])"],
                                         executable=python)[1].strip() == version]
        tmsupport.require(self, stock, "a stock Python %s (TRACEMALLOC_TEST_STOCK_PYTHONS, "
                                       "pyenv, the cache)" % version)
        thread = re.compile("^Current thread 0x[0-9a-f]+ ", re.MULTILINE)
        for args, env in ((["-X", "tracemalloc=%d" % 2 ** 30], {}),
                          ([], {"PYTHONTRACEMALLOC": str(2 ** 30)})):
            ours = tmsupport.run_python(args + ["-c", "pass"],
                                        env=tmsupport.child_env(**env))
            theirs = tmsupport.run_python(args + ["-c", "pass"], executable=stock[0],
                                          env=tmsupport.child_env(**env))
            self.assertEqual((ours[0], ours[1], thread.sub("Current thread 0x? ", ours[2])),
                             (theirs[0], theirs[1], thread.sub("Current thread 0x? ",
                                                               theirs[2])))
            self.assertEqual(ours[0], 1)

    def check_negative(self, args, env, message):
        code, out, err = tmsupport.run_python(args + ["-c", self.CODE],
                                              env=tmsupport.child_env(**env))
        self.assertEqual((code, out, err),
                         (1, "", "Fatal Python error: config_init_tracemalloc: %s\n"
                                 "Python runtime state: preinitialized\n\n" % message))

    def test_xoption_negative(self):
        self.check_negative(["-X", "tracemalloc=-1"], {},
                            "-X tracemalloc=NFRAME: invalid number of frames")

    def test_environment_variable_negative(self):
        self.check_negative([], {"PYTHONTRACEMALLOC": "-1"},
                            "PYTHONTRACEMALLOC: invalid number of frames")

    def test_valid(self):
        code, out, err = tmsupport.run_python(
            ["-X", "tracemalloc=15", "-c", "import tracemalloc; print(tracemalloc."
                                           "get_traceback_limit())"])
        self.assertEqual((code, out.strip(), err), (0, "15", ""))


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class ReadmeStdlibExampleTests(unittest.TestCase):
    """The README's example of the stdlib API runs as written (test_readme.py runs the
    seed's pytracemalloc examples)."""

    def test_example(self):
        import shutil
        import tempfile
        sys.path.insert(0, tmsupport.TESTS_DIR)
        from test_readme import README, literal_blocks
        with open(README) as fp:
            blocks = [block for block in literal_blocks(fp.read())
                      if block.startswith("# stdlib API example")]
        self.assertEqual(len(blocks), 1)
        tmpdir = tempfile.mkdtemp()
        try:
            code, out, err = tmsupport.run_python(["-c", blocks[0]], cwd=tmpdir)
        finally:
            shutil.rmtree(tmpdir)
        self.assertEqual((code, err), (0, ""))
        self.assertIn("size=", out)
        self.assertIn('  File "<string>", line ', out)


MEMORY_SCRIPT = r"""
import gc, sys
import tracemalloc
count, traced = int(sys.argv[1]), sys.argv[2] == "1"
def rss():
    with open("/proc/self/statm") as fp:
        return int(fp.read().split()[1]) * 4096
gc.disable()
source = "\n".join("def f%d(n):\n    return [bytearray(40) for _ in range(n)]" % i
                   for i in range(100))
namespace = {}
exec(compile(source, "sites.py", "exec"), namespace)
keep = [[None] * (count // 100 + 1)]
if traced:
    tracemalloc.start(5)
before, engine_before = rss(), tracemalloc.get_tracemalloc_memory()
for index in range(100):
    keep.append(namespace["f%d" % index](count // 100))
print("%d %d" % (rss() - before, tracemalloc.get_tracemalloc_memory() - engine_before))
"""


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
@unittest.skipUnless(os.path.exists("/proc/self/statm"), "needs /proc/self/statm (Linux)")
class TracerMemoryTests(unittest.TestCase):
    def test_get_tracemalloc_memory_is_what_tracing_costs(self):
        if tmsupport.address_sanitizer():
            self.skipTest(tmsupport.ASAN_SKIP_REASON)
        """get_tracemalloc_memory() is within 10% of the RSS that tracing adds: the same
        300000 objects (600000 blocks) allocated by two processes, traced and untraced."""
        results = []
        for traced in ("0", "1"):
            code, out, err = tmsupport.run_python(["-c", MEMORY_SCRIPT, "300000", traced])
            self.assertEqual(code, 0, err)
            results.append([int(value) for value in out.split()])
        (untraced_rss, _), (traced_rss, reported) = results
        cost = traced_rss - untraced_rss
        self.assertGreater(cost, 0)
        ratio = float(reported) / cost
        sys.stderr.write("[tracing cost %d bytes, get_tracemalloc_memory() %d: ratio %.3f] "
                         % (cost, reported, ratio))
        self.assertTrue(0.9 <= ratio <= 1.1, "ratio %.3f: get_tracemalloc_memory() %d, "
                                             "tracing costs %d bytes of RSS"
                        % (ratio, reported, cost))


if __name__ == "__main__":
    unittest.main()
