"""The soak's workload and its verdict (README, "Reliability"): run by tools/soak for minutes
and by tests/python/test_soak.py for seconds, on an interpreter whose PYTHONPATH has the
package.

    python soak_workload.py --seconds S --workdir DIR [--restart-every S] [--display-every S]
                            [--snapshot-every S] [--warmup FRACTION] [--cache-step N]
                            [--max-rss-slope B] [--max-tracer-slope B]
                            [--max-rss-growth B] [--max-tracer-growth B]
                            [--max-tracer-restarted-slope B] [--max-tracer-restarted-growth B]

For S seconds the main thread runs a mix of realistic work, step after step: parse and compile
stdlib sources, JSON round trips, a cache that grows to 4,000 entries then shrinks to 400
(--cache-step entries a step, default 60), string and bytes work, numpy arrays when numpy
imports; two threads allocate and free lists,
dicts and bytes meanwhile. Tracing runs all along, with a DisplayTop timer (its top goes to
DIR/displaytop.log), a TakeSnapshot timer (traces included, into DIR) and a process logger
(tracemalloc.process, one record a second into DIR/process.jsonl); every --restart-every
seconds tracing is stopped and started again with the next frame limit of 1, 5, 25, 100, 3
(stop() stops the timers: they are started again) and the logger gets a label.

Just before each restart the main thread collects garbage and samples the RSS
(/proc/self/statm), get_tracemalloc_memory(), the traced memory and get_lost_traces(); then it
loads the newest snapshot file (it must load, have statistics and no lost traces) and removes
the files written so far. At the end it checks, over the samples after the warm-up (the first
--warmup of the run):

- flat: the Theil-Sen slope (the median of the slopes between every two samples; see
  median_slope() for why not least squares, whose slope is kept beside it) of the samples of
  the second half of the run, in bytes per minute, at most --max-rss-slope (RSS),
  --max-tracer-slope (tracer before the restart) and --max-tracer-restarted-slope (tracer
  just after it, its tables empty: what it keeps from one run to the next);
- no growth: the median of the last tenth of the samples after the warm-up (3 at least) at
  most --max-rss-growth, --max-tracer-growth and --max-tracer-restarted-growth bytes above the
  median of the samples of the second half of the warm-up;
- no error (an exception of the work, of a thread, of a timer or of the logger: anything on
  stderr but TakeSnapshot's lines), no lost trace, every snapshot loadable, and every part of
  the mix ran (restarts, tops, snapshots, log records, threads).

Writes DIR/soak.json (the samples, the counts, each check with its value and bound, "ok") and
DIR/soak.svg (RSS, tracer and traced memory over time, drawn by the package's SVG plotting);
prints one JSON line per sample on stdout ("progress") and the verdict line last. Exit status
0 if every check passed, 1 if one failed. One source for Python 2.7 and 3.x, stdlib only.
"""
from __future__ import absolute_import, division

import argparse
import collections
import gc
import glob
import io
import json
import os
import re
import sys
import threading
import time
import traceback

import tracemalloc
import tracemalloc.process
from tracemalloc import _report_svg

FRAME_LIMITS = (1, 5, 25, 100, 3)
STDLIB_MODULES = ("textwrap", "difflib", "string", "json.decoder", "pickle", "argparse")
SNAPSHOT_LINE = "Write a snapshot of memory allocations into"
PAGE = os.sysconf("SC_PAGE_SIZE")

_now = getattr(time, "monotonic", time.time)


def rss():
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * PAGE


class _Stderr(object):
    """sys.stderr of the child: TakeSnapshot's lines are counted, anything else (a timer's
    or the logger's exception) is an error, and everything still reaches the real stderr."""

    def __init__(self, real, errors):
        self.real = real
        self.errors = errors
        self.snapshot_lines = 0
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text):
        with self._lock:
            self._pending += text
            while "\n" in self._pending:
                line, self._pending = self._pending.split("\n", 1)
                if SNAPSHOT_LINE in line:
                    self.snapshot_lines += 1
                    continue
                self.errors.append("stderr: " + line)
                self.real.write(line + "\n")

    def flush(self):
        self.real.flush()

    def __getattr__(self, name):
        return getattr(self.real, name)


