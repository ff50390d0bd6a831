// Metric charts with uPlot (vendor/uplot, MIT, pinned by lakeml/ui/vendor.sh): one metric
// of one or many runs, x = step, time or relative time, linear or log y, optional
// smoothing. The server sends each series cut to <= ~2,000 points with its extremes kept
// (lakeml/ui/downsample.py), so the draw costs the same for 100 steps or a million.
import uPlot from '../vendor/uplot/uPlot.esm.js';
import {api} from './api.js';
import {h, fill, errorBox} from './dom.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2',
  '#17becf', '#bcbd22', '#7f7f7f'];
let chartIds = 0;
// Above this many series the lines are drawn 1 px wide (see draw).
const THIN_OVER = 10;
// Above this many series the chart has no legend (see draw).
const LEGEND_MAX = 100;

/** A chart panel for metric `key` of `runs` ([{run_id, label}]); returns the element.
 *  The element's data-series / data-points say what was drawn (for tests and users). */
export function metricChart(key, runs) {
  const n = ++chartIds;
  const xSel = h('select', {id: `chart-x-${n}`},
    [['step', 'Step'], ['time', 'Time'], ['relative', 'Relative time']].map(([v, t]) => h('option', {value: v}, t)));
  const logBox = h('input', {type: 'checkbox', id: `chart-log-${n}`});
  const smooth = h('input', {type: 'range', id: `chart-smooth-${n}`, min: '0', max: '0.99', step: '0.01', value: '0'});
  const plotBox = h('div', {class: 'plot'});
  const note = h('p', {class: 'muted'});
  const hover = h('p', {class: 'muted'});
  const panel = h('figure', {class: 'chart', 'aria-label': `Chart of ${key}`},
    h('figcaption', {}, key),
    h('div', {class: 'bar small'},
      h('label', {for: xSel.id}, 'X axis'), xSel,
      logBox, h('label', {for: logBox.id}, 'Log scale'),
      h('label', {for: smooth.id}, 'Smoothing'), smooth),
    plotBox, hover, note);
  let data = null, plot = null;
  const draw = () => {
    if (!data) return;
    if (plot) plot.destroy();
    const x = xSel.value;
    const tables = data.series.map(s => {
      const t0 = s.timestamp[0] || 0;
      const xs = x === 'step' ? s.step : s.timestamp.map(t => x === 'time' ? t / 1000 : (t - t0) / 1000);
      return [xs, ema(s.value, +smooth.value)];
    });
    const aligned = tables.length === 1 ? tables[0] : uPlot.join(tables.map(([xs, ys]) => dedupe(xs, ys)));
    const width = Math.max(280, plotBox.clientWidth || 600);
    // A 1.5 px line costs Chromium's software canvas ten times a 1 px one (antialiased
    // sub-pixel strokes): 1.8 s against 0.18 s for 100 series (benchmarks/bench_ui.py).
    const line = data.series.length > THIN_OVER ? 1 : 1.5;
    const many = data.series.length > LEGEND_MAX;
    plot = new uPlot({
      width, height: 300, ...(many ? namedOnHover(hover) : {}),
      scales: {x: {time: x === 'time'}, y: {distr: logBox.checked ? 3 : 1}},
      axes: [{label: x === 'step' ? 'step' : x === 'time' ? 'time' : 'seconds'}, {}],
      series: [{}, ...data.series.map((s, i) => ({
        label: runs[i] ? runs[i].label : s.run_id, stroke: COLORS[i % COLORS.length], width: line,
        spanGaps: true, points: {show: false}}))],
    }, aligned, plotBox);
    panel.dataset.series = String(data.series.length);
    panel.dataset.points = String(data.series.reduce((s, x) => s + x.value.length, 0));
  };
  xSel.addEventListener('change', draw);
  logBox.addEventListener('change', draw);
  smooth.addEventListener('input', draw);
  new ResizeObserver(() => { if (plot && Math.abs(plot.width - plotBox.clientWidth) > 20) plot.setSize({width: plotBox.clientWidth, height: 300}); }).observe(plotBox);
  // <= 2,000 points a series, and <= ~200,000 in all: a chart of 1,000 runs stays light
  const maxPoints = Math.max(200, Math.min(2000, Math.floor(200000 / runs.length)));
  api('/metric-history', {run_id: runs.map(r => r.run_id), key, max_points: maxPoints}).then(body => {
    data = body;
    const cut = body.series.filter(s => s.points > s.value.length);
    fill(note, cut.length ? `${cut.length} of ${body.series.length} series downsampled to ` +
      `≤ ${body.max_points} points (extremes kept).` : '');
    draw();
  }).catch(err => fill(plotBox, errorBox(err)));
  return panel;
}

/** uPlot options for a chart of many series: a legend of hundreds of rows costs more to
 *  lay out than the plot and helps no one, so there is none; the run of the line
 *  nearest the cursor is named in `hover` (not dimming the others: that would stroke
 *  every series again on each move). */
function namedOnHover(hover) {
  const name = (u, i) => fill(hover, i == null ? '' : `Run under the cursor: ${u.series[i].label}`);
  return {legend: {show: false}, cursor: {focus: {prox: 16}}, focus: {alpha: 1},
    hooks: {setSeries: [name]}};
}

/** Exponential moving average (weight a of the past); nulls stay nulls. */
function ema(values, a) {
  if (!a) return values;
  let last = null;
  return values.map(v => (v == null ? null : (last = last == null ? v : a * last + (1 - a) * v)));
}

/** uPlot.join needs strictly increasing x in each table: keep the last y of a repeated x. */
function dedupe(xs, ys) {
  const ox = [], oy = [];
  for (let i = 0; i < xs.length; i++) {
    if (ox.length && xs[i] <= ox[ox.length - 1]) { if (xs[i] === ox[ox.length - 1]) oy[oy.length - 1] = ys[i]; continue; }
    ox.push(xs[i]); oy.push(ys[i]);
  }
  return [ox, oy];
}
