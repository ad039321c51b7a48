"""Run every tests/python/test_*.py with unittest, from any directory.

    python tests/python/run.py [-q] [-v] [NAME_PATTERN ...]

NAME_PATTERN selects test modules by their file name (fnmatch, default "test_*.py"). Prints
"planned N tests" first, then the usual unittest output (on stderr), then on stdout
"ran N tests of N planned", a line "skip: TEST-ID: REASON" per skipped test and a last line
"N passed, N failed, N skipped" (failures, errors and unexpected successes count as failed;
fewer tests run than planned is one more failure). tests/driver/tally reads these lines.
Exit status 0 if nothing failed, else 1.

When TRACEMALLOC_TEST_EXPECT is set to "VERSION:VARIANT" (tools/run-tests sets it for each
matrix entry), the interpreter must be that version and the engine must report that
PATCH_VARIANT; otherwise no test runs and the run fails.

Set TRACEMALLOC_TEST_INPLACE=1 to test the sources in module/ rather than the installed
package.
"""
from __future__ import absolute_import

import fnmatch
import os
import sys
import unittest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    verbosity = 2
    patterns = []
    for arg in args:
        if arg == "-q":
            verbosity = 1
        elif arg == "-v":
            verbosity = 2
        elif arg in ("-h", "--help"):
            sys.stdout.write(__doc__)
            return 0
        else:
            patterns.append(arg)
    for directory in (os.path.join(TESTS_DIR, "support"), TESTS_DIR):
        if directory not in sys.path:
            sys.path.insert(0, directory)

    mismatch = _check_expected()
    if mismatch:
        sys.stdout.write("FAIL: wrong interpreter for this run: %s\n"
                         "0 passed, 1 failed, 0 skipped\n" % mismatch)
        sys.stdout.flush()
        return 1

    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for name in sorted(os.listdir(TESTS_DIR)):
        if not fnmatch.fnmatch(name, "test_*.py"):
            continue
        if patterns and not any(fnmatch.fnmatch(name, pattern) for pattern in patterns):
            continue
        try:
            suite.addTests(loader.loadTestsFromName(name[:-3]))
        except Exception:
            # an import error is a failure of that module, not of the runner
            suite.addTest(_ImportFailure(name, sys.exc_info()))

    planned = suite.countTestCases()
    sys.stdout.write("planned %d tests\n" % planned)
    sys.stdout.flush()
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=verbosity).run(suite)
    failed = (len(result.failures) + len(result.errors)
              + len(getattr(result, "unexpectedSuccesses", ())))
    skipped = len(result.skipped)
    # errors of setUpClass/setUpModule are not counted in testsRun
    not_run = sum(1 for test, _ in result.errors if type(test).__name__ == "_ErrorHolder")
    passed = max(0, result.testsRun - (failed - not_run) - skipped)
    sys.stdout.write("ran %d tests of %d planned\n" % (result.testsRun, planned))
    # a setUpClass that raised SkipTest skips its class's tests without running them
    class_skipped = any(type(test).__name__ == "_ErrorHolder" for test, _ in result.skipped)
    if result.testsRun < planned and not not_run and not class_skipped:
        sys.stdout.write("FAIL: ran %d tests of %d planned\n" % (result.testsRun, planned))
        failed += 1
    for test, reason in sorted(result.skipped, key=lambda item: item[0].id()):
        sys.stdout.write("skip: %s: %s\n" % (test.id(), " ".join(str(reason).split())))
    sys.stdout.write("%d passed, %d failed, %d skipped\n" % (passed, failed, skipped))
    sys.stdout.flush()
    return 0 if failed == 0 else 1


def _check_expected():
    """"" when TRACEMALLOC_TEST_EXPECT is unset or matches this interpreter and engine, else
    what differs."""
    expect = os.environ.get("TRACEMALLOC_TEST_EXPECT")
    if not expect:
        return ""
    version, _, variant = expect.partition(":")
    actual_version = "%d.%d.%d" % sys.version_info[:3]
    try:
        import tmsupport
        engine = tmsupport.REAL_ENGINE
        actual_variant = engine.PATCH_VARIANT if engine is not None else "none (fake engine)"
    except Exception as exc:
        actual_variant = "none (%s: %s)" % (type(exc).__name__, exc)
    if (version, variant) != (actual_version, actual_variant):
        return ("TRACEMALLOC_TEST_EXPECT=%s, but this is Python %s with the %s variant (%s)"
                % (expect, actual_version, actual_variant, sys.executable))
    return ""


class _ImportFailure(unittest.TestCase):
    def __init__(self, name, exc_info):
        unittest.TestCase.__init__(self, "runTest")
        self._name = name
        self._exc_info = exc_info

    def id(self):
        return "import %s" % self._name

    def __str__(self):
        return self.id()

    def runTest(self):
        exc_type, exc, tb = self._exc_info
        raise AssertionError("cannot import %s: %s: %s" % (self._name, exc_type.__name__, exc))


if __name__ == "__main__":
    sys.exit(main())
