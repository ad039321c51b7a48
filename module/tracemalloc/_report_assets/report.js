/* The HTML report of pytracemalloc (tracemalloc/_report_html.py embeds this file): draws the
 * report data (the JSON of the element #report-data, made by tracemalloc/_report.py) with
 * uPlot (memory over time, the top lines over time), a table of lines (sorted, filtered),
 * the leak table when the report has one, and d3-flame-graph (last snapshot, peak, growth
 * between two snapshots). Plain ES5 plus what every current browser has; no network. */
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('report-data').textContent);
  var UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  var COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948',
    '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac', '#1f77b4', '#2ca02c', '#d62728',
    '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79'];

  /* -- formatting ----------------------------------------------------------------------- */

  // 3 significant digits and a binary unit, as the stdlib's Statistic: "12 B", "10.0 KiB"
  function fmtSize(size, sign) {
    if (size === null || size === undefined) return '-';
    var value = Math.abs(size);
    var unit = 0;
    while (value >= 10 * 1024 && unit < UNITS.length - 1) {
      value /= 1024;
      unit += 1;
    }
    var text = (unit > 0 && value < 100) ? value.toFixed(1) : value.toFixed(0);
    var prefix = size < 0 ? '-' : (sign ? '+' : '');
    return prefix + text + ' ' + UNITS[unit];
  }

  function fmtPercent(part, whole) {
    if (!whole) return '';
    return (100 * part / whole).toFixed(1) + '%';
  }

  var xIsTime = data.x_kind === 'time';
  var xSpan = data.x.length ? data.x[data.x.length - 1] - data.x[0] : 0;
  var xUnit = xSpan > 7200 ? [3600, 'h'] : (xSpan > 120 ? [60, 'min'] : [1, 's']);

  function fmtX(x) {
    if (x === null || x === undefined) return '-';
    if (!xIsTime) return '#' + (Math.round(x) + 1);
    return String(+(x / xUnit[0]).toFixed(2)) + ' ' + xUnit[1];
  }

  // the x ticks, with as many decimals as their step needs: "0 s", "0.005 s", "0.01 s"
  function xTicks(values) {
    if (!xIsTime) return values.map(fmtX);
    var step = values.length > 1 ? Math.abs(values[1] - values[0]) / xUnit[0] : 1;
    var digits = 0;
    while (digits < 4 && Math.abs(Math.round(step * Math.pow(10, digits)) - step * Math.pow(10, digits)) > 1e-6) {
      digits += 1;
    }
    return values.map(function (v) {
      return v === null ? '' : String(+(v / xUnit[0]).toFixed(digits)) + ' ' + xUnit[1];
    });
  }

  var xLabel = xIsTime ? 'time since the first snapshot (' + data.start + ')' : 'snapshot';

  function basename(path) {
    var parts = String(path).split(/[\\/]/);
    return parts[parts.length - 1];
  }

  // the last two components of a path: "pkg/module.py"
  function shortName(path) {
    var parts = String(path).split(/[\\/]/);
    return parts.slice(-2).join('/');
  }

  function lineName(item) {
    var where = item.line === null || item.line === undefined ? shortName(item.file)
      : shortName(item.file) + ':' + item.line;
    return item.scope ? item.scope + ' ' + where : where;
  }

  function snapshotName(index) {
    var snapshot = data.snapshots[index];
    var text = '#' + (index + 1) + ' ' + basename(snapshot.name);
    if (xIsTime) text += ' (' + fmtX(data.x[index]) + ')';
    return text;
  }

  function element(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    }
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /* -- charts over time (uPlot) --------------------------------------------------------- */

  // y ticks in binary units: 1, 2, 5, 10, 20, 50 ... of B, KiB, MiB, GiB
  var SIZE_INCRS = [];
  [1, 1024, 1048576, 1073741824, 1099511627776].forEach(function (unit) {
    [1, 2, 5, 10, 20, 50, 100, 200, 500].forEach(function (step) { SIZE_INCRS.push(unit * step); });
  });

  // axis ticks share one unit, the unit of their step (the steps are SIZE_INCRS): "0 KiB",
  // "200 KiB", ... "1400 KiB"; "0 MiB", "1 MiB", ... "6 MiB"
  function sizeTicks(values) {
    var step = values.length > 1 ? Math.abs(values[1] - values[0]) : Math.abs(values[0] || 0);
    var unit = 0;
    while (unit < UNITS.length - 1 && step >= Math.pow(1024, unit + 1)) unit += 1;
    var scale = Math.pow(1024, unit);
    return values.map(function (v) {
      return v === null ? '' : String(+(v / scale).toFixed(2)) + ' ' + UNITS[unit];
    });
  }

  // seconds: ticks at whole seconds, minutes, quarters of an hour, hours, days
  var TIME_INCRS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30,
    60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
  var INDEX_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000];

  function chartWidth(container) {
    return Math.max(400, (container.clientWidth || 900) - 10);
  }

  function timeChart(container, series, values, height, extra) {
    var xs = data.x;
    var opts = {
      width: chartWidth(container),
      height: height,
      series: [{ label: xIsTime ? 'time' : 'snapshot', value: function (u, v) { return fmtX(v); } }]
        .concat(series),
      scales: { x: { time: false } },
      axes: [
        { label: xLabel, values: function (u, vals) { return xTicks(vals); },
          incrs: xIsTime ? TIME_INCRS : INDEX_INCRS },
        { values: function (u, vals) { return sizeTicks(vals); }, size: 80, incrs: SIZE_INCRS }
      ],
      cursor: { drag: { x: true, y: false } }
    };
    if (xs.length === 1) opts.scales.x.range = [xs[0] - 1, xs[0] + 1];
    if (extra) Object.keys(extra).forEach(function (key) { opts[key] = extra[key]; });
    return new uPlot(opts, [xs].concat(values), container);
  }

  function drawMemory() {
    var container = document.getElementById('memory-chart');
    var points = data.x.length <= 60;
    var series = data.memory.map(function (item, index) {
      return {
        label: item.label,
        stroke: COLORS[index],
        width: 2,
        points: { show: points },
        value: function (u, v) { return fmtSize(v); }
      };
    });
    timeChart(container, series, data.memory.map(function (item) { return item.values; }), 320);
  }

  var linesPlot = null;

  function drawTopLines() {
    var container = document.getElementById('lines-chart');
    var top = data.top_lines;
    var withOther = document.getElementById('lines-other').checked;
    var own = top.lines.map(function (item) { return item.values; });
    var names = top.lines.map(lineName);
    if (withOther) {
      own = [top.other].concat(own);
      names = ['other lines'].concat(names);
    }
    // stacked: series i is the sum of series i..n-1, filled down to series i+1
    var n = own.length;
    var stacked = new Array(n);
    for (var i = n - 1; i >= 0; i--) {
      stacked[i] = own[i].map(function (value, x) {
        return value + (i + 1 < n ? stacked[i + 1][x] : 0);
      });
    }
    var series = names.map(function (name, index) {
      var color = withOther && index === 0 ? '#bbbbbb' : COLORS[(index - (withOther ? 1 : 0)) % COLORS.length];
      return {
        label: name,
        stroke: color,
        width: 1,
        fill: index === n - 1 ? color + 'cc' : undefined,
        value: function (u, v, seriesIndex, x) {
          return x === null || x === undefined ? '-' : fmtSize(own[seriesIndex - 1][x]);
        }
      };
    });
    var bands = [];
    for (var b = 0; b + 1 < n; b++) {
      bands.push({ series: [b + 1, b + 2], fill: series[b].stroke + 'cc' });
    }
    if (linesPlot) linesPlot.destroy();
    container.textContent = '';
    linesPlot = timeChart(container, series, stacked, 360, { bands: bands });
  }

  /* -- table of lines ------------------------------------------------------------------- */

  var TABLE_COLUMNS = [
    { key: 'name', title: 'Line', value: lineName, text: true },
    { key: 'first', title: 'First', value: function (r) { return r.first; }, size: true },
    { key: 'last', title: 'Last', value: function (r) { return r.last; }, size: true },
    { key: 'growth', title: 'Growth', value: function (r) { return r.last - r.first; }, size: true, sign: true },
    { key: 'growth_pct', title: 'Growth %', value: function (r) { return r.first ? (r.last - r.first) / r.first : (r.last ? Infinity : 0); },
      format: function (v) { return v === Infinity ? 'new' : (v > 0 ? '+' : '') + (100 * v).toFixed(1) + '%'; } },
    { key: 'peak', title: 'Peak', value: function (r) { return r.peak; }, size: true },
    { key: 'peak_at', title: 'Peak at', value: function (r) { return r.peak_at; },
      format: function (v) { return xIsTime ? fmtX(data.x[v]) : '#' + (v + 1); } },
    { key: 'count', title: 'Blocks (last)', value: function (r) { return r.count; },
      format: function (v) { return String(v); } }
  ];

  // the full place of a row: its file and line, or its traceback (oldest frame first)
  function cellTitle(row) {
    if (row.frames) return row.frames.map(function (f) { return f[0] + ':' + f[1]; }).join('\n');
    return row.line === null || row.line === undefined ? row.file : row.file + ':' + row.line;
  }

  function sortableTable(table, rows, columns, state, filterOf) {
    var thead = table.createTHead();
    var headRow = thead.insertRow();
    var body = table.tBodies[0] || table.appendChild(document.createElement('tbody'));
    columns.forEach(function (column) {
      var th = element('th', { 'data-key': column.key, scope: 'col' }, column.title);
      th.addEventListener('click', function () {
        if (state.key === column.key) state.desc = !state.desc;
        else { state.key = column.key; state.desc = !column.text; }
        render();
      });
      headRow.appendChild(th);
    });
    function render() {
      var column = columns.filter(function (c) { return c.key === state.key; })[0];
      var filter = filterOf ? filterOf() : null;
      var shown = rows.filter(function (row) { return !filter || filter(row); });
      shown.sort(function (a, b) {
        var va = column.value(a);
        var vb = column.value(b);
        var order = va < vb ? -1 : (va > vb ? 1 : 0);
        return state.desc ? -order : order;
      });
      Array.prototype.forEach.call(headRow.cells, function (th) {
        th.className = th.getAttribute('data-key') === state.key ? (state.desc ? 'sorted desc' : 'sorted asc') : '';
      });
      var fragment = document.createDocumentFragment();
      shown.forEach(function (row) {
        var tr = document.createElement('tr');
        columns.forEach(function (c) {
          var value = c.value(row);
          var text = c.size ? fmtSize(value, c.sign) : (c.format ? c.format(value) : value);
          var td = element('td', c.text ? { title: cellTitle(row) } : { 'class': 'num' }, text);
          if (c.sign && value > 0) td.className += ' grew';
          tr.appendChild(td);
        });
        fragment.appendChild(tr);
      });
      body.textContent = '';
      body.appendChild(fragment);
      return shown.length;
    }
    return render;
  }

  function drawTable() {
    var rows = data.table.rows;
    var input = document.getElementById('table-filter');
    var count = document.getElementById('table-count');
    var render = sortableTable(document.getElementById('lines-table'), rows, TABLE_COLUMNS,
      { key: 'growth', desc: true }, function () {
        var term = input.value.trim().toLowerCase();
        if (!term) return null;
        return function (row) {
          return (row.file + ':' + row.line + ' ' + (row.scope || '')).toLowerCase().indexOf(term) >= 0;
        };
      });
    function update() {
      var shown = render();
      count.textContent = shown + ' of ' + rows.length + ' lines shown' +
        (data.table.total_lines > rows.length ? ' (' + data.table.total_lines + ' lines in the series)' : '');
    }
    input.addEventListener('input', update);
    update();
  }

  /* -- leaks ---------------------------------------------------------------------------- */

  function drawLeaks() {
    var leaks = data.leaks;
    if (!leaks) return;
    document.getElementById('leaks').hidden = false;
    var what = { lineno: 'lines', filename: 'files', traceback: 'tracebacks' }[leaks.key_type];
    var summary = leaks.count ? leaks.count + ' leak' + (leaks.count > 1 ? 's' : '') + ' among ' +
      leaks.keys + ' ' + what + ', most likely first (score: growth \u00d7 R\u00b2 of a straight ' +
      'line fitted to the sizes against ' + (leaks.clock === 'index' ? 'the snapshot number' : 'time') + ').'
      : 'No leak among the ' + leaks.keys + ' ' + what + ' of the series.';
    document.getElementById('leaks-summary').textContent = summary;
    if (!leaks.count) {
      document.getElementById('leaks-table').hidden = true;
      return;
    }
    function number(v) { return String(v); }
    var columns = [
      { key: 'rank', title: '#', value: function (r) { return -r.rank; }, format: function (v) { return String(-v); } },
      { key: 'name', title: leaks.key_type === 'filename' ? 'File' : 'Line', value: lineName, text: true },
      { key: 'growth', title: 'Growth', value: function (r) { return r.growth; }, size: true, sign: true },
      { key: 'rate', title: 'Rate', value: function (r) { return r.rate; },
        format: function (v) { return fmtSize(v, true) + '/' + leaks.rate_unit; } },
      { key: 'grew', title: 'Grew in (of ' + leaks.intervals + ')', value: function (r) { return r.grew; }, format: number },
      { key: 'r2', title: 'R\u00b2', value: function (r) { return r.r2; }, format: function (v) { return v.toFixed(3); } },
      { key: 'first', title: 'First', value: function (r) { return r.first; }, size: true },
      { key: 'last', title: 'Last', value: function (r) { return r.last; }, size: true },
      { key: 'count_growth', title: 'Blocks', value: function (r) { return r.count_growth; },
        format: function (v) { return (v > 0 ? '+' : '') + v; } },
      { key: 'score', title: 'Score', value: function (r) { return r.score; }, size: true }
    ];
    var render = sortableTable(document.getElementById('leaks-table'), leaks.rows, columns,
      { key: 'rank', desc: true }, null);
    render();
  }

  /* -- flame graph (d3-flame-graph) ----------------------------------------------------- */

  var flameData = data.flame;
  var flameChart = null;

  function nodeName(index) {
    var node = flameData.nodes[index];
    if (index === 0) return 'all traced memory';
    if (node[1] === null) return node[3] === 'other' ? 'other' : '?';
    if (node[2] === null) return basename(node[1]);  // a file of a "lines" graph
    return (node[3] ? node[3] + ' ' : '') + basename(node[1]) + ':' + node[2];
  }

  function nodeWhere(index) {
    var node = flameData.nodes[index];
    if (index === 0) return 'all traced memory';
    if (node[1] === null) return 'smaller frames merged';
    return node[2] === null ? node[1] : node[1] + ':' + node[2];
  }

  function selfSizes(slot) {
    var sizes = new Float64Array(flameData.nodes.length);
    var values = flameData.values[slot];
    for (var i = 0; i < values.length; i += 2) sizes[values[i]] += values[i + 1];
    return sizes;
  }

  // The d3-flame-graph tree of self sizes *selfs* (nodes of no size left out); *net*, when
  // given, the growth of each node's subtree, shown in its label.
  function flameTree(selfs, net) {
    var nodes = flameData.nodes;
    var count = nodes.length;
    var inclusive = Float64Array.from(selfs);
    for (var i = count - 1; i > 0; i--) inclusive[nodes[i][0]] += inclusive[i];
    var objects = new Array(count);
    for (var j = 0; j < count; j++) {
      if (j > 0 && inclusive[j] <= 0) continue;
      objects[j] = { name: nodeName(j), where: nodeWhere(j), value: selfs[j], children: [] };
      if (net) objects[j].net = net[j];
      if (j > 0) objects[nodes[j][0]].children.push(objects[j]);
    }
    objects[0].total = inclusive[0];
    return objects[0];
  }

  function currentSource() {
    var source = document.getElementById('flame-source').value;
    var fromSlot = +document.getElementById('flame-from').value;
    var toSlot = +document.getElementById('flame-to').value;
    if (source === 'growth') {
      var before = selfSizes(fromSlot);
      var after = selfSizes(toSlot);
      var grown = new Float64Array(before.length);
      var net = new Float64Array(before.length);
      for (var i = 0; i < before.length; i++) {
        net[i] = after[i] - before[i];
        grown[i] = Math.max(0, net[i]);
      }
      for (var k = before.length - 1; k > 0; k--) net[flameData.nodes[k][0]] += net[k];
      return { tree: flameTree(grown, net), growth: true,
        title: 'growth from ' + slotName(fromSlot) + ' to ' + slotName(toSlot) };
    }
    var slot = source === 'peak' ? flameData.peak : flameData.last;
    return { tree: flameTree(selfSizes(slot)), growth: false,
      title: source === 'peak' ? flameData.peak_label : 'last snapshot, ' + slotName(slot) };
  }

  function slotName(slot) {
    var index = flameData.slots[slot].snapshot;
    return index === null ? 'peak of the file' : snapshotName(index);
  }

  function drawFlame() {
    var container = document.getElementById('flame-chart');
    var details = document.getElementById('flame-details');
    var source = currentSource();
    var total = source.tree.total;
    document.getElementById('flame-title').textContent = source.title;
    if (!flameChart) {
      flameChart = flamegraph()
        .width(chartWidth(container))
        .cellHeight(18)
        .inverted(true)
        .transitionDuration(250)
        .minFrameSize(1)
        .selfValue(true)
        .sort(function (a, b) { return b.value - a.value; })
        .setDetailsElement(details)
        .setSearchMatch(function (d, term) {
          if (!term) return false;
          term = term.toLowerCase();
          return d.data.name.toLowerCase().indexOf(term) >= 0 ||
            d.data.where.toLowerCase().indexOf(term) >= 0;
        })
        .setSearchHandler(function (results, sum, all) {
          details.textContent = results.length + ' matching frames: ' + fmtSize(sum) +
            ' (' + fmtPercent(sum, all) + ' of ' + fmtSize(all) + ')';
        });
    }
    var growth = source.growth;
    flameChart.setLabelHandler(function (d) {
      var text = d.data.where + (d.data.name !== d.data.where ? ' (' + d.data.name + ')' : '');
      if (growth) {
        return text + ': grown ' + fmtSize(d.value) + ' (' + fmtPercent(d.value, flameChart.total) +
          '), net ' + fmtSize(d.data.net, true);
      }
      return text + ': ' + fmtSize(d.value) + ' (' + fmtPercent(d.value, flameChart.total) + ')';
    });
    if (growth) flameChart.setColorHue('red'); else flameChart.setColorHue();
    flameChart.total = total;
    document.getElementById('flame-empty').hidden = total > 0;
    document.getElementById('flame-search').value = '';
    details.textContent = '';
    if (!container.firstChild) {
      d3select(container, source.tree);
    } else {
      flameChart.height(null);
      flameChart.update(source.tree);
    }
  }

  // d3-flame-graph draws into a d3 selection; its bundle keeps d3 inside, so the selection
  // is made through the chart itself: flamegraph() accepts any object with the d3
  // selection's each()/datum()/select() interface, which a one-element shim provides.
  function d3select(container, tree) {
    container.__data__ = tree;
    flameChart(shim(container));
  }

  function shim(node) {
    return {
      each: function (callback) { callback.call(node, node.__data__, 0, [node]); return this; },
      datum: function (value) {
        if (!arguments.length) return node.__data__;
        node.__data__ = typeof value === 'function' ? value(node.__data__) : value;
        return this;
      },
      selectAll: function () { throw new Error('not used'); }
    };
  }

  function setupFlame() {
    if (!flameData || !flameData.nodes.length) return;
    var fromSelect = document.getElementById('flame-from');
    var toSelect = document.getElementById('flame-to');
    flameData.slots.forEach(function (slot, index) {
      if (slot.snapshot === null) return;  // the file's peak: not a point of the series
      fromSelect.appendChild(element('option', { value: index }, slotName(index)));
      toSelect.appendChild(element('option', { value: index }, slotName(index)));
    });
    fromSelect.value = String(flameData.first);
    toSelect.value = String(flameData.last);
    var sourceSelect = document.getElementById('flame-source');
    function changed() {
      document.getElementById('flame-pair').hidden = sourceSelect.value !== 'growth';
      drawFlame();
    }
    [sourceSelect, fromSelect, toSelect].forEach(function (select) {
      select.addEventListener('change', changed);
    });
    document.getElementById('flame-search').addEventListener('input', function () {
      var term = this.value.trim();
      if (term) flameChart.search(term); else flameChart.clear();
    });
    document.getElementById('flame-reset').addEventListener('click', function () {
      flameChart.resetZoom();
    });
    changed();
  }

  /* -- the page ------------------------------------------------------------------------- */

  function run(name, draw) {
    try {
      draw();
    } catch (error) {
      var section = document.getElementById(name);
      if (section) section.appendChild(element('p', { 'class': 'error' }, 'cannot draw: ' + error));
      throw error;
    }
  }

  run('memory', drawMemory);
  run('top-lines', function () {
    document.getElementById('lines-other').addEventListener('change', drawTopLines);
    drawTopLines();
  });
  run('table', drawTable);
  run('leaks', drawLeaks);
  run('flame', setupFlame);
  document.body.setAttribute('data-ready', '1');
}());
