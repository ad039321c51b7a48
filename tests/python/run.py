"""Run every tests/python/test_*.py with unittest, from any directory.

    python tests/python/run.py [-q] [-v] [NAME_PATTERN ...]

NAME_PATTERN selects test modules by their file name (fnmatch, default "test_*.py"). Prints
the usual unittest output, then a last line "N passed, N failed, N skipped" (failures,
errors and unexpected successes count as failed). Exit status 0 if nothing failed, else 1.

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
    if TESTS_DIR not in sys.path:
        sys.path.insert(0, TESTS_DIR)

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

    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=verbosity).run(suite)
    failed = (len(result.failures) + len(result.errors)
              + len(getattr(result, "unexpectedSuccesses", ())))
    skipped = len(result.skipped)
    # errors of setUpClass/setUpModule are not counted in testsRun
    not_run = sum(1 for test, _ in result.errors if type(test).__name__ == "_ErrorHolder")
    passed = max(0, result.testsRun - (failed - not_run) - skipped)
    sys.stdout.write("%d passed, %d failed, %d skipped\n" % (passed, failed, skipped))
    sys.stdout.flush()
    return 0 if failed == 0 else 1


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
