"""The README's usage examples work as written, through the interpreter under test."""
from __future__ import absolute_import

import os
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


if __name__ == "__main__":
    unittest.main()
