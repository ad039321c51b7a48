"""Tests of the pytest plugin tracemalloc.pytest_plugin: pytest runs in a child process on
small test files written to a temporary directory, and the outcomes and messages are read
from its output.

pytest is taken from the interpreter's own path, else from Debian's python3-pytest
(/usr/lib/python3/dist-packages) when Debian's python3 is this version (3.11 on Debian 12):
its pure Python modules then run on the interpreter under test. Elsewhere (2.7, 3.13 on
Debian 12) the tests skip: tests/expected-skips lists them.
"""
from __future__ import absolute_import

import os
import re
import shutil
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)

PLUGIN = "tracemalloc.pytest_plugin"


def pytest_env():
    """The environment of a child that imports pytest and this package, or None: only the
    plugin under test is loaded (no other installed plugin), no bytecode is written into
    the tests' directories, and the output is 80 columns wide, as the README shows it."""
    return tmsupport.debian_module_env(
        "pytest", "import pytest, tracemalloc; print(tracemalloc.__file__)",
        extra={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1",
               "COLUMNS": "80"})


NO_PYTEST = ("pytest is not importable by this interpreter (Debian's python3-pytest serves "
             "its python3 only: 3.11 on Debian 12)")


class PluginTests(unittest.TestCase):
    def setUp(self):
        tmsupport.require(self, not tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
        self.env = pytest_env()
        if self.env is None:
            self.skipTest(NO_PYTEST)
        self.tmpdir = tempfile.mkdtemp(prefix="tracemalloc-test-")
        self.addCleanup(shutil.rmtree, self.tmpdir)
        # an ini file of its own: pytest looks no further up for one
        self.write("pytest.ini", "[pytest]\n")

    def write(self, name, text):
        with open(os.path.join(self.tmpdir, name), "w") as fp:
            fp.write(textwrap.dedent(text))
        return name

    def pytest(self, *args):
        """(exit status, stdout, stderr) of pytest with the plugin on *args*."""
        return tmsupport.run_python(["-m", "pytest", "-p", PLUGIN, "-p", "no:cacheprovider",
                                     "-q"] + list(args), env=self.env, cwd=self.tmpdir)

    def outcome(self, out):
        """{"passed": N, "failed": N, ...} of pytest's last line."""
        last = out.strip().splitlines()[-1]
        return dict((word, int(number)) for number, word in re.findall(r"(\d+) (\w+)", last))

    def failure_text(self, out, test):
        """The text pytest prints under the heading of the failure of *test*."""
        match = re.search(r"_+ %s _+\n(.*?)(?=\n_{3,} |\n={3,} )" % re.escape(test), out,
                          re.DOTALL)
        self.assertTrue(match, out)
        return match.group(1)

    def test_limit_memory(self):
        self.write("test_memory.py", """\
            import pytest

            def allocate(size):
                data = bytearray(size)  # line 4
                del data

            @pytest.mark.limit_memory("1 MB")
            def test_over():
                allocate(3 * 1024 * 1024)

            @pytest.mark.limit_memory("4 MB")
            def test_under():
                allocate(3 * 1024 * 1024)

            @pytest.mark.limit_memory(size="1.5 MiB")
            def test_keyword(tmp_path):
                allocate(2 * 1024 * 1024)

            def test_unmarked():
                allocate(8 * 1024 * 1024)
            """)
        code, out, err = self.pytest("test_memory.py")
        self.assertEqual(code, 1, out + err)
        self.assertEqual(self.outcome(out), {"failed": 2, "passed": 2}, out)
        text = self.failure_text(out, "test_over")
        lines = text.splitlines()
        self.assertTrue(re.match(r"limit_memory: the peak of traced memory was 30\d\d KiB above "
                                 r"its start, more than the limit of 1024 KiB \(1 MB\)$",
                                 lines[0]), text)
        self.assertEqual(lines[1], "Top lines at the peak (growth since the start):")
        self.assertTrue(re.match(r"    .*test_memory\.py:4: 3072 KiB in ", lines[2]), text)
        self.assertNotIn("Traceback", text)  # the message, not the plugin's frames
        self.assertIn("more than the limit of 1536 KiB (1.5 MiB)",
                      self.failure_text(out, "test_keyword"))

    def test_limit_leaks(self):
        self.write("test_leaks.py", """\
            import pytest

            HELD = []
            CACHE = {}
            CALLS = []

            def fill_cache(key):
                CALLS.append(None)
                if key not in CACHE:
                    CACHE[key] = [str(i) * 3 for i in range(5000)]  # line 10
                garbage = [(i, float(i), {i: i}, [i], set([i])) for i in range(20000)]

            @pytest.mark.limit_leaks("1 KB")
            def test_leak():
                HELD.append(bytearray(100000))  # line 15

            @pytest.mark.limit_leaks("2 KB")
            def test_warm_cache():
                fill_cache("warm")

            def test_ran_twice():
                assert len(CALLS) == 2

            @pytest.mark.limit_leaks("2 KB", warmup=False)
            def test_cold_cache():
                fill_cache("cold")

            def test_ran_once():
                assert len(CALLS) == 3

            def not_line_15(traceback):
                return traceback[-1].lineno != 15

            @pytest.mark.limit_leaks("1 KB", filter_fn=not_line_15)
            def test_leak_filtered():
                HELD.append(bytearray(100000))  # line 36
            """)
        code, out, err = self.pytest("test_leaks.py")
        self.assertEqual(code, 1, out + err)
        # test_leak_filtered leaks at line 36, which its filter does not leave out
        self.assertEqual(self.outcome(out), {"failed": 3, "passed": 3}, out)
        self.assertIn("FAILED test_leaks.py::test_leak\n", out)
        self.assertIn("FAILED test_leaks.py::test_cold_cache\n", out)
        self.assertIn("FAILED test_leaks.py::test_leak_filtered\n", out)
        lines = self.failure_text(out, "test_leak").splitlines()
        self.assertTrue(re.match(r"limit_leaks: 9\d\.\d KiB allocated and still held at the "
                                 r"end, more than the limit of 1024 B \(1 KB\)$", lines[0]),
                        lines)
        self.assertEqual(lines[1], "Top lines still holding memory:")
        self.assertTrue(re.match(r"    .*test_leaks\.py:15: 9\d\.\d KiB in \d blocks?$",
                                 lines[2]), lines)
        self.assertIn("test_leaks.py:10: ", self.failure_text(out, "test_cold_cache"))
        self.assertIn("test_leaks.py:36: ", self.failure_text(out, "test_leak_filtered"))

    def test_filter_fn_leaves_out(self):
        self.write("test_filter.py", """\
            import pytest

            HELD = []

            def not_held(traceback):
                return not any(frame.lineno == 10 for frame in traceback)

            @pytest.mark.limit_leaks("1 KB", filter_fn=not_held)
            def test_filtered():
                HELD.append(bytearray(100000))  # line 10
            """)
        code, out, err = self.pytest("test_filter.py")
        self.assertEqual((code, self.outcome(out)), (0, {"passed": 1}), out + err)

    def test_top(self):
        self.write("test_top.py", """\
            import pytest

            def test_small():
                data = bytearray(1024 * 1024)

            def test_big():
                data = bytearray(5 * 1024 * 1024)

            @pytest.mark.limit_memory("8 MB")
            def test_middle():
                data = bytearray(3 * 1024 * 1024)

            def test_nothing():
                pass
            """)
        code, out, err = self.pytest("--tracemalloc-top=2", "test_top.py")
        self.assertEqual(code, 0, out + err)
        lines = out.splitlines()
        heading = [index for index, line in enumerate(lines)
                   if "tracemalloc: the 2 tests with the highest peak of traced memory" in line]
        self.assertEqual(len(heading), 1, out)
        top = lines[heading[0] + 1:heading[0] + 3]
        self.assertTrue(re.match(r" *5\d{3} KiB peak, +[-+]\d+ B held after: "
                                 r"test_top\.py::test_big$", top[0]), top)
        self.assertTrue(re.match(r" *3\d{3} KiB peak, +[-+]\d+ B held after: "
                                 r"test_top\.py::test_middle$", top[1]), top)
        self.assertNotIn("held after", lines[heading[0] + 3])
        # 0: every test
        code, out, err = self.pytest("--tracemalloc-top=0", "test_top.py")
        self.assertIn("tracemalloc: the 4 tests with the highest peak", out)
        self.assertIn("held after: test_top.py::test_nothing", out)

    def test_tracing_started_and_frames(self):
        self.write("test_tracing.py", """\
            import pytest
            import tracemalloc

            @pytest.mark.limit_memory("100 MB")
            def test_traced():
                assert tracemalloc.is_tracing()
                assert tracemalloc.get_traceback_limit() == 7
            """)
        code, out, err = self.pytest("--tracemalloc-frames=7", "test_tracing.py")
        self.assertEqual((code, self.outcome(out)), (0, {"passed": 1}), out + err)
        # without a marker nor --tracemalloc-top, the plugin does not trace
        self.write("test_untraced.py", """\
            import tracemalloc

            def test_untraced():
                assert not tracemalloc.is_tracing()
            """)
        code, out, err = self.pytest("test_untraced.py")
        self.assertEqual((code, self.outcome(out)), (0, {"passed": 1}), out + err)

    def test_markers_registered(self):
        self.write("test_strict.py", """\
            import pytest

            @pytest.mark.limit_memory("10 MB")
            @pytest.mark.limit_leaks("10 MB")
            def test_both():
                pass
            """)
        code, out, err = self.pytest("--strict-markers", "test_strict.py")
        self.assertEqual((code, self.outcome(out)), (0, {"passed": 1}), out + err)
        code, out, err = self.pytest("--markers")
        self.assertIn("@pytest.mark.limit_memory(size)", out)
        self.assertIn("@pytest.mark.limit_leaks(size, filter_fn=None, warmup=True)", out)

    def test_readme_example(self):
        # "Limits in test suites" of the README: its pytest example and its command give
        # the outcome and the lines it shows
        import test_readme
        with open(test_readme.README) as fp:
            blocks = test_readme.literal_blocks(fp.read())
        example = [b for b in blocks if b.startswith("# pytest example\n")]
        command = [b for b in blocks if b.startswith("$ python -m pytest -p ")]
        self.assertEqual((len(example), len(command)), (1, 1))
        self.write("test_example.py", example[0] + "\n")
        shown = command[0].splitlines()
        args = shown[0].split()[2:]
        self.assertEqual(args[:4], ["-m", "pytest", "-p", PLUGIN])
        code, out, err = tmsupport.run_python(args + ["-p", "no:cacheprovider"], env=self.env,
                                              cwd=self.tmpdir)
        self.assertEqual(code, 1, out + err)
        lines = out.splitlines()
        for line in shown[1:]:
            if line.startswith(("test_example.py ", "FAILED ", "Top lines", "=====")):
                if not line.startswith("=" * 10):  # the time of the summary line varies
                    self.assertIn(line, lines)
        self.assertEqual(self.outcome(out), {"failed": 1, "passed": 2}, out)
        message = self.failure_text(out, "test_leak").splitlines()
        self.assertTrue(re.match(r"limit_leaks: 1\d\d KiB allocated and still held at the end, "
                                 r"more than the limit of 1024 B \(1 KB\)$", message[0]), message)
        self.assertTrue(re.match(r"    .*/test_example\.py:9: 1\d\d KiB in \d+ blocks$",
                                 message[2]), message)
        top = [line.split(": ")[-1] for line in lines if "held after: " in line]
        self.assertEqual(top[0], "test_example.py::test_parse")
        self.assertEqual(sorted(top), ["test_example.py::test_cache", "test_example.py::test_leak",
                                       "test_example.py::test_parse"])

    def test_usage_errors(self):
        # a size written wrong stops pytest before any test runs, with one clear line
        cases = [
            ('@pytest.mark.limit_memory("24 XB")',
             "limit_memory: invalid size '24 XB': expected a number and a unit, B, KB, MB, "
             "GB or TB"),
            ("@pytest.mark.limit_leaks()", "limit_leaks: needs a size, e.g. limit_leaks('24 MB')"),
            ('@pytest.mark.limit_leaks("1 KB", filter_fn=3)',
             "limit_leaks: filter_fn must be callable"),
            ('@pytest.mark.limit_memory("1 KB", "2 KB")', "limit_memory: takes size"),
            ('@pytest.mark.limit_leaks("1 KB", warmup=-1)',
             "limit_leaks: invalid warmup -1: expected True, False or a number of runs"),
        ]
        for marker, message in cases:
            self.write("test_bad.py", "import pytest\n\n%s\ndef test_a():\n    pass\n" % marker)
            code, out, err = self.pytest("test_bad.py")
            self.assertEqual(code, 4, out + err)  # pytest's exit status of a usage error
            self.assertIn("ERROR: test_bad.py::test_a: " + message, err)
            self.assertNotIn("Traceback", err)
        for option in ("--tracemalloc-top=x", "--tracemalloc-top=-1", "--tracemalloc-frames=0",
                       "--tracemalloc-frames=70000"):
            code, out, err = self.pytest(option, "test_bad.py")
            self.assertEqual(code, 4, out + err)
            self.assertIn("ERROR: %s: expected an integer from " % option, err)


if __name__ == "__main__":
    unittest.main()
