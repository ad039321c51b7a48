"""One measurement of the benchmark, run by bench/run.py in a fresh interpreter (2.7 or 3.x).

    python bench/child.py WORKLOAD ENGINE NFRAME SCALE SNAPSHOT [PROCESS_LOG [MEMTRACE]]

WORKLOAD  compile | json | churn | live | compileall | real | sqlite
ENGINE    none (untraced: tracemalloc is not imported, except by "live", see below),
          ours (our package, first on PYTHONPATH) or stock (the interpreter's own module)
NFRAME    frames per traceback given to tracemalloc.start() (ignored when untraced)
SCALE     size factor of the workload (1.0 = the default run)
SNAPSHOT  1: after "live", also time take_snapshot, dump, load, statistics, compare_to,
          while tracing, then again (but take_snapshot) after tracemalloc.stop()
PROCESS_LOG  an interval in seconds: the measured part runs inside
          tracemalloc.process.log_process(INTERVAL) writing to a temporary file (its start
          and stop are measured too), and the result has "process_log": the records, the
          CPU seconds of the logger's thread and the wall time (0 or absent: no logger)
MEMTRACE  profile or trace: the measured part runs inside tracemalloc.memtrace.Profile() or
          Trace() (d_rss_trigger=-1, the default) writing to a temporary directory (its start
          and stop are measured too), and the result has "memtrace": the events, the rows
          and the log's size (absent: none; PROCESS_LOG must then be given, 0 for none)

"real" (real programs, kept alive: about 360,000 live traces on 3.11, 330,000 on 3.13 and
290,000 on 2.7 at scale 1) runs three programs over 60 modules of the interpreter's own Lib
(the first by name of 4 to 28 kB; 15 at scale 0.25): a checker, a highlighter to HTML and a
serializer that writes a structure describing each file and reads it back. On 3.11 they are
Debian's pyflakes (its Checker), pygments (PythonLexer, HtmlFormatter) and PyYAML (dump,
safe_load), found on PYTHONPATH (bench/run.py adds /usr/lib/python3/dist-packages after our
package and installs python3-pyflakes, python3-pygments and python3-yaml). Debian builds them
for its 3.11 only, so on 2.7 and 3.13 the same three programs are written with the stdlib:
StdlibChecker (pyflakes' scopes, bindings and two of its messages over ast), stdlib_highlight
(tokenize, a span per token) and json then pickle. That keeps the shape of the work (parse,
walk, tokenize, format, serialize, keep the results) with the same code on 2.7 and 3.13, where
the regression-test modules would differ between versions, start threads and write files.
Both warm up on a small source in the setup: lazy imports and regular expressions are not
measured. Like "live", it reports VmRSS before and after, get_tracemalloc_memory() and the
number of live traces (len(take_snapshot().traces), after the memory was read).

Environment (bench/run.py --sampling): BENCH_SAMPLE_BYTES=N starts our engine with
tracemalloc.start(NFRAME, sample_bytes=N); BENCH_LINE_STATS=1 adds "lines" to the result:
[[filename, lineno, size], ...] of tracemalloc.get_stats() right after the measured part
(estimates when sampling), the lines holding at least 0.1% of the traced memory, and
"lines_total", the sum over every line.

Prints one line "BENCH-RESULT {json}" on stdout. Times are CPU seconds of this process
(user + system, from getrusage(RUSAGE_SELF)) around the measured part only: interpreter
startup, imports, reading the sources, building the input data and tracemalloc.start() are
outside it. Wall seconds are recorded too.
"""
from __future__ import absolute_import, division, print_function

import gc
import glob
import json
import os
import resource
import shutil
import sys
import tempfile
import time

PY2 = sys.version_info[0] == 2


def cpu_now():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Timer(object):
    def __init__(self):
        self.cpu = self.wall = None

    def __enter__(self):
        self._wall = time.time()
        self._cpu = cpu_now()
        return self

    def __exit__(self, *exc):
        self.cpu = cpu_now() - self._cpu
        self.wall = time.time() - self._wall
        return False


