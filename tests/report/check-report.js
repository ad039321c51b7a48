#!/usr/bin/env node
// Opens an HTML report of `python -m tracemalloc --html` in headless Chromium and checks what a
// person would: no console error, no page error, no request leaves the file; the memory and
// top-lines charts, the table and the flame graph have their elements; a flame frame zooms
// when clicked; the search box highlights the matching frames; the flame graph switches to
// the peak and to the growth between two snapshots; then writes a screenshot.
//
// Usage: node tests/report/check-report.js REPORT.html SCREENSHOT.png [EXPECT.json]
// EXPECT.json (all optional):
//   {"functions": [names that some flame frame of the last snapshot must show],
//    "search": "a term that must highlight frames",
//    "growth_functions": [names that the growth flame graph (first -> last) must show],
//    "peak_functions": [names that the flame graph of the peak must show],
//    "peak_title": "a text that the title of the peak's flame graph must hold",
//    "table_filter": "a term that the table filter must keep some rows for",
//    "min_rows": N, "max_bytes": N, "timeout_ms": N,
//    "leaks": false (the section must stay hidden) or {"min_rows": N, "functions": [names
//             that rows of the leak table must show]}}
// Prints one JSON line {"ok": bool, "load_ms": N, "failures": [...], "checks": N} and exits
// 0 when every check passed, 1 when one failed, 2 for a usage error or a missing
// playwright-core or browser.
// Environment: CHROMIUM (default /usr/bin/chromium); NODE_PATH must reach playwright-core.
'use strict';

const fs = require('fs');
const path = require('path');

function usage(message) {
  process.stderr.write('check-report: ' + message + '\n');
  process.exit(2);
}

const [reportPath, screenshotPath, expectPath] = process.argv.slice(2);
if (!reportPath || !screenshotPath) usage('usage: check-report.js REPORT.html SCREENSHOT.png [EXPECT.json]');
const expect = expectPath ? JSON.parse(fs.readFileSync(expectPath, 'utf8')) : {};
let chromium;
try {
  chromium = require('playwright-core').chromium;
} catch (error) {
  usage('cannot load playwright-core (NODE_PATH=' + (process.env.NODE_PATH || '') + '): ' + error.message);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(executablePath)) usage('no browser at ' + executablePath);

const failures = [];
let checks = 0;
function check(condition, message) {
  checks += 1;
  if (!condition) failures.push(message);
  return condition;
}

async function frames(page) {
  // [{name, width, fill}] of the flame graph's frames drawn now
  return page.$$eval('#flame-chart g.frame', (nodes) => nodes.map((g) => {
    const rect = g.querySelector('rect');
    return { name: g.getAttribute('name'), width: +rect.getAttribute('width'), fill: rect.getAttribute('fill') };
  }));
}

async function settle(page) {
  // d3-flame-graph animates for 250 ms, and writes the labels after it
  await page.waitForTimeout(700);
}

function hasName(list, name) {
  return list.some((frame) => frame.name && frame.name.indexOf(name) >= 0);
}

