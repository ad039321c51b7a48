"""The sampling mode, start(nframe, sample_bytes=N): the estimates are unbiased (each line's
estimate against the exact figure of the same workload, within a bound derived from the
variance of the estimator, tight enough to fail without the weighting), a tiny N is exact,
frees of sampled and unsampled blocks leave no trace behind, stop/start switches modes,
snapshot files keep sample_bytes, DisplayTop and the command line say "estimated", and
PYTRACEMALLOC_SAMPLE starts it at startup (tracemalloc/_sampling.py, module/engine/sample.h).
"""
from __future__ import absolute_import

import json
import math
import os
import shutil
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402

_sampling = tracemalloc._sampling

# The workload: 20,000 blocks of three sizes, each size allocated on a line of its own (the
# "# sample: NAME" comments), all alive when the snapshot is taken: about 40 MB.
BLOCKS = (("a", 10000, 2000), ("b", 2000, 8000), ("c", 8000, 500))
# Standard deviations allowed: a Gaussian tail beyond 6 sigma is 2e-9, and the binomial
# counts here (60 samples and more per line) are close enough to Gaussian for that.
SIGMAS = 6.0


def _marked_lines():
    lines = {}
    with open(__file__.replace(".pyc", ".py")) as fp:
        for lineno, line in enumerate(fp, 1):
            if "# sample: " in line and not line.lstrip().startswith("#"):
                lines[line.split("# sample: ")[1].strip()] = lineno
    return lines


LINES = _marked_lines()


def allocate_a(count, size):
    blocks = [None] * count
    for i in range(count):
        blocks[i] = b"x" * size  # sample: a
    return blocks


def allocate_b(count, size):
    blocks = [None] * count
    for i in range(count):
        blocks[i] = b"x" * size  # sample: b
    return blocks


def allocate_c(count, size):
    blocks = [None] * count
    for i in range(count):
        blocks[i] = b"x" * size  # sample: c
    return blocks


ALLOCATE = {"a": allocate_a, "b": allocate_b, "c": allocate_c}


def run_workload(nframe=1, sample_bytes=0):
    """Start tracing, allocate BLOCKS, take a snapshot, free, stop: {name: (size, count)} of
    the marked lines by statistics('lineno'), and the snapshot."""
    tracemalloc.start(nframe, sample_bytes=sample_bytes)
    try:
        kept = [ALLOCATE[name](count, size) for name, count, size in BLOCKS]
        snapshot = tracemalloc.take_snapshot()
        del kept
    finally:
        tracemalloc.stop()
    return lines_of(snapshot.statistics("lineno")), snapshot


def lines_of(statistics):
    """{name: (size, count)} of the marked lines among *statistics*."""
    names = dict((lineno, name) for name, lineno in LINES.items())
    result = {}
    for stat in statistics:
        frame = stat.traceback[0]
        if frame.filename == __file__.replace(".pyc", ".py") and frame.lineno in names:
            result[names[frame.lineno]] = (stat.size, stat.count)
    return result