def vm_rss():
    """Resident set size of this process in bytes, from /proc/self/status (VmRSS)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


try:
    import ctypes  # imported before any measurement: its import would add traces
except ImportError:
    ctypes = None


def malloc_trim():
    """Give the free memory of glibc's heap back to the system; False if not glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        return True
    except (AttributeError, OSError):
        return False


def stdlib_dir():
    return os.path.dirname(os.path.abspath(os.__file__))


# ------------------------------------------------------------------------------- workloads
# Each workload is (setup(scale) -> state, run(state) -> checksum). Only run() is measured.

def compile_setup(scale):
    """The top-level modules of the interpreter's own Lib, by name, leaving out the few
    biggest (> 40 kB) so that the run stays short: 110 modules at scale 1."""
    count = max(10, int(110 * scale))
    sources = []
    for path in sorted(glob.glob(os.path.join(stdlib_dir(), "*.py"))):
        with open(path, "rb") as source:
            data = source.read()
        if len(data) <= 40000:
            sources.append((path, data))
        if len(sources) == count:
            break
    return sources


def compile_run(sources):
    import ast
    done = 0
    for path, data in sources:
        try:
            if PY2:
                code = compile(data, path, "exec", 0, True)  # parse + compile at once
            else:
                code = compile(ast.parse(data, path), path, "exec", 0, True)
        except SyntaxError:
            continue
        done += 1
        del code
    return done


def json_setup(scale):
    count = max(500, int(8000 * scale))
    records = []
    for i in range(count):
        records.append({
            "id": i,
            "name": "user%d" % i,
            "active": i % 3 == 0,
            "score": i * 0.25,
            "tags": ["alpha", "beta", "t%d" % (i % 50)],
            "address": {"street": "%d Main Street" % i, "city": "City%d" % (i % 100),
                        "zip": "%05d" % i, "geo": [i * 0.001, -i * 0.002]},
            "orders": [{"n": j, "total": j * 9.99, "items": [j, j + 1, "sku%d" % j]}
                       for j in range(i % 4)],
        })
    return (records, 3)


def json_run(state):
    records, rounds = state
    total = 0
    for _ in range(rounds):
        text = json.dumps(records)
        back = json.loads(text)
        total += len(text) + len(back)
        del text, back
    return total


def churn_setup(scale):
    return max(20000, int(400000 * scale))


def churn_run(count):
    ring = [None] * 64
    acc = 0.0
    for i in range(count):
        f = i * 0.5 + 1.25
        g = f * 1.5 - 0.75
        t = (i, f, g)
        l = [f, g, t]
        d = {"a": f, "b": g, "c": l}
        d2 = dict(x=i, y=t)
        l.append(d2)
        ring[i & 63] = (t, d)
        acc += g + len(l) + len(d) + t[0] % 7
    return acc


LIVE_FILES = 40
LIVE_FUNCS = 25  # 40 files x 25 functions x 5 allocating lines = 5000 lines


def live_source(module):
    """A generated module: functions that recurse (through each other) to a given depth, then
    allocate at 5 lines of their own: a tuple, a float, a str, a list and a dict."""
    lines = []
    for j in range(LIVE_FUNCS):
        lines += [
            "def f%d(depth, out, n):" % j,
            "    if depth > 0:",
            "        return f%d(depth - 1, out, n)" % ((j + 1) % LIVE_FUNCS),
            "    append = out.append",
            "    for i in range(n):",
            "        append((i, %d))" % j,
            "        append(i * %d.5)" % j,
            "        append('%%d-%d-%d' %% i)" % (module, j),
            "        append([i, %d])" % j,
            "        append({'k': i})",
        ]
    return "\n".join(lines) + "\n"