class Workload(object):
    """The main thread's mix; step() runs one piece of each kind."""

    def __init__(self, cache_step=60):
        self.cache_step = cache_step
        self.sources = []
        for name in STDLIB_MODULES:
            module = __import__(name, fromlist=["_"])
            path = module.__file__
            if path.endswith((".pyc", ".pyo")):
                path = path[:-1]
            with io.open(path, encoding="utf-8") as fp:
                self.sources.append((path, fp.read()))
        self.cache = collections.OrderedDict()
        self.counter = 0
        self.cache_peak = 0
        try:
            import numpy
        except Exception:  # absent, or built for another Python
            numpy = None
        self.numpy = numpy
        self.counts = collections.Counter()

    def step(self):
        i = self.counter
        self.counter += 1
        import ast
        path, source = self.sources[i % len(self.sources)]
        tree = ast.parse(source, path)
        code = compile(tree, path, "exec")
        assert code.co_filename == path
        self.counts["compile"] += 1

        data = {"items": [{"id": n, "name": "item %d of %d" % (n, i), "tags": ["a", "b" * (n % 7)],
                           "value": n * 1.5, "nested": {"k": [n, None, True]}}
                          for n in range(150 + i % 100)]}
        text = json.dumps(data, sort_keys=True)
        assert json.loads(text) == data
        self.counts["json"] += 1

        for n in range(self.cache_step):
            key = (i, n)
            self.cache[key] = (b"v" * (100 + (i * 31 + n * 17) % 4000), str(key))
        shrunk = len(self.cache) > 4000
        if shrunk:
            self.cache_peak = max(self.cache_peak, len(self.cache))
            while len(self.cache) > 400:
                self.cache.popitem(last=False)
            self.counts["cache shrink"] += 1

        words = ["word%d" % ((i + n) % 911) for n in range(2000)]
        sentence = " ".join(words)
        encoded = sentence.upper().encode("utf-8")
        assert encoded.decode("utf-8").lower() == sentence
        assert len(re.findall(r"word9\d\b", sentence)) >= 0
        chunks = b"|".join(encoded[k:k + 37] for k in range(0, len(encoded), 37))
        assert chunks.replace(b"|", b"") == encoded
        self.counts["strings"] += 1

        if self.numpy is not None:
            np = self.numpy
            a = np.arange(20000, dtype=float).reshape(100, 200)
            b = a.dot(a.T)
            assert b.shape == (100, 100)
            self.counts["numpy"] += 1
        return shrunk


def allocating_thread(stop, errors, counts, index):
    try:
        held = []
        n = 0
        while not stop.is_set():
            held.append(b"t" * (n % 900))
            held.append({"n": n, "s": str(n)})
            held.append([n] * (n % 50))
            if len(held) > 3000:
                del held[:2000]
            n += 1
            if n % 200 == 0:
                time.sleep(0.001)  # leave the GIL to the main thread
        counts["thread %d" % index] = n
    except Exception:
        errors.append("thread %d: %s" % (index, traceback.format_exc()))


def least_squares_slope(xs, ys):
    """Slope of the least-squares line through (xs, ys); None with fewer than 2 points."""
    n = len(xs)
    if n < 2:
        return None
    mx = sum(xs) / n
    my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def median_slope(xs, ys):
    """Theil-Sen slope: the median of the slopes between every two points of (xs, ys); None
    with fewer than 2 distinct xs. Unlike least squares, a few outliers cannot move it: the
    engine's trace table keeps the size of a recent peak of live traces until less than an
    eighth of it is used (module/engine/store.c, table_maybe_shrink()), so a sample now and
    then shows the tracer's memory megabytes higher, and one such sample at an end of the
    window tilts a least-squares line by more than the bound."""
    slopes = [(ys[j] - ys[i]) / (xs[j] - xs[i])
              for i in range(len(xs)) for j in range(i + 1, len(xs)) if xs[j] != xs[i]]
    return median(slopes)


def median(values):
    values = sorted(values)
    if not values:
        return None
    middle = len(values) // 2
    if len(values) % 2:
        return values[middle]
    return (values[middle - 1] + values[middle]) / 2


