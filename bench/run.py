#!/usr/bin/env python3
"""Benchmark of pytracemalloc against the stock tracemalloc (issues 6 and 17).

Usage: bench/run.py [--quick] [--runs N] [--json FILE] [--versions V ...] [--variants V ...]
                    [--workloads W ...] [--build-dir DIR] [--timeout S] [--report FILE]
                    [--process-log [INTERVAL] | --memtrace | --native | --sampling [SIZE]]

Builds (or reuses from the cache) every interpreter it needs with build-aux/python-build
(the track, plain and disabled variants of each version and, for 3.x, the stock twin built
from the same tarball with the same flags), builds our module out of tree for each patched
interpreter (BUILD-DIR/VERSION-VARIANT, default _build/bench-VERSION-VARIANT, ignored by
git), then runs every workload in every configuration, each measurement in a fresh
subprocess, interleaved: for each repetition, for each workload, every configuration in
turn (the order rotates by one each repetition), so that noise hits all of them alike.

Workloads (bench/child.py, the same code on 2.7 and 3.x):
  compile     ast.parse + compile of 110 top-level modules of the interpreter's own Lib
              (those up to 40 kB; compile() alone on 2.7)
  json        json.dumps + json.loads of 8000 nested records, 3 times
  churn       400 000 turns of short-lived floats, tuples, lists and dicts (free lists)
  live        1.1 million live objects (tuples, floats, strs, lists, dicts) from ~4000
              lines of 40 generated files, at call depths 1 to 30; then, at 1 frame only,
              take_snapshot, dump, load, statistics('lineno'), statistics('traceback'),
              compare_to(loaded, 'lineno'), each timed, and the dump's size; all but
              take_snapshot again after tracemalloc.stop() (both are reported)
  compileall  compileall.compile_dir(force=True) over a copy of the stdlib packages email,
              json, logging, xml, multiprocessing and wsgiref in a temporary directory
  real        real programs over 60 modules of the interpreter's own Lib (4 to 28 kB),
              their results kept alive (about 360,000 live traces on 3.11): on 3.11,
              Debian's pyflakes checks each, pygments highlights each to HTML and PyYAML
              dumps and loads a structure describing each (apt packages python3-pyflakes,
              python3-pygments and python3-yaml, installed with build-aux/ensure-packages
              when the workload runs on 3.11, loaded with /usr/lib/python3/dist-packages on
              PYTHONPATH after our package); Debian builds them for its 3.11 only, so on 2.7
              and 3.13 the same three programs written with the stdlib (an ast checker of
              pyflakes' scopes and messages, a tokenize highlighter, json then pickle):
              bench/child.py's docstring says why these and not the regression tests
  sqlite      (--native only, by default) an in-memory SQLite database of 60 000 rows with
              SHA-256 digests, an index, a sorted query and a delete: C libraries' malloc
  --quick runs one repetition of smaller workloads (1/4 of the size; compileall: email;
  real: 15 modules).

Configurations, per version: untraced on each interpreter; ours (our package first on
PYTHONPATH, tracemalloc.start(N)) at 1 and 25 frames on each patched variant; on 3.x the
stock engine (the stdlib tracemalloc of the stock twin, no PYTHONPATH but Debian's
dist-packages for real on 3.11) at 1 and 25 frames.
Tracing starts right before the measured part, not at startup.

Measured: CPU seconds (user + system) of the child around the measured part only, from
getrusage(RUSAGE_SELF) inside the child (startup, imports and setup excluded); wall times
are in the JSON. The table shows medians over the runs and ratios over the untraced run of
the same interpreter (ours on VARIANT over untraced VARIANT, stock over untraced stock), and
on its last row, "geomean", the geometric mean of each configuration's slowdowns over the
workloads run (marked * if some failed; in the JSON under "geomean"; the RSS figures
below are under "memory").
RSS per live trace (1 frame): on "live", VmRSS (/proc/self/status) after building the
objects minus VmRSS right before tracemalloc.start(), minus the same difference in the
untraced run of the same interpreter, over the number of traces of the snapshot; it is
compared with get_tracemalloc_memory() at the same point (the targets use that RSS; the
same after glibc's malloc_trim(0), which returns the heap's free memory, is printed too).
RSS on real programs: the same RSS cost on "real", at 1 and 25 frames, for ours on each
variant and (3.x) the stock engine, per live trace (len(take_snapshot().traces), counted after
the memory was read), with get_tracemalloc_memory() and its ratio to the cost alongside (a
program that frees much of what it allocates leaves holes in the heap that the tracer's
memory reuses, so there the cost can be under get_tracemalloc_memory(): no target on it).

Targets (issue 17), printed PASS/MISS and written to the JSON (value and bound of each):
  slowdown   3.x: overhead (slowdown - 1) of ours <= the stock engine's overhead / 3, every
             workload, 1 and 25 frames, every variant (the table prints the bound as a
             slowdown, 1 + (stock - 1) / 3, and (ours-1)/(stock-1) in brackets);
             2.7: slowdown of ours <= 2 at 1 frame, every workload, every variant
  rss        <= 40 bytes of RSS per live trace at 1 frame (live)
  tmmem      get_tracemalloc_memory() within 10% of that RSS cost (live)
  rss25      3.x: the RSS cost of ours at 25 frames on real <= the stock engine's / 3
  snapshot   3.x, 1 frame (live): dump+load >= 3x faster than stock while tracing and after
             stop(); statistics('lineno'), statistics('traceback') and compare_to >= 10x
             faster after stop() and >= 20x while tracing (issue 6's bound, kept), the
             file size <= stock's

--process-log [INTERVAL] measures tracemalloc.process instead (nothing else runs): for each
patched variant, untraced and ours at 1 frame, each without and with the process logger at
INTERVAL seconds (default 1.0, its default) around the measured part, and prints the CPU
seconds with and without, the CPU seconds of the logger's own thread (getrusage
RUSAGE_THREAD), its records, and that thread's CPU over the wall time of the measured part
(target: under 1%); --scale makes the runs longer (more records per run).

--memtrace measures tracemalloc.memtrace instead (nothing else runs): for each patched variant
(default: track), untraced, untraced inside Profile() and untraced inside Trace() (both at
d_rss_trigger=-1, the default: a row per page of RSS, RSS read at every event), on compile,
json and churn by default, and prints the CPU seconds, the ratios over untraced, the events
and rows of the logs. Targets: Profile <= 3x and Trace <= 6x untraced on compile and json
(pymemtrace documents 10x to 40x and 20x to 60x); churn, pure Python (a line event every few
bytecodes, calls of C functions in its loop), shows the cost per event and has no target.

--native measures the native domain instead (nothing else runs): for each patched variant,
untraced, untraced with the preloadable library loaded but no hooks registered ("+preload":
the cost of the library when off), ours at 1 frame, and ours at 1 frame with the native domain
on ("+native": LD_PRELOAD and PYTRACEMALLOC_NATIVE=1); it prints the CPU seconds and the
ratios native/untraced, native/ours and preload/untraced; its workloads by default: compile,
json, churn and sqlite.

--sampling [SIZE] measures the sampling mode instead (nothing else runs; sampling_main()):
for each patched variant, untraced, ours at 1 frame exact, and ours at 1 frame sampled every
SIZE bytes (start(1, sample_bytes=SIZE); default 512k, k/M suffixes), on every workload. It
prints the CPU seconds, the slowdowns over untraced (target: sampled <= 1.10x on every
workload and version), and the accuracy: the traced memory per line right after the measured
part (get_stats()) of each sampled run against the exact run of the same repetition, the
worst relative error of the lines holding at least 1% of the exact run's memory (target:
10%), with the number of such lines, the traced memory they share, and z, the worst error
over sqrt(size * SIZE) (the bound of the estimator's standard deviation: a line must hold
about 100 * SIZE bytes for 10% to be one standard deviation).

Exit status 0 if every measurement ran (whatever the targets), 1 otherwise.
"""
import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHILD = os.path.join(TOP, "bench", "child.py")
VERSIONS = ["2.7.18", "3.11.2", "3.13.5"]
VARIANTS = ["track", "plain", "disabled"]
WORKLOADS = ["compile", "json", "churn", "live", "compileall", "real"]
# The workload "real" on 3.11: Debian's packages, on PYTHONPATH after our package.
REAL_PACKAGES = ["python3-pyflakes", "python3-pygments", "python3-yaml"]
DIST_PACKAGES = "/usr/lib/python3/dist-packages"
# --native's default: Python's own work, and C libraries' malloc (SQLite, OpenSSL).
NATIVE_WORKLOADS = ["compile", "json", "churn", "sqlite"]
SNAPSHOT_OPS = ["take_snapshot", "dump", "load", "statistics_lineno",
                "statistics_traceback", "compare_to"]
