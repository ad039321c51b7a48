"""Run every tests/python/test_*.py with unittest, from any directory.

    python tests/python/run.py [-q] [-v] [NAME_PATTERN ...]

NAME_PATTERN selects test modules by their file name (fnmatch, default "test_*.py"). Speaks
TAP on stdout, so that `make check` (automake's tap-driver.sh) counts every test as it counts
the C tests: the plan "1..N" first (N: the tests collected), then one line per test as it
ends, "ok N TEST-ID", "not ok N TEST-ID" (a failure, an error, a failing subtest, an
unexpected success) or "ok N TEST-ID # SKIP REASON", and a comment "# N passed, N failed,
N skipped" at the end. An error outside a test (setUpClass, a module that does not import)
is one more "not ok" line; a run that ends before its plan is short: tap-driver.sh fails both.
unittest's own report goes to stderr, ending with the ten slowest tests and their times
(where CI's minutes go). Exit status 0 if nothing failed, else 1.

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
import time
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
        sys.stdout.write("1..1\nnot ok 1 wrong interpreter for this run: %s\n" % mismatch)
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
    sys.stdout.write("1..%d\n" % planned)
    sys.stdout.flush()
    runner = unittest.TextTestRunner(stream=_REPORT, verbosity=verbosity,
                                     resultclass=_TapResult)
    result = runner.run(suite)
    _REPORT.end_line()
    _REPORT.write("slowest tests:\n")
    for seconds, test_id in sorted(result.durations, reverse=True)[:10]:
        _REPORT.write("  %7.1f s  %s\n" % (seconds, test_id))
    failed = (len(result.failures) + len(result.errors)
              + len(getattr(result, "unexpectedSuccesses", ())))
    skipped = len(result.skipped)
    # errors of setUpClass/setUpModule are not counted in testsRun
    not_run = sum(1 for test, _ in result.errors if type(test).__name__ == "_ErrorHolder")
    passed = max(0, result.testsRun - (failed - not_run) - skipped)
    sys.stdout.write("# ran %d tests of %d planned: %d passed, %d failed, %d skipped\n"
                     % (result.testsRun, planned, passed, failed, skipped))
    sys.stdout.flush()
    return 0 if failed == 0 and result.testsRun == planned else 1


class _ReportStream(object):
    """sys.stderr for unittest's report, remembering whether its last line is complete: `make
    check` merges stderr into the TAP stream, where a TAP line must start a line of its own."""

    def __init__(self, stream):
        self.stream = stream
        self.at_line_start = True

    def write(self, text):
        if text:
            self.at_line_start = text.endswith("\n")
        self.stream.write(text)

    def end_line(self):
        if not self.at_line_start:
            self.write("\n")
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


_REPORT = _ReportStream(sys.stderr)


class _TapResult(unittest.TextTestResult):
    """unittest's text result (on stderr) that also writes a TAP line on stdout per test.

    A test's line is written when it stops, so that its subtests and cleanups count: any
    failure or error makes it "not ok". Errors outside a test (setUpClass, setUpModule, which
    unittest reports through a stand-in that never starts) get a line of their own at once."""

    def __init__(self, *args, **kwargs):
        unittest.TextTestResult.__init__(self, *args, **kwargs)
        self._tap_count = 0
        self._tap_current = None
        self._tap_failed = False
        self._tap_skip = None
        self.durations = []  # (seconds, test id) of every test that ran
        self._tap_started = None

    def _tap(self, ok, test_id, directive=""):
        _REPORT.end_line()
        self._tap_count += 1
        sys.stdout.write("%s %d %s%s\n" % ("ok" if ok else "not ok", self._tap_count,
                                           " ".join(test_id.split()).replace("#", "_"),
                                           directive))
        sys.stdout.flush()

    def startTest(self, test):
        unittest.TextTestResult.startTest(self, test)
        self._tap_current = test
        self._tap_started = time.time()
        self._tap_failed = False
        self._tap_skip = None

    def stopTest(self, test):
        unittest.TextTestResult.stopTest(self, test)
        self.durations.append((time.time() - self._tap_started, test.id()))
        if self._tap_skip is not None and not self._tap_failed:
            self._tap(True, test.id(), " # SKIP %s" % " ".join(self._tap_skip.split()))
        else:
            self._tap(not self._tap_failed, test.id())
        self._tap_current = None

    def addFailure(self, test, err):
        unittest.TextTestResult.addFailure(self, test, err)
        self._failed_in(test)

    def addError(self, test, err):
        unittest.TextTestResult.addError(self, test, err)
        self._failed_in(test)

    def addUnexpectedSuccess(self, test):
        unittest.TextTestResult.addUnexpectedSuccess(self, test)
        self._failed_in(test)

    def addSubTest(self, test, subtest, err):
        unittest.TextTestResult.addSubTest(self, test, subtest, err)
        if err is not None:
            self._failed_in(test)

    def addSkip(self, test, reason):
        unittest.TextTestResult.addSkip(self, test, reason)
        if self._tap_current is None:
            # a class or module skipped as a whole in setUpClass/setUpModule
            self._tap(True, test.id(), " # SKIP %s" % " ".join(str(reason).split()))
        else:
            self._tap_skip = str(reason)

    def _failed_in(self, test):
        if self._tap_current is None:
            # outside any test: setUpClass, setUpModule, tearDownClass...
            self._tap(False, test.id())
        else:
            self._tap_failed = True


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
