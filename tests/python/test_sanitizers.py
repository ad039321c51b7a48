"""The short CI version of the sanitizer and valgrind runs (tools/sanitize; the long ones run
with tools/run-tests --extended): the C store tests (tests/c/test-store.c with
module/engine/store.c) built by clang with -fsanitize=address,undefined, and built by gcc and
run under valgrind memcheck. Each must pass every test with no report. Skipped where clang or
valgrind is missing (tools/run-tests installs both).
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


class StoreUnderSanitizersTests(unittest.TestCase):
    def run_step(self, step):
        tmpdir = tempfile.mkdtemp(prefix="tracemalloc-sanitize-")
        try:
            env = dict(os.environ)
            # the environment of the suite under tools/sanitize (a preloaded runtime, its
            # options) or of make check (glibc's checks) is not the step's
            for name in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "PYTHONMALLOC",
                         "MALLOC_CHECK_", "MALLOC_PERTURB_"):
                env.pop(name, None)
            proc = subprocess.Popen(["bash", SANITIZE, "--steps", step, "--out", tmpdir],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            output = proc.communicate()[0].decode("utf-8", "replace")
            self.assertEqual(proc.returncode, 0, output[-4000:])
            # every planned test of the store passed, and the step found nothing
            self.assertTrue(re.search(r"PASS: %s: (\d+) of \1 tests ok, 0 " % step, output),
                            output[-4000:])
            self.assertIn("1 passed, 0 failed", output)
        finally:
            shutil.rmtree(tmpdir)

    def test_store_under_asan_and_ubsan(self):
        if _which("clang") is None or _which("pkg-config") is None:
            self.skipTest("clang or pkg-config is not installed")
        self.run_step("store-asan")

    def test_store_under_valgrind(self):
        if _which("valgrind") is None or _which("pkg-config") is None:
            self.skipTest("valgrind or pkg-config is not installed")
        self.run_step("store-valgrind")


if __name__ == "__main__":
    unittest.main()
