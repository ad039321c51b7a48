"""The short CI version of the sanitizer and valgrind runs (tools/sanitize; the long ones run
with tools/run-tests --extended): the C store tests (tests/c/test-store.c with
module/engine/store.c) built by clang with -fsanitize=address,undefined, and built by gcc and
run under valgrind memcheck; and the stress and fault tests (test_stress.py, test_faults.py)
through this interpreter with the engine built with -fsanitize=address,undefined and ASan's
runtime preloaded; and test_stress.py with the engine built with -fsanitize=thread and TSan's
runtime preloaded into the track interpreter of this version, after a control race that TSan
must report. Each must pass every test with no report. They depend little on the
interpreter: tools/run-tests runs them once, after the matrix (TRACEMALLOC_TEST_CAMPAIGNS=1;
the matrix's entries skip them), and installs clang and valgrind.
"""
from __future__ import absolute_import

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402  (puts the package under test on sys.path)

SANITIZE = os.path.join(tmsupport.SOURCE_ROOT, "tools", "sanitize")


def _which(name):
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(directory, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


@unittest.skipUnless(tmsupport.CAMPAIGNS, tmsupport.CAMPAIGN_SKIP_REASON)
class SanitizerShortRunTests(unittest.TestCase):
    def run_sanitize(self, args):
        """tools/sanitize ARGS in a temporary --out: (status, output)."""
        tmpdir = tempfile.mkdtemp(prefix="tracemalloc-sanitize-")
        try:
            env = dict(os.environ)
            # the environment of the suite under tools/sanitize (a preloaded runtime, its
            # options) or of make check (glibc's checks) is not the step's
            for name in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "PYTHONMALLOC",
                         "MALLOC_CHECK_", "MALLOC_PERTURB_"):
                env.pop(name, None)
            proc = subprocess.Popen(["bash", SANITIZE] + args + ["--out", tmpdir],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            output = proc.communicate()[0].decode("utf-8", "replace")
            return proc.returncode, output
        finally:
            shutil.rmtree(tmpdir)

    def run_step(self, step):
        status, output = self.run_sanitize(["--steps", step])
        self.assertEqual(status, 0, output[-4000:])
        # every planned test of the store passed, and the step found nothing
        self.assertTrue(re.search(r"PASS: %s: (\d+) of \1 tests ok, 0 " % step, output),
                        output[-4000:])
        self.assertIn("1 passed, 0 failed", output)

    def test_store_under_asan_and_ubsan(self):
        if _which("clang") is None or _which("pkg-config") is None:
            self.skipTest("clang or pkg-config is not installed")
        self.run_step("store-asan")

    def test_store_under_valgrind(self):
        if _which("valgrind") is None or _which("pkg-config") is None:
            self.skipTest("valgrind or pkg-config is not installed")
        self.run_step("store-valgrind")

    def test_stress_and_faults_with_the_engine_under_asan_and_ubsan(self):
        if tmsupport.USING_FAKE_ENGINE or tmsupport.STOCK_INTERPRETER:
            self.skipTest("the step runs the suite on a patched interpreter")
        status, output = self.run_sanitize(["--steps", "python", "--python", sys.executable,
                                            "--tests", "test_stress.py test_faults.py"])
        self.assertEqual(status, 0, output[-4000:])
        # every planned test ran, none failed, and no process of the run reported
        match = re.search(r"PASS: python [0-9.]+: ran (\d+) tests of \1 planned: (\d+) passed, "
                          r"0 failed, \d+ skipped; 0 reports", output)
        self.assertTrue(match, output[-4000:])
        self.assertGreaterEqual(int(match.group(2)), 5, output[-4000:])

    def test_stress_under_thread_sanitizer(self):
        if tmsupport.USING_FAKE_ENGINE or tmsupport.STOCK_INTERPRETER:
            self.skipTest("the step runs the suite on a patched interpreter")
        version = "%d.%d.%d" % sys.version_info[:3]
        status, output = self.run_sanitize(["--steps", "tsan", "--versions", version,
                                            "--tsan-tests", "test_stress.py"])
        self.assertEqual(status, 0, output[-4000:])
        # the control race was reported (the step fails otherwise), every planned test of
        # test_stress ran, none failed, and nothing was reported
        match = re.search(r"PASS: tsan [0-9.]+: ran (\d+) tests of \1 planned: (\d+) passed, "
                          r"0 failed, \d+ skipped; 0 reports", output)
        self.assertTrue(match, output[-4000:])
        self.assertGreaterEqual(int(match.group(2)), 3, output[-4000:])


if __name__ == "__main__":
    unittest.main()
