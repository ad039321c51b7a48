"""The compact format of snapshot files, written by default.

A 40-byte header with a version field, then a body (zlib-compressed) of sections: META (a
small pickle of builtins for the metadata), STRS (the strings), FRMS, TBKS and TRCS (the
frames, tracebacks and traces as columns of integers) and STAT (the statistics).
doc/internals.rst, "Snapshot files", has the byte layout. Version 2 (written) stores the
distinct traces and an index per trace; version 1 (still read) a row per trace. The
per-trace work is done by the engine's C loops trace_table(), table_traces() and
build_traces() when they are in use (tracemalloc/_accel.py), else by Python twins made of
map(), dicts and arrays.
"""
from __future__ import absolute_import

import array
import operator
import struct
import sys
import zlib

from tracemalloc import _accel
from tracemalloc._checks import (_check_attributes, _check_metadata, _check_optional_int,
                                _new_data)
from tracemalloc._compat import _PY2, _dumps, _map, _native, _zip
from tracemalloc._errors import _Problem, _one_line, _safe_repr
from tracemalloc._unpickler import _load_pickle


COMPACT_MAGIC = b"\x89TMS\r\n\x1a\n"
COMPACT_VERSION = 2  # written; version 1 is still read
_READ_VERSIONS = (1, 2)


def _typecode(size, signed):
    for code in ("bhilq" if signed else "BHILQ"):
        try:
            if array.array(code).itemsize == size:
                return code
        except ValueError:  # no "q"/"Q" on Python 2
            continue
    raise ImportError("no array type of %d bytes" % size)


_U32 = _typecode(4, False)
_I32 = _typecode(4, True)
_U64 = _typecode(8, False)
_BIG_ENDIAN = sys.byteorder == "big"
_HEADER = struct.Struct("<8sIIQQII")
_SECTION = struct.Struct("<4sQ")
_COUNT = struct.Struct("<I")
_TRCS_HEAD = struct.Struct("<III")  # version 2: traces, distinct traces, index width
_NONE_NFRAME = -1
_GET0, _GET1, _GET2, _GET3 = (operator.itemgetter(index) for index in range(4))
_INDEX_CODES = {1: "B", 2: "H", 4: _U32}
_Z_HUFFMAN_ONLY = getattr(zlib, "Z_HUFFMAN_ONLY", 2)
_Z_DEFAULT = getattr(zlib, "Z_DEFAULT_STRATEGY", 0)


def _array(code, values=()):
    """An array of *code* from an iterable of ints: OverflowError or TypeError if one does
    not fit or is not an int."""
    result = array.array(code)
    result.extend(values)
    return result


def _array_bytes(values):
    if _BIG_ENDIAN:
        values = array.array(values.typecode, values)
        values.byteswap()
    return values.tostring() if _PY2 else values.tobytes()


def _encode_text(text):
    if _PY2:
        return text.encode("utf-8") if isinstance(text, unicode) else text  # noqa: F821
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _decode_text(raw):
    if _PY2:
        return raw
    for errors in ("strict", "surrogatepass", "surrogateescape"):
        try:
            return raw.decode("utf-8", errors)
        except UnicodeDecodeError:
            continue
    raise AssertionError("surrogateescape decodes any bytes")


class _NotCompact(Exception):
    """The snapshot holds a value out of the compact format's ranges."""


def _trace_table_py(traces):
    """The twin of the engine's trace_table() (module/engine/columns.c), same result: the
    traceback objects (one per object and total_nframe, first seen first), the columns of the
    distinct traces (domain, size, traceback index, total_nframe) as bytes, the index column
    and its width (0: the columns hold every trace in order). _NotCompact if a value does
    not fit."""
    tb_of = {}
    objects = []
    row_of = {}
    rows = []
    index = []
    for domain, size, frames, nframe in traces:
        if nframe is None:
            nframe = _NONE_NFRAME
        tb_key = (id(frames), nframe)
        tb = tb_of.get(tb_key)
        if tb is None:
            tb = tb_of[tb_key] = len(objects)
            objects.append(frames)
        key = (domain, tb, size)
        row = row_of.get(key)
        if row is None:
            row = row_of[key] = len(rows)
            rows.append((domain, size, tb, nframe))
        index.append(row)
    width = 0 if 2 * len(rows) > len(index) else _index_width(len(rows))
    if not width:
        rows = list(_map(rows.__getitem__, index))
        index = []
    try:
        columns = [_array_bytes(_array(code, _map(getter, rows)))
                   for code, getter in zip((_U32, _U64, _U32, _I32), (_GET0, _GET1, _GET2, _GET3))]
    except (OverflowError, TypeError):
        raise _NotCompact()
    if rows and min(row[3] for row in rows) < _NONE_NFRAME:
        raise _NotCompact()
    index = _array_bytes(_array(_INDEX_CODES[width], index)) if width else b""
    return [objects] + columns + [index, width]