def bounds(exact, sample_bytes):
    """{name: (size bound, count bound, unweighted error)} for each line of *exact*
    ({name: (size, count)}, blocks of one size per line): SIGMAS standard deviations of the
    estimator, plus a byte per block for the rounding of the weights. The estimate of a line
    of n blocks of s bytes sums n Bernoulli(p) samples weighted s/p (size) or 1/p (count),
    p = 1 - exp(-s/N): its variance is n s^2 (1-p)/p (size), n (1-p)/p (count). The
    unweighted error is what dropping the weights would cost on average: (1 - p) of it."""
    result = {}
    for name, (size, count) in exact.items():
        s = float(size) / count
        p = -math.expm1(-s / sample_bytes)
        sigma_count = math.sqrt(count * (1.0 - p) / p)
        result[name] = (SIGMAS * sigma_count * s + count, SIGMAS * sigma_count + 1,
                        (1.0 - p) * size)
    return result


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class EstimateTests(unittest.TestCase):
    """The estimates against exact mode on the same workload."""

    @classmethod
    def setUpClass(cls):
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        cls.exact, snapshot = run_workload()

    def setUp(self):
        os.environ["TRACEMALLOC_SAMPLE_SEED"] = "12345"

    def tearDown(self):
        os.environ.pop("TRACEMALLOC_SAMPLE_SEED", None)
        if tracemalloc.is_tracing():
            tracemalloc.stop()

    def test_exact_workload(self):
        # the setup the bounds rely on: one size per line, every block traced
        for name, count, size in BLOCKS:
            total, blocks = self.exact[name]
            self.assertEqual(blocks, count, name)
            self.assertEqual(total % count, 0, name)
            self.assertGreaterEqual(total // count, size, name)

    def check_unbiased(self, sample_bytes):
        estimated, snapshot = run_workload(sample_bytes=sample_bytes)
        self.assertEqual(snapshot.sample_bytes, sample_bytes)
        limits = bounds(self.exact, sample_bytes)
        total = sum(size for size, count in self.exact.values())
        discriminating = 0
        for name, (size, count) in self.exact.items():
            if size < total // 100:
                continue  # the target is about the lines holding at least 1%
            size_bound, count_bound, unweighted = limits[name]
            est_size, est_count = estimated.get(name, (0, 0))
            self.assertLessEqual(abs(est_size - size), size_bound,
                                 "%s: estimated %d bytes, exact %d (N=%d)"
                                 % (name, est_size, size, sample_bytes))
            self.assertLessEqual(abs(est_count - count), count_bound,
                                 "%s: estimated %d blocks, exact %d (N=%d)"
                                 % (name, est_count, count, sample_bytes))
            if unweighted > 2 * size_bound:
                discriminating += 1
        # the bounds are tight enough that the sizes without weights would fail
        self.assertGreater(discriminating, 0, limits)

    def test_unbiased_64k(self):
        self.check_unbiased(64 * 1024)

    def test_unbiased_smaller_than_blocks(self):
        self.check_unbiased(256)

    def test_tiny_interval_is_exact(self):
        # p(s) = 1 - exp(-s) is 1 in a double from 37 bytes on: every block is recorded with
        # its own size
        estimated, snapshot = run_workload(sample_bytes=1)
        self.assertEqual(estimated, self.exact)
        self.assertEqual(snapshot.sample_bytes, 1)

    def test_traced_memory_is_estimated(self):
        tracemalloc.start(1, sample_bytes=64 * 1024)
        before = tracemalloc.get_traced_memory()[0]
        kept = [ALLOCATE[name](count, size) for name, count, size in BLOCKS]
        current, peak = tracemalloc.get_traced_memory()
        del kept
        exact = sum(size for size, count in self.exact.values())
        limits = bounds(self.exact, 64 * 1024)
        # the lines' variances add up (independent samples); the list objects and the rest
        # of the process add their own share, small beside 40 MB
        bound = math.sqrt(sum((limits[name][0] / SIGMAS) ** 2 for name in limits)) * SIGMAS
        self.assertLessEqual(abs(current - before - exact), bound + exact * 0.01)
        self.assertGreaterEqual(peak, current)


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class ModeTests(unittest.TestCase):
    """The API, frees and the switch between modes."""

    def tearDown(self):
        if tracemalloc.is_tracing():
            tracemalloc.stop()

    def test_get_sample_bytes(self):
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        self.assertEqual(tracemalloc.get_sample_bytes(), 0)
        tracemalloc.start()
        self.assertEqual(tracemalloc.get_sample_bytes(), 0)
        tracemalloc.stop()
        tracemalloc.start(3, sample_bytes=4096)
        self.assertEqual(tracemalloc.get_sample_bytes(), 4096)
        self.assertEqual(tracemalloc.get_traceback_limit(), 3)
        tracemalloc.start(5, sample_bytes=4096)  # the limit changes, the mode stays
        self.assertEqual(tracemalloc.get_traceback_limit(), 5)
        self.assertEqual(tracemalloc.get_sample_bytes(), 4096)
        tracemalloc.stop()
        self.assertEqual(tracemalloc.get_sample_bytes(), 0)

    def test_bad_values(self):
        self.assertRaises(ValueError, tracemalloc.start, 1, -1)
        self.assertRaises(TypeError, tracemalloc.start, 1, 1.5)
        self.assertRaises(TypeError, tracemalloc.start, 1, "512k")
        self.assertRaises(TypeError, tracemalloc.start, 1, True)
        self.assertFalse(tracemalloc.is_tracing())

    def test_no_mode_change_while_tracing(self):
        tracemalloc.start(1, sample_bytes=4096)
        with self.assertRaises(ValueError) as cm:
            tracemalloc.start(1)
        self.assertIn("sample_bytes=4096", str(cm.exception))
        self.assertEqual(tracemalloc.get_sample_bytes(), 4096)
        tracemalloc.stop()
        tracemalloc.start(1)
        self.assertRaises(ValueError, tracemalloc.start, 1, 4096)
        self.assertEqual(tracemalloc.get_sample_bytes(), 0)

    def objects_traced(self):
        """How many of 200 new objects are traced, and whether those have their line (str
        objects of 50 characters: no free list keeps them, on any variant)."""
        objects = [("%05d" % i) * 10 for i in range(200)]  # line of the objects
        lineno = sys._getframe().f_lineno - 1
        traced = 0
        for obj in objects:
            tb = tracemalloc.get_object_traceback(obj)
            if tb is not None:
                traced += 1
                self.assertEqual(tb[0].lineno, lineno)
        return traced

    def test_switch_modes(self):
        for _ in range(2):
            tracemalloc.start(1)
            self.assertEqual(self.objects_traced(), 200)
            tracemalloc.stop()
            # one block in about 16,000 of 64 bytes is sampled at N = 1 MiB
            tracemalloc.start(1, sample_bytes=1024 * 1024)
            self.assertLess(self.objects_traced(), 20)
            tracemalloc.stop()
            tracemalloc.start(1, sample_bytes=1)
            self.assertEqual(self.objects_traced(), 200)
            tracemalloc.stop()

    def test_freelist_memory(self):
        info = tracemalloc.get_interpreter_info()
        tracemalloc.start(1, sample_bytes=4096)
        # pushes onto free lists are not followed while sampling
        self.assertIsNone(tracemalloc.get_freelist_memory())
        tracemalloc.stop()
        tracemalloc.start(1)
        self.assertEqual(tracemalloc.get_freelist_memory() is not None,
                         info["variant"] == "track")

    def test_frees_leave_nothing(self):
        # blocks of every size (sampled or not, from pymalloc, malloc, free lists, resized by
        # realloc) allocated then freed: no trace may stay on their lines. Without free-list
        # hooks ("plain", the stock twins) a float or a tuple parked on a free list is still
        # allocated for the allocator, in exact mode too: their lines are left out there.
        names = ["free1", "free4"]
        if tracemalloc.get_interpreter_info()["variant"] in ("track", "disabled"):
            names += ["free2", "free3"]
        for sample_bytes in (1, 512, 64 * 1024):
            tracemalloc.start(1, sample_bytes=sample_bytes)
            for _ in range(3):
                kept = [b"x" * (i % 3000) for i in range(20000)]  # sample: free1
                floats = [float(i) for i in range(20000)]  # sample: free2
                tuples = [(i, i) for i in range(20000)]  # sample: free3
                grown = bytearray()
                for i in range(2000):
                    grown += b"y" * 100  # sample: free4
                del kept, floats, tuples, grown
            with tracemalloc._suspended():
                traces = tracemalloc._get_traces()
                current = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            lines = set(LINES[name] for name in names)
            here = __file__.replace(".pyc", ".py")
            left = [trace for trace in traces
                    if trace[2] and trace[2][0][0] == here and trace[2][0][1] in lines]
            self.assertEqual(left, [], sample_bytes)
            # the counters are the sums of the traces
            self.assertEqual(sum(trace[1] for trace in traces), current)

    def test_threads(self):
        # four threads allocate and free blocks of every size while sampling: the filter of
        # sampled addresses is shared, and every block sampled must be forgotten when freed
        errors = []

        def work(seed):
            try:
                for turn in range(20):
                    kept = [b"x" * ((i * 37 + seed) % 5000) for i in range(2000)]  # sample: thr
                    del kept
            except Exception as exc:  # pragma: no cover (reported below)
                errors.append(exc)
        tracemalloc.start(1, sample_bytes=1024)
        threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with tracemalloc._suspended():
            traces = tracemalloc._get_traces()
            current = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        self.assertEqual(errors, [])
        here = __file__.replace(".pyc", ".py")
        left = [trace for trace in traces
                if trace[2] and trace[2][0] == (here, LINES["thr"])]
        self.assertEqual(left, [])
        self.assertEqual(sum(trace[1] for trace in traces), current)

    def test_tracer_memory(self):
        # what a suspended thread allocates is the tracer's, recorded whatever its size, and
        # its frees find it (the tracer's store is in the filter too)
        tracemalloc.start(1, sample_bytes=1024 * 1024)
        size = 1000
        with tracemalloc._suspended():
            before = tracemalloc.get_tracemalloc_memory()
            kept = [b"x" * size for i in range(2000)]
            during = tracemalloc.get_tracemalloc_memory()
            del kept
            after = tracemalloc.get_tracemalloc_memory()
        tracemalloc.stop()
        self.assertGreaterEqual(during - before, 2000 * size)
        self.assertLess(after - before, 2000 * size // 10)

    def test_clear_traces(self):
        size = 1000
        tracemalloc.start(1, sample_bytes=512)
        kept = [b"x" * size for i in range(2000)]  # sample: clear
        tracemalloc.clear_traces()
        self.assertEqual(lines_of(tracemalloc.take_snapshot().statistics("lineno")), {})
        del kept
        more = [b"x" * size for i in range(2000)]  # sample: clear2
        stats = tracemalloc.take_snapshot().statistics("lineno")
        line = LINES["clear2"]
        sizes = [stat.size for stat in stats if stat.traceback[0].lineno == line
                 and stat.traceback[0].filename == __file__.replace(".pyc", ".py")]
        self.assertEqual(len(sizes), 1)
        self.assertGreater(sizes[0], 1000 * 2000 // 2)
        del more


class SamplingFunctionsTests(unittest.TestCase):
    """tracemalloc/_sampling.py on its own."""

    def test_parse_size(self):
        for text, value in (("4096", 4096), ("512k", 524288), ("512K", 524288),
                            ("64KiB", 65536), ("1M", 1048576), ("2g", 2 << 30), ("0", 0),
                            (" 8k ", 8192), ("1kb", 1024)):
            self.assertEqual(_sampling.parse_size(text), value, text)
        for text in ("", "k", "-1", "1.5k", "12x", "0x10", "1 2"):
            with self.assertRaises(ValueError) as cm:
                _sampling.parse_size(text)
            self.assertIn(repr(text), str(cm.exception))

    def test_weights(self):
        n = 512 * 1024
        for size in (1, 8, 32, 100, 1000, 10000, 100000, n, 10 * n, 100 * n):
            p = -math.expm1(-float(size) / n)
            weighted = _sampling.weight(size, n)
            self.assertAlmostEqual(weighted, size / p, delta=0.5)
            # the blocks a sample stands for, from its weighted size alone: the rounding of
            # the weight moves the size found by at most 2 bytes
            self.assertAlmostEqual(_sampling.count_weight(weighted, n), 1 / p,
                                   delta=(1 / p) * 2.0 / size + 1e-9)
        self.assertEqual(_sampling.count_weight(100, n), 1.0)  # not a sampled size
        self.assertEqual(_sampling.weight(10 ** 12, 1), 10 ** 12)

    def test_estimate_count(self):
        n = 65536
        weighted = _sampling.weight(100, n)
        blocks = 1 / -math.expm1(-100.0 / n)  # what one sample of 100 bytes stands for
        self.assertAlmostEqual(_sampling.estimate_count(3 * weighted, 3, n), 3 * blocks,
                               delta=3 * blocks * 0.02 + 1)
        self.assertEqual(_sampling.estimate_count(300, 3, 0), 3)

    def test_header(self):
        self.assertIsNone(_sampling.header(0))
        self.assertEqual(_sampling.header(524288),
                         "estimated (sampled every 524288 bytes on average)")


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class OutputTests(unittest.TestCase):
    """Snapshots, their files, DisplayTop and the command line."""

    @classmethod
    def setUpClass(cls):
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        cls.tmpdir = tempfile.mkdtemp()
        tracemalloc.start(1, sample_bytes=4096)
        kept = allocate_b(500, 8000)
        cls.sampled = tracemalloc.take_snapshot()
        cls.sampled_stats = tracemalloc.Snapshot.create()
        del kept
        tracemalloc.stop()
        tracemalloc.start(1)
        cls.exact = tracemalloc.take_snapshot()
        tracemalloc.stop()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmpdir)

    def test_snapshots_know(self):
        self.assertEqual(self.sampled.sample_bytes, 4096)
        self.assertEqual(self.sampled_stats.sample_bytes, 4096)
        self.assertEqual(self.exact.sample_bytes, 0)
        self.assertNotIn("sample_bytes", vars(self.exact))
        # a filtered snapshot is still an estimate
        filtered = self.sampled.filter_traces([tracemalloc.Filter(True, __file__)])
        self.assertEqual(filtered.sample_bytes, 4096)

    def test_stats_only_counts(self):
        # Snapshot.create() groups the sampled traces with their weights, as statistics()
        line = LINES["b"]
        here = __file__.replace(".pyc", ".py")
        size, count = self.sampled_stats.stats[here][line]
        stats = self.sampled.stats[here][line]
        self.assertEqual((size, count), stats)
        # 500 blocks of 8 KB at N = 4096: p = 0.86, about 430 samples
        self.assertLess(abs(count - 500), 60)

    def test_files_round_trip(self):
        for fmt in tracemalloc._snapfile.FORMATS:
            for snapshot, expected in ((self.sampled, 4096), (self.exact, 0)):
                filename = os.path.join(self.tmpdir, "snap-%s-%d" % (fmt, expected))
                snapshot.dump(filename, format=fmt)
                loaded = tracemalloc.Snapshot.load(filename)
                self.assertEqual(loaded.sample_bytes, expected, fmt)
                self.assertEqual(lines_of(loaded.statistics("lineno")),
                                 lines_of(snapshot.statistics("lineno")), fmt)

    def test_leaks(self):
        # find_leaks() over sampled snapshots says so, in its header and its JSON
        snapshots = []
        for index in range(4):
            snapshot = tracemalloc.Snapshot(stats={"a.py": {1: (1000 * (index + 1), 1)}},
                                            pid=1)
            snapshot.time = 1000.0 + index
            if index:
                snapshot.sample_bytes = 4096
            snapshots.append(snapshot)
        leaks = tracemalloc.find_leaks(snapshots)
        self.assertEqual(leaks.sample_bytes, 4096)
        self.assertTrue(tracemalloc._leaks.format_leaks(leaks)[0].endswith(
            ", estimated (sampled every 4096 bytes on average)"))
        self.assertEqual(json.loads(tracemalloc._leaks.leaks_to_json(leaks))["sample_bytes"],
                         4096)
        for snapshot in snapshots:
            vars(snapshot).pop("sample_bytes", None)
        leaks = tracemalloc.find_leaks(snapshots)
        self.assertEqual(leaks.sample_bytes, 0)
        self.assertNotIn("estimated", tracemalloc._leaks.format_leaks(leaks)[0])

    def test_bad_attribute(self):
        snapshot = tracemalloc.Snapshot(stats={})
        snapshot.sample_bytes = -1
        filename = os.path.join(self.tmpdir, "bad")
        self.assertRaises(tracemalloc.SnapshotError, snapshot.dump, filename)

    def test_display_top(self):
        for snapshot, estimated in ((self.sampled, True), (self.exact, False)):
            stream = tmsupport.text_stream()
            top = tracemalloc.DisplayTop(3, file=stream)
            top.display_snapshot(snapshot)
            header = stream.getvalue().splitlines()[0]
            self.assertEqual(header.endswith(
                ", estimated (sampled every 4096 bytes on average)"), estimated, header)

    def test_command_line(self):
        sampled = os.path.join(self.tmpdir, "cli-sampled.tms")
        exact = os.path.join(self.tmpdir, "cli-exact.tms")
        self.sampled.dump(sampled)
        self.exact.dump(exact)
        for filename, value in ((sampled, 4096), (exact, 0)):
            code, out, err = tmsupport.run_python(["-m", "tracemalloc", "-n", "2", filename])
            self.assertEqual((code, err), (0, ""))
            self.assertEqual("estimated (sampled every 4096 bytes on average)"
                             in out.splitlines()[0], bool(value), out)
            code, out, err = tmsupport.run_python(["-m", "tracemalloc", "--json", filename])
            self.assertEqual((code, err), (0, ""))
            metadata = json.loads(out)["snapshots"][0]["metadata"]
            self.assertEqual(metadata["sample_bytes"], value)


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class ReadmeExampleTests(unittest.TestCase):
    """The README's example of the sampling mode runs as written and shows what it says."""

    def test_example(self):
        out, shown = tmsupport.run_readme_example(self, "# the sampling example")
        lines = out.splitlines()
        shown = shown.splitlines()
        self.assertEqual(len(lines), 3, out)
        self.assertEqual(lines[0], shown[0])
        # 20,000 blocks of 2000 bytes and their headers (33 on 3.x, 37 on 2.7), and the
        # list: within 6 standard deviations (bounds())
        exact = 20000 * (2000 + (37 if tmsupport.PY2 else 33))
        size_bound = bounds({"rows": (exact, 20000)}, 64 * 1024)["rows"][0]
        traced = float(lines[1].split()[-2]) * 1e6
        self.assertLess(abs(traced - exact), size_bound + 0.5e6 + 160000, lines[1])
        self.assertEqual(lines[2].split(" size=")[0], shown[2].split(" size=")[0])
        size = float(lines[2].split(" size=")[1].split()[0]) * 1024 * 1024
        self.assertLess(abs(size - exact), size_bound + 0.05 * 1024 * 1024, lines[2])


CHILD_CODE = """
import tracemalloc
print("%s %d %d" % (tracemalloc.is_tracing(), tracemalloc.get_sample_bytes(),
                   tracemalloc.get_traceback_limit()))
"""


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
@unittest.skipIf(tmsupport.STOCK_INTERPRETER, tmsupport.STOCK_REASON)
class StartupTests(unittest.TestCase):
    """PYTRACEMALLOC=N with PYTRACEMALLOC_SAMPLE=SIZE in a child of this interpreter."""

    def run_child(self, sample, nframe="1", options=()):
        env = tmsupport.child_env(PYTRACEMALLOC=nframe)
        if sample is not None:
            env["PYTRACEMALLOC_SAMPLE"] = sample
        code, out, err = tmsupport.run_python(list(options) + ["-c", CHILD_CODE], env=env)
        lines = [line for line in err.splitlines()
                 if not (line.startswith("[") and line.rstrip().endswith(" refs]"))]
        return code, out.strip(), lines

    def test_sampling(self):
        for value, expected in (("512k", 524288), ("4096", 4096), ("1M", 1048576)):
            code, out, err = self.run_child(value, nframe="3")
            self.assertEqual((code, out), (0, "True %d 3" % expected), err)
            self.assertEqual(err, ["tracemalloc enabled, sampled every %d bytes on average"
                                   % expected])

    def test_exact(self):
        for value in ("0", "", None):
            code, out, err = self.run_child(value)
            self.assertEqual((code, out, err), (0, "True 0 1", ["tracemalloc enabled"]), value)

    def test_without_pytracemalloc(self):
        env = tmsupport.child_env(PYTRACEMALLOC_SAMPLE="512k")
        code, out, err = tmsupport.run_python(["-c", CHILD_CODE], env=env)
        self.assertEqual((code, out.strip()), (0, "False 0 1"), err)

    @unittest.skipIf(sys.version_info < (3,), "Python 2.7 has no -X options")
    def test_x_option(self):
        # -X tracemalloc_sample=SIZE, which wins over the variable
        code, out, err = self.run_child("4096", nframe="2",
                                        options=["-X", "tracemalloc_sample=64k"])
        self.assertEqual((code, out), (0, "True 65536 2"), err)
        code, out, err = self.run_child(None, options=["-X", "tracemalloc_sample=0"])
        self.assertEqual((code, out, err), (0, "True 0 1", ["tracemalloc enabled"]))
        for option, shown in (("tracemalloc_sample=lots", "'lots'"),
                              ("tracemalloc_sample", "a size is needed")):
            code, out, err = self.run_child(None, options=["-X", option])
            self.assertEqual((code, out), (0, "False 0 1"), (option, err))
            self.assertEqual(len(err), 1, err)
            self.assertIn("-X tracemalloc_sample: ", err[0])
            self.assertIn(shown, err[0])

    def test_invalid(self):
        for value in ("abc", "-1", "1.5k", "12x"):
            code, out, err = self.run_child(value)
            # one line naming the variable and the value; the program goes on, untraced
            self.assertEqual((code, out), (0, "False 0 1"), (value, err))
            self.assertEqual(len(err), 1, err)
            self.assertIn("PYTRACEMALLOC_SAMPLE", err[0])
            self.assertIn(repr(value), err[0])
            self.assertNotIn("Traceback", err[0])


if __name__ == "__main__":
    unittest.main()
