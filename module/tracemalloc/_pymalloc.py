"""pymalloc's statistics: sys._debugmallocstats() captured (it writes to the C stderr, file
descriptor 2), parsed into rows and named tuples (the formats of Python 2.7 (patch 0005),
3.11 and 3.13), and the difference of two captures, as text and as data
(DiffSysDebugMallocStats, a context manager and a decorator). Each capture also holds what
the tracer knows and the interpreter does not print: the traced memory, the memory parked on
every hooked free list, the tracer's own memory.

The names are pymemtrace's (its module debug_malloc_stats) where they fit: get_debugmallocstats,
SysDebugMallocStats (malloc_stats, arenas, pools_blocks, type_stats, small_block_threshold,
size_classes, object_types(), has_object_type(), type_stat()), DebugMallocStat, DebugTypeStat,
DebugMallocArenas, DebugMallocPoolsBlocks, diff_debugmallocstats and DiffSysDebugMallocStats
(before, after, diff()). Where they differ:

- a capture runs with tracing suspended (tracemalloc/_suspend.py), and while tracing with
  pymalloc put back as the object allocator for the call (_engine.debug_malloc_stats():
  pymalloc prints nothing when another allocator, such as the tracer's hook, is in its
  place);
- the arena and pool sections are named tuples, and None when the report has none (stock
  Python 2.7 has no sys._debugmallocstats(): our patch 0005 adds it; PYTHONMALLOC=malloc
  or mimalloc print no pymalloc section); a line that the parser does not know is kept in ``unknown_lines``, never an
  error;
- SysDebugMallocStats(None) captures (pymemtrace: an empty bytes);
- diff_debugmallocstats() lists the size classes and types of either side (pymemtrace
  raises when the two lists differ in length), and ends with the tracer's section;
  compare_debugmallocstats() and DiffSysDebugMallocStats.changes() give the differences as
  data; DiffSysDebugMallocStats is also a decorator, and writes its diff into ``file`` at
  each exit when it is set.
"""
from __future__ import absolute_import

import collections
import functools
import os
import re
import sys

import tracemalloc
from tracemalloc._compat import _PY2
from tracemalloc._suspend import _suspended

try:
    import _thread
except ImportError:  # Python 2
    import thread as _thread

__all__ = ["get_debugmallocstats", "SysDebugMallocStats", "DebugMallocStat", "DebugTypeStat",
           "DebugMallocArenas", "DebugMallocPoolsBlocks", "diff_debugmallocstats",
           "compare_debugmallocstats", "DiffSysDebugMallocStats"]


class DebugMallocStat(collections.namedtuple(
        "DebugMallocStat", "block_class size num_pools blocks_in_use avail_blocks")):
    """One size class of pymalloc, a row of its table: the class index, its block size in
    bytes, the pools it uses, the blocks in use and the free blocks in those pools. In a
    difference (compare_debugmallocstats()), the last three are differences."""

    __slots__ = ()

    @property
    def allocated_bytes(self):
        """Bytes of the blocks in use."""
        return self.blocks_in_use * self.size

    @property
    def available_bytes(self):
        """Bytes of the free blocks of the class's pools."""
        return self.avail_blocks * self.size


class DebugTypeStat(collections.namedtuple(
        "DebugTypeStat", "free_count object_type bytes_each bytes_total")):
    """A line of the free lists' section, "80 free PyListObjects * 40 bytes each = 3,200":
    free_count (80), object_type ("PyListObjects", as printed), bytes_each (the object's
    size, without its GC header) and bytes_total. In a difference, free_count and
    bytes_total are differences."""

    __slots__ = ()


class DebugMallocArenas(collections.namedtuple(
        "DebugMallocArenas", "ntimes_arena_allocated arenas_reclaimed narenas_highwater "
                             "narenas arena_size arenas_total")):
    """The arenas: allocated since startup, reclaimed (freed), the most at once, allocated
    now, the size of one (256 KiB on 2.7, 1 MiB on 3.x) and the bytes of those allocated
    now. A value missing from the report is None."""

    __slots__ = ()