def live_setup(scale):
    """Objects to keep alive: 1.1 million at scale 1 (5 per loop turn)."""
    funcs = []
    for module in range(LIVE_FILES):
        filename = "/bench-live/gen%02d.py" % module
        namespace = {"__name__": "gen%02d" % module}
        exec(compile(live_source(module), filename, "exec", 0, True), namespace)
        for j in range(LIVE_FUNCS):
            funcs.append((namespace["f%d" % j], (module * 7 + j * 3) % 30))
    total = max(50000, int(1100000 * scale))
    per_call = max(1, total // (5 * len(funcs)))
    return funcs, per_call


def live_run(state):
    funcs, per_call = state
    out = []
    for func, depth in funcs:
        func(depth, out, per_call)
    return out


WORKLOADS = {
    "compile": (compile_setup, compile_run),
    "json": (json_setup, json_run),
    "churn": (churn_setup, churn_run),
    "live": (live_setup, live_run),
}


def compileall_setup(scale):
    """A copy of stdlib packages (email, json, logging, xml, multiprocessing, wsgiref at
    scale 1, without their test directories) in a temporary directory."""
    names = ["email", "json", "logging", "xml", "multiprocessing", "wsgiref"]
    if scale < 0.5:
        names = ["email"]
    top = tempfile.mkdtemp(prefix="tm-bench-")
    for name in names:
        shutil.copytree(os.path.join(stdlib_dir(), name), os.path.join(top, name),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "test",
                                                      "tests"))
    return top


def compileall_run(top):
    import compileall
    return compileall.compile_dir(top, quiet=1, force=True)


WORKLOADS["compileall"] = (compileall_setup, compileall_run)


REAL_DIST_PACKAGES = "/usr/lib/python3/dist-packages"


def real_files(scale):
    """The sources (path, text) of the workload "real": the first 60 top-level modules (by
    name) of the interpreter's own Lib of 4 to 28 kB, 1/4 of them at --quick's scale. Text
    is bytes on 2.7 (ast.parse refuses a unicode source with a coding line there)."""
    count = max(5, int(60 * scale))
    sources = []
    for path in sorted(glob.glob(os.path.join(stdlib_dir(), "*.py"))):
        if not 4000 <= os.path.getsize(path) <= 28000:
            continue
        with open(path, "rb") as source:
            data = source.read()
        sources.append((path, data if PY2 else data.decode("utf-8")))
        if len(sources) == count:
            break
    return sources


def describe(path, text, defs, messages, tokens):
    """The structure describing a file that the serializers write and read back."""
    kinds = {}
    for token in tokens:
        kind = str(token[0])
        kinds[kind] = kinds.get(kind, 0) + 1
    return {"file": os.path.basename(path), "bytes": len(text), "lines": text.count("\n"),
            "defs": defs, "messages": messages, "tokens": kinds}


def definitions(tree):
    """[{name, kind, line, args}] of the functions and classes of an AST."""
    import ast
    defs = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) or type(
                node).__name__ == "AsyncFunctionDef":
            args = getattr(node, "args", None)
            defs.append({"name": node.name, "kind": type(node).__name__, "line": node.lineno,
                         "args": [getattr(a, "arg", None) or getattr(a, "id", "?")
                                  for a in args.args] if args else []})
    return defs


def real_debian_setup(scale):
    """3.11: Debian's pyflakes, pygments and PyYAML (the apt packages python3-pyflakes,
    python3-pygments, python3-yaml, found on PYTHONPATH after our package), and a warm-up run
    on a small source so that their lazy imports and regular expressions are not measured."""
    try:
        import pygments
        import yaml
        from pyflakes import checker
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError as exc:
        raise SystemExit("child: the workload real needs Debian's python3-pyflakes, "
                         "python3-pygments and python3-yaml on PYTHONPATH (%s): %s"
                         % (REAL_DIST_PACKAGES, exc))
    tools = (checker.Checker, pygments.format, PythonLexer, HtmlFormatter, yaml)
    real_debian_run((tools, [("warm-up.py", "import os\ndef f(x):\n    return y\n")]))
    return tools, real_files(scale)