OP_LABEL = {"take_snapshot": "take", "dump": "dump", "load": "load",
            "statistics_lineno": "st(lineno)", "statistics_traceback": "st(tb)",
            "compare_to": "compare_to"}
SHORT = {"track": "track", "plain": "plain", "disabled": "disab", "stock": "stock"}


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


# ------------------------------------------------------------------------------- building

def run_checked(cmd, cwd=None, logfile=None):
    out = open(logfile, "w") if logfile else None
    try:
        proc = subprocess.run(cmd, cwd=cwd, stdout=out or subprocess.PIPE,
                              stderr=subprocess.STDOUT if out else None, text=True)
    finally:
        if out:
            out.close()
    if proc.returncode != 0:
        if logfile:
            with open(logfile) as fp:
                sys.stderr.write("".join(fp.readlines()[-30:]))
        raise SystemExit("bench: failed (%d): %s" % (proc.returncode, " ".join(cmd)))
    return proc.stdout


def interpreter(version, variant):
    log("interpreter %s %s" % (version, variant))
    out = run_checked([os.path.join(TOP, "build-aux", "python-build"), "--version", version,
                       "--variant", variant, "--print-python"])
    return out.strip().splitlines()[-1]


def build_module(python, build_dir):
    """Our package for *python*, out of tree in *build_dir* (build-aux/build-module, which
    also installs the packages and regenerates configure when needed); returns its
    check-lib."""
    log("building the module in %s" % build_dir)
    out = run_checked([os.path.join(TOP, "build-aux", "build-module"), "--python", python,
                       "--build-dir", build_dir])
    return out.strip().splitlines()[-1]


# ------------------------------------------------------------------------------- configs

class Config(object):
    def __init__(self, version, interp, engine, nframe, python, pythonpath, process_log=None,
                 memtrace=None, native=None):
        self.version = version
        self.interp = interp        # track, plain, disabled, stock
        self.engine = engine        # none, ours, stock
        self.nframe = nframe
        self.python = python
        self.pythonpath = pythonpath
        self.process_log = process_log  # the logger's interval (--process-log), or None
        self.memtrace = memtrace        # "profile" or "trace" (--memtrace), or None
        self.native = native        # --native: None, "preload" (library only) or "native"

    @property
    def name(self):
        if self.engine == "none":
            name = "%s:%s:untraced" % (self.version, self.interp)
        else:
            name = "%s:%s:%s/%d" % (self.version, self.interp, self.engine, self.nframe)
        return (name + ("+log" if self.process_log else "")
                + ("+" + self.memtrace if self.memtrace else "")
                + ("+" + self.native if self.native else ""))

    def env(self, workload=None):
        env = dict((k, v) for k, v in os.environ.items()
                   if not k.startswith(("PYTHON", "MALLOC_", "TRACEMALLOC"))
                   and k != "PYTRACEMALLOC")
        env["PYTHONHASHSEED"] = "0"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        if self.pythonpath:
            env["PYTHONPATH"] = self.pythonpath
            env["BENCH_EXPECT_DIR"] = self.pythonpath
        if workload == "real" and real_uses_debian(self.version):
            env["PYTHONPATH"] = os.pathsep.join(
                [p for p in (self.pythonpath, DIST_PACKAGES) if p])
        env.pop("LD_PRELOAD", None)
        if self.native:
            env["LD_PRELOAD"] = os.path.join(self.pythonpath, "tracemalloc",
                                             "tracemalloc-native.so")
        if self.native == "native":
            env["PYTRACEMALLOC_NATIVE"] = "1"
        else:
            env.pop("PYTRACEMALLOC_NATIVE", None)
        return env


def real_uses_debian(version):
    """Whether the workload real runs Debian's packages (built for Debian's 3.11 only)."""
    return version.startswith("3.11.")