(async () => {
  const size = fs.statSync(reportPath).size;
  if (expect.max_bytes) check(size < expect.max_bytes, 'the report weighs ' + size + ' bytes, over ' + expect.max_bytes);
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu'] });
  let loadMs = null;
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = [];
    page.on('console', (message) => { if (message.type() === 'error') errors.push('console: ' + message.text()); });
    page.on('pageerror', (error) => errors.push('page error: ' + error.message));
    page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith('file:') && !url.startsWith('data:') && !url.startsWith('about:')) {
        errors.push('request: ' + url);
      }
    });
    const started = Date.now();
    await page.goto('file://' + path.resolve(reportPath));
    await page.waitForSelector('body[data-ready]', { timeout: expect.timeout_ms || 60000 });
    loadMs = Date.now() - started;
    await settle(page);

    // charts over time: uPlot draws on a canvas, one legend entry per series
    check(await page.$('#memory-chart canvas') !== null, 'no canvas in the memory chart');
    const memorySeries = await page.$$eval('#memory-chart .u-legend .u-series', (n) => n.length);
    check(memorySeries >= 2, 'the memory chart has ' + memorySeries + ' legend entries (x and at least the traced memory expected)');
    check(await page.$('#lines-chart canvas') !== null, 'no canvas in the top lines chart');
    await page.check('#lines-other');
    await page.waitForTimeout(100);
    check(await page.$('#lines-chart canvas') !== null, 'the top lines chart is gone after stacking the other lines');

    // the table: rows, sorting, filtering
    const rows = await page.$$eval('#lines-table tbody tr', (n) => n.length);
    check(rows >= (expect.min_rows || 1), 'the table has ' + rows + ' rows');
    await page.click('#lines-table th[data-key="last"]');
    const sorted = await page.$eval('#lines-table th[data-key="last"]', (th) => th.className);
    check(sorted.indexOf('sorted') >= 0, 'clicking a column does not sort by it');
    if (expect.table_filter) {
      await page.fill('#table-filter', expect.table_filter);
      const kept = await page.$$eval('#lines-table tbody tr', (n) => n.map((tr) => tr.cells[0].title + ' ' + tr.textContent));
      check(kept.length > 0 && kept.length < rows, 'the table filter "' + expect.table_filter + '" keeps ' + kept.length + ' of ' + rows + ' rows');
      const term = expect.table_filter.toLowerCase();
      check(kept.every((text) => text.toLowerCase().indexOf(term) >= 0), 'the table filter "' + expect.table_filter + '" keeps rows without it');
      await page.fill('#table-filter', '');
    }

    // the flame graph of the last snapshot
    let drawn = await frames(page);
    check(drawn.length > 0, 'the flame graph has no frame');
    for (const name of expect.functions || []) {
      check(hasName(drawn, name), 'no flame frame named "' + name + '" (frames: ' +
        drawn.slice(0, 30).map((f) => f.name).join(', ') + ')');
    }
    // the labels are written when the animation ends: wait for them (a loaded machine is slow)
    await page.waitForFunction(() => Array.prototype.some.call(
      document.querySelectorAll('#flame-chart g.frame foreignObject div'), (d) => d.textContent),
    null, { timeout: 15000 }).catch(() => null);
    const labels = await page.$$eval('#flame-chart g.frame foreignObject div', (n) => n.map((d) => d.textContent).filter(Boolean));
    check(labels.length > 0, 'the flame frames have no label');

    // zoom: a click on a frame gives it the whole width
    const full = drawn.reduce((max, f) => Math.max(max, f.width), 0);
    // (a frame narrower than the whole: the zoom must show)
    const target = (expect.functions || []).length
      ? drawn.find((f) => f.name.indexOf(expect.functions[0]) >= 0 && f.width < full - 1)
      : drawn.find((f) => f.width < full - 1);
    if (check(target !== undefined, 'no frame narrower than the graph to click')) {
      const before = target.width;
      await page.click('#flame-chart g.frame[name="' + target.name.replace(/"/g, '\\"') + '"]', { position: { x: 3, y: 3 } });
      await page.waitForFunction(([name, width]) => Array.prototype.some.call(
        document.querySelectorAll('#flame-chart g.frame'), (g) => g.getAttribute('name') === name &&
          +g.querySelector('rect').getAttribute('width') >= width - 1),
      [target.name, full], { timeout: 15000 }).catch(() => null);
      const after = (await frames(page)).filter((f) => f.name === target.name)
        .reduce((max, f) => Math.max(max, f.width), 0);
      check(after >= full - 1, 'a click on "' + target.name + '" (' + before + ' px) did not zoom it to ' + full + ' px: ' + after);
      await page.click('#flame-reset');
      await settle(page);
    }

    // search
    if (expect.search) {
      await page.fill('#flame-search', expect.search);
      await settle(page);
      const lit = (await frames(page)).filter((f) => f.fill && f.fill.toUpperCase() === '#E600E6');
      check(lit.length > 0, 'searching "' + expect.search + '" highlights no frame');
      const term = expect.search.toLowerCase();
      const wrong = lit.filter((f) => f.name.toLowerCase().indexOf(term) < 0);
      check(wrong.length === 0, 'searching "' + expect.search + '" highlights frames without it: ' + wrong.map((f) => f.name).join(', '));
      const details = await page.$eval('#flame-details', (d) => d.textContent);
      check(/matching frames/.test(details), 'the search says nothing: "' + details + '"');
      await page.fill('#flame-search', '');
      await settle(page);
      const still = (await frames(page)).filter((f) => f.fill && f.fill.toUpperCase() === '#E600E6');
      check(still.length === 0, 'an empty search leaves ' + still.length + ' frames highlighted');
    }

    // the peak, then the growth first -> last
    const lastTitle = await page.$eval('#flame-title', (p) => p.textContent);
    await page.selectOption('#flame-source', 'peak');
    await settle(page);
    const peakTitle = await page.$eval('#flame-title', (p) => p.textContent);
    check(/peak/.test(peakTitle) && peakTitle !== lastTitle, 'the peak source has the title "' + peakTitle + '"');
    drawn = await frames(page);
    check(drawn.length > 0, 'the flame graph of the peak has no frame');
    for (const name of expect.peak_functions || []) {
      check(hasName(drawn, name), 'no peak frame named "' + name + '" (frames: ' + drawn.slice(0, 30).map((f) => f.name).join(', ') + ')');
    }
    if (expect.peak_title) {
      check(peakTitle.indexOf(expect.peak_title) >= 0, 'the peak is "' + peakTitle + '", not "' + expect.peak_title + '"');
    }
    await page.selectOption('#flame-source', 'growth');
    await settle(page);
    check(await page.isVisible('#flame-from') && await page.isVisible('#flame-to'), 'the growth source shows no pair of snapshots');
    const growthTitle = await page.$eval('#flame-title', (p) => p.textContent);
    check(/growth/.test(growthTitle), 'the growth source has the title "' + growthTitle + '"');
    drawn = await frames(page);
    for (const name of expect.growth_functions || []) {
      check(hasName(drawn, name), 'no growth frame named "' + name + '" (frames: ' + drawn.slice(0, 30).map((f) => f.name).join(', ') + ')');
    }
    // the same snapshot on both sides: nothing grew
    const firstValue = await page.$eval('#flame-from', (s) => s.value);
    await page.selectOption('#flame-to', firstValue);
    await settle(page);
    check(await page.isVisible('#flame-empty'), 'the growth of a snapshot to itself is not empty');
    const toValues = await page.$$eval('#flame-to option', (n) => n.map((o) => o.value));
    await page.selectOption('#flame-to', toValues[toValues.length - 1]);
    await settle(page);

    // the leaks section, when the report has one
    const leaks = await page.$eval('#leaks', (s) => !s.hidden);
    if (expect.leaks === false) {
      check(!leaks, 'the leak section is shown');
    } else if (expect.leaks) {
      check(leaks, 'the leak section is hidden');
      const leakRows = await page.$$eval('#leaks-table tbody tr', (n) => n.map((tr) => tr.textContent));
      check(leakRows.length >= (expect.leaks.min_rows || 0),
        'the leak table has ' + leakRows.length + ' rows, at least ' + expect.leaks.min_rows + ' expected');
      for (const name of expect.leaks.functions || []) {
        check(leakRows.some((text) => text.indexOf(name) >= 0), 'no leak row names "' + name + '": ' + leakRows.join(' | '));
      }
      const summary = await page.$eval('#leaks-summary', (p) => p.textContent);
      check(summary.length > 0, 'the leak section has no summary');
    }

    await page.screenshot({ path: screenshotPath, fullPage: true });
    check(errors.length === 0, 'errors in the page: ' + errors.join(' | '));
  } finally {
    await browser.close();
  }
  const result = { ok: failures.length === 0, load_ms: loadMs, bytes: size, checks, failures };
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(result.ok ? 0 : 1);
})().catch((error) => {
  process.stdout.write(JSON.stringify({ ok: false, failures: [String(error && error.stack || error)] }) + '\n');
  process.exit(1);
});
