"""The sampling mode as the Python layer sees it: the weights of a sampled trace, the counts
estimated from them, the size syntax of ``PYTRACEMALLOC_SAMPLE`` and the header line that
says a result is an estimate.

Tracing started with ``start(nframe, sample_bytes=N)``, N > 0, records an allocation of s
bytes with probability p(s) = 1 - exp(-s/N) (module/engine/sample.h) and stores it with its
weighted size s / p(s), the bytes it stands for: every sum of sizes is then an unbiased
estimate, and the engine's sums need no change. A sampled block also stands for 1 / p(s)
blocks; that count weight is derived here from the weighted size w alone (s is the root of
s / p(s) = w, found by Newton's method), so:

- grouping raw traces (statistics(), compare_to(), stats) sums the count weight of each
  trace: the estimate of the number of blocks;
- statistics the engine already grouped (get_stats(), the peak's groups) only know the sum
  of the weighted sizes and the number of samples of a group: the count is estimated as if
  its samples had the group's mean size (exact when they have one size, as the blocks of
  one line often do).

Counts are rounded to the nearest integer. A snapshot says it is an estimate by its
``sample_bytes`` attribute (0 or absent: exact).
"""
from __future__ import absolute_import

import math
import re

from tracemalloc._compat import _TEXT_TYPES

__all__ = []

_SIZE = re.compile(r"^\s*([0-9]+)\s*([kKmMgG]?)(?:i?[bB])?\s*$")
_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}


def parse_size(text):
    """Bytes of *text*: a decimal integer with an optional suffix k, M or G (powers of 1024,
    case ignored, "KiB"/"kB"/"k" alike): "512k" is 524288. ValueError naming the syntax
    otherwise."""
    match = _SIZE.match(text) if isinstance(text, _TEXT_TYPES) else None
    if match is None:
        raise ValueError("invalid size %r (expected bytes as an integer, with an optional "
                         "suffix k, M or G: 512k)" % (text,))
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def weight(size, sample_bytes):
    """The weighted size of a sampled block of *size* bytes: size / (1 - exp(-size/N)),
    rounded as the engine rounds it (tm_sample_weight)."""
    if size == 0:
        return sample_bytes
    ratio = float(size) / sample_bytes
    if ratio > 40.0:
        return size
    return int(size / -math.expm1(-ratio) + 0.5)


def _block_size(weighted, sample_bytes):
    """The size s whose weighted size is *weighted*: the root of s - w * (1 - exp(-s/N)),
    found by Newton's method from above (the function is convex: the iterates decrease to
    the root). s <= w, and s <= 2 (w - N) since s / p(s) >= N + s / 2."""
    n = float(sample_bytes)
    w = float(weighted)
    s = min(w, 2.0 * (w - n))
    for _ in range(100):
        e = math.exp(-s / n)
        g = s - w * (1.0 - e)
        slope = 1.0 - w / n * e
        if slope <= 0.0:
            break
        step = g / slope
        s -= step
        if step < 1e-9 * s:
            break
    return s


def count_weight(weighted, sample_bytes, _cache={}):
    """The blocks a sampled trace of weighted size *weighted* stands for: 1 / p(s), >= 1.
    1 for a size that no sampled block has (below N + 1/2: a block the engine recorded
    without sampling it)."""
    key = (weighted, sample_bytes)
    result = _cache.get(key)
    if result is None:
        if weighted >= 40 * sample_bytes or weighted < sample_bytes + 0.5:
            result = 1.0
        else:
            s = _block_size(weighted, sample_bytes)
            result = max(1.0, weighted / s) if s > 0 else 1.0
        if len(_cache) > 100000:
            _cache.clear()
        _cache[key] = result
    return result


def estimate_count(size, count, sample_bytes):
    """The blocks a group of *count* samples of *size* weighted bytes stands for, as if its
    samples had the group's mean size; *count* itself in exact mode or for an empty group."""
    if not sample_bytes or count <= 0:
        return count
    return int(round(count * count_weight(float(size) / count, sample_bytes)))


def estimate_stats(stats, sample_bytes):
    """``{filename: {lineno: (size, count)}}`` with the counts of the engine's groups per
    line (samples) turned into estimates. *stats* itself in exact mode."""
    if not sample_bytes:
        return stats
    return dict((filename, dict((lineno, (size, estimate_count(size, count, sample_bytes)))
                                for lineno, (size, count) in lines.items()))
                for filename, lines in stats.items())


def group_traces(traces, key_type, cumulative, sample_bytes):
    """_grouping._group_traces() of a sampled snapshot: the same groups, sizes and order,
    with each trace counting for the blocks it stands for (rounded per group)."""
    from tracemalloc._grouping import _group_traces_py
    result = _group_traces_py(traces, key_type, cumulative,
                              lambda size: count_weight(size, sample_bytes))
    for group in result:
        group[2] = int(round(group[2]))
    return result


def stats_from_traces(traces, sample_bytes):
    """_grouping._stats_from_traces() of a sampled snapshot (estimated counts)."""
    stats = {}
    for key, size, count in group_traces(traces, "lineno", False, sample_bytes):
        filename, lineno = key[0] if key else ("<unknown>", 0)
        lines = stats.setdefault(filename, {})
        previous = lines.get(lineno)
        if previous is not None:
            size += previous[0]
            count += previous[1]
        lines[lineno] = (size, count)
    return stats


def header(sample_bytes):
    """The line that says a result is an estimate, or None in exact mode."""
    if not sample_bytes:
        return None
    return "estimated (sampled every %s bytes on average)" % (sample_bytes,)


def from_environment(environ, xoptions=None):
    """The sample_bytes that startup asks for: ``-X tracemalloc_sample=SIZE`` (3.x, in
    *xoptions*, sys._xoptions) or else ``PYTRACEMALLOC_SAMPLE``; 0 when unset or empty, else
    its size (parse_size; 0 means exact). ValueError naming the option or the variable for a
    bad value."""
    value = (xoptions or {}).get("tracemalloc_sample")
    name = "-X tracemalloc_sample"
    if value is None:
        value = environ.get("PYTRACEMALLOC_SAMPLE")
        name = "PYTRACEMALLOC_SAMPLE"
    if value is True:  # -X tracemalloc_sample, without "="
        raise ValueError("%s: a size is needed, for example -X tracemalloc_sample=512k" % name)
    if value is None or not value.strip():
        return 0
    try:
        return parse_size(value)
    except ValueError as exc:
        raise ValueError("%s: %s" % (name, exc))