def ensure_real_packages(versions, workloads):
    """Install Debian's pyflakes, pygments and PyYAML if the workload real runs on 3.11."""
    if "real" in workloads and any(real_uses_debian(v) for v in versions):
        log("checking the Debian packages of the workload real: %s" % " ".join(REAL_PACKAGES))
        run_checked([os.path.join(TOP, "build-aux", "ensure-packages")] + REAL_PACKAGES)


def make_configs(args):
    configs = []
    for version in args.versions:
        interps = list(args.variants)
        if not version.startswith("2.") and not args.no_stock:
            interps.append("stock")
        for interp in interps:
            python = interpreter(version, interp)
            if interp == "stock":
                configs.append(Config(version, interp, "none", 0, python, None))
                for nframe in (1, 25):
                    configs.append(Config(version, interp, "stock", nframe, python, None))
                continue
            lib = build_module(python, os.path.join(args.build_dir,
                                                    "bench-%s-%s" % (version, interp)))
            # the untraced run has the same PYTHONPATH; it does not import tracemalloc
            configs.append(Config(version, interp, "none", 0, python, lib))
            for nframe in (1, 25):
                configs.append(Config(version, interp, "ours", nframe, python, lib))
    return configs


# ------------------------------------------------------------------------------- running

def run_child(config, workload, scale, timeout):
    snapshot = "1" if (workload == "live" and config.engine != "none"
                       and config.nframe == 1) else "0"
    cmd = [config.python, CHILD, workload, config.engine, str(config.nframe or 1),
           str(scale), snapshot]
    if config.process_log or config.memtrace:
        cmd.append(str(config.process_log or 0))
    if config.memtrace:
        cmd.append(config.memtrace)
    try:
        proc = subprocess.run(cmd, env=config.env(workload), cwd="/", stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": "timeout after %d s" % timeout}
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT "):])
    return {"error": "status %d: %s" % (proc.returncode, proc.stderr.strip()[-500:])}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(configs, raw):
    """Medians per (config, workload): cpu, and for live the memory and snapshot figures."""
    summary = {}
    for config in configs:
        for workload in WORKLOADS:
            runs = [r for r in raw if r["config"] == config.name
                    and r["workload"] == workload and "error" not in r]
            if not runs:
                continue
            entry = {"runs": len(runs), "cpu": median(r["cpu"] for r in runs),
                     "wall": median(r["wall"] for r in runs)}
            if workload in ("live", "real"):
                entry["rss_growth"] = median(r["rss_after"] - r["rss_before"] for r in runs)
                if all("rss_after_trim" in r for r in runs):
                    entry["rss_growth_trim"] = median(r["rss_after_trim"] - r["rss_before"]
                                                      for r in runs)
                for key in ("traces", "tracemalloc_memory", "file_size", "objects",
                            "groups_lineno", "groups_traceback", "groups_compare"):
                    if any(key in r for r in runs):
                        entry[key] = median(r.get(key) for r in runs)
                for key in ("ops", "ops_off"):
                    if any(key in r for r in runs):
                        entry[key] = dict((op, median(r[key][op] for r in runs if key in r))
                                          for op in SNAPSHOT_OPS)
            summary["%s|%s" % (config.name, workload)] = entry
    return summary


def get(summary, config, workload):
    return summary.get("%s|%s" % (config.name, workload))


def baseline_of(configs, config):
    for other in configs:
        if (other.version == config.version and other.interp == config.interp
                and other.engine == "none"):
            return other
    return None


def ratio(summary, configs, config, workload):
    base = baseline_of(configs, config)
    a, b = get(summary, config, workload), get(summary, base, workload)
    if not a or not b or not b["cpu"]:
        return None
    return a["cpu"] / b["cpu"]


# ------------------------------------------------------------------------------- report

def cpu_ratio(summary, a, b, workload):
    ea, eb = get(summary, a, workload), get(summary, b, workload)
    return ea["cpu"] / eb["cpu"] if ea and eb and eb["cpu"] else None


def fmt(value, spec="%.2f", none="-"):
    return none if value is None else spec % value


def geomean(values):
    values = [v for v in values if v is not None and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def analyse(configs, summary, workloads):
    """The tables (lines of text), the targets (dicts) and the figures derived for the JSON:
    {"geomean": {configuration: {"geomean": G, "workloads": N}}, "memory": {"CONFIG|WORKLOAD":
    {"traces", "rss_cost", "per_trace", "tracemalloc_memory", "ratio"}}} (live and real)."""
    lines, targets, geomeans, memory = [], [], {}, {}
    derived = {"geomean": geomeans, "memory": memory}

    def target(kind, version, what, value, bound, ok, detail=""):
        targets.append({"target": kind, "version": version, "what": what, "value": value,
                        "bound": bound, "pass": ok, "detail": detail})

    versions = []
    for c in configs:
        if c.version not in versions:
            versions.append(c.version)
    for version in versions:
        vc = [c for c in configs if c.version == version]
        bases = [c for c in vc if c.engine == "none"]
        traced = [c for c in vc if c.engine == "stock"] + [c for c in vc if c.engine == "ours"]
        lines.append("")
        lines.append("== CPython %s: CPU seconds untraced (median), slowdown ratio over "
                     "untraced of the same interpreter ==" % version)
        head = "%-11s" % "workload" + "".join("%8s" % ("u:" + SHORT[c.interp]) for c in bases)
        head += " |" + "".join("%9s" % ("%s/%d" % (SHORT[c.interp], c.nframe)) for c in traced)
        lines.append(head)
        for workload in workloads:
            row = "%-11s" % workload
            for c in bases:
                e = get(summary, c, workload)
                row += "%8s" % fmt(e and e["cpu"], "%.3f")
            row += " |"
            for c in traced:
                row += "%9s" % fmt(ratio(summary, configs, c, workload), "%.2fx")
            lines.append(row)
        # the geometric mean of each configuration's slowdowns over the workloads
        row = "%-11s" % "geomean" + "%8s" % "" * len(bases) + " |"
        for c in traced:
            ratios = [ratio(summary, configs, c, w) for w in workloads]
            g = geomean(ratios)
            count = len([r for r in ratios if r is not None])
            row += "%9s" % (fmt(g, "%.2fx") + ("" if count == len(workloads) else "*"))
            if g is not None:
                geomeans[c.name] = {"geomean": g, "workloads": count}
        lines.append(row)
        if any(v["workloads"] < len(workloads) for k, v in geomeans.items()
               if k.startswith(version + ":")):
            lines.append("  (* over the workloads measured: some failed)")

        sbase = [c for c in bases if c.interp == "stock"]
        if sbase:
            lines.append("-- untraced CPU of each patched variant over the stock twin's: "
                         + "  ".join("%s %s" % (w, "/".join(
                             fmt(cpu_ratio(summary, c, sbase[0], w)) for c in bases
                             if c.interp != "stock")) for w in workloads)
                         + " (%s)" % "/".join(c.interp for c in bases if c.interp != "stock"))
        stock = dict((c.nframe, c) for c in vc if c.engine == "stock")
        ours = [c for c in vc if c.engine == "ours"]
        # slowdown targets
        if stock:
            lines.append("-- slowdown target: overhead (slowdown-1) of ours <= the stock "
                         "engine's / 3, i.e. slowdown <= the bound; in brackets "
                         "(ours-1)/(stock-1), <= 0.33")
            for nframe in (1, 25):
                for workload in workloads:
                    rs = ratio(summary, configs, stock[nframe], workload) if (
                        nframe in stock) else None
                    if rs is None:
                        continue
                    bound = (rs - 1) / 3  # of the overhead
                    row = "%-11s %2d fr: stock %6.2fx, bound %5.2fx:" % (
                        workload, nframe, rs, 1 + bound)
                    for c in ours:
                        if c.nframe != nframe:
                            continue
                        r = ratio(summary, configs, c, workload)
                        if r is None:
                            row += "  %s -" % c.interp
                            continue
                        ok = r - 1 <= bound
                        over = (r - 1) / (rs - 1) if rs > 1 else None
                        row += "  %s %.2fx (%s) %s" % (
                            c.interp, r, fmt(over), "PASS" if ok else "MISS" + (
                                " +%.0f%%" % ((r - 1) / bound * 100 - 100) if bound > 0
                                else ""))
                        target("slowdown", version, "%s %s %d fr overhead" % (
                            c.interp, workload, nframe), r - 1, bound, ok,
                            "ours %.2fx, stock %.2fx, overhead ratio %s" % (r, rs, fmt(over)))
                    lines.append(row)
        elif version.startswith("2."):
            lines.append("-- slowdown target: ours at 1 frame <= 2x untraced")
            for workload in workloads:
                row = "%-11s  1 fr:" % workload
                for c in ours:
                    if c.nframe != 1:
                        continue
                    r = ratio(summary, configs, c, workload)
                    if r is None:
                        continue
                    ok = r <= 2.0
                    row += "  %s %.2fx %s" % (c.interp, r, "PASS" if ok
                                              else "MISS %+.0f%%" % ((r / 2.0 - 1) * 100))
                    target("slowdown", version, "%s %s 1 fr" % (c.interp, workload),
                           r, 2.0, ok)
                lines.append(row)

        # memory
        if "live" in workloads:
            lines.append("-- memory at 1 frame (live): RSS cost = RSS growth traced - RSS "
                         "growth untraced; per trace; get_tracemalloc_memory()")
            for c in [x for x in traced if x.nframe == 1]:
                e, b = get(summary, c, "live"), get(summary, baseline_of(configs, c), "live")
                if not e or not b or not e.get("traces"):
                    continue
                cost, per, tm, r, trimmed = memory_cost(e, b)
                memory["%s|live" % c.name] = memory_entry(e, cost, per, tm, r)
                lines.append("%-8s traces %d, RSS cost %.1f MB = %.1f B/trace, "
                             "get_tracemalloc_memory %.1f MB = %.1f B/trace, ratio %s%s"
                             % (c.interp, e["traces"], cost / 1e6, per, tm / 1e6,
                                tm / e["traces"], fmt(r, "%.3f"), trimmed))
                if c.engine == "ours":
                    target("rss", version, "%s B/trace at 1 frame" % c.interp, per, 40.0,
                           per <= 40.0)
                    target("tmmem", version, "%s get_tracemalloc_memory/RSS cost" % c.interp,
                           r, [0.9, 1.1], r is not None and abs(r - 1) <= 0.10)
            # snapshot
            for key, mode in (("ops", "while tracing"), ("ops_off", "after stop()")):
                snapshot_table(lines, target, version, summary, traced, key, mode)
        if "real" in workloads:
            real_memory(lines, target, version, configs, summary, traced, memory)
    return lines, targets, derived


def memory_cost(e, b):
    """RSS cost (traced growth - untraced growth), per trace, get_tracemalloc_memory(), its
    ratio to the cost, and the same after malloc_trim(0) as text."""
    cost = e["rss_growth"] - b["rss_growth"]
    per = cost / e["traces"]
    tm = e["tracemalloc_memory"]
    r = tm / cost if cost > 0 else None
    trimmed = ""
    if "rss_growth_trim" in e and "rss_growth_trim" in b:
        tcost = e["rss_growth_trim"] - b["rss_growth_trim"]
        trimmed = "; after malloc_trim(0): %.1f B/trace, ratio %s" % (
            tcost / e["traces"], fmt(tm / tcost if tcost > 0 else None, "%.3f"))
    return cost, per, tm, r, trimmed


def memory_entry(e, cost, per, tm, r):
    return {"traces": e["traces"], "rss_cost": cost, "per_trace": per,
            "tracemalloc_memory": tm, "ratio": r}


def real_memory(lines, target, version, configs, summary, traced, memory):
    """The RSS cost of tracing on the real programs at 1 and 25 frames, and on 3.x the
    target: at 25 frames, ours at most a third of the stock engine's."""
    lines.append("-- memory on real programs (real): RSS cost, per live trace, "
                 "get_tracemalloc_memory() and its ratio to the cost")
    costs = {}
    for nframe in (1, 25):
        for c in [x for x in traced if x.nframe == nframe]:
            e, b = get(summary, c, "real"), get(summary, baseline_of(configs, c), "real")
            if not e or not b or not e.get("traces"):
                continue
            cost, per, tm, r, trimmed = memory_cost(e, b)
            costs[(c.interp, nframe)] = cost
            memory["%s|real" % c.name] = memory_entry(e, cost, per, tm, r)
            lines.append("%-8s %2d fr: traces %d, RSS cost %.1f MB = %.1f B/trace, "
                         "get_tracemalloc_memory %.1f MB = %.1f B/trace, ratio %s%s"
                         % (c.interp, nframe, e["traces"], cost / 1e6, per, tm / 1e6,
                            tm / e["traces"], fmt(r, "%.3f"), trimmed))
    stock = costs.get(("stock", 25))
    if stock is None:
        return
    row = "-- target: RSS cost at 25 frames <= the stock engine's / 3 (%.1f MB):" % (
        stock / 3e6)
    for c in [x for x in traced if x.nframe == 25 and x.engine == "ours"]:
        cost = costs.get((c.interp, 25))
        if cost is None:
            continue
        share = cost / stock if stock > 0 else None
        ok = share is not None and share <= 1 / 3.0
        row += "  %s %.1f MB (%s of stock's) %s" % (c.interp, cost / 1e6, fmt(share),
                                                     "PASS" if ok else "MISS")
        target("rss25", version, "%s RSS cost at 25 frames / stock's (real)" % c.interp,
               share, 1 / 3.0, ok, "stock %.1f MB, ours %.1f MB" % (stock / 1e6, cost / 1e6))
    lines.append(row)


# Speed-up over stock needed by statistics('lineno'), statistics('traceback') and compare_to:
# while tracing 20x (issue 6), after stop() 10x (issue 17); dump+load 3x in both.
STATS_SPEEDUP = {"ops": 20, "ops_off": 10}
DUMP_LOAD_SPEEDUP = 3


def snapshot_table(lines, target, version, summary, traced, key, mode):
    lines.append("-- snapshot at 1 frame (live), %s: CPU seconds, file size" % mode)
    lines.append("%-8s %8s" % ("", "traces") + "".join("%11s" % OP_LABEL[op]
                                                       for op in SNAPSHOT_OPS)
                 + "%10s" % "size MB")
    snap = {}
    for c in [x for x in traced if x.nframe == 1]:
        e = get(summary, c, "live")
        if not e or key not in e:
            continue
        snap[c.interp] = e
        lines.append("%-8s %8d" % (c.interp, e["traces"]) + "".join(
            "%11s" % fmt(e[key][op], "%.3f") for op in SNAPSHOT_OPS)
            + "%10.2f" % (e["file_size"] / 1e6))
    if "stock" not in snap:
        return
    s = snap["stock"][key]
    need = STATS_SPEEDUP[key]
    lines.append("-- snapshot targets (%s): speed-up over stock (statistics, compare_to "
                 ">= %dx; dump+load >= %dx%s)" % (mode, need, DUMP_LOAD_SPEEDUP,
                                                  "; size <= stock's" if key == "ops" else ""))
    for interp, e in snap.items():
        if interp == "stock":
            continue
        o = e[key]
        row = "%-8s" % interp
        for op in ("statistics_lineno", "statistics_traceback", "compare_to"):
            sp = s[op] / o[op] if o[op] > 0 else float("inf")
            ok = sp >= need
            row += "  %s %.1fx %s" % (OP_LABEL[op], sp, "PASS" if ok else "MISS")
            target("snapshot", version, "%s %s speed-up, %s" % (interp, op, mode), sp,
                   need, ok, "stock %.3f s, ours %.3f s" % (s[op], o[op]))
        dl_s = s["dump"] + s["load"]
        dl_o = o["dump"] + o["load"]
        sp = dl_s / dl_o if dl_o > 0 else float("inf")
        ok = sp >= DUMP_LOAD_SPEEDUP
        row += "  dump+load %.1fx %s" % (sp, "PASS" if ok else "MISS")
        target("snapshot", version, "%s dump+load speed-up, %s" % (interp, mode), sp,
               DUMP_LOAD_SPEEDUP, ok, "stock %.3f s, ours %.3f s" % (dl_s, dl_o))
        if key == "ops":  # the same file both times
            ratio_size = e["file_size"] / snap["stock"]["file_size"]
            row += "  size %.2fx %s" % (ratio_size, "PASS" if ratio_size <= 1 else "MISS")
            target("snapshot", version, "%s file size / stock's" % interp, ratio_size, 1.0,
                   ratio_size <= 1, "stock %d B, ours %d B" % (snap["stock"]["file_size"],
                                                                e["file_size"]))
        lines.append(row)


def machine():
    """'N cores, OS, gcc X' for the header."""
    osname = platform.system()
    try:
        with open("/etc/os-release") as fp:
            for line in fp:
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    try:
        gcc = "gcc " + subprocess.run(["gcc", "-dumpfullversion"], stdout=subprocess.PIPE,
                                      text=True).stdout.strip()
    except OSError:
        gcc = "no gcc"
    return "%d cores, %s, %s, %s" % (os.cpu_count(), osname, gcc, platform.machine())


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="bench/run.py [options]")
    parser.add_argument("--quick", action="store_true",
                        help="1 run of smaller workloads (a smoke run, a few minutes)")
    parser.add_argument("--runs", type=int, help="repetitions (default 5, --quick 1)")
    parser.add_argument("--scale", type=float, help="workload size (default 1, --quick 0.25)")
    parser.add_argument("--json", default=os.path.join(TOP, "_build", "bench",
                                                       "results.json"),
                        help="write the results here (default _build/bench/results.json)")
    parser.add_argument("--versions", nargs="+", default=VERSIONS, choices=VERSIONS)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS,
                        help="default: all (--memtrace: track)")
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS + ["sqlite"],
                        help="default: all but sqlite (--memtrace: compile json churn; "
                             "--native: %s)" % " ".join(NATIVE_WORKLOADS))
    parser.add_argument("--no-stock", action="store_true", help="leave out the stock engine")
    parser.add_argument("--build-dir", default=os.path.join(TOP, "_build"),
                        help="where the module builds go (default _build)")
    parser.add_argument("--timeout", type=int, default=900,
                        help="seconds per measurement (default 900)")
    parser.add_argument("--report", metavar="FILE",
                        help="run nothing: print the table again from the raw measurements "
                             "of a results file written by --json")
    parser.add_argument("--process-log", metavar="INTERVAL", type=float, nargs="?",
                        const=1.0, default=None,
                        help="measure the process logger of tracemalloc.process at INTERVAL "
                             "seconds (default 1.0) instead")
    parser.add_argument("--memtrace", action="store_true",
                        help="measure Profile and Trace of tracemalloc.memtrace instead")
    parser.add_argument("--native", action="store_true",
                        help="measure the native domain (tracemalloc.native) instead")
    parser.add_argument("--sampling", metavar="SIZE", nargs="?", const="512k", default=None,
                        help="measure the sampling mode at SIZE bytes (default 512k) against "
                             "untraced and exact, speed and accuracy, instead")
    args = parser.parse_args()
    if args.variants is None:
        args.variants = ["track"] if args.memtrace else VARIANTS
    if args.workloads is None:
        args.workloads = (MEMTRACE_WORKLOADS if args.memtrace
                          else NATIVE_WORKLOADS if args.native else WORKLOADS)
    if args.report:
        return report(args.report)
    ensure_real_packages(args.versions, args.workloads)
    runs = args.runs or (1 if args.quick else 5)
    scale = args.scale or (0.25 if args.quick else 1.0)
    if args.process_log is not None:
        return process_log_main(args, runs, scale)
    if args.memtrace:
        return memtrace_main(args, runs, scale)
    if args.native:
        return native_main(args, runs, scale)
    if args.sampling is not None:
        return sampling_main(args, runs, scale)

    started = time.time()
    configs = make_configs(args)
    log("%d configurations x %d workloads x %d runs" % (len(configs), len(args.workloads), runs))
    raw = []
    for rep in range(runs):
        for workload in args.workloads:
            shift = rep % len(configs)
            for config in configs[shift:] + configs[:shift]:
                t0 = time.time()
                result = run_child(config, workload, scale, args.timeout)
                result.update({"config": config.name, "workload": workload, "run": rep})
                raw.append(result)
                if "error" in result:
                    log("run %d %s %s: ERROR %s" % (rep + 1, workload, config.name,
                                                    result["error"]))
                else:
                    log("run %d/%d %-10s %-28s cpu %.3f s (%.1f s)" % (
                        rep + 1, runs, workload, config.name, result["cpu"],
                        time.time() - t0))
    elapsed = time.time() - started
    header = "pytracemalloc benchmark, %s, %s; %d runs, scale %g; %.0f s" % (
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        machine(), runs, scale, elapsed)
    summary, targets, lines, derived = render(configs, raw, args.workloads, header)
    return finish(args, lines, runs, scale, configs, raw, summary=summary, targets=targets,
                  geomean=derived["geomean"], memory=derived["memory"])