def real_debian_run(state):
    """pyflakes checks each file (its Checker: scopes, bindings, messages), pygments
    highlights it to HTML (its tokens and the HTML), PyYAML dumps a structure describing it
    and loads it back: all of it kept alive."""
    import ast
    (Checker, highlight, PythonLexer, HtmlFormatter, yaml), sources = state
    results = []
    for path, text in sources:
        check = Checker(ast.parse(text, path), filename=path)
        tokens = list(PythonLexer().get_tokens(text))
        html = highlight(tokens, HtmlFormatter())
        messages = sorted(str(message) for message in check.messages)
        loaded = yaml.safe_load(yaml.dump(describe(path, text, definitions(check.root),
                                                   messages, tokens)))
        results.append((check, html, loaded))
    return results


class Scope(object):
    """A scope of StdlibChecker: its bindings (name -> AST node), the names it reads with
    their lines, the imports, its parent."""

    def __init__(self, kind, parent):
        self.kind = kind
        self.parent = parent
        self.bindings = {}
        self.uses = []
        self.imports = {}


def stdlib_checker():
    """A class doing pyflakes' work in small with ast: the bindings of each scope (module,
    class, function, lambda, comprehension), the names read, then the messages "imported but
    unused" and "undefined name". Made in a function: the ast import stays out of the
    untraced workloads."""
    import ast
    try:
        import builtins
    except ImportError:
        import __builtin__ as builtins
    known = set(dir(builtins)) | set(["__file__", "__name__", "__doc__", "__path__",
                                      "__spec__", "__loader__", "__package__"])

    class StdlibChecker(ast.NodeVisitor):
        def __init__(self, tree, filename):
            self.root = tree  # as pyflakes' Checker does
            self.filename = filename
            self.scopes = []
            self.scope = None
            self.push("module", tree)
            self.generic_visit(tree)
            self.messages = self.report()

        def push(self, kind, node):
            self.scope = Scope(kind, self.scope)
            self.scopes.append(self.scope)

        def pop(self):
            self.scope = self.scope.parent

        def bind(self, name, node):
            self.scope.bindings[name] = node

        def visit_Import(self, node):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                self.bind(name, node)
                self.scope.imports[name] = node.lineno

        visit_ImportFrom = visit_Import

        def visit_FunctionDef(self, node):
            self.bind(node.name, node)
            for decorator in node.decorator_list:
                self.visit(decorator)
            for default in node.args.defaults + getattr(node.args, "kw_defaults", []):
                if default is not None:  # a keyword-only argument without a default
                    self.visit(default)
            self.push("function", node)
            self.visit(node.args)
            for statement in node.body:
                self.visit(statement)
            self.pop()

        visit_AsyncFunctionDef = visit_FunctionDef

        def visit_Lambda(self, node):
            self.push("lambda", node)
            self.generic_visit(node)
            self.pop()

        def visit_ClassDef(self, node):
            self.bind(node.name, node)
            for base in node.bases:
                self.visit(base)
            self.push("class", node)
            for statement in node.body:
                self.visit(statement)
            self.pop()

        def visit_arguments(self, node):
            for arg in (getattr(node, "posonlyargs", []) + node.args
                        + getattr(node, "kwonlyargs", [])):
                if hasattr(arg, "arg"):
                    self.bind(arg.arg, arg)
                else:  # 2.7: a Name (or a tuple of them)
                    self.visit(arg)
            for name in (node.vararg, node.kwarg):
                if name is not None:
                    self.bind(getattr(name, "arg", name), node)

        def visit_arg(self, node):
            self.bind(node.arg, node)

        def visit_Name(self, node):
            if isinstance(node.ctx, ast.Load):
                self.scope.uses.append((node.id, node.lineno))
            else:
                self.bind(node.id, node)

        def visit_Global(self, node):
            module = self.scopes[0]
            for name in node.names:
                module.bindings.setdefault(name, node)

        def visit_ExceptHandler(self, node):
            if isinstance(node.name, str):
                self.bind(node.name, node)
            self.generic_visit(node)

        def visit_alias(self, node):
            pass

        def report(self):
            messages = []
            for scope in self.scopes:
                used = set(name for name, _ in scope.uses)
                for name, line in sorted(scope.imports.items()):
                    if name not in used and scope.kind != "module":
                        messages.append("%s:%d: '%s' imported but unused"
                                        % (self.filename, line, name))
                for name, line in scope.uses:
                    owner = scope
                    while owner is not None and name not in owner.bindings:
                        owner = owner.parent
                    if owner is None and name not in known:
                        messages.append("%s:%d: undefined name '%s'"
                                        % (self.filename, line, name))
            return sorted(messages)

    return StdlibChecker


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def stdlib_highlight(text):
    """pygments' work in small with tokenize: the tokens (kind, text, line) and the HTML, a
    span per token."""
    import token
    import tokenize
    lines = iter(text.splitlines(True))
    tokens = []
    html = ['<div class="highlight"><pre>']
    for tok in tokenize.generate_tokens(lambda: next(lines, text[:0])):
        kind = token.tok_name[tok[0]]
        tokens.append((kind, tok[1], tok[2][0]))
        html.append('<span class="%s">%s</span>' % (kind, escape(tok[1])))
    html.append("</pre></div>")
    return tokens, "".join(html)


