"""Text for people: DisplayTop's sizes (_format_top_size), ANSI colors and when to use them,
file names shortened for display, writing to a stream whose encoding cannot hold a file
name (the codec error handler "tracemalloc.escape"), and the progress line of long work on
a terminal (_Progress). Used by DisplayTop, DisplayGarbage and the command line.
"""
from __future__ import absolute_import

import codecs
import os
import time

from tracemalloc._compat import _PY2, _native
from tracemalloc._types import _UNITS

_COLOR_BOLD = "\x1b[1m%s\x1b[0m"
_COLOR_CYAN = "\x1b[36m%s\x1b[0m"
_COLOR_YELLOW = "\x1b[1;33m%s\x1b[0m"


def _format_top_size(size, sign=False):
    """Format a number of bytes as an integer and a binary unit.

    Rule: start in bytes; while the (truncated) value is at least 10 * 1024 and a bigger unit
    exists, divide it by 1024, truncating, and take the next unit of B, KiB, MiB, GiB, TiB.
    So the printed number is below 10240 except in TiB, and it is never rounded up::

        0 -> "0 B"    10239 -> "10239 B"    10240 -> "10 KiB"    1048576 -> "1024 KiB"
        10 MiB - 1 -> "10239 KiB"    10 MiB -> "10 MiB"

    A negative size is formatted by its absolute value with a "-" sign; with *sign*, a "+"
    is written for zero and positive sizes ("+0 B", "+408 KiB").
    """
    value = abs(size)
    unit = 0
    while value >= 10 * 1024 and unit < len(_UNITS) - 1:
        value //= 1024
        unit += 1
    if size < 0:
        value = -value
    if sign:
        return "%+d %s" % (value, _UNITS[unit])
    return "%d %s" % (value, _UNITS[unit])


def _is_terminal(stream):
    """True if *stream* is a terminal (False for a closed or unusual stream)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except Exception:
        return False


def _default_color(stream):
    """Colors by default only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    return _is_terminal(stream)


def _escape_unencodable(exc):
    """Codec error handler "tracemalloc.escape": what an encoding cannot hold becomes \\xNN,
    \\uNNNN or \\UNNNNNNNN; a byte of a file name that was not UTF-8 (which Python 3 decodes
    to U+DC80..U+DCFF) becomes \\xNN, that byte."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    escaped = []
    for char in exc.object[exc.start:exc.end]:
        code = ord(char)
        if 0xdc80 <= code <= 0xdcff:
            code -= 0xdc00
        escaped.append(u"\\x%02x" % code if code < 0x100 else
                       u"\\u%04x" % code if code < 0x10000 else u"\\U%08x" % code)
    return u"".join(escaped), exc.end


codecs.register_error("tracemalloc.escape", _escape_unencodable)


def _write_text(stream, text):
    """stream.write(text), escaping what the stream's encoding cannot hold instead of raising
    UnicodeEncodeError: a file name that is not ASCII, or not UTF-8, written to a stdout
    whose encoding is ASCII (PYTHONIOENCODING=ascii, a C locale) or strict UTF-8. The
    encoding fails before anything is written, so nothing is written twice."""
    try:
        stream.write(text)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        escaped = text.encode(encoding, "tracemalloc.escape")
        # Python 2: a file takes the bytes as they are
        stream.write(escaped if _PY2 else escaped.decode(encoding))


def _display_filename(filename):
    """Python 2: a unicode file name (of a snapshot written by Python 3, or made by hand) as
    the native str the other names are (UTF-8, surrogates back to bytes), so that lines
    mixing both can be joined and written as bytes."""
    return _native(filename) if _PY2 else filename


def _shorten_filename(filename, parts):
    """Keep the last *parts* components of *filename*, prefixed by ".../".

    Only shortens when the name has more than *parts* components; *parts* < 1 disables it.
    """
    if not parts or parts < 1:
        return filename
    seps = [os.sep]
    if os.altsep:
        seps.append(os.altsep)
    normalized = filename
    for sep in seps[1:]:
        normalized = normalized.replace(sep, seps[0])
    components = normalized.split(seps[0])
    if len(components) <= parts:
        return filename
    return seps[0].join(["..."] + components[-parts:])


def _terminal_width(stream, default=80):
    """Columns of the terminal *stream* (COLUMNS wins, as in shutil.get_terminal_size())."""
    try:
        return max(int(os.environ["COLUMNS"]), 20)
    except (KeyError, ValueError):
        pass
    try:
        import fcntl
        import struct
        import termios
        rows, columns = struct.unpack("hh", fcntl.ioctl(stream.fileno(), termios.TIOCGWINSZ,
                                                        b"1234"))
        if columns > 0:
            return max(columns, 20)
    except Exception:  # not a terminal, not Unix
        pass
    return default


class _Progress(object):
    """A progress line of long work, rewritten in place on *stream* (stderr) and only when
    *stream* is a terminal: never in a pipe, a file or a log.

    step(text, long_step) announces the next step. The line appears at the first step that
    starts *delay* seconds or more after the first one, or at once for a step the caller
    knows to be long (a large file): a run that ends quickly prints nothing. done() erases
    it; call it before writing anything else to *stream* (an error line). The text is cut
    to the terminal's width, so that the line never wraps."""

    def __init__(self, stream, delay=0.5, clock=time.time):
        self.stream = stream
        self.enabled = _is_terminal(stream)
        self.delay = delay
        self.clock = clock
        self.start = None
        self.shown = False

    def step(self, text, long_step=False):
        if not self.enabled:
            return
        now = self.clock()
        if self.start is None:
            self.start = now
        if not (self.shown or long_step or now - self.start >= self.delay):
            return
        width = _terminal_width(self.stream) - 1
        if len(text) > width:
            text = "..." + text[len(text) - width + 3:]
        _write_text(self.stream, "\r\x1b[K" + text)
        self.stream.flush()
        self.shown = True

    def done(self):
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False
