"""A small program that leaks, to show pytracemalloc at work.

Run it with tracing started at startup:

    PYTRACEMALLOC=1 python examples/demo.py [DIRECTORY]

It displays the top allocating lines twice (the second time compared with the first) and
writes two snapshot files into DIRECTORY (default: the current directory), which
``python -m tracemalloc`` then compares.
"""
import os
import sys

import tracemalloc

cache = []


def load_records(count):
    # The "leak": records pile up in a module-level cache.
    for i in range(count):
        cache.append({"id": i, "name": "record %d" % i, "tags": ["a", "b"]})


def build_index():
    return dict((record["id"], record["name"]) for record in cache)


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "."
    if not tracemalloc.is_enabled():
        sys.stderr.write("demo: tracing is off; run it with PYTRACEMALLOC=1\n")
        return 1
    take = tracemalloc.TakeSnapshot()
    take.filename_template = os.path.join(directory, "demo-$counter.pickle")
    top = tracemalloc.DisplayTop(5)
    top.show_lineno = True
    top.filename_parts = 2

    load_records(2000)
    top.display()
    snapshot, first = take.take_snapshot()

    load_records(8000)
    index = build_index()
    top.display()
    snapshot, second = take.take_snapshot()

    sys.stdout.write("\nsnapshots: %s %s (%d records indexed)\n" % (first, second, len(index)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