def real_stdlib_setup(scale):
    """2.7 and 3.13 (Debian's packages are for its 3.11 only): the same three programs
    written with the stdlib (StdlibChecker, stdlib_highlight, json and pickle), warmed up on
    a small source."""
    import pickle
    checker = stdlib_checker()
    tools = (checker, pickle)
    real_stdlib_run((tools, [("warm-up.py", "import os\ndef f(x):\n    return y\n")]))
    return tools, real_files(scale)


def real_stdlib_run(state):
    """StdlibChecker checks each file, stdlib_highlight highlights it to HTML, json dumps and
    loads a structure describing it, pickle that again: all of it kept alive."""
    import ast
    (Checker, pickle), sources = state
    results = []
    for path, text in sources:
        tree = ast.parse(text, path)
        check = Checker(tree, path)
        tokens, html = stdlib_highlight(text)
        loaded = json.loads(json.dumps(describe(path, text, definitions(tree),
                                                check.messages, tokens), indent=1))
        results.append((check, html, loaded, pickle.loads(pickle.dumps(loaded, 2))))
    return results


def real_setup(scale):
    if sys.version_info[:2] == (3, 11):
        return real_debian_run, real_debian_setup(scale)
    return real_stdlib_run, real_stdlib_setup(scale)


def real_run(state):
    run, state = state
    return run(state)


WORKLOADS["real"] = (real_setup, real_run)


def sqlite_setup(scale):
    return max(5000, int(60000 * scale))


def sqlite_run(count):
    """C libraries' own malloc (the native domain's workload): an in-memory SQLite database
    (libsqlite3 allocates with malloc) and OpenSSL's digests (hashlib)."""
    import hashlib
    import sqlite3
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, name TEXT, digest TEXT)")
    rows = ((i, "name-%d" % i, hashlib.sha256(b"%d" % i).hexdigest()) for i in range(count))
    db.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    db.execute("CREATE INDEX t_digest ON t (digest)")
    total = 0
    for name, digest in db.execute("SELECT name, digest FROM t ORDER BY digest LIMIT 1000"):
        total += len(name) + len(digest)
    db.execute("DELETE FROM t WHERE k % 2 = 0")
    db.close()
    return total


WORKLOADS["sqlite"] = (sqlite_setup, sqlite_run)


