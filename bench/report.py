"""Measure the HTML report on a big series (not a test: prints figures).

    python bench/report.py [--snapshots N] [--lines N] [--dir DIR] [--no-browser]

Writes N synthetic snapshot files (default 500) of statistics per line (--lines distinct
lines, default 10000; Snapshot(stats=...) and write(), compact format) into DIR (default: a
temporary directory, removed at the end), then times ``python -m tracemalloc --html
report.html --plot memory.svg`` on them, and opens the report in headless Chromium with
tests/report/check-report.js (which also checks it as the tests do): prints the time to
write the files, to build the report, its size, and the time the page takes to load and
draw (from navigation to the end of report.js).

The target: a report of 500 snapshots and 10,000 lines opens in under 2 s and weighs under
10 MB. Chromium is /usr/bin/chromium (or $CHROMIUM); playwright-core is found through
NODE_PATH, else $TRACEMALLOC_TEST_NODE_PATH, else ~/.cache/pytracemalloc/node/node_modules
(tools/run-tests installs it there).

Run it with PYTHONPATH pointing to a build's check-lib. tests/python/test_report.py uses
synthetic_snapshots() for its own check of the size bound.
"""
from __future__ import absolute_import, division, print_function

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECK_REPORT = os.path.join(TOP, "tests", "report", "check-report.js")


def synthetic_stats(index, lines, seed=1):
    """The stats {filename: {lineno: (size, count)}} of snapshot *index* of a series whose
    *lines* lines behave each in its own way: 2% leak (grow at every snapshot), 60% stay,
    20% live only for a while, 18% go up and down. Deterministic for a seed."""
    rng = random.Random(seed * 1000003 + index)
    stats = {}
    for line in range(lines):
        kind = line % 50
        base = int(4000000 / (line + 1) ** 0.7) + 64
        if kind == 0:  # a leak
            size = base + (line % 7 + 1) * 2048 * index
        elif kind < 31:  # stays
            size = base
        elif kind < 41:  # lives for a window of the series
            start = (line * 37) % 400
            if not start <= index < start + 80:
                continue
            size = base
        else:  # noisy
            size = max(0, int(base * (1 + 0.5 * rng.random())))
        filename = "/srv/app/pkg%03d/module%02d.py" % (line // 400, (line // 20) % 20)
        stats.setdefault(filename, {})[line % 20 * 10 + 1] = (size, size // 64 + 1)
    return stats


def synthetic_snapshots(count, lines, seed=1):
    """A generator of *count* Snapshot objects (statistics only) of synthetic_stats(),
    2 seconds apart (extra attribute ``time``), with process, tracer and free-list memory."""
    import tracemalloc
    start = 1767225600.0  # 2026-01-01 00:00 UTC
    for index in range(count):
        stats = synthetic_stats(index, lines, seed)
        traced = sum(size for file_stats in stats.values() for size, _ in file_stats.values())
        when = start + 2.0 * index
        snapshot = tracemalloc.Snapshot(
            stats=stats, pid=4242,
            timestamp=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when)),
            process_memory=traced + 40 * 1024 * 1024 + (index % 13) * 65536,
            tracemalloc_memory=traced // 9)
        snapshot.time = when
        snapshot.freelist_memory = (300000 + (index % 17) * 4096, 2000 + index % 17)
        yield snapshot


def node_path():
    for value in (os.environ.get("NODE_PATH"), os.environ.get("TRACEMALLOC_TEST_NODE_PATH")):
        if value:
            return value
    cache = os.environ.get("PYTRACEMALLOC_CACHE") or os.path.expanduser("~/.cache/pytracemalloc")
    return os.path.join(cache, "node", "node_modules")


def main():
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snapshots", type=int, default=500, metavar="N")
    parser.add_argument("--lines", type=int, default=10000, metavar="N")
    parser.add_argument("--dir", metavar="DIR", help="keep the files in DIR")
    parser.add_argument("--no-browser", action="store_true", help="do not open the report")
    options = parser.parse_args()
    directory = options.dir or tempfile.mkdtemp(prefix="tracemalloc-bench-report-")
    if not os.path.isdir(directory):
        os.makedirs(directory)
    try:
        started = time.time()
        files = []
        for index, snapshot in enumerate(synthetic_snapshots(options.snapshots, options.lines)):
            path = os.path.join(directory, "snap-%04d.tms" % index)
            snapshot.write(path)
            files.append(path)
        print("wrote %d snapshots of %d lines in %.1f s (%.1f MB)"
              % (len(files), options.lines, time.time() - started,
                 sum(os.path.getsize(path) for path in files) / 1e6))
        report = os.path.join(directory, "report.html")
        plot = os.path.join(directory, "memory.svg")
        started = time.time()
        subprocess.check_call([sys.executable, "-m", "tracemalloc", "--html", report,
                               "--plot", plot] + files)
        print("python -m tracemalloc --html --plot: %.1f s (%s %d.%d)"
              % (time.time() - started, sys.executable, sys.version_info[0],
                 sys.version_info[1]))
        print("report.html: %.2f MB; memory.svg: %.1f KB"
              % (os.path.getsize(report) / 1e6, os.path.getsize(plot) / 1e3))
        if options.no_browser:
            return 0
        screenshot = os.path.join(directory, "report.png")
        env = dict(os.environ, NODE_PATH=node_path())
        proc = subprocess.Popen(["node", CHECK_REPORT, report, screenshot],
                                stdout=subprocess.PIPE, env=env)
        out = proc.communicate()[0].decode("utf-8", "replace")
        result = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
        print("headless Chromium: loaded and drawn in %s ms; checks %s%s"
              % (result.get("load_ms"), "passed" if result.get("ok") else "FAILED",
                 "" if result.get("ok") else ": %s" % result.get("failures")))
        return 0 if result.get("ok") else 1
    finally:
        if not options.dir:
            shutil.rmtree(directory)


if __name__ == "__main__":
    sys.exit(main())