class DebugMallocPoolsBlocks(collections.namedtuple(
        "DebugMallocPoolsBlocks", "allocated_bytes available_bytes numfreepools pool_size "
                                  "pool_header_bytes quantization arena_alignment total")):
    """What the arenas' bytes are: blocks in use, free blocks in used pools, free pools (and
    the size of a pool: 4 KiB on 2.7, 16 KiB on 3.x), pool headers, the ends of pools too
    small for a block (quantization), the padding that aligns an arena on pools, and their
    total (the arenas' bytes). A value missing from the report is None."""

    __slots__ = ()

    @property
    def unused_pool_total(self):
        """Bytes of the free pools, or None."""
        if self.numfreepools is None or self.pool_size is None:
            return None
        return self.numfreepools * self.pool_size


# The lines of the report (Objects/obmalloc.c: printone(), _PyDebugAllocatorStats()).
_HEADER = re.compile(r"^Small block threshold = (\d+), in (\d+) size classes\.$")
_TABLE_HEAD = re.compile(r"^class\s+size\s+num pools\s+blocks in use\s+avail blocks$")
_TABLE_RULE = re.compile(r"^[-\s]+$")
_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$")
_TYPE = re.compile(r"^\s*(\d+) free (.+?) \* (\d+) bytes each\s*=\s*([\d,]+)$")
_VALUE = re.compile(r"^(\S.*?)\s*=\s*([\d,]+)$")
_ARENAS = re.compile(r"^(\d+) arenas \* (\d+) bytes/arena$")
_POOLS = re.compile(r"^(\d+) unused pools \* (\d+) bytes$")

_ARENA_LABELS = {
    "# arenas allocated total": "ntimes_arena_allocated",
    "# arenas reclaimed": "arenas_reclaimed",
    "# arenas highwater mark": "narenas_highwater",
    "# arenas allocated current": "narenas",
}
_POOL_LABELS = {
    "# bytes in allocated blocks": "allocated_bytes",
    "# bytes in available blocks": "available_bytes",
    "# bytes lost to pool headers": "pool_header_bytes",
    "# bytes lost to quantization": "quantization",
    "# bytes lost to arena alignment": "arena_alignment",
}
# 3.10+ (the radix tree that tells pymalloc's blocks from others): its nodes and their bytes.
_ARENA_MAP_LABELS = {
    "# arena map mid nodes": "mid_nodes",
    "# arena map bot nodes": "bot_nodes",
    "# bytes lost to arena map root": "root_bytes",
    "# bytes lost to arena map mid": "mid_bytes",
    "# bytes lost to arena map bot": "bot_bytes",
}

# Serializes the captures of this process: each moves file descriptor 2.
_CAPTURE_LOCK = _thread.allocate_lock()


def _engine_figures():
    """What the tracer knows besides the report: a dict of ``tracing`` (bool), ``traced``
    (bytes traced now, None when not tracing), ``freelists`` ((size, count) parked on the
    free lists since tracing started: None without free-list hooks or when not tracing) and
    ``tracer`` (get_tracemalloc_memory())."""
    tracing = tracemalloc.is_tracing()
    freelists = tracemalloc.get_freelist_memory() if tracing else None
    return {
        "tracing": tracing,
        "traced": tracemalloc.get_traced_memory()[0] if tracing else None,
        "freelists": tuple(freelists) if freelists is not None else None,
        "tracer": tracemalloc.get_tracemalloc_memory(),
    }


def _unavailable_reason():
    if not hasattr(sys, "_debugmallocstats"):
        return ("Python %d.%d has no sys._debugmallocstats() (only its debug builds print "
                "pymalloc's statistics, at exit with PYTHONMALLOCSTATS=1; pytracemalloc's "
                "2.7 patch 0005 adds it)" % sys.version_info[:2])
    return "sys._debugmallocstats is not the interpreter's builtin function"