def render(configs, raw, workloads, header):
    """Medians, targets, the lines of the table and the derived figures (analyse())."""
    summary = summarize(configs, raw)
    lines, targets, derived = analyse(configs, summary, workloads)
    failures = sum(1 for r in raw if "error" in r)
    passed = sum(1 for t in targets if t["pass"])
    lines = [header] + lines
    lines.append("")
    lines.append("targets: %d PASS, %d MISS%s" % (passed, len(targets) - passed,
                                                  "; %d measurements failed" % failures
                                                  if failures else ""))
    kinds = []
    for t in targets:
        if (t["version"], t["target"]) not in kinds:
            kinds.append((t["version"], t["target"]))
    lines.append("  " + ", ".join("%s %s %d/%d" % (v, k, sum(
        1 for t in targets if t["version"] == v and t["target"] == k and t["pass"]), sum(
        1 for t in targets if t["version"] == v and t["target"] == k)) for v, k in kinds)
        + " PASS")
    for t in targets:
        if not t["pass"]:
            lines.append("  MISS %s %s %s: %s (bound %s)%s" % (
                t["version"], t["target"], t["what"], fmt(t["value"], "%.3f"),
                "%.2f..%.2f" % tuple(t["bound"]) if isinstance(t["bound"], list)
                else fmt(t["bound"], "%.3f"), "; " + t["detail"] if t["detail"] else ""))
    return summary, targets, lines, derived


