"""The README's usage examples work as written, through the interpreter under test."""
from __future__ import absolute_import

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)

README = os.path.join(tmsupport.SOURCE_ROOT, "README.rst")

# Stands for "# ... run your application ...": allocate a little, long enough for nothing.
APPLICATION = "data = [str(i) * 10 for i in range(10000)]"


def literal_blocks(text):
    """The indented literal blocks that follow a line ending with '::'."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].rstrip().endswith("::"):
            i += 1
            block = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("    ")):
                block.append(lines[i][4:])
                i += 1
            blocks.append("\n".join(block).strip("\n"))
        else:
            i += 1
    return blocks


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class ReadmeExamples(unittest.TestCase):
    def setUp(self):
        with open(README) as f:
            self.blocks = literal_blocks(f.read())
        self.tmpdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmpdir)

    def python_blocks(self):
        return [b for b in self.blocks if b.startswith("import tracemalloc")
                or b.startswith("snapshot = ")]

    def run_block(self, code):
        code = code.replace("# ... run your application ...", APPLICATION)
        if code.startswith("snapshot = "):
            code = ("import tracemalloc\ntracemalloc.enable()\nfilename = 'explicit.pickle'\n"
                    + code)
        return tmsupport.run_python(["-c", code], cwd=self.tmpdir)

    def test_there_are_examples(self):
        # The four usage examples of the seed: two DisplayTop, TakeSnapshot, Snapshot.create.
        self.assertEqual(len(self.python_blocks()), 4, self.python_blocks())

    def test_python_examples_run(self):
        for code in self.python_blocks():
            status, out, err = self.run_block(code)
            self.assertEqual((status, err), (0, ""), code)
        self.assertTrue(os.path.exists(os.path.join(self.tmpdir, "explicit.pickle")))
        self.assertTrue(os.path.exists(os.path.join(self.tmpdir, "tracemalloc.log")))

    def test_cli_examples(self):
        status, out, err = self.run_block(
            "import tracemalloc\ntracemalloc.enable()\n"
            "tracemalloc.Snapshot.create().write('trace1.pickle')\n"
            + APPLICATION + "\n"
            "tracemalloc.Snapshot.create().write('trace2.pickle')\n")
        self.assertEqual((status, err), (0, ""))
        # (the HTML report's command: tests/python/test_report.py runs it with its example)
        commands = [b for b in self.blocks if b.startswith("python -m tracemalloc")
                    and not b.startswith("python -m tracemalloc --html")]
        self.assertEqual(len(commands), 2, commands)
        for command in commands:
            args = command.split("[")[0].split()[1:]  # the mandatory part
            status, out, err = tmsupport.run_python(args, cwd=self.tmpdir)
            self.assertEqual((status, err), (0, ""), command)
            self.assertTrue(out, command)

    @unittest.skipIf(tmsupport.STOCK_INTERPRETER, tmsupport.STOCK_REASON)
    def test_pytracemalloc_session(self):
        session = [b for b in self.blocks if b.startswith("$ PYTRACEMALLOC=1 python")]
        self.assertEqual(len(session), 1)
        lines = session[0].splitlines()
        code = "\n".join(line[4:] for line in lines if line.startswith(">>> "))
        proc = subprocess.Popen([sys.executable], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=tmsupport.child_env(PYTRACEMALLOC="1"), cwd=self.tmpdir)
        out, err = proc.communicate((code + "\n").encode("ascii"))
        out, err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn(lines[1], err)  # "tracemalloc enabled"
        self.assertIn(": Top 5 allocations per file", out)
        self.assertIn("Total Python memory: size=", out)


# The words of a row of the --leaks table that do not depend on the interpreter: the rank,
# "grew k/N", the verdict and the line. Sizes, rates and R2 vary from version to version.
VERDICTS = ("leak", "no growth", "small", "fell back", "plateau", "rare", "noisy")


def _stable_words(row):
    words = row.split()
    return ([words[0]] + [word for word in words if re.match(r"^\d+/\d+$", word)]
            + [word for word in words if word in VERDICTS] + [words[-1]])


def _stable_header(line):
    line = re.sub(r"pid \d+", "pid N", line)
    line = re.sub(r"over [\d.]+ s", "over T s", line)
    return re.sub(r"among \d+", "among N", line)


@unittest.skipIf(tmsupport.USING_FAKE_ENGINE, tmsupport.SKIP_REASON)
class ReadmeLeaksExample(unittest.TestCase):
    """The "Finding leaks" example: the program, the commands and the API as written, and
    their output as the README shows it (sizes, rates, R2, the pid and the time aside)."""

    PROGRAM = "tests/python/data/leaky_program.py"

    @classmethod
    def setUpClass(cls):
        with open(README) as f:
            cls.blocks = literal_blocks(f.read())
        cls.tmpdir = tempfile.mkdtemp()
        status, out, err = tmsupport.run_python(
            [os.path.join(tmsupport.SOURCE_ROOT, cls.PROGRAM), "leaky"], cwd=cls.tmpdir)
        cls.program_error = None if status == 0 else err

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmpdir)

    def setUp(self):
        self.assertIsNone(self.program_error)

    def sessions(self):
        """[(command line, expected output lines)] of the blocks of "$ " commands that run
        the leak finder."""
        commands = []
        for block in self.blocks:
            if not block.startswith("$ python " + self.PROGRAM):
                if not block.startswith("$ python -m tracemalloc --leaks"):
                    continue
            for line in block.splitlines():
                if line.startswith("$ "):
                    commands.append((line[2:], []))
                else:
                    commands[-1][1].append(line)
        return commands

    def test_commands(self):
        sessions = self.sessions()
        self.assertEqual([command for command, _ in sessions], [
            "python %s leaky" % self.PROGRAM,
            "python -m tracemalloc --leaks leaky/tracemalloc-*.pickle",
            "python -m tracemalloc --leaks --all -n 10 leaky/tracemalloc-*.pickle"])
        for command, expected in sessions[1:]:
            args = []
            for arg in command.split()[1:]:
                args.extend(sorted(glob.glob(os.path.join(self.tmpdir, arg))) if "*" in arg
                            else [arg])
            status, out, err = tmsupport.run_python(args, cwd=self.tmpdir)
            self.assertEqual((status, err), (0, ""), command)
            lines = out.splitlines()
            self.assertEqual(_stable_header(lines[0]), _stable_header(expected[0]))
            self.assertEqual(lines[1].split(), expected[1].split(), command)
            self.assertEqual(len(lines), len(expected), out)
            rows = [line for line in lines[2:] if not line.startswith("(")]
            expected_rows = [line for line in expected[2:] if not line.startswith("(")]
            # the leaks in their order; the other rows (--all) as a set: their order by
            # score depends on sizes that differ between versions
            with_verdicts = "verdict" in expected[1].split()

            def leaks(rows):
                return [_stable_words(row) for row in rows
                        if not with_verdicts or " leak " in row]
            self.assertEqual(leaks(rows), leaks(expected_rows), out)
            self.assertEqual(len(leaks(rows)), 3)
            self.assertEqual(sorted(_stable_words(row)[1:] for row in rows),
                             sorted(_stable_words(row)[1:] for row in expected_rows), out)

    def test_definition(self):
        from tracemalloc import _leaks
        self.assertIn(_leaks.LEAK_DEFINITION, self.blocks)

    def test_api(self):
        index = [i for i, block in enumerate(self.blocks) if block.startswith("import glob")]
        self.assertEqual(len(index), 1)
        code, expected = self.blocks[index[0]], self.blocks[index[0] + 1].splitlines()
        status, out, err = tmsupport.run_python(["-c", code], cwd=self.tmpdir)
        self.assertEqual((status, err), (0, ""))

        def stable(line):
            return re.sub(r"R2=\d\.\d\d", "R2", re.sub(r"[+-]\d+ bytes", "bytes", line))
        self.assertEqual([stable(line) for line in out.splitlines()],
                         [stable(line) for line in expected])


if __name__ == "__main__":
    unittest.main()