def _capture(into=None, figures_after=False):
    """[text or None, reason or None, engine figures]: one capture, tracing suspended. The
    text is what sys._debugmallocstats() wrote to file descriptor 2, moved for the call to
    a temporary file; None (and the reason) when the interpreter has no such function.

    So that two captures differ by nothing of their own, the first allocates what it keeps
    before its call (in both reports) and the second after its call (in neither): the
    tracer's figures are read just before the call, or just after it with *figures_after*,
    and the result is written into the list *into* (3 items) when given.

    Not safe against other threads: whatever another thread writes to file descriptor 2
    (sys.stderr included) during the call goes into the capture, and is lost."""
    with _suspended():
        import tempfile
        with _CAPTURE_LOCK:
            stream = tempfile.TemporaryFile()
            try:
                if sys.stderr is not None:
                    sys.stderr.flush()
                try:
                    saved = os.dup(2)
                except OSError:  # no file descriptor 2
                    saved = None
                if not figures_after:
                    figures = _engine_figures()
                os.dup2(stream.fileno(), 2)
                try:
                    called = tracemalloc._engine.debug_malloc_stats()
                finally:
                    if saved is not None:
                        os.dup2(saved, 2)
                        os.close(saved)
                    else:
                        os.close(2)
                stream.seek(0)
                data = stream.read()
            finally:
                stream.close()
        if figures_after:
            figures = _engine_figures()
        if into is None:
            into = [None, None, None]
        if called:
            into[0], into[1], into[2] = data, None, figures
        else:
            into[0], into[1], into[2] = None, _unavailable_reason(), figures
        return into


def get_debugmallocstats():
    """The report that sys._debugmallocstats() writes to the C stderr, captured, as bytes;
    None when the interpreter has no such function (a 2.7 without our patch 0005).

    Runs with tracing suspended, and while tracing with pymalloc as the object allocator for
    the call (else pymalloc's part would be missing). File descriptor 2 goes to a temporary
    file during the call: what another thread writes to stderr meanwhile is lost."""
    return _capture()[0]


def _to_text(data):
    if isinstance(data, bytes) and not _PY2:
        return data.decode("ascii", "replace")
    return data


def _number(text):
    return int(text.replace(",", ""))