def analyse(samples, duration, warmup, bounds):
    """The checks of the memory figures: a list of {"name", "value", "bound", "ok"}."""
    checks = []
    warm_end = duration * warmup
    second_half = [s for s in samples if s["t"] >= duration / 2]
    warm_ref = [s for s in samples if warm_end / 2 <= s["t"] <= warm_end]
    for key, name in (("rss", "rss"), ("tracer", "tracer"),
                      ("tracer_restarted", "tracer_restarted")):
        after = [s for s in samples if s["t"] > warm_end and key in s]
        last = after[-max(3, len(after) // 10):]
        points = [s for s in second_half if key in s]
        xs, ys = [s["t"] / 60.0 for s in points], [s[key] for s in points]
        slope = median_slope(xs, ys)
        fitted = least_squares_slope(xs, ys)
        bound = bounds["max_%s_slope" % name]
        checks.append({"name": "%s slope over the second half (B/min)" % name,
                       "value": None if slope is None else round(slope, 1), "bound": bound,
                       "ok": slope is not None and slope <= bound,
                       "least_squares": None if fitted is None else round(fitted, 1)})
        reference = median([s[key] for s in warm_ref if key in s])
        final = median([s[key] for s in last if key in s])
        growth = None if reference is None or final is None else final - reference
        bound = bounds["max_%s_growth" % name]
        checks.append({"name": "%s growth after the warm-up (B)" % name, "value": growth,
                       "bound": bound, "ok": growth is not None and growth <= bound,
                       "reference": reference, "final": final})
    return checks


def check_snapshots(workdir, counts, errors):
    """Load the newest snapshot file, then remove every file written so far."""
    paths = sorted(glob.glob(os.path.join(workdir, "snapshot-*.tms")))
    if not paths:
        return
    snapshot = None
    try:
        snapshot = tracemalloc.Snapshot.load(paths[-1])
        if not snapshot.statistics("lineno"):
            errors.append("snapshot %s: no statistics" % paths[-1])
        if getattr(snapshot, "lost_traces", 0):
            errors.append("snapshot %s: %s lost traces" % (paths[-1], snapshot.lost_traces))
        counts["snapshots loaded"] += 1
    except Exception:
        errors.append("snapshot %s: %s" % (paths[-1], traceback.format_exc()))
    del snapshot
    for path in paths:
        os.remove(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--restart-every", type=float, default=10.0)
    parser.add_argument("--display-every", type=float, default=2.0)
    parser.add_argument("--snapshot-every", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=0.2)
    parser.add_argument("--cache-step", type=int, default=60)
    parser.add_argument("--max-rss-slope", type=float, default=256 * 1024)
    parser.add_argument("--max-tracer-slope", type=float, default=4 * 1024)
    parser.add_argument("--max-rss-growth", type=float, default=8 * 1024 * 1024)
    parser.add_argument("--max-tracer-growth", type=float, default=64 * 1024)
    parser.add_argument("--max-tracer-restarted-slope", type=float, default=1024)
    parser.add_argument("--max-tracer-restarted-growth", type=float, default=16 * 1024)
    args = parser.parse_args()
    bounds = {"max_rss_slope": args.max_rss_slope, "max_tracer_slope": args.max_tracer_slope,
              "max_rss_growth": args.max_rss_growth,
              "max_tracer_growth": args.max_tracer_growth,
              "max_tracer_restarted_slope": args.max_tracer_restarted_slope,
              "max_tracer_restarted_growth": args.max_tracer_restarted_growth}
    workdir = args.workdir
    errors = []
    stderr = sys.stderr = _Stderr(sys.stderr, errors)
    counts = collections.Counter()
    samples = []

    work = Workload(args.cache_step)
    tracemalloc.start(FRAME_LIMITS[0])
    top_file = open(os.path.join(workdir, "displaytop.log"), "w")
    top = tracemalloc.DisplayTop(10, file=top_file)
    take = tracemalloc.TakeSnapshot(os.path.join(workdir, "snapshot-$counter.tms"))
    take.traces = True
    logger = tracemalloc.process.ProcessLogger(
        interval=1.0, file=os.path.join(workdir, "process.jsonl"))

    def start_timers():
        top.start(args.display_every)
        take.start(args.snapshot_every)

    stop_threads = threading.Event()
    threads = [threading.Thread(target=allocating_thread, args=(stop_threads, errors, counts, i))
               for i in range(2)]
    start = _now()
    start_time = time.localtime()
    start_timers()
    logger.start()
    for thread in threads:
        thread.start()
    next_restart = start + args.restart_every
    restarts = 0
    try:
        while True:
            # The samples are taken at the same point of the work: when the cache has just
            # shrunk, the first time after the restart (or the end) is due.
            shrunk = work.step()
            now = _now()
            if not shrunk or (now < next_restart and now - start < args.seconds):
                continue
            gc.collect()
            lost = tracemalloc.get_lost_traces()
            sample = {"t": round(_now() - start, 3), "rss": rss(),
                      "tracer": tracemalloc.get_tracemalloc_memory(),
                      "traced": tracemalloc.get_traced_memory()[0], "lost": lost,
                      "nframe": tracemalloc.get_traceback_limit()}
            # the part of the tracer's memory that its suspended work holds (the rest is the
            # engine's tables)
            sample["own"], sample["own_count"] = tracemalloc._engine._get_own_memory()
            samples.append(sample)
            if lost:
                errors.append("%d traces lost at %.0f s" % (lost, sample["t"]))
            sys.stdout.write(json.dumps(dict(sample, progress=sample["t"] / args.seconds))
                             + "\n")
            sys.stdout.flush()
            check_snapshots(workdir, counts, errors)
            if now - start >= args.seconds:
                break
            tracemalloc.stop()
            restarts += 1
            nframe = FRAME_LIMITS[restarts % len(FRAME_LIMITS)]
            tracemalloc.start(nframe)
            start_timers()
            # the tracer's memory with empty tables: what it keeps from one run to the next
            sample["tracer_restarted"] = tracemalloc.get_tracemalloc_memory()
            logger.add_label("restart %d, %d frames" % (restarts, nframe))
            next_restart = _now() + args.restart_every
    except Exception:
        errors.append("main thread: " + traceback.format_exc())
    duration = _now() - start
    stop_threads.set()
    for thread in threads:
        thread.join()
    top.stop()
    take.stop()
    tracemalloc.stop()
    logger.stop()
    top_file.close()
    check_snapshots(workdir, counts, errors)
    if logger.error is not None:
        errors.append("process logger: %r" % (logger.error,))

    with open(os.path.join(workdir, "displaytop.log")) as fp:
        counts["tops"] = sum(1 for line in fp if ": Top " in line)
    records = tracemalloc.process.read_records(
        open(os.path.join(workdir, "process.jsonl")), "process.jsonl")
    counts["log records"] = len(records)
    counts["log labels"] = sum(1 for record in records if record["event"] == "label")
    counts["restarts"] = restarts
    counts["snapshots written"] = take.counter - 1
    counts["snapshot lines"] = stderr.snapshot_lines
    counts.update(work.counts)
    counts["cache peak"] = work.cache_peak

    checks = analyse(samples, duration, args.warmup, bounds)
    minimum = {"restarts": 1, "tops": 2, "snapshots written": 2, "snapshots loaded": 2,
               "log records": 3, "log labels": 1, "thread 0": 1, "thread 1": 1,
               "cache shrink": 1, "compile": 1, "json": 1, "strings": 1}
    for name, least in sorted(minimum.items()):
        checks.append({"name": "%s ran" % name, "value": counts[name], "bound": least,
                       "ok": counts[name] >= least})
    checks.append({"name": "errors", "value": len(errors), "bound": 0, "ok": not errors})
    ok = all(check["ok"] for check in checks)
    info = tracemalloc.get_interpreter_info()
    result = {"python": "%d.%d.%d" % sys.version_info[:3], "variant": info["variant"],
              "seconds": round(duration, 1), "warmup": args.warmup, "bounds": bounds,
              "restart_every": args.restart_every, "display_every": args.display_every,
              "snapshot_every": args.snapshot_every, "numpy": work.numpy is not None,
              "counts": dict(counts), "errors": errors[:50], "checks": checks,
              "samples": samples, "ok": ok}
    with open(os.path.join(workdir, "soak.json"), "w") as fp:
        json.dump(result, fp, indent=1, sort_keys=True)
    report = {"title": u"soak", "x_kind": "time", "x": [s["t"] for s in samples],
              "start": u"%s" % time.strftime("%Y-%m-%d %H:%M:%S", start_time),
              "x_origin": u"the start of the soak",
              "heading": u"Soak of %s seconds: memory before each restart (%d samples)"
                         % (int(duration), len(samples)),
              "memory": [{"id": "rss", "label": u"process memory (RSS)",
                          "values": [s["rss"] for s in samples]},
                         {"id": "traced", "label": u"traced memory",
                          "values": [s["traced"] for s in samples]},
                         {"id": "tracemalloc_memory", "label": u"tracemalloc memory",
                          "values": [s["tracer"] for s in samples]}],
              "marks": []}
    with io.open(os.path.join(workdir, "soak.svg"), "w", encoding="utf-8") as fp:
        fp.write(_report_svg.render(report))
    failed = [check["name"] for check in checks if not check["ok"]]
    sys.stdout.write(json.dumps({"ok": ok, "failed": failed}) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
