#!/usr/bin/env python3
"""Compare two interpreters untraced: does a patch cost anything while unused?

Usage: bench/ab_untraced.py [--runs N] [--scale S] [--workload W]... [--json FILE]
                            OLD_PYTHON NEW_PYTHON

Runs bench/child.py's workloads with ENGINE "none" (nothing traced, our package not
imported) on OLD_PYTHON and NEW_PYTHON, each measurement in a fresh process, interleaved
(for each run, for each workload, both interpreters, in an order that alternates from one
run to the next) so that the machine's noise hits both alike, and prints the median CPU
seconds (user + system, around the measured part only) of each and their ratio NEW/OLD.
Made to check that the reference tracer hook (patches/*/NNNN-reftracer-hook.patch) costs
nothing while no tracer is set: give it the interpreter built without and with the patch.
Give the same interpreter twice to see the noise of the machine.
"""
from __future__ import print_function

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = ("compile", "json", "churn")


def measure(python, workload, scale):
    proc = subprocess.run([python, os.path.join(HERE, "child.py"), workload, "none", "1",
                           str(scale), "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT "):])["cpu"]
    sys.exit("ab_untraced.py: %s %s failed (exit status %d): %s"
             % (python, workload, proc.returncode, proc.stderr.strip().splitlines()[-1:]))


def main():
    parser = argparse.ArgumentParser(
        description="Median CPU seconds of bench/child.py's untraced workloads on two "
                    "interpreters, interleaved, and their ratio.")
    parser.add_argument("old", metavar="OLD_PYTHON")
    parser.add_argument("new", metavar="NEW_PYTHON")
    parser.add_argument("--runs", type=int, default=9, help="measurements per interpreter "
                        "and workload (default 9)")
    parser.add_argument("--scale", type=float, default=2.0,
                        help="size of the workloads, 1.0 = bench/run.py's (default 2.0)")
    parser.add_argument("--workload", action="append", choices=WORKLOADS, dest="workloads",
                        help="one workload (repeat for several; default: all of %s)"
                        % ", ".join(WORKLOADS))
    parser.add_argument("--json", metavar="FILE", help="also write every measurement here")
    args = parser.parse_args()
    args.workloads = args.workloads or list(WORKLOADS)
    if args.runs < 1 or args.scale <= 0:
        parser.error("--runs must be at least 1 and --scale above 0")
    for python in (args.old, args.new):
        if not os.access(python, os.X_OK):
            parser.error("%s: not an executable" % python)
    pythons = [("old", args.old), ("new", args.new)]
    cpu = dict(((name, w), []) for name, _ in pythons for w in args.workloads)
    for run in range(args.runs):
        for workload in args.workloads:
            for name, python in (pythons if run % 2 == 0 else pythons[::-1]):
                cpu[(name, workload)].append(measure(python, workload, args.scale))
        if sys.stderr.isatty():
            print("run %d/%d" % (run + 1, args.runs), end="\r", file=sys.stderr)
    print("%-8s %12s %12s %9s" % ("workload", "old (s)", "new (s)", "new/old"))
    for workload in args.workloads:
        old = statistics.median(cpu[("old", workload)])
        new = statistics.median(cpu[("new", workload)])
        print("%-8s %12.4f %12.4f %9.3f" % (workload, old, new, new / old))
    if args.json:
        with open(args.json, "w") as fp:
            json.dump({"old": args.old, "new": args.new, "scale": args.scale,
                       "cpu": dict(("%s %s" % key, value) for key, value in cpu.items())},
                      fp, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