class SysDebugMallocStats(object):
    """A report of sys._debugmallocstats(), parsed.

    ``SysDebugMallocStats()`` captures one now (get_debugmallocstats(), with the tracer's
    figures of the same moment); ``SysDebugMallocStats(text)`` parses *text* (bytes or str:
    a saved report, e.g. one that a debug build of Python 2.7 writes at exit with
    PYTHONMALLOCSTATS=1; with several reports, the last one).

    Attributes (None or empty when the report lacks them):

    - ``small_block_threshold``, ``size_classes``: the header's numbers (512 and 32 for
      pymalloc on 2.7 and 3.x; mimalloc prints its own);
    - ``malloc_stats``: the size classes that have pools, a list of DebugMallocStat;
    - ``arenas``: DebugMallocArenas; ``pools_blocks``: DebugMallocPoolsBlocks;
      ``arena_map``: dict of the arena map's nodes and bytes (3.x: ``mid_nodes``,
      ``bot_nodes``, ``root_bytes``, ``mid_bytes``, ``bot_bytes``, ``total``);
      ``malloc_calls``: "# times object malloc called" (debug builds only);
    - ``type_stats``: the free lists' section, a list of DebugTypeStat (3.x: dict, float,
      list, tuple per size, and on 3.13 dict keys; none on 2.7 and the "disabled"
      variant);
    - ``unknown_lines``: the lines the parser does not know (e.g. mimalloc's), as they are;
    - ``text``: the whole report (str);
    - ``engine``: for a capture, the tracer's figures taken with it, a dict of ``tracing``,
      ``traced`` (bytes traced, None when not tracing), ``freelists`` ((size, count) of
      the blocks parked on every hooked free list since tracing started, their whole blocks:
      None without free-list hooks, i.e. not the "track" variant, or when not tracing) and
      ``tracer`` (get_tracemalloc_memory()); None for a parsed text;
    - ``unavailable``: why a capture has no report (None when it has one).
    """

    __module__ = "tracemalloc"

    def __init__(self, debug_malloc=None):
        self.engine = None
        self.unavailable = None
        if debug_malloc is None:
            debug_malloc, self.unavailable, self.engine = _capture()
            if debug_malloc is None:
                debug_malloc = b""
        self.text = _to_text(debug_malloc)
        self._parse(self.text)

    def _parse(self, text):
        self.small_block_threshold = self.size_classes = None
        self.malloc_stats = []
        self.type_stats = []
        self.type_map = {}
        self.arenas = self.pools_blocks = self.arena_map = None
        self.malloc_calls = None
        self.unknown_lines = []
        lines = text.splitlines()
        headers = [index for index, line in enumerate(lines) if _HEADER.match(line.strip())]
        if len(headers) > 1:  # a log of several reports: the last one
            self.unknown_lines.extend(line for line in lines[:headers[-1]] if line.strip())
            lines = lines[headers[-1]:]
        arenas = {}
        pools = {}
        arena_map = None
        section = None
        for line in lines:
            stripped = line.strip()
            if not stripped or _TABLE_RULE.match(stripped) or _TABLE_HEAD.match(stripped):
                continue
            match = _HEADER.match(stripped)
            if match:
                self.small_block_threshold = int(match.group(1))
                self.size_classes = int(match.group(2))
                continue
            match = _ROW.match(line)
            if match:
                self.malloc_stats.append(DebugMallocStat(*[int(v) for v in match.groups()]))
                continue
            match = _TYPE.match(line)
            if match:
                self.type_map[match.group(2)] = len(self.type_stats)
                self.type_stats.append(DebugTypeStat(
                    int(match.group(1)), match.group(2), int(match.group(3)),
                    _number(match.group(4))))
                continue
            if stripped == "arena map counts":
                section = "arena_map"
                arena_map = {}
                continue
            match = _VALUE.match(stripped)
            if match and self._value(match.group(1), _number(match.group(2)), section,
                                     arenas, pools, arena_map):
                if match.group(1) in _ARENA_LABELS or _ARENAS.match(match.group(1)):
                    section = "arenas"
                elif section != "arena_map":
                    section = "pools"
                continue
            self.unknown_lines.append(line)
        if arenas:
            self.arenas = DebugMallocArenas(*[arenas.get(name)
                                              for name in DebugMallocArenas._fields])
        if pools:
            self.pools_blocks = DebugMallocPoolsBlocks(*[pools.get(name) for name in
                                                         DebugMallocPoolsBlocks._fields])
        self.arena_map = arena_map

    def _value(self, label, value, section, arenas, pools, arena_map):
        """Record the line "label = value"; False if the label is unknown."""
        if label == "# times object malloc called":
            self.malloc_calls = value
        elif label in _ARENA_LABELS:
            arenas[_ARENA_LABELS[label]] = value
        elif label in _POOL_LABELS:
            pools[_POOL_LABELS[label]] = value
        elif _ARENAS.match(label):
            arenas["arena_size"] = int(_ARENAS.match(label).group(2))
            arenas["arenas_total"] = value
        elif _POOLS.match(label):
            match = _POOLS.match(label)
            pools["numfreepools"] = int(match.group(1))
            pools["pool_size"] = int(match.group(2))
        elif label == "Total" and section == "arena_map":
            arena_map["total"] = value
        elif label == "Total":
            pools["total"] = value
        elif label in _ARENA_MAP_LABELS and arena_map is not None:
            arena_map[_ARENA_MAP_LABELS[label]] = value
        else:
            return False
        return True

    # pymemtrace's lookups of the free lists' section, by the type as printed
    # ("PyListObjects", "2-sized PyTupleObjects").

    def object_types(self):
        """The types of the free lists' section."""
        return self.type_map.keys()

    def has_object_type(self, object_type):
        return object_type in self.type_map

    def type_stat(self, object_type):
        """The DebugTypeStat of *object_type*; KeyError if the report has none."""
        return self.type_stats[self.type_map[object_type]]

    @property
    def has_pymalloc(self):
        """True if the report has pymalloc's arenas and pools (False without a report, with
        PYTHONMALLOC=malloc or mimalloc)."""
        return self.arenas is not None and self.pools_blocks is not None

    @property
    def pymalloc_free(self):
        """Bytes of pymalloc's arenas that hold no block in use and may be resident: free
        blocks of used pools, free pools, pool headers and the ends of pools too small for a
        block (quantization); the arenas' total minus the blocks in use and minus the arena
        alignment, the part of each arena before its first pool and after its last, which
        is never written (so never resident). None without pymalloc's section."""
        pools = self.pools_blocks
        if pools is None or pools.total is None or pools.allocated_bytes is None:
            return None
        return pools.total - pools.allocated_bytes - (pools.arena_alignment or 0)

    def why_no_pymalloc(self):
        """Why the report has no pymalloc section, a sentence; None if it has one."""
        if self.has_pymalloc:
            return None
        if self.unavailable is not None:
            return self.unavailable
        return ("the report has no pymalloc arenas: pymalloc is not the object allocator "
                "(PYTHONMALLOC=malloc or mimalloc?)")

    def as_dict(self):
        """The parsed report as builtins (for JSON): lists of dicts for the rows, dicts for
        the sections (None when missing)."""
        def row(item):
            return dict(zip(item._fields, item))
        return {
            "small_block_threshold": self.small_block_threshold,
            "size_classes": self.size_classes,
            "malloc_stats": [row(item) for item in self.malloc_stats],
            "arenas": row(self.arenas) if self.arenas is not None else None,
            "pools_blocks": row(self.pools_blocks) if self.pools_blocks is not None else None,
            "arena_map": dict(self.arena_map) if self.arena_map is not None else None,
            "malloc_calls": self.malloc_calls,
            "type_stats": [row(item) for item in self.type_stats],
            "unknown_lines": list(self.unknown_lines),
            "engine": dict(self.engine) if self.engine is not None else None,
            "unavailable": self.unavailable,
        }

    def __repr__(self):
        if self.has_pymalloc:
            what = "%s arenas, %d size classes in use, %s bytes in blocks in use" % (
                self.arenas.narenas, len(self.malloc_stats),
                self.pools_blocks.allocated_bytes)
        else:
            what = "no pymalloc statistics"
        return "<SysDebugMallocStats: %s>" % what


