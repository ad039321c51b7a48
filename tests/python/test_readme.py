"""The README's usage examples work as written, through the interpreter under test."""
from __future__ import absolute_import

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.dom.minidom

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import tmsupport  # noqa: E402 (must come first: chooses the package and the engine)
from tmsupport import tracemalloc  # noqa: E402

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
        commands = [b for b in self.blocks if b.startswith("python -m tracemalloc ")]
        self.assertEqual(len(commands), 2, commands)
        for command in commands:
            args = command.split("[")[0].split()[1:]  # the mandatory part
            status, out, err = tmsupport.run_python(args, cwd=self.tmpdir)
            self.assertEqual((status, err), (0, ""), command)
            self.assertTrue(out, command)

    def block(self, first_line):
        """The one literal block that starts with *first_line*."""
        found = [b for b in self.blocks if b.splitlines()[0] == first_line]
        self.assertEqual(len(found), 1, first_line)
        return found[0]

    def test_command_line_section(self):
        # the program of "Command line" writes the files its commands read; each command
        # exits with 0, and the lines it shows name the same allocation sites
        script = os.path.join(self.tmpdir, "app.py")
        with open(script, "w") as fp:
            fp.write(self.block("# command line example") + "\n")
        status, out, err = tmsupport.run_python([script], cwd=self.tmpdir)
        self.assertEqual((status, err), (0, ""))
        commands = [b for b in self.blocks if b.startswith("$ python -m tracemalloc ")]
        self.assertEqual(len(commands), 3, commands)
        for block in commands:
            lines = block.splitlines()
            args = lines[0].split()[2:]
            json_file = None
            if args[-2] == ">":
                json_file = args[-1]
                args = args[:-2]
            status, out, err = tmsupport.run_python(args, cwd=self.tmpdir)
            self.assertEqual((status, err), (0, ""), lines[0])
            if json_file is not None:
                document = json.loads(out)
                self.assertEqual((document["format"], document["version"]),
                                 ("pytracemalloc.top", 1))
                self.assertEqual([item["file"] for item in document["snapshots"]],
                                 ["app-0001.tms", "app-0002.tms"])
                self.assertEqual(document["group_by"], "lineno")
                self.assertTrue(document["snapshots"][1]["top"][0]["filename"]
                                .endswith("app.py"))
                continue
            self.assertEqual(self.tops(lines[1:]), self.tops(out.splitlines()), lines[0])

    def tops(self, lines):
        """The header's title, the first entry's site and its last caller, of each top."""
        tops = []
        for index, line in enumerate(lines):
            if line.startswith("#1: "):
                callers = []
                for following in lines[index + 1:]:
                    if not following.startswith("    "):
                        break
                    callers.append(following)
                title = lines[index - 1].split(": ", 1)[1]
                tops.append((title, line.split(": size=")[0], callers[-1:]))
        return tops

    def test_command_line_error(self):
        # the error of "Command line": an option that a file cannot serve
        expected = self.block("python -m tracemalloc: error: app-0001.tms: --cumulative "
                              "needs the traces of the allocations, and this snapshot holds "
                              "statistics per line only (take snapshots with traces: "
                              "TakeSnapshot.traces = True, Snapshot.create(traces=True) or "
                              "take_snapshot())")
        status, out, err = self.run_block(
            "import tracemalloc\ntracemalloc.Snapshot.create().write('app-0001.tms')\n")
        self.assertEqual((status, err), (0, ""))
        status, out, err = tmsupport.run_python(
            ["-m", "tracemalloc", "--cumulative", "app-0001.tms"], cwd=self.tmpdir)
        self.assertEqual((status, out, err), (2, "", expected + "\n"))

    def test_limits_unittest_example(self):
        # "Limits in test suites": the unittest example passes, on every interpreter
        path = os.path.join(self.tmpdir, "example.py")
        with open(path, "w") as fp:
            fp.write(self.block("# unittest example") + "\n")
        status, out, err = tmsupport.run_python([path, "-v"], cwd=self.tmpdir)
        self.assertEqual(status, 0, err)
        self.assertIn("Ran 3 tests", err)
        self.assertIn("\nOK\n", err)

    def test_process_section(self):
        # "process: a memory log": the program, the two commands and the error line; the
        # numbers and the count of interval records vary from run to run, the header and
        # the events do not
        script = os.path.join(self.tmpdir, "phases.py")
        with open(script, "w") as fp:
            fp.write(self.block("# process log example") + "\n")
        status, out, err = tmsupport.run_python([script], cwd=self.tmpdir)
        self.assertEqual((status, err), (0, ""))
        commands = [b for b in self.blocks if b.startswith("$ python -m tracemalloc.process ")]
        self.assertEqual(len(commands), 2, commands)
        for block in commands:
            lines = block.splitlines()
            args = [sys.executable if arg == "python" else arg for arg in lines[0].split()[2:]]
            status, out, err = tmsupport.run_python(args, cwd=self.tmpdir)
            self.assertEqual((status, err), (0, ""), lines[0])
            got = out.splitlines()
            header = lines[1]
            if tracemalloc.get_interpreter_info()["variant"] != "track":
                header = header.replace("   free lists", "")  # no free-list hooks
            self.assertEqual(got[0], header, lines[0])
            self.assertEqual(self.events(got[1:]), self.events(lines[2:]), lines[0])
            svg = args[args.index("--plot") + 1]
            document = xml.dom.minidom.parse(os.path.join(self.tmpdir, svg))
            texts = [node.firstChild.data for node in document.getElementsByTagName("text")]
            self.assertIn("load", texts)
            self.assertIn("free", texts)
        error = [b for b in self.blocks
                 if b.startswith("python -m tracemalloc.process: error: no process ")]
        self.assertEqual(len(error), 1)
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        status, out, err = tmsupport.run_python(["-m", "tracemalloc.process", "-p",
                                                 str(gone.pid)])
        self.assertEqual((status, out, err),
                         (1, "", error[0].replace("4242", str(gone.pid)) + "\n"))

    @staticmethod
    def events(lines):
        """The events of the lines of a process log's table (the columns after the sizes)."""
        return [line.split("  ")[-1].strip() for line in lines
                if not line.rstrip().endswith(("B", "-"))]

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