# ------------------------------------------------------------------------------- main

def check_engine(engine):
    import tracemalloc
    ours = hasattr(tracemalloc, "get_interpreter_info")
    if engine == "ours":
        expect = os.environ.get("BENCH_EXPECT_DIR")
        where = os.path.realpath(os.path.dirname(os.path.abspath(tracemalloc.__file__)))
        if not ours or (expect and not where.startswith(os.path.realpath(expect))):
            raise SystemExit("child: expected our tracemalloc from %s, got %s"
                             % (expect, tracemalloc.__file__))
    elif engine == "stock" and ours:
        raise SystemExit("child: expected the stock tracemalloc, got %s" % tracemalloc.__file__)
    return tracemalloc


def file_ops(tracemalloc, snap, ops, result):
    """dump, load, statistics('lineno'), statistics('traceback'), compare_to(loaded).

    Each is preceded by an unmeasured gc.collect(), so that a full collection made due by
    the objects of an earlier operation does not land in a later one."""
    fd, path = tempfile.mkstemp(prefix="tm-bench-", suffix=".snapshot")
    os.close(fd)
    try:
        gc.collect()
        with Timer() as t:
            snap.dump(path)
        ops["dump"] = t.cpu
        result["file_size"] = os.path.getsize(path)
        gc.collect()
        with Timer() as t:
            loaded = tracemalloc.Snapshot.load(path)
        ops["load"] = t.cpu
    finally:
        os.unlink(path)
    for key_type in ("lineno", "traceback"):
        gc.collect()
        with Timer() as t:
            stats = snap.statistics(key_type)
        ops["statistics_" + key_type] = t.cpu
        result["groups_" + key_type] = len(stats)
        del stats
    gc.collect()
    with Timer() as t:
        diff = snap.compare_to(loaded, "lineno")
    ops["compare_to"] = t.cpu
    result["groups_compare"] = len(diff)
    del diff, loaded


def snapshot_ops(tracemalloc, result):
    """Time the snapshot operations on the live traces (the objects are still alive): first
    while still tracing (ops), as in the traced program itself, then again after
    tracemalloc.stop() (ops_off), the snapshot processing alone, as in a separate analysis."""
    ops = {}
    gc.collect()
    with Timer() as t:
        snap = tracemalloc.take_snapshot()
    ops["take_snapshot"] = t.cpu
    result["traces"] = len(snap.traces)
    file_ops(tracemalloc, snap, ops, result)
    result["ops"] = ops
    tracemalloc.stop()
    gc.collect()
    ops = {"take_snapshot": None}
    file_ops(tracemalloc, snap, ops, result)
    result["ops_off"] = ops


class ProcessLog(object):
    """The measured part inside tracemalloc.process.log_process(interval), or nothing."""

    def __init__(self, interval):
        # the import and the file are made before the measure; the logger's start, records
        # and stop are measured
        self.interval = interval
        self.logger = None
        self.path = None
        if interval:
            import tracemalloc.process
            fd, self.path = tempfile.mkstemp(suffix=".jsonl")
            os.close(fd)
            self.logger = tracemalloc.process.log_process(interval, file=self.path)

    def __enter__(self):
        if self.logger is not None:
            self.logger.start()
        return self

    def __exit__(self, *exc):
        if self.logger is not None:
            self.logger.stop()
        return False

    def result(self, wall):
        with open(self.path) as fp:
            records = sum(1 for line in fp)
        os.unlink(self.path)
        return {"interval": self.interval, "records": records,
                "logger_cpu": self.logger.cpu_time, "wall": wall}