# -- differences ------------------------------------------------------------------------------

# The order of the text, and the labels of the printed report.
_ARENA_FIELDS = [("ntimes_arena_allocated", "# arenas allocated total"),
                 ("arenas_reclaimed", "# arenas reclaimed"),
                 ("narenas_highwater", "# arenas highwater mark"),
                 ("narenas", "# arenas allocated current")]
_POOL_FIELDS = [("allocated_bytes", "# bytes in allocated blocks"),
                ("available_bytes", "# bytes in available blocks"),
                ("numfreepools", None),
                ("pool_header_bytes", "# bytes lost to pool headers"),
                ("quantization", "# bytes lost to quantization"),
                ("arena_alignment", "# bytes lost to arena alignment"),
                ("total", "Total")]
_ENGINE_FIELDS = [("traced", "# bytes traced"),
                  ("freelists_size", "# bytes parked on free lists"),
                  ("freelists_count", "# blocks parked on free lists"),
                  ("tracer", "# bytes of the tracer")]


def _field_changes(fields, old, new):
    """{field: new - old} of the fields that changed and are known on both sides."""
    changes = {}
    if old is None or new is None:
        return changes
    for name in fields:
        before, after = getattr(old, name), getattr(new, name)
        if before is not None and after is not None and after != before:
            changes[name] = after - before
    return changes


def _engine_values(stats):
    engine = stats.engine or {}
    freelists = engine.get("freelists")
    return {"traced": engine.get("traced"), "tracer": engine.get("tracer"),
            "freelists_size": freelists[0] if freelists is not None else None,
            "freelists_count": freelists[1] if freelists is not None else None}