def patched_builds(args):
    """(version, variant, python, lib) of each --versions x --variants interpreter, our
    module built for it (the modes that measure one feature against untraced)."""
    for version in args.versions:
        for interp in args.variants:
            python = interpreter(version, interp)
            yield version, interp, python, build_module(
                python, os.path.join(args.build_dir, "bench-%s-%s" % (version, interp)))


def run_interleaved(configs, workloads, runs, scale, timeout):
    """Every workload in every configuration, *runs* times, interleaved (the order of the
    configurations rotates by one each run), with a log line per measurement: the list of
    run_child() results, each with its config, workload and run."""
    log("%d configurations x %d workloads x %d runs" % (len(configs), len(workloads), runs))
    width = max(len(config.name) for config in configs)
    raw = []
    for rep in range(runs):
        for workload in workloads:
            shift = rep % len(configs)
            for config in configs[shift:] + configs[:shift]:
                result = run_child(config, workload, scale, timeout)
                result.update({"config": config.name, "workload": workload, "run": rep})
                raw.append(result)
                log("run %d/%d %-10s %-*s %s" % (
                    rep + 1, runs, workload, width, config.name,
                    "ERROR " + result["error"] if "error" in result
                    else "cpu %.3f s" % result["cpu"]))
    return raw


def process_log_main(args, runs, scale):
    """--process-log: each configuration without and with the logger, interleaved."""
    started = time.time()
    configs = []
    for version, interp, python, lib in patched_builds(args):
        for engine, nframe in (("none", 0), ("ours", 1)):
            for interval in (None, args.process_log):
                configs.append(Config(version, interp, engine, nframe, python, lib, interval))
    raw = run_interleaved(configs, args.workloads, runs, scale, args.timeout)
    lines = ["pytracemalloc benchmark of the process log (interval %g s), %s, %s; %d runs, "
             "scale %g; %.0f s" % (
                 args.process_log,
                 datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                 machine(), runs, scale, time.time() - started),
             "%-26s %-10s %7s %7s %7s %10s %7s %9s %10s" % (
                 "configuration", "workload", "cpu", "+log", "ratio", "logger cpu",
                 "records", "of wall", "per record")]
    targets = []
    for config in configs:
        if not config.process_log:
            continue
        for workload in args.workloads:
            plain = [r for r in raw if r["config"] == config.name[:-len("+log")]
                     and r["workload"] == workload and "error" not in r]
            logged = [r for r in raw if r["config"] == config.name
                      and r["workload"] == workload and "error" not in r]
            if not plain or not logged:
                continue
            cpu, cpu_log = median(r["cpu"] for r in plain), median(r["cpu"] for r in logged)
            logger_cpu = median(r["process_log"]["logger_cpu"] for r in logged)
            records = median(r["process_log"]["records"] for r in logged)
            share = median(r["process_log"]["logger_cpu"] / r["process_log"]["wall"]
                           for r in logged)
            per_record = median(r["process_log"]["logger_cpu"] / r["process_log"]["records"]
                                for r in logged)
            targets.append({"target": "process_log", "what": "%s %s" % (config.name, workload),
                            "value": share, "bound": 0.01, "pass": share < 0.01})
            lines.append("%-26s %-10s %7.3f %7.3f %6.3fx %8.1f ms %7g %8.3f%% %7.0f us" % (
                config.name[:-len("+log")], workload, cpu, cpu_log, cpu_log / cpu,
                logger_cpu * 1000, records, share * 100, per_record * 1e6))
    passed = sum(1 for t in targets if t["pass"])
    lines.append("target: the logger's thread under 1%% of the wall time: %d PASS, %d MISS"
                 % (passed, len(targets) - passed))
    return finish(args, lines, runs, scale, configs, raw, targets=targets)


