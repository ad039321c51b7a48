"""Where the resident memory (RSS) of the process goes: get_memory_breakdown() and
MemoryBreakdown, the RSS in named parts that add up to it, "rest" explicit; the builtins that
Snapshot.create(memory_breakdown=True) records in a snapshot (and its files), read back
checked, and the line of DisplayTop.

The parts: ``traced`` (get_traced_memory()[0]), ``freelists`` (get_freelist_memory()),
``pymalloc_free`` (pymalloc's arenas minus their blocks in use, from sys._debugmallocstats():
tracemalloc/_pymalloc.py), ``tracer`` (get_tracemalloc_memory()) and ``rest`` (the RSS
minus the others: the interpreter and the libraries, C allocations that no Python allocator
made, malloc's own free space and overhead, the objects allocated before tracing started,
pymalloc's rounding of block sizes). A part that cannot be known here is None, with the
reason in ``unknown``, never a guess. README, "Where RSS goes", says what each part holds and
where they overlap.
"""
from __future__ import absolute_import

import collections

import tracemalloc
from tracemalloc import _pymalloc
from tracemalloc._compat import _INT_TYPES, _TEXT_TYPES
from tracemalloc._output import _format_top_size
from tracemalloc._suspend import _suspended

__all__ = ["get_memory_breakdown", "MemoryBreakdown"]

# The parts, in the order they add up: sum(parts) == rss.
PARTS = ("traced", "freelists", "pymalloc_free", "tracer", "rest")

# The names of the parts in DisplayTop's line.
_LABELS = {"traced": "traced", "freelists": "free lists", "pymalloc_free": "pymalloc free",
           "tracer": "tracer", "rest": "rest"}


class MemoryBreakdown(collections.namedtuple(
        "MemoryBreakdown", "rss traced freelists pymalloc_free tracer rest pymalloc_used "
                           "unknown")):
    """The resident memory of the process (``rss``, bytes) in parts that add up to it:
    ``traced + freelists + pymalloc_free + tracer + rest == rss`` (parts() lists them).

    - ``traced``: the memory of the live Python objects and buffers that the tracer saw
      allocated (get_traced_memory()[0], the sizes that were asked for);
    - ``freelists``: the blocks parked on the interpreter's free lists since tracing
      started (get_freelist_memory(): "track" variant; 0 on "disabled", which has none);
    - ``pymalloc_free``: the bytes of pymalloc's arenas that hold no block in use: free
      blocks in used pools, free pools, pool headers, the ends of pools too small for a
      block (sys._debugmallocstats(); not the arena alignment, never written);
    - ``tracer``: the tracer's own memory (get_tracemalloc_memory());
    - ``rest``: the rest, RSS minus the parts above: the interpreter, C libraries and
      extensions, C allocations made outside Python's allocators, malloc's free space and
      overhead, objects allocated before tracing started, pymalloc's rounding of sizes.
      Negative when the parts above count memory that is not resident (see README, "Where
      RSS goes").

    A part that cannot be known here is None and ``unknown`` ({name: reason}, for the parts
    and ``rss``) says why; ``rest`` is then the RSS minus the known parts (and None, with
    ``rss``, when the RSS is unknown).
    ``pymalloc_used`` is not a part: the bytes of pymalloc's blocks in use, which hold the
    traced objects of 512 bytes or less, the blocks parked on free lists, the tracer's small
    objects and the untraced ones (None when unknown).
    """

    __slots__ = ()

    def parts(self):
        """[(name, bytes or None)] of the parts, in the order of PARTS."""
        return [(name, getattr(self, name)) for name in PARTS]

    def as_dict(self):
        """The breakdown as builtins (what snapshots record): the fields, ``unknown`` a
        dict of the parts' names to their reasons."""
        value = dict(zip(self._fields, self))
        value["unknown"] = dict(self.unknown)
        return value

    def format(self, format_size=None):
        """One line: "61 MiB = traced 50 MiB + free lists 12 KiB + pymalloc free 1210 KiB +
        tracer 3277 KiB + rest 7270 KiB"; an unknown part is "unknown"."""
        if format_size is None:
            format_size = _format_top_size
        texts = []
        for name, value in self.parts():
            texts.append("%s %s" % (_LABELS[name],
                                    format_size(value) if value is not None else "unknown"))
        rss = format_size(self.rss) if self.rss is not None else "unknown"
        return "%s = %s" % (rss, " + ".join(texts))

    def __str__(self):
        return "RSS " + self.format()