def compare_debugmallocstats(a_stats, b_stats):
    """The differences from SysDebugMallocStats *a_stats* to *b_stats*, as data, only what
    changed:

    - ``malloc_stats``: DebugMallocStat rows of differences (num_pools, blocks_in_use,
      avail_blocks), by class index, for the classes that changed (a class missing on one
      side counts as empty there);
    - ``arenas``, ``pools_blocks``: {field: difference} (fields of DebugMallocArenas,
      DebugMallocPoolsBlocks; arena_size, pool_size, arenas_total are left out: the first
      two never change, the third follows narenas);
    - ``type_stats``: DebugTypeStat rows of differences (free_count, bytes_total), in the
      order of the report, a type missing on one side counting 0 there;
    - ``engine``: {"traced", "freelists_size", "freelists_count", "tracer": difference},
      where both captures know the value;
    - ``pymalloc``: False when either side has no pymalloc section, then ``why`` says why.
    """
    classes = {}
    for stat in a_stats.malloc_stats:
        classes[stat.block_class] = [stat, None]
    for stat in b_stats.malloc_stats:
        classes.setdefault(stat.block_class, [None, None])[1] = stat
    malloc_stats = []
    for index in sorted(classes):
        old, new = classes[index]
        size = (new or old).size
        old = old or DebugMallocStat(index, size, 0, 0, 0)
        new = new or DebugMallocStat(index, size, 0, 0, 0)
        row = DebugMallocStat(index, size, new.num_pools - old.num_pools,
                              new.blocks_in_use - old.blocks_in_use,
                              new.avail_blocks - old.avail_blocks)
        if row[2:] != (0, 0, 0):
            malloc_stats.append(row)

    type_stats = []
    order = [stat.object_type for stat in a_stats.type_stats]
    order += [stat.object_type for stat in b_stats.type_stats if stat.object_type not in
              a_stats.type_map]
    for object_type in order:
        old = a_stats.type_stat(object_type) if a_stats.has_object_type(object_type) else None
        new = b_stats.type_stat(object_type) if b_stats.has_object_type(object_type) else None
        each = (new or old).bytes_each
        count = (new.free_count if new else 0) - (old.free_count if old else 0)
        total = (new.bytes_total if new else 0) - (old.bytes_total if old else 0)
        if count or total:
            type_stats.append(DebugTypeStat(count, object_type, each, total))

    old_engine, new_engine = _engine_values(a_stats), _engine_values(b_stats)
    engine = {}
    for name, label in _ENGINE_FIELDS:
        if old_engine[name] is not None and new_engine[name] is not None:
            if new_engine[name] != old_engine[name]:
                engine[name] = new_engine[name] - old_engine[name]

    why = a_stats.why_no_pymalloc() or b_stats.why_no_pymalloc()
    return {
        "pymalloc": why is None,
        "why": why,
        "malloc_stats": malloc_stats,
        "arenas": _field_changes([name for name, label in _ARENA_FIELDS],
                                 a_stats.arenas, b_stats.arenas),
        "pools_blocks": _field_changes([name for name, label in _POOL_FIELDS],
                                       a_stats.pools_blocks, b_stats.pools_blocks),
        "type_stats": type_stats,
        "engine": engine,
    }


def _printone(label, value):
    """A line as CPython's printone() writes it, with a signed value: the label padded to
    35 columns, "=", the value right-aligned in 21 columns with thousands separators."""
    return "%-35s=%21s" % (label, "{0:+,}".format(value))


def diff_debugmallocstats(a_stats, b_stats):
    """The differences from SysDebugMallocStats *a_stats* to *b_stats* as lines of text
    shaped like the report, with signs, only what changed (compare_debugmallocstats()): the
    size classes, the arenas, the pools and blocks, the free lists' section, then a section
    "tracemalloc" of the tracer's figures (traced bytes, bytes and blocks parked on free
    lists, the tracer's memory). When either side has no pymalloc section, the first line
    says why."""
    changes = compare_debugmallocstats(a_stats, b_stats)
    lines = []
    if not changes["pymalloc"]:
        lines.append("No pymalloc statistics: %s" % changes["why"])
    if changes["malloc_stats"]:
        lines.append("class   size   num pools   blocks in use  avail blocks")
        lines.append("-----   ----   ---------   -------------  ------------")
        for row in changes["malloc_stats"]:
            lines.append("%5d %6d %+11d %+15d %+13d" % row)
    block = []
    arenas = changes["arenas"]
    for name, label in _ARENA_FIELDS:
        if name in arenas:
            block.append(_printone(label, arenas[name]))
    if "narenas" in arenas:
        size = b_stats.arenas.arena_size
        if size is not None:
            block.append(_printone("%+d arenas * %d bytes/arena" % (arenas["narenas"], size),
                                   arenas["narenas"] * size))
    if block:
        lines.extend([""] + block)
    block = []
    pools = changes["pools_blocks"]
    for name, label in _POOL_FIELDS:
        if name not in pools:
            continue
        if name == "numfreepools":
            size = b_stats.pools_blocks.pool_size
            if size is not None:
                block.append(_printone("%+d unused pools * %d bytes" % (pools[name], size),
                                       pools[name] * size))
        else:
            block.append(_printone(label, pools[name]))
    if block:
        lines.extend([""] + block)
    if changes["type_stats"]:
        lines.append("")
        for row in changes["type_stats"]:
            lhs = "%+d free %s * %d bytes each" % (row.free_count, row.object_type,
                                                   row.bytes_each)
            lines.append("%48s =%21s" % (lhs, "{0:+,}".format(row.bytes_total)))
    engine = changes["engine"]
    block = [_printone(label, engine[name]) for name, label in _ENGINE_FIELDS
             if name in engine]
    if block:
        lines.extend(["", "tracemalloc"] + block)
    if lines and not lines[0]:
        del lines[0]
    return lines