def finish(args, lines, runs, scale, configs, raw, **extra):
    """Print the table *lines*, write the JSON of a run to args.json (its date is the
    table's first line; *extra*: more keys) and return the exit status: 1 if a measurement
    failed."""
    print("\n".join(lines))
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    result = {"date": lines[0], "args": vars(args), "runs": runs, "scale": scale,
              "configs": [dict(vars(c), name=c.name) for c in configs], "raw": raw}
    result.update(extra)
    result["table"] = lines
    with open(args.json, "w") as fp:
        json.dump(result, fp, indent=1)
    log("results written to %s" % args.json)
    return 1 if any("error" in r for r in raw) else 0


MEMTRACE_WORKLOADS = ["compile", "json", "churn"]
# Slowdown bounds of the issue, for compile and json.
MEMTRACE_BOUNDS = {"profile": 3.0, "trace": 6.0}


def memtrace_main(args, runs, scale):
    """--memtrace: untraced, in Profile(), in Trace(), interleaved."""
    started = time.time()
    configs = []
    for version, interp, python, lib in patched_builds(args):
        for kind in (None, "profile", "trace"):
            configs.append(Config(version, interp, "none", 0, python, lib, memtrace=kind))
    raw = run_interleaved(configs, args.workloads, runs, scale, args.timeout)
    lines = ["pytracemalloc benchmark of tracemalloc.memtrace (d_rss_trigger=-1), %s, %s; "
             "%d runs, scale %g; %.0f s" % (
                 datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                 machine(), runs, scale, time.time() - started),
             "%-22s %-9s %8s %8s %7s %10s %7s %8s %7s %10s %7s" % (
                 "interpreter", "workload", "untraced", "profile", "ratio", "events", "rows",
                 "trace", "ratio", "events", "rows")]
    targets = []

    def runs_of(config, workload):
        return [r for r in raw if r["config"] == config.name and r["workload"] == workload
                and "error" not in r]

    for base in [c for c in configs if c.memtrace is None]:
        for workload in args.workloads:
            plain = runs_of(base, workload)
            if not plain:
                continue
            cpu = median(r["cpu"] for r in plain)
            row = "%-22s %-9s %8.3f" % ("%s:%s" % (base.version, base.interp), workload, cpu)
            for kind in ("profile", "trace"):
                config = [c for c in configs if c.version == base.version
                          and c.interp == base.interp and c.memtrace == kind][0]
                measured = runs_of(config, workload)
                if not measured:
                    row += " %8s %7s %10s %7s" % ("-", "-", "-", "-")
                    continue
                cpu_kind = median(r["cpu"] for r in measured)
                ratio_kind = cpu_kind / cpu if cpu else None
                row += " %8.3f %6.2fx %10d %7d" % (
                    cpu_kind, ratio_kind or 0, median(r["memtrace"]["events"] for r in measured),
                    median(r["memtrace"]["rows"] for r in measured))
                if workload in ("compile", "json") and ratio_kind is not None:
                    bound = MEMTRACE_BOUNDS[kind]
                    targets.append({"target": "memtrace", "version": base.version,
                                    "what": "%s %s %s" % (base.interp, kind, workload),
                                    "value": ratio_kind, "bound": bound,
                                    "pass": ratio_kind <= bound})
            lines.append(row)
    passed = sum(1 for t in targets if t["pass"])
    lines.append("targets (compile, json): Profile <= %.0fx, Trace <= %.0fx untraced: %d PASS, "
                 "%d MISS" % (MEMTRACE_BOUNDS["profile"], MEMTRACE_BOUNDS["trace"], passed,
                              len(targets) - passed))
    for t in targets:
        if not t["pass"]:
            lines.append("  MISS %s %s: %.2fx (bound %.0fx)" % (t["version"], t["what"],
                                                             t["value"], t["bound"]))
    return finish(args, lines, runs, scale, configs, raw, targets=targets)


