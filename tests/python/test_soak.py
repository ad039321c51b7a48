"""The soak in CI: 20 seconds of the workload of tools/soak (tests/python/data/soak_workload.py:
a realistic mix with DisplayTop and TakeSnapshot timers, the process logger and tracing
restarted every second or two with frame limits of 1 to 100) in a child interpreter, which
must end with every check passed (run once per CI run, after the matrix: the test skips unless
TRACEMALLOC_TEST_CAMPAIGNS=1); and the checks themselves, given made-up samples, must see a
leak. TRACEMALLOC_TEST_STRESS=N makes the run N times longer.
"""
from __future__ import absolute_import

import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
WORKLOAD = os.path.join(DATA_DIR, "soak_workload.py")
sys.path.insert(0, DATA_DIR)
import soak_workload  # noqa: E402

KIB = 1024
MIB = 1024 * 1024


def scale():
    try:
        return max(1, int(os.environ.get("TRACEMALLOC_TEST_STRESS", "1")))
    except ValueError:
        return 1


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class SoakTests(unittest.TestCase):
    @unittest.skipUnless(tmsupport.CAMPAIGNS, tmsupport.CAMPAIGN_SKIP_REASON)
    def test_short_soak(self):
        seconds = 20 * scale()
        workdir = tempfile.mkdtemp()
        try:
            # 20 s is too short for the slopes of the long run: its checks here are the
            # growth from the second half of the run's first half to its last tenth, with
            # bounds that a leak of one top, one snapshot or one restart's tables per tick
            # would still pass, but not a leak of the traces (each restart drops MiBs).
            status, out, err = tmsupport.run_python(
                [WORKLOAD, "--seconds", str(seconds), "--workdir", workdir,
                 "--restart-every", "1", "--display-every", "0.5", "--snapshot-every", "0.7",
                 "--warmup", "0.5", "--cache-step", "200",
                 "--max-rss-slope", str(64 * MIB), "--max-rss-growth", str(16 * MIB),
                 "--max-tracer-slope", str(4 * MIB), "--max-tracer-growth", str(512 * KIB),
                 "--max-tracer-restarted-slope", str(256 * KIB),
                 "--max-tracer-restarted-growth", str(64 * KIB)],
                env=tmsupport.debian_module_env("numpy", "import numpy") or None,
                timeout=seconds + 240)
            result_path = os.path.join(workdir, "soak.json")
            self.assertTrue(os.path.exists(result_path),
                            "status %s, no soak.json; stderr: %s" % (status, err))
            with open(result_path) as fp:
                result = json.load(fp)
        finally:
            shutil.rmtree(workdir)
        failed = [check for check in result["checks"] if not check["ok"]]
        self.assertEqual((status, failed, result["errors"], err), (0, [], [], ""))
        counts = result["counts"]
        self.assertGreaterEqual(counts["restarts"], 4)
        self.assertGreaterEqual(counts["tops"], 10)
        self.assertGreaterEqual(counts["snapshots loaded"], 4)
        self.assertEqual(counts["snapshot lines"], counts["snapshots written"])
        self.assertGreaterEqual(len(result["samples"]), 5)
        self.assertEqual(sum(sample["lost"] for sample in result["samples"]), 0)
        # every frame limit of the cycle was used
        self.assertEqual(set(s["nframe"] for s in result["samples"][:5]),
                         set(soak_workload.FRAME_LIMITS))
        self.assertTrue(all(sample["tracer"] > 0 for sample in result["samples"]))


BOUNDS = {"max_rss_slope": 256 * KIB, "max_rss_growth": 8 * MIB,
          "max_tracer_slope": 4 * KIB, "max_tracer_growth": 64 * KIB,
          "max_tracer_restarted_slope": 4 * KIB, "max_tracer_restarted_growth": 16 * KIB}


def made_up_samples(minutes, rss_per_minute=0, tracer_per_minute=0, restarted_per_minute=0):
    """A sample every 10 s: an RSS of 70 MiB wobbling by 4 MiB, a tracer of 560 KiB wobbling
    by 4 KiB, plus the given growth per minute."""
    samples = []
    for i in range(int(minutes * 6)):
        t = i * 10.0
        wobble = (-1) ** i * (i % 3)
        samples.append({"t": t, "rss": 70 * MIB + wobble * 2 * MIB + rss_per_minute * t / 60,
                        "tracer": 560 * KIB + wobble * 2 * KIB + tracer_per_minute * t / 60,
                        "tracer_restarted": 200 * KIB + restarted_per_minute * t / 60})
    return samples


class AnalysisTests(unittest.TestCase):
    def failed(self, samples):
        checks = soak_workload.analyse(samples, samples[-1]["t"], 0.2, BOUNDS)
        self.assertEqual(len(checks), 6)
        return sorted(check["name"] for check in checks if not check["ok"])

    def test_flat_passes(self):
        self.assertEqual(self.failed(made_up_samples(30)), [])

    def test_rss_leak_fails(self):
        self.assertEqual(self.failed(made_up_samples(30, rss_per_minute=512 * KIB)),
                         ["rss growth after the warm-up (B)",
                          "rss slope over the second half (B/min)"])

    def test_tracer_leak_fails(self):
        # 1 KiB per restart, a restart every 10 s
        self.assertEqual(self.failed(made_up_samples(30, tracer_per_minute=6 * KIB,
                                                     restarted_per_minute=6 * KIB)),
                         ["tracer growth after the warm-up (B)",
                          "tracer slope over the second half (B/min)",
                          "tracer_restarted growth after the warm-up (B)",
                          "tracer_restarted slope over the second half (B/min)"])

    def test_spike_passes(self):
        # the trace table keeping the size of a peak of live traces for a sample or two
        samples = made_up_samples(30)
        for index in (-1, -30):
            samples[index]["tracer"] += 3 * MIB
        self.assertEqual(self.failed(samples), [])

    def test_slopes(self):
        self.assertEqual(soak_workload.least_squares_slope([0, 1, 2], [1, 3, 5]), 2)
        self.assertIsNone(soak_workload.least_squares_slope([1], [1]))
        self.assertEqual(soak_workload.median_slope([0, 1, 2, 3, 4], [1, 3, 5, 7, 100]), 2)
        self.assertIsNone(soak_workload.median_slope([1, 1], [1, 2]))
        self.assertEqual(soak_workload.median([3, 1, 2, 10]), 2.5)


if __name__ == "__main__":
    unittest.main()