def _breakdown(stats, rss, variant):
    """The MemoryBreakdown of SysDebugMallocStats *stats* (captured: its ``engine`` holds
    the tracer's figures of the same moment), the resident memory *rss* (or None) and the
    interpreter's *variant* (_engine.PATCH_VARIANT)."""
    engine = stats.engine or {}
    tracing = engine.get("tracing", False)
    unknown = {}

    traced = engine.get("traced") if tracing else None
    if traced is None:
        unknown["traced"] = "not tracing: the Python objects are in rest"

    freelists = engine.get("freelists")
    if freelists is not None and tracing:
        freelists = freelists[0]
    elif variant == "disabled":
        freelists = 0  # no free lists to park anything on
    elif not tracing:
        freelists = None
        unknown["freelists"] = "not tracing"
    else:
        freelists = None
        unknown["freelists"] = (
            "the interpreter does not report its free lists (variant %r, not 'track'): their "
            "blocks count in traced (parked since tracing started) or in rest" % variant)

    pymalloc_free = stats.pymalloc_free
    pymalloc_used = stats.pools_blocks.allocated_bytes if stats.has_pymalloc else None
    if pymalloc_free is None:
        unknown["pymalloc_free"] = stats.why_no_pymalloc()

    tracer = engine.get("tracer")
    if tracer is None:
        unknown["tracer"] = "no figures of the tracer"

    rest = None
    if rss is None:
        unknown["rss"] = "the resident memory of the process is unknown (neither psutil " \
                         "nor /proc/self/statm)"
        unknown["rest"] = "the resident memory of the process is unknown"
    else:
        rest = rss - sum(value for value in (traced, freelists, pymalloc_free, tracer)
                         if value is not None)
    return MemoryBreakdown(rss, traced, freelists, pymalloc_free, tracer, rest,
                           pymalloc_used, unknown)


def get_memory_breakdown():
    """The resident memory of the process now, in named parts that add up to it: a
    MemoryBreakdown (traced, freelists, pymalloc_free, tracer, rest; None and a reason in
    ``unknown`` for a part that cannot be known here: "traced" when not tracing,
    "freelists" without free-list hooks, "pymalloc_free" on a Python 2.7 without our patch
    0005, which has no sys._debugmallocstats(), or when pymalloc is not the allocator).

    Costs one capture of sys._debugmallocstats() (tracemalloc/_pymalloc.py: a walk over
    pymalloc's arenas, file descriptor 2 moved to a temporary file meanwhile: what another
    thread writes to stderr then is lost), with tracing suspended."""
    with _suspended():
        stats = _pymalloc.SysDebugMallocStats()
        rss = tracemalloc.get_process_memory()
        variant = tracemalloc._engine.PATCH_VARIANT
    return _breakdown(stats, rss, variant)


def _checked_int(value):
    return value is None or (isinstance(value, _INT_TYPES) and not isinstance(value, bool))


def from_record(value):
    """The MemoryBreakdown of a snapshot's ``memory_breakdown`` attribute (as_dict()), or
    None if *value* is None or not of that shape (a value set by hand, a file of another
    tool)."""
    if not isinstance(value, dict) or set(value) != set(MemoryBreakdown._fields):
        return None
    unknown = value["unknown"]
    if not isinstance(unknown, dict) or not all(
            isinstance(key, _TEXT_TYPES) and isinstance(reason, _TEXT_TYPES)
            for key, reason in unknown.items()):
        return None
    fields = [value[name] for name in MemoryBreakdown._fields[:-1]]
    if not all(_checked_int(field) for field in fields):
        return None
    return MemoryBreakdown(*(fields + [dict(unknown)]))


def of_snapshot(snapshot):
    """The MemoryBreakdown recorded in *snapshot* (Snapshot.create(memory_breakdown=True)),
    or None."""
    if snapshot is None:
        return None
    return from_record(getattr(snapshot, "memory_breakdown", None))