class DiffSysDebugMallocStats(object):
    """Compare pymalloc's statistics before and after a block of code, or each call of a
    function: a context manager and a decorator::

        with tracemalloc.DiffSysDebugMallocStats() as malloc_diff:
            data = [str(i) for i in range(100000)]
        print(malloc_diff.diff())

        @tracemalloc.DiffSysDebugMallocStats(file=sys.stderr)
        def load(): ...

    ``before`` and ``after`` are the SysDebugMallocStats of the two captures (of the last
    call of a decorated function); diff() is the text of diff_debugmallocstats(), only what
    changed; changes() the same as data (compare_debugmallocstats()). With ``file`` set
    (constructor argument or attribute), the text is written there at each exit as well.
    Not reentrant: a block that enters the same instance again (a recursive decorated
    function) replaces its ``before``.

    The captures run with tracing suspended; what they keep (the reports' text) is the
    tracer's memory until ``before`` and ``after`` are parsed, at their first use, after the
    block: so the parsing is in neither capture. Each capture itself allocates and frees a
    few small objects, so an empty block shows a few blocks in a few size classes.
    """

    __module__ = "tracemalloc"

    def __init__(self, file=None):
        self.file = file
        # [text, reason, figures] of each capture (_capture()), parsed at first use; made
        # here, so that entering allocates nothing that the capture on exit would see
        self._raw = [[None, None, None], [None, None, None]]
        self._done = [False, False]
        self._parsed = [None, None]

    def __enter__(self):
        with _suspended():
            self._parsed[0] = self._parsed[1] = None
            self._done[1] = False
            _capture(self._raw[0])
            self._done[0] = True
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        with _suspended():
            _capture(self._raw[1], figures_after=True)
            self._done[1] = True
            if self.file is not None:
                self.file.write(self.diff() + "\n")
                self.file.flush()
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return wrapper

    def _stats(self, index):
        if self._parsed[index] is None and self._done[index]:
            text, reason, figures = self._raw[index]
            stats = SysDebugMallocStats(text if text is not None else b"")
            stats.unavailable = reason
            stats.engine = figures
            self._parsed[index] = stats
        return self._parsed[index]

    @property
    def before(self):
        """SysDebugMallocStats captured on entering, or None before the first entry."""
        return self._stats(0)

    @property
    def after(self):
        """SysDebugMallocStats captured on exit, or None before the first exit."""
        return self._stats(1)

    def _check(self):
        if not self._done[0]:
            raise RuntimeError("DiffSysDebugMallocStats: the context manager was not entered")
        if not self._done[1]:
            raise RuntimeError("DiffSysDebugMallocStats: the context manager was not exited")

    def diff(self):
        """The differences from ``before`` to ``after`` as text (diff_debugmallocstats());
        RuntimeError before the block was entered and exited."""
        self._check()
        return "\n".join(diff_debugmallocstats(self.before, self.after))

    def changes(self):
        """The differences from ``before`` to ``after`` as data
        (compare_debugmallocstats())."""
        self._check()
        return compare_debugmallocstats(self.before, self.after)
