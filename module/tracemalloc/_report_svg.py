"""Memory over time as a standalone SVG image (``python -m tracemalloc --plot FILE``): the
series of the report's first chart (traced memory, process RSS, free lists, the tracer's
memory) against time since the first snapshot or the snapshot number, with axes in binary
units, a legend and a title. Written by hand: no library, no script in the image.

render(report) takes the dict of tracemalloc/_report.py and returns the SVG as text. Optional
keys, for the process log of tracemalloc.process (tracemalloc/_process_plot.py): ``heading``
(the title line, instead of "Memory over time (N snapshots)"), ``x_origin`` (what the time
is counted from, instead of "the first snapshot") and ``marks``, a list of {"x", "label"}
drawn as labelled vertical lines at those times, with a tick on the time axis.
"""
from __future__ import absolute_import, division

import math

WIDTH = 960
HEIGHT = 440
MARGIN_LEFT = 90
MARGIN_RIGHT = 30
MARGIN_TOP = 50
MARGIN_BOTTOM = 110  # the x axis label and the legend
COLORS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948")
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def _escape(text):
    return (text.replace(u"&", u"&amp;").replace(u"<", u"&lt;").replace(u">", u"&gt;")
            .replace(u'"', u"&quot;"))


def _nice_step(span, ticks):
    """A step of 1, 2 or 5 times a power of ten giving about *ticks* intervals on *span*."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def size_axis(maximum):
    """(unit name, bytes per unit, tick values in bytes) for sizes from 0 to *maximum*."""
    unit = 0
    while unit < len(_UNITS) - 1 and maximum >= 1024 ** (unit + 1):
        unit += 1
    scale = 1024 ** unit
    top = maximum / scale
    if top <= 0:
        return _UNITS[0], 1, [0, 1]
    step = _nice_step(top, 5)
    ticks = [k * step * scale for k in range(int(math.ceil(top / step - 1e-9)) + 1)]
    return _UNITS[unit], scale, ticks


def time_axis(span):
    """(unit name, seconds per unit, tick values in seconds) for 0 to *span* seconds."""
    if span > 7200:
        unit, scale = "h", 3600.0
    elif span > 120:
        unit, scale = "min", 60.0
    else:
        unit, scale = "s", 1.0
    step = _nice_step(span / scale, 8) if span > 0 else 1.0
    ticks = []
    value = 0.0
    while value <= span / scale * 1.0000001:
        ticks.append(value * scale)
        value += step
    return unit, scale, ticks


def _format_tick(value):
    if value == int(value):
        return u"%d" % value
    return (u"%.2f" % value).rstrip(u"0").rstrip(u".")


def render(report):
    """The SVG image of the memory of *report* over time, as text."""
    xs = report["x"]
    series = report["memory"]
    is_time = report["x_kind"] == "time"
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    x_min, x_max = (xs[0], xs[-1]) if xs else (0, 0)
    if is_time:
        x_unit, x_scale, x_ticks = time_axis(x_max - x_min)
        x_title = u"time since %s (%s), %s" % (report.get("x_origin", u"the first snapshot"),
                                              report["start"], x_unit)
    else:
        x_scale = 1.0
        step = max(1, int(_nice_step(max(x_max, 1), 8)))
        x_ticks = list(range(0, int(x_max) + 1, step))
        x_title = u"snapshot number"
    if x_max == x_min:
        x_min, x_max = x_min - 1, x_max + 1
    values = [value for item in series for value in item["values"] if value is not None]
    y_unit, y_scale, y_ticks = size_axis(max(values) if values else 0)
    y_max = y_ticks[-1] if y_ticks and y_ticks[-1] > 0 else 1

    def px(x):
        return MARGIN_LEFT + (x - x_min) / (x_max - x_min) * plot_w

    def py(y):
        return MARGIN_TOP + plot_h - y / y_max * plot_h

    out = []
    add = out.append
    add(u'<?xml version="1.0" encoding="UTF-8"?>')
    add(u'<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
        u'font-family="sans-serif" font-size="12">' % (WIDTH, HEIGHT, WIDTH, HEIGHT))
    add(u'<title>%s</title>' % _escape(u"Memory over time: " + report["title"]))
    add(u'<rect width="100%" height="100%" fill="white"/>')
    heading = report.get("heading")
    if heading is None:
        heading = u"Memory over time (%d snapshot%s)" % (len(xs), u"s" if len(xs) > 1 else u"")
        if report.get("sample_bytes"):
            heading += u", traced memory estimated (sampling mode)"
    add(u'<text x="%d" y="28" font-size="16" font-weight="bold">%s</text>'
        % (MARGIN_LEFT, _escape(heading)))
    # grid and y axis
    for tick in y_ticks:
        y = py(tick)
        add(u'<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e5e5"/>'
            % (MARGIN_LEFT, y, MARGIN_LEFT + plot_w, y))
        add(u'<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s %s</text>'
            % (MARGIN_LEFT - 8, y, _format_tick(tick / y_scale), y_unit))
    # x axis
    base = MARGIN_TOP + plot_h
    add(u'<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>'
        % (MARGIN_LEFT, base, MARGIN_LEFT + plot_w, base))
    add(u'<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>'
        % (MARGIN_LEFT, MARGIN_TOP, MARGIN_LEFT, base))
    for tick in x_ticks:
        x = px(tick)
        label = _format_tick(tick / x_scale) if is_time else u"%d" % (tick + 1)
        add(u'<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333"/>' % (x, base, x, base + 5))
        add(u'<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (x, base + 19, label))
    add(u'<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
        % (MARGIN_LEFT + plot_w / 2, base + 40, _escape(x_title)))
    add(u'<text transform="translate(18,%.1f) rotate(-90)" text-anchor="middle">memory (%s)'
        u'</text>' % (MARGIN_TOP + plot_h / 2, y_unit))
    # the marks: a dashed line at each time, its label written upwards beside it
    for mark in report.get("marks", ()):
        x = px(mark["x"])
        add(u'<g class="mark">')
        add(u'<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#555" stroke-dasharray="4,3"/>'
            % (x, MARGIN_TOP, x, base))
        add(u'<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#555" stroke-width="3"/>'
            % (x, base - 4, x, base + 4))
        add(u'<text x="%.1f" y="%d" transform="rotate(-90 %.1f %d)" text-anchor="end" '
            u'font-size="11" fill="#333">%s</text>'
            % (x - 4, MARGIN_TOP + 4, x - 4, MARGIN_TOP + 4, _escape(mark["label"])))
        add(u'</g>')
    # the series: a gap where a snapshot has no value
    for index, item in enumerate(series):
        color = COLORS[index % len(COLORS)]
        runs = []
        current = []
        for x, y in zip(xs, item["values"]):
            if y is None:
                if current:
                    runs.append(current)
                current = []
            else:
                current.append(u"%.1f,%.1f" % (px(x), py(y)))
        if current:
            runs.append(current)
        add(u'<g class="series" id="series-%s">' % _escape(item["id"]))
        for run in runs:
            if len(run) == 1:
                cx, cy = run[0].split(u",")
                add(u'<circle cx="%s" cy="%s" r="3" fill="%s"/>' % (cx, cy, color))
            else:
                add(u'<polyline fill="none" stroke="%s" stroke-width="2" '
                    u'stroke-linejoin="round" points="%s"/>' % (color, u" ".join(run)))
        add(u'</g>')
    # legend
    legend_y = base + 70
    x = MARGIN_LEFT
    for index, item in enumerate(series):
        color = COLORS[index % len(COLORS)]
        add(u'<rect x="%d" y="%d" width="14" height="4" fill="%s"/>' % (x, legend_y - 6, color))
        add(u'<text x="%d" y="%d">%s</text>' % (x + 20, legend_y, _escape(item["label"])))
        x += 40 + 7 * len(item["label"])
    add(u'</svg>')
    return u"\n".join(out) + u"\n"