def _index_width(rows):
    return 1 if rows <= 0x100 else 2 if rows <= 0x10000 else 4


def _trace_sections(traces, intern):
    """The FRMS, TBKS and TRCS sections of *traces*, and the index column of TRCS (None when
    the traces are not indexed); _NotCompact if a value does not fit."""
    # The per-trace work is the engine's trace_table() (C), else its twin in Python: a
    # million traces become some thousands of distinct ones and an index of one or two bytes
    # per trace, which zlib compresses in a few milliseconds. Tracebacks are numbered by
    # object, then merged by value.
    table = None
    if _accel.use_c() and type(traces) is list:
        table = _accel.trace_table(traces)
    if table is None:
        table = _trace_table_py(traces)
    objects, domains, sizes, tb_indexes, nframes, index, width = table

    tb_by_value = {}
    merged = []  # index of each object -> index of its value
    tb_lengths = []
    tb_frames = []
    frame_index = {}
    frame_files = []
    frame_lines = []
    for frames in objects:
        index_of_value = tb_by_value.get(frames)
        if index_of_value is None:
            index_of_value = tb_by_value[frames] = len(tb_lengths)
            tb_lengths.append(len(frames))
            for frame in frames:
                findex = frame_index.get(frame)
                if findex is None:
                    filename, lineno = frame
                    findex = frame_index[frame] = len(frame_files)
                    frame_files.append(intern(filename))
                    frame_lines.append(lineno)
                tb_frames.append(findex)
        merged.append(index_of_value)
    if merged != list(range(len(merged))):  # equal tracebacks, distinct objects
        values = _array_from_bytes(_U32, tb_indexes)
        tb_indexes = _array_bytes(_array(_U32, _map(merged.__getitem__, values)))
    try:
        frame_columns = [_array(_U32, frame_files), _array(_I32, frame_lines)]
    except (OverflowError, TypeError):
        raise _NotCompact()
    return [(b"FRMS", [_COUNT.pack(len(frame_files))]
             + [_array_bytes(column) for column in frame_columns]),
            (b"TBKS", [_COUNT.pack(len(tb_lengths)), _array_bytes(_array(_U32, tb_lengths)),
                       _array_bytes(_array(_U32, tb_frames))]),
            (b"TRCS", [_TRCS_HEAD.pack(len(traces), len(domains) // 4, width), domains, sizes,
                       tb_indexes, nframes, index])], (index if width else None)


def _array_from_bytes(code, raw):
    """The array of type *code* of the little-endian bytes *raw*."""
    values = array.array(code)
    if _PY2:
        values.fromstring(raw)
    else:
        values.frombytes(raw)
    if _BIG_ENDIAN:
        values.byteswap()
    return values


def _write_compact(data, compress=True):
    strings = []
    string_index = {}

    def intern(text):
        index = string_index.get(text)
        if index is None:
            index = string_index[text] = len(strings)
            strings.append(text)
        return index

    sections = []
    traces = data["traces"]
    index_column = None
    if traces is not None:
        trace_sections, index_column = _trace_sections(traces, intern)
        sections.extend(trace_sections)
    if data["stats"] is not None:
        files = []
        lines = []
        sizes = []
        counts = []
        for filename, file_stats in data["stats"].items():
            findex = intern(filename)
            for lineno, (size, count) in file_stats.items():
                files.append(findex)
                lines.append(lineno)
                sizes.append(size)
                counts.append(count)
        try:
            columns = [_array(_U32, files), _array(_I32, lines), _array(_U64, sizes),
                       _array(_U64, counts)]
        except (OverflowError, TypeError):
            raise _NotCompact()
        sections.append((b"STAT", [_COUNT.pack(len(files))]
                         + [_array_bytes(column) for column in columns]))
    encoded = [_encode_text(text) for text in strings]
    sections.insert(0, (b"STRS", [_COUNT.pack(len(encoded)),
                                  _array_bytes(_array(_U32, [len(raw) for raw in encoded])),
                                  b"".join(encoded)]))
    meta = {
        "pid": data["pid"], "timestamp": data["timestamp"],
        "process_memory": data["process_memory"],
        "tracemalloc_memory": data["tracemalloc_memory"],
        "user_data": [tuple(item) for item in data["user_data"]],
        "traceback_limit": data["traceback_limit"], "attributes": data["attributes"],
    }
    sections.insert(0, (b"META", [_dumps(meta, 2)]))

    # The index column of the traces (random indexes, in the order of the engine's table)
    # is compressed apart, by Huffman coding only; the rest at level 1.
    segments = [[]]
    for tag, parts in sections:
        segments[-1].append(_SECTION.pack(tag, sum(len(part) for part in parts)))
        for part in parts:
            if part is index_column:
                segments += [[part], []]
            else:
                segments[-1].append(part)
    segments = [b"".join(segment) for segment in segments]
    body = b"".join(segments)
    flags = 0
    stored = body
    if compress:
        flags |= 1
        stored = _deflate(segments, [len(segments) == 3 and number == 1
                                     for number in range(len(segments))])
    header = _HEADER.pack(COMPACT_MAGIC, COMPACT_VERSION, flags, len(stored), len(body),
                          zlib.crc32(body) & 0xffffffff, 0)
    return header + stored


def _deflate(segments, huffman):
    """One zlib stream of the concatenation of *segments* (bytes), each compressed by a
    compressor of its own: at level 1, or by Huffman coding only (no search for repeated
    strings) where *huffman* says so. Every segment but the last ends with a sync flush
    (byte-aligned, not final), so their raw deflate data simply follow one another, as
    pigz joins its pieces; the zlib header and the Adler-32 of the whole body surround
    them. The reader sees an ordinary zlib stream.

    Why: the trace index column of 1.5 million traces (3 MB of 2-byte indexes of no
    repeating pattern) took zlib's level 1 68 ms, Huffman coding only 28 ms, for a file
    6% larger; level 1 stays for the rest (strings, frames, tracebacks), where repeated
    strings pay."""
    chunks = [b"\x78\x01"]  # deflate, 32 KiB window, the fastest level; no dictionary
    adler = 1
    for number, segment in enumerate(segments):
        last = number == len(segments) - 1
        compressor = zlib.compressobj(1, zlib.DEFLATED, -15, 8,
                                      _Z_HUFFMAN_ONLY if huffman[number] else _Z_DEFAULT)
        chunks.append(compressor.compress(segment))
        chunks.append(compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH))
        adler = zlib.adler32(segment, adler)
    chunks.append(struct.pack(">I", adler & 0xffffffff))
    return b"".join(chunks)