class MemtraceLog(object):
    """The measured part inside tracemalloc.memtrace.Profile() or Trace(), or nothing."""

    def __init__(self, kind):
        self.manager = None
        self.directory = None
        if kind:
            import tracemalloc.memtrace
            self.directory = tempfile.mkdtemp(prefix="tm-bench-memtrace-")
            cls = {"profile": tracemalloc.memtrace.Profile,
                   "trace": tracemalloc.memtrace.Trace}[kind]
            self.manager = cls(filepath=self.directory)

    def __enter__(self):
        if self.manager is not None:
            self.manager.__enter__()
        return self

    def __exit__(self, *exc):
        if self.manager is not None:
            self.manager.__exit__(*exc)
        return False

    def result(self):
        path = self.manager.log_file_path
        size = os.path.getsize(path)
        shutil.rmtree(self.directory, ignore_errors=True)
        return {"events": self.manager.events, "rows": self.manager.rows, "log_size": size}


def line_stats(tracemalloc, result):
    """The traced memory per line now (bench/run.py --sampling compares a sampled run with
    an exact one): the lines holding at least 0.1% of it, and the total."""
    lines = []
    for filename, numbers in tracemalloc.get_stats().items():
        for lineno, (size, count) in numbers.items():
            lines.append([filename, lineno, size])
    total = sum(line[2] for line in lines)
    result["lines_total"] = total
    result["lines"] = [line for line in lines if line[2] * 1000 >= total]


def main(argv):
    workload, engine, nframe, scale, snapshot = argv[1:6]
    process_log = float(argv[6]) if len(argv) > 6 else 0.0
    memtrace = argv[7] if len(argv) > 7 else ""
    nframe = int(nframe)
    scale = float(scale)
    setup, run = WORKLOADS[workload]
    result = {"workload": workload, "engine": engine, "nframe": nframe,
              "python": sys.version.split()[0]}
    tracemalloc = None
    if engine != "none":
        tracemalloc = check_engine(engine)
    state = setup(scale)
    gc.collect()
    rss0 = vm_rss()
    if tracemalloc is not None:
        sample_bytes = int(os.environ.get("BENCH_SAMPLE_BYTES") or 0)
        if sample_bytes:
            tracemalloc.start(nframe, sample_bytes=sample_bytes)
        else:
            tracemalloc.start(nframe)
        # bench/run.py --native: the native domain must be on exactly when asked for.
        if bool(os.environ.get("PYTRACEMALLOC_NATIVE")) != bool(
                getattr(tracemalloc, "is_native_tracing", bool)()):
            raise SystemExit("child: PYTRACEMALLOC_NATIVE=%r but is_native_tracing() is not"
                             % os.environ.get("PYTRACEMALLOC_NATIVE"))
    try:
        log = ProcessLog(process_log)
        mlog = MemtraceLog(memtrace)
        with Timer() as t:
            with log:
                with mlog:
                    value = run(state)
        result["cpu"] = t.cpu
        result["wall"] = t.wall
        if tracemalloc is not None and os.environ.get("BENCH_LINE_STATS"):
            line_stats(tracemalloc, result)
        if process_log:
            result["process_log"] = log.result(t.wall)
        if memtrace:
            result["memtrace"] = mlog.result()
        if workload == "compile":
            result["modules"] = value
        if workload in ("live", "real"):
            result["objects"] = len(value)
            result["rss_before"] = rss0
            result["rss_after"] = vm_rss()
            if tracemalloc is not None:
                result["tracemalloc_memory"] = tracemalloc.get_tracemalloc_memory()
                result["traced_memory"] = tracemalloc.get_traced_memory()[0]
            if malloc_trim():
                # what of the growth is memory freed but kept by glibc's heap
                result["rss_after_trim"] = vm_rss()
            if snapshot == "1":
                snapshot_ops(tracemalloc, result)
            elif tracemalloc is not None and workload == "real":
                # the live traces, counted after the memory was read
                result["traces"] = len(tracemalloc.take_snapshot().traces)
    finally:
        if workload == "compileall":
            shutil.rmtree(state, ignore_errors=True)
    sys.stdout.write("BENCH-RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()
    # skip the teardown of a million objects and traces: nothing is measured after this
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
