// Two small SVG plots of runs: a scatter of a metric against a param, and parallel
// coordinates over params and a metric. Hand-written SVG (a few dozen elements per axis,
// one per run): uPlot, the vendored chart library, draws series over a shared x axis, and
// neither plot is that; a general chart library would add far more than these need.
// Every label is a text node, so a param value is never read as markup.

const NS = 'http://www.w3.org/2000/svg';

/** An SVG element: s('line', {x1: 0}, child...). */
function s(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v != null) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c != null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** An axis over `values` (numbers or text): numeric when every value reads as a number,
 *  else one position per distinct value (sorted). Returns {pos(v) in 0..1, ticks}. */
export function axis(values) {
  const present = values.filter(v => v != null && v !== '');
  const nums = present.map(Number);
  if (present.length && nums.every(Number.isFinite)) {
    let lo = Math.min(...nums), hi = Math.max(...nums);
    if (lo === hi) { lo -= 1; hi += 1; }
    const fmt = x => String(+x.toPrecision(4));
    return {numeric: true, pos: v => (v == null || v === '' || !Number.isFinite(Number(v))) ? null : (Number(v) - lo) / (hi - lo),
      ticks: [0, 0.5, 1].map(t => [t, fmt(lo + t * (hi - lo))])};
  }
  const cats = [...new Set(present.map(String))].sort();
  const at = new Map(cats.map((c, i) => [c, cats.length === 1 ? 0.5 : i / (cats.length - 1)]));
  const step = Math.max(1, Math.ceil(cats.length / 12));  // at most ~12 labels
  return {numeric: false, pos: v => v == null || v === '' ? null : at.get(String(v)) ?? null,
    ticks: cats.filter((_, i) => i % step === 0).map(c => [at.get(c), c.length > 18 ? c.slice(0, 17) + '…' : c])};
}

function color(t) {  // 0 -> blue, 1 -> red (the metric's value along its range)
  const r = Math.round(40 + 200 * t), b = Math.round(220 - 180 * t);
  return `rgb(${r},80,${b})`;
}

/** A scatter of `runs` (each {run_id, run_name, x, y}) with axis titles; a point links to
 *  its run. */
export function scatter(runs, xTitle, yTitle, {width = 640, height = 380, href} = {}) {
  const m = {l: 70, r: 20, t: 16, b: 56};
  const W = width - m.l - m.r, H = height - m.t - m.b;
  const xa = axis(runs.map(r => r.x)), ya = axis(runs.map(r => r.y));
  const X = t => m.l + t * W, Y = t => m.t + (1 - t) * H;
  const svg = s('svg', {class: 'svgplot scatter', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img',
    'aria-label': `Scatter of ${yTitle} against ${xTitle}, ${runs.length} runs`});
  svg.append(s('line', {class: 'axis', x1: m.l, y1: m.t + H, x2: m.l + W, y2: m.t + H}),
    s('line', {class: 'axis', x1: m.l, y1: m.t, x2: m.l, y2: m.t + H}),
    ...xa.ticks.map(([t, label]) => s('text', {class: 'tick', x: X(t), y: m.t + H + 16, 'text-anchor': 'middle'}, label)),
    ...ya.ticks.map(([t, label]) => s('text', {class: 'tick', x: m.l - 6, y: Y(t) + 4, 'text-anchor': 'end'}, label)),
    s('text', {x: m.l + W / 2, y: height - 8, 'text-anchor': 'middle', 'font-weight': 600}, xTitle),
    s('text', {x: 14, y: m.t + H / 2, 'text-anchor': 'middle', 'font-weight': 600, transform: `rotate(-90 14 ${m.t + H / 2})`}, yTitle));
  for (const r of runs) {
    const px = xa.pos(r.x), py = ya.pos(r.y);
    if (px == null || py == null) continue;
    const dot = s('circle', {class: 'pt', cx: X(px), cy: Y(py), r: 4},
      s('title', {}, `${r.run_name || r.run_id}\n${xTitle} = ${r.x}\n${yTitle} = ${r.y}`));
    svg.append(href ? s('a', {href: href(r)}, dot) : dot);
  }
  return svg;
}

/** Parallel coordinates: one vertical axis per entry of `titles` (the last one the metric,
 *  which colours the lines), one line per run (each {run_id, run_name, values}). */
export function parallel(runs, titles, {width = 760, height = 380, href} = {}) {
  const m = {l: 40, r: 60, t: 30, b: 40};
  const W = width - m.l - m.r, H = height - m.t - m.b;
  const axes = titles.map((_, i) => axis(runs.map(r => r.values[i])));
  const X = i => m.l + (titles.length === 1 ? W / 2 : i * W / (titles.length - 1));
  const Y = t => m.t + (1 - t) * H;
  const last = titles.length - 1;
  const svg = s('svg', {class: 'svgplot parallel', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img',
    'aria-label': `Parallel coordinates over ${titles.join(', ')}, ${runs.length} runs`});
  for (const r of runs) {
    const pts = r.values.map((v, i) => [i, axes[i].pos(v)]).filter(([, t]) => t != null);
    if (pts.length < 2) continue;
    const tm = axes[last].pos(r.values[last]);
    const line = s('polyline', {class: 'line', points: pts.map(([i, t]) => `${X(i)},${Y(t)}`).join(' '),
      stroke: tm == null ? '#999' : color(tm)}, s('title', {}, `${r.run_name || r.run_id}\n` +
        titles.map((t, i) => `${t} = ${r.values[i] ?? '—'}`).join('\n')));
    svg.append(href ? s('a', {href: href(r)}, line) : line);
  }
  titles.forEach((title, i) => {
    svg.append(s('line', {class: 'axis', x1: X(i), y1: m.t, x2: X(i), y2: m.t + H}),
      s('text', {x: X(i), y: m.t - 12, 'text-anchor': 'middle', 'font-weight': 600}, title.length > 22 ? title.slice(0, 21) + '…' : title),
      ...axes[i].ticks.map(([t, label]) => s('text', {class: 'tick', x: X(i) + 4, y: Y(t) + 4}, label)));
  });
  return svg;
}