class _Reader(object):
    """Bounds-checked reads from a section's payload."""

    def __init__(self, data, what):
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, size):
        if size > len(self.data) - self.pos:
            raise _Problem("corrupt file (the %s section is too short)" % self.what)
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def count(self):
        return _COUNT.unpack(self.take(4))[0]

    def array(self, code, count):
        return _array_from_bytes(code, self.take(count * array.array(code).itemsize))

    def done(self):
        if self.pos != len(self.data):
            raise _Problem("corrupt file (%d unexpected bytes in the %s section)"
                           % (len(self.data) - self.pos, self.what))


def _check_indexes(values, limit, what):
    if len(values) and max(values) >= limit:
        raise _Problem("corrupt file (an index out of range in the %s section)" % what)


def _ints(values):
    """Python 2: the items of an array of unsigned ints are longs; make them ints, as the
    engine returns them. Read as signed ints of the same width (whose items are ints) when
    no value has the sign bit, which is the usual case and ten times faster."""
    if not _PY2:
        return values
    signed = array.array(values.typecode.lower(), values.tostring())
    if not len(signed) or min(signed) >= 0:
        return signed
    return list(_map(int, values))


def _compact_header(raw):
    """The fields of the compact header at the start of *raw*, checked."""
    if len(raw) < _HEADER.size:
        raise _Problem("truncated file (incomplete header)")
    fields = _HEADER.unpack(raw[:_HEADER.size])
    version, flags = fields[1], fields[2]
    if version not in _READ_VERSIONS:
        raise _Problem("unsupported compact snapshot format version %d (this pytracemalloc "
                       "reads versions %s)" % (version, " and ".join(map(str, _READ_VERSIONS))))
    if flags & ~1:
        raise _Problem("unsupported compact snapshot flags 0x%x" % flags)
    return fields