def native_main(args, runs, scale):
    """--native: untraced, untraced with the library, ours, ours with the native domain."""
    started = time.time()
    configs = []
    for version, interp, python, lib in patched_builds(args):
        for engine, nframe, native in (("none", 0, None), ("none", 0, "preload"),
                                       ("ours", 1, None), ("ours", 1, "native")):
            configs.append(Config(version, interp, engine, nframe, python, lib,
                                  native=native))
    raw = run_interleaved(configs, args.workloads, runs, scale, args.timeout)
    lines = ["pytracemalloc benchmark of the native domain, %s, %s; %d runs, scale %g; %.0f s"
             % (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                machine(), runs, scale, time.time() - started),
             "%-20s %-10s %9s %9s %9s %9s %9s %9s %9s" % (
                 "interpreter", "workload", "untraced", "+preload", "ours/1", "+native",
                 "nat/untr", "nat/ours", "pre/untr")]
    cpu = {}
    for r in raw:
        if "error" not in r:
            cpu.setdefault((r["config"], r["workload"]), []).append(r["cpu"])
    for i in range(0, len(configs), 4):
        untraced, preload, ours, native = configs[i:i + 4]
        for workload in args.workloads:
            values = [cpu.get((c.name, workload)) for c in (untraced, preload, ours, native)]
            if not all(values):
                continue
            u, p, o, n = [median(v) for v in values]
            lines.append("%-20s %-10s %9.3f %9.3f %9.3f %9.3f %8.2fx %8.2fx %8.2fx" % (
                "%s:%s" % (untraced.version, untraced.interp), workload, u, p, o, n,
                n / u, n / o, p / u))
    return finish(args, lines, runs, scale, configs, raw)


