"""The README's usage examples work as written, through the interpreter under test."""
from __future__ import absolute_import

import glob
import json
import os
import re
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
        # (the HTML report's command: tests/python/test_report.py runs it with its example)
        commands = [b for b in self.blocks if b.startswith("python -m tracemalloc ")
                    and not b.startswith("python -m tracemalloc --html")]
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
        commands = [b for b in self.blocks if b.startswith("$ python -m tracemalloc ")
                    and " --leaks " not in b.splitlines()[0]]  # ReadmeLeaksExample's
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

    def test_native_section(self):
        if tmsupport.address_sanitizer():
            self.skipTest(tmsupport.ASAN_PRELOAD_REASON)
        # "The native domain": the program run through the launcher prints the lines shown
        script = os.path.join(self.tmpdir, "native_demo.py")
        with open(script, "w") as fp:
            fp.write(self.block("# native example") + "\n")
        command = self.block("$ python -m tracemalloc.native -- python native_demo.py")
        lines = command.splitlines()
        args = [sys.executable if arg == "python" else arg for arg in lines[0].split()[2:]]
        status, out, err = tmsupport.run_python(args, cwd=self.tmpdir)
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out.splitlines(), lines[1:])

    def test_memtrace_section(self):
        if tmsupport.address_sanitizer():
            self.skipTest(tmsupport.ASAN_SKIP_REASON)
        # "memtrace: Profile and Trace": the program, then the summary of its log shows the
        # same lines, functions and titles (the sizes and counts vary from run to run, the
        # directory of the file names is the test's)
        script = os.path.join(self.tmpdir, "load.py")
        with open(script, "w") as fp:
            fp.write(self.block("# memtrace example") + "\n")
        status, out, err = tmsupport.run_python([script], cwd=self.tmpdir)
        self.assertEqual((status, err), (0, ""))
        commands = [b for b in self.blocks
                    if b.startswith("$ python -m tracemalloc.memtrace summary ")]
        self.assertEqual(len(commands), 1, commands)
        lines = commands[0].splitlines()
        args = [sys.executable if arg == "python" else arg for arg in lines[0].split()[2:]]
        status, out, err = tmsupport.run_python(args, cwd=self.tmpdir)
        self.assertEqual((status, err), (0, ""), lines[0])

        def shape(text):
            text = re.sub(r"\S*load\.py", "load.py", text)
            text = re.sub(r"\d+(\.\d+)? (B|KiB|MiB)", "SIZE", text)
            text = re.sub(r"\d+ (events|rows)", r"N \1", text)
            return " ".join(text.split())
        self.assertEqual([shape(line) for line in out.splitlines()],
                         [shape(line) for line in lines[1:]])

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


# The words of a row of the --leaks table that do not depend on the interpreter: the rank,
# "grew k/N", the verdict and the line. Sizes, rates and R2 vary from version to version.
VERDICTS = ("leak", "no growth", "small", "fell back", "plateau", "rare", "noisy")


def _stable_words(row):
    """[rank, "k/N", verdict ("" without the column), line] of a row."""
    words = row.split()
    verdicts = [verdict for verdict in VERDICTS if "  %s  " % verdict in row]
    return ([words[0]] + [word for word in words if re.match(r"^\d+/\d+$", word)]
            + (verdicts or [""]) + [words[-1]])


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
        # the lines of the program's caches, marked "# cache: NAME"
        with open(os.path.join(tmsupport.SOURCE_ROOT, cls.PROGRAM)) as f:
            cls.caches = [lineno for lineno, line in enumerate(f, 1) if "# cache: " in line]

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
            if not with_verdicts:
                continue
            # The other rows: what the README shows of the five caches is shown here too, and
            # a line of both tables has the same verdict in both. The rows below the caches
            # differ between variants (the 10th of 2.7 "plain" is the temporaries, "fell
            # back").
            got = dict((words[-1], words[2]) for words in map(_stable_words, rows))
            shown = dict((words[-1], words[2]) for words in map(_stable_words, expected_rows))
            caches = [where for where in shown if int(where.rsplit(":", 1)[1]) in self.caches]
            self.assertEqual(len(caches), 5)
            for where in caches:
                self.assertEqual((where, shown[where], got.get(where)),
                                 (where, "plateau", "plateau"), out)
            for where in set(got) & set(shown):
                self.assertEqual((where, got[where]), (where, shown[where]), out)

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