def _read_compact(raw, reserved):
    magic, version, flags, stored_size, body_size, crc, _ = _compact_header(raw)
    stored = raw[_HEADER.size:]
    if len(stored) < stored_size:
        raise _Problem("truncated file (%d of %d bytes)" % (len(raw), _HEADER.size
                                                            + stored_size))
    if len(stored) > stored_size:
        raise _Problem("corrupt file (%d bytes of garbage after the data)"
                       % (len(stored) - stored_size))
    if flags & 1:
        # zlib expands at most about 1032 times: refuse a larger size before allocating it
        if body_size > 1100 * stored_size + 1024:
            raise _Problem("corrupt file (impossible uncompressed size)")
        decompressor = zlib.decompressobj()
        try:
            body = decompressor.decompress(stored, body_size + 1)
        except zlib.error as exc:
            raise _Problem("corrupt file (%s)" % _one_line(str(exc)))
        if (len(body) != body_size or not getattr(decompressor, "eof", True)
                or decompressor.unconsumed_tail or decompressor.unused_data):
            raise _Problem("corrupt file (wrong uncompressed size)")
    else:
        if stored_size != body_size:
            raise _Problem("corrupt file (wrong sizes in the header)")
        body = stored
    if zlib.crc32(body) & 0xffffffff != crc:
        raise _Problem("corrupt file (checksum mismatch)")

    sections = {}
    pos = 0
    while pos < len(body):
        if len(body) - pos < _SECTION.size:
            raise _Problem("corrupt file (incomplete section header)")
        tag, size = _SECTION.unpack(body[pos:pos + _SECTION.size])
        pos += _SECTION.size
        if size > len(body) - pos:
            raise _Problem("corrupt file (a section goes past the end)")
        if tag in sections:
            raise _Problem("corrupt file (two %s sections)" % _safe_repr(tag))
        sections[tag] = body[pos:pos + size]
        pos += size
    for tag in sections:
        if tag not in (b"META", b"STRS", b"FRMS", b"TBKS", b"TRCS", b"STAT"):
            if tag[:1].islower():
                continue  # an optional section of a later version
            raise _Problem("unsupported section %s" % _safe_repr(tag))
    for tag in (b"META", b"STRS"):
        if tag not in sections:
            raise _Problem("corrupt file (no %s section)" % tag.decode("ascii"))
    has_traces = [tag in sections for tag in (b"FRMS", b"TBKS", b"TRCS")]
    if any(has_traces) and not all(has_traces):
        raise _Problem("corrupt file (incomplete trace sections)")
    if not any(has_traces) and b"STAT" not in sections:
        raise _Problem("invalid snapshot: it has neither stats nor traces")

    meta = _load_meta(sections[b"META"])
    result = _new_data()
    if not isinstance(meta, dict):
        raise _Problem("invalid snapshot: the metadata is not a dict")
    meta = dict((_native(key), value) for key, value in meta.items())
    expected = ("pid", "timestamp", "process_memory", "tracemalloc_memory", "user_data",
                "traceback_limit", "attributes")
    if set(meta) != set(expected):
        raise _Problem("invalid snapshot: wrong metadata keys")
    _check_metadata(meta, result)
    result["traceback_limit"] = _check_optional_int("traceback_limit", meta["traceback_limit"])
    result["attributes"] = _check_attributes(meta["attributes"], reserved)

    reader = _Reader(sections[b"STRS"], "STRS")
    count = reader.count()
    lengths = reader.array(_U32, count)
    if sum(lengths) != len(reader.data) - reader.pos:
        raise _Problem("corrupt file (wrong string lengths)")
    strings = []
    pos = reader.pos
    for length in lengths:
        strings.append(_decode_text(reader.data[pos:pos + length]))
        pos += length

    if all(has_traces):
        reader = _Reader(sections[b"FRMS"], "FRMS")
        count = reader.count()
        files = reader.array(_U32, count)
        lines = reader.array(_I32, count)
        reader.done()
        _check_indexes(files, len(strings), "FRMS")
        frames = list(_zip(_map(strings.__getitem__, files), lines))

        reader = _Reader(sections[b"TBKS"], "TBKS")
        count = reader.count()
        lengths = reader.array(_U32, count)
        total = sum(lengths)
        frame_indexes = reader.array(_U32, total)
        reader.done()
        _check_indexes(frame_indexes, len(frames), "TBKS")
        tracebacks = []
        pos = 0
        get_frame = frames.__getitem__
        for length in lengths:
            tracebacks.append(tuple(_map(get_frame, frame_indexes[pos:pos + length])))
            pos += length

        reader = _Reader(sections[b"TRCS"], "TRCS")
        if version >= 2:
            result["traces"] = _read_trace_table(reader, tracebacks)
        else:
            result["traces"] = _read_trace_columns(reader, tracebacks)

    if b"STAT" in sections:
        reader = _Reader(sections[b"STAT"], "STAT")
        count = reader.count()
        files = reader.array(_U32, count)
        lines = reader.array(_I32, count)
        sizes = _ints(reader.array(_U64, count))
        counts = _ints(reader.array(_U64, count))
        reader.done()
        _check_indexes(files, len(strings), "STAT")
        stats = {}
        for findex, lineno, size, count in _zip(files, lines, sizes, counts):
            stats.setdefault(strings[findex], {})[lineno] = (size, count)
        result["stats"] = stats
    return result