class SampleConfig(Config):
    """A configuration of --sampling: our engine exact or sampled every *sample* bytes, the
    child reporting the traced memory per line (bench/child.py, BENCH_* variables)."""

    def __init__(self, version, interp, engine, nframe, python, pythonpath, sample):
        Config.__init__(self, version, interp, engine, nframe, python, pythonpath)
        self.sample = sample  # None: untraced, 0: exact, N: sampled

    @property
    def name(self):
        name = Config.name.fget(self)
        return name + ("+sample%d" % self.sample if self.sample else "")

    def env(self, workload=None):
        env = Config.env(self, workload)
        env.pop("BENCH_SAMPLE_BYTES", None)
        env.pop("BENCH_LINE_STATS", None)
        if self.sample is not None:
            env["BENCH_LINE_STATS"] = "1"
        if self.sample:
            env["BENCH_SAMPLE_BYTES"] = str(self.sample)
        return env


def parse_size(text):
    """Bytes of "512k", "1M", "4096" (as PYTRACEMALLOC_SAMPLE, tracemalloc/_sampling.py)."""
    units = {"k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
    text = text.strip().lower()
    if text[-1:] in units:
        return int(text[:-1]) * units[text[-1]]
    return int(text)


def worst_line_error(exact, sampled, sample, share=0.01):
    """(worst relative error, lines, their share of the memory, worst z) of the lines
    holding at least *share* of the memory of the *exact* result, estimated by the *sampled*
    one (bench/child.py's "lines" and "lines_total"). z is the error over sqrt(size *
    sample), the bound of the estimator's standard deviation (README, "Sampling"): an
    estimator that works has z of a few units at most, whatever the relative error."""
    total = exact["lines_total"]
    estimates = dict(((f, n), size) for f, n, size in sampled["lines"])
    worst, count, held, zmax = 0.0, 0, 0, 0.0
    for filename, lineno, size in exact["lines"]:
        if size < share * total or size <= 0:
            continue
        count += 1
        held += size
        error = abs(estimates.get((filename, lineno), 0) - size)
        worst = max(worst, error / float(size))
        zmax = max(zmax, error / (float(size) * sample) ** 0.5)
    return worst, count, (held / float(total) if total else 0.0), zmax


def sampling_main(args, runs, scale):
    """--sampling: untraced, exact and sampled, interleaved; slowdowns and line accuracy."""
    started = time.time()
    sample = parse_size(args.sampling)
    configs = []
    for version, interp, python, lib in patched_builds(args):
        for engine, nframe, mode in (("none", 0, None), ("ours", 1, 0), ("ours", 1, sample)):
            configs.append(SampleConfig(version, interp, engine, nframe, python, lib, mode))
    raw = run_interleaved(configs, args.workloads, runs, scale, args.timeout)
    lines = ["pytracemalloc benchmark of the sampling mode (every %d bytes), %s, %s; %d runs, "
             "scale %g; %.0f s" % (
                 sample, datetime.datetime.now(datetime.timezone.utc).strftime(
                     "%Y-%m-%d %H:%M UTC"), machine(), runs, scale, time.time() - started),
             "%-20s %-10s %9s %9s %9s %8s %8s %5s %6s %6s %8s %5s %5s" % (
                 "interpreter", "workload", "untraced", "exact", "sampled", "exact/u",
                 "sampl/u", "speed", "lines", "share", "worst", "z", "accur")]
    results = {}
    for r in raw:
        if "error" not in r:
            results.setdefault((r["config"], r["workload"]), {})[r["run"]] = r
    targets = []
    for i in range(0, len(configs), 3):
        untraced, exact, sampled = configs[i:i + 3]
        for workload in args.workloads:
            runs_of = [results.get((c.name, workload), {}) for c in (untraced, exact, sampled)]
            if not all(runs_of):
                continue
            u, e, s = [median([r["cpu"] for r in by_run.values()]) for by_run in runs_of]
            errors = [worst_line_error(runs_of[1][rep], runs_of[2][rep], sample)
                      for rep in sorted(runs_of[1]) if rep in runs_of[2]]
            worst = max(errors) if errors else (None, 0, 0.0, 0.0)
            speed_ok = s / u <= 1.10
            accuracy_ok = worst[0] is not None and worst[0] <= 0.10
            name = "%s:%s" % (untraced.version, untraced.interp)
            zmax = max(error[3] for error in errors) if errors else None
            targets.append({"version": untraced.version, "variant": untraced.interp,
                            "workload": workload, "slowdown": s / u, "speed_pass": speed_ok,
                            "worst_error": worst[0], "lines": worst[1],
                            "share": worst[2], "z": zmax, "accuracy_pass": accuracy_ok})
            lines.append("%-20s %-10s %9.3f %9.3f %9.3f %7.2fx %7.2fx %5s %6d %5.0f%% %7.1f%% "
                         "%5.1f %5s" % (
                             name, workload, u, e, s, e / u, s / u,
                             "PASS" if speed_ok else "MISS", worst[1], 100 * worst[2],
                             100 * (worst[0] or 0.0), zmax or 0.0,
                             "PASS" if accuracy_ok else "MISS"))
    lines.append("")
    lines.append("speed: sampled <= 1.10x untraced; accuracy: every line holding >= 1% of "
                 "the exact run's traced memory at the end of the measured part within 10% "
                 "(worst over the runs); z: the worst error over sqrt(size * N), the bound of "
                 "the estimator's standard deviation")
    lines.append("targets: speed %d/%d PASS, accuracy %d/%d PASS" % (
        sum(t["speed_pass"] for t in targets), len(targets),
        sum(t["accuracy_pass"] for t in targets), len(targets)))
    return finish(args, lines, runs, scale, configs, raw, targets=targets)


def report(path):
    """Print the table again from the raw measurements of a results file."""
    with open(path) as fp:
        data = json.load(fp)
    configs = []
    for c in data["configs"]:
        configs.append(Config(c["version"], c["interp"], c["engine"], c["nframe"],
                              c["python"], c["pythonpath"]))
    workloads = [w for w in WORKLOADS if w in data["args"]["workloads"]]
    header = data["date"] if isinstance(data["date"], str) else data["date"][0]
    print("\n".join(render(configs, data["raw"], workloads, header)[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
