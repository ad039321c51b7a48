"""The HTML report as one self-contained file: the page, the report's data as JSON, and the
scripts and styles of tracemalloc/_report_assets/ inlined (uPlot, d3-flame-graph and our
report.js/report.css), so that it opens from a file with no network. A Content Security
Policy in the page forbids every fetch.

render(report) takes the dict of tracemalloc/_report.py (ReportBuilder.finish()) and returns
the page as text.
"""
from __future__ import absolute_import

import io
import json
import os

ASSETS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_report_assets")

# In the order they are inlined; the libraries' licences go into the page's footer.
STYLES = ("uPlot.min.css", "d3-flamegraph.css", "report.css")
SCRIPTS = ("uPlot.iife.min.js", "d3-flamegraph.min.js", "report.js")
LICENSES = (
    ("uPlot 1.6.32", "MIT", "LICENSE.uPlot"),
    ("d3-flame-graph 4.1.3", "Apache-2.0", "LICENSE.d3-flame-graph"),
    ("d3 7 modules bundled by d3-flame-graph (d3-array, d3-dispatch, d3-ease, d3-format, "
     "d3-hierarchy, d3-scale, d3-selection, d3-transition)", "ISC", "LICENSE.d3"),
)

# Nothing is fetched: scripts and styles are inline, images data: URLs.
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data:")


def asset(name):
    """The text of the asset *name* of tracemalloc/_report_assets/."""
    with io.open(os.path.join(ASSETS_DIR, name), encoding="utf-8") as fp:
        return fp.read()


def _escape(text):
    return (text.replace(u"&", u"&amp;").replace(u"<", u"&lt;").replace(u">", u"&gt;")
            .replace(u'"', u"&quot;"))


def _script(text):
    # "</script" cannot occur inside a script element: written "<\/script", the same
    # string or regular expression in JavaScript
    return text.replace(u"</script", u"<\\/script").replace(u"</SCRIPT", u"<\\/SCRIPT")


def _json(value):
    """JSON that can sit in an HTML script element: <, > and & only occur in strings, where
    their \\u escapes mean the same."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=True, sort_keys=True)
    return (text.replace(u"<", u"\\u003c").replace(u">", u"\\u003e")
            .replace(u"&", u"\\u0026"))


def _summary(report):
    snapshots = report["snapshots"]
    parts = [u"%d snapshot%s" % (len(snapshots), u"s" if len(snapshots) > 1 else u"")]
    first, last = snapshots[0], snapshots[-1]
    if first["timestamp"] and last["timestamp"]:
        parts.append(u"from %s to %s" % (first["timestamp"], last["timestamp"]))
    parts.append(u"files %s ... %s" % (first["name"], last["name"]) if len(snapshots) > 1
                 else u"file %s" % first["name"])
    if report.get("sample_bytes"):
        parts.append(u"sizes estimated (sampling mode)")
    return u", ".join(parts)


PAGE = u"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="%(csp)s">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="%(generator)s">
<title>%(title)s</title>
<style>
%(styles)s
</style>
</head>
<body>
<header>
<h1>%(title)s</h1>
<p class="summary">%(summary)s</p>
%(notes)s
</header>

<section id="memory">
<h2>Memory over time</h2>
<p class="hint">Traced memory (the blocks tracemalloc sees), the process's resident memory
(RSS), the memory parked on the interpreter's free lists and the tracer's own memory, as
recorded in each snapshot. Drag to zoom, double-click to zoom out.</p>
<div id="memory-chart"></div>
</section>

<section id="top-lines">
<h2>Top %(top)d lines over time</h2>
<p class="hint">The lines that allocated the most memory at their peak, stacked. The legend
gives each line's own size at the cursor.</p>
<div class="controls"><label><input type="checkbox" id="lines-other"> stack the other lines
too (up to the traced total)</label></div>
<div id="lines-chart"></div>
</section>

<section id="table">
<h2>Lines</h2>
<p class="hint">Memory allocated per line in the first and the last snapshot, its growth and
its peak over the series. Click a column to sort.</p>
<div class="controls"><input type="search" id="table-filter" placeholder="filter: file, line or function"
 aria-label="filter the lines"> <span id="table-count"></span></div>
<div class="table-wrap"><table id="lines-table"><tbody></tbody></table></div>
</section>

<section id="leaks" hidden>
<h2>Leaks</h2>
<p id="leaks-summary"></p>
<details class="hint"><summary>What counts as a leak</summary><pre>%(leaks_definition)s</pre></details>
<div class="table-wrap"><table id="leaks-table"><tbody></tbody></table></div>
</section>

<section id="flame">
<h2>Flame graph</h2>
<p class="hint">%(flame_hint)s Click a frame to zoom into it; search highlights the frames
whose function, file or line match.</p>
<div class="controls">
<label>Show <select id="flame-source">
<option value="last">the last snapshot</option>
<option value="peak">the peak</option>
<option value="growth">the growth between two snapshots</option>
</select></label>
<span id="flame-pair" hidden><label>from <select id="flame-from"></select></label>
<label>to <select id="flame-to"></select></label></span>
<input type="search" id="flame-search" placeholder="search: function, file or line" aria-label="search the flame graph">
<button type="button" id="flame-reset">reset zoom</button>
</div>
<p id="flame-title"></p>
<p id="flame-empty" class="hint" hidden>Nothing to show: no memory (or no growth) here.</p>
<div id="flame-chart"></div>
<div id="flame-details"></div>
</section>

<footer>
<p>Written by %(generator)s. This file is self-contained: it needs no network.</p>
<details><summary>Third-party licences</summary>
%(licenses)s
</details>
</footer>

<script type="application/json" id="report-data">%(data)s</script>
%(scripts)s
</body>
</html>
"""


def render(report):
    """The page of *report* (the dict of ReportBuilder.finish()), as text."""
    notes = report["notes"]
    flame = report["flame"]
    if flame["kind"] == "traceback":
        flame_hint = (u"By traceback: the root is the outermost frame, each frame's width the "
                      u"memory allocated under it.")
    else:
        flame_hint = (u"The snapshots have statistics per line, no traces: the graph goes "
                      u"from each file to its lines.")
    licenses = u"\n".join(
        u"<p>%s (%s)</p>\n<pre>%s</pre>" % (_escape(name), _escape(spdx), _escape(asset(path)))
        for name, spdx, path in LICENSES)
    leaks = report.get("leaks") or {}
    return PAGE % {
        "csp": CSP,
        "generator": _escape(report["generator"]),
        "title": _escape(report["title"]),
        "summary": _escape(_summary(report)),
        "notes": (u"<ul class=\"notes\">\n%s\n</ul>" % u"\n".join(
            u"<li>%s</li>" % _escape(note) for note in notes)) if notes else u"",
        "top": len(report["top_lines"]["lines"]),
        "leaks_definition": _escape(leaks.get("definition", u"")),
        "flame_hint": flame_hint,
        "licenses": licenses,
        "styles": u"\n".join(asset(name) for name in STYLES),
        "data": _json(report),
        "scripts": u"\n".join(u"<script>\n%s\n</script>" % _script(asset(name))
                              for name in SCRIPTS),
    }