def _read_trace_columns(reader, tracebacks):
    """The traces of a TRCS section of version 1: a column per field, a row per trace."""
    count = reader.count()
    columns = [reader.take(count * width) for width in (4, 8, 4, 4)]
    reader.done()
    if _accel.use_c():
        try:
            return _accel.build_traces(tracebacks, *columns)
        except ValueError as exc:
            raise _Problem("corrupt file (%s in the TRCS section)" % exc)
    domains, sizes, tb_indexes, nframes = [
        _array_from_bytes(code, column)
        for code, column in zip((_U32, _U64, _U32, _I32), columns)]
    return _rows(tracebacks, domains, sizes, tb_indexes, nframes)


def _rows(tracebacks, domains, sizes, tb_indexes, nframes):
    _check_indexes(tb_indexes, len(tracebacks), "TRCS")
    if len(nframes) and min(nframes) < _NONE_NFRAME:
        raise _Problem("corrupt file (a negative total_nframe in the TRCS section)")
    if len(nframes) and min(nframes) == _NONE_NFRAME:
        nframes = [None if value == _NONE_NFRAME else value for value in nframes]
    return list(_zip(_ints(domains), _ints(sizes), _map(tracebacks.__getitem__, tb_indexes),
                     nframes))


def _read_trace_table(reader, tracebacks):
    """The traces of a TRCS section of version 2: the distinct traces (a column per field)
    and the index of each trace's distinct trace (width bytes each; width 0: the distinct
    traces are every trace, in order). Equal traces share one tuple."""
    count, rows, width = _TRCS_HEAD.unpack(reader.take(_TRCS_HEAD.size))
    if width not in (0, 1, 2, 4) or (width == 0 and rows != count):
        raise _Problem("corrupt file (a wrong index width in the TRCS section)")
    columns = [reader.take(rows * size) for size in (4, 8, 4, 4)]
    index = reader.take(count * width)
    reader.done()
    if _accel.use_c():
        try:
            return _accel.table_traces(tracebacks, count, *(columns + [index, width]))
        except ValueError as exc:
            raise _Problem("corrupt file (%s in the TRCS section)" % exc)
    table = _rows(tracebacks, *[_array_from_bytes(code, column)
                                for code, column in zip((_U32, _U64, _U32, _I32), columns)])
    if not width:
        return table
    index = _array_from_bytes(_INDEX_CODES[width], index)
    _check_indexes(index, len(table), "TRCS")
    return list(_map(table.__getitem__, index))


def _load_meta(raw):
    if raw[:2] != b"\x80\x02":
        raise _Problem("corrupt file (the metadata is not a pickle of protocol 2)")
    return _load_pickle(raw)
