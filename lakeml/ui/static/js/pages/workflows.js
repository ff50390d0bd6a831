// Workflows (lakeml/projects/workflow.py): the list of workflow runs, and one run's steps
// as a DAG (SVG, laid out in columns by depth) with each step's status, cache hits
// (reused: the step's earlier run was reused) and links to the step runs; a table below
// says the same for keyboards and screen readers.
import {api} from '../api.js';
import {h, fill, link, href, table} from '../dom.js';
import {when, duration} from '../format.js';

const NS = 'http://www.w3.org/2000/svg';
const s = (tag, attrs, ...kids) => {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v != null) el.setAttribute(k, String(v));
  for (const c of kids.flat()) if (c != null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
};
const runHref = id => href('/runs/' + encodeURIComponent(id));

export async function workflowsPage(main) {
  const body = await api('/workflows', {});
  fill(main, h('h1', {}, 'Workflows'),
    body.workflow_runs.length ? table(['Workflow', 'Run', 'Status', 'Started', 'Steps', 'Cache hits'],
      body.workflow_runs.map(w => [link(w.workflow, '/workflows/' + encodeURIComponent(w.workflow_run_id)),
        w.run_name || w.workflow_run_id, w.status || '', when(w.started), String(w.steps), String(w.cache_hits)]),
    {id: 'workflow-runs'}) : h('p', {class: 'muted'}, 'No workflow has run in this store (lakeml run-workflow).'));
}

/** Each step's column (its longest path from a root) and row within the column. */
export function layout(steps) {
  const by = new Map(steps.map(st => [st.step, st]));
  const depth = new Map();
  const depthOf = (name, seen = new Set()) => {
    if (depth.has(name)) return depth.get(name);
    if (seen.has(name)) return 0;  // a cycle cannot be recorded, but never loop
    seen.add(name);
    const ups = (by.get(name)?.after || []).filter(u => by.has(u));
    const d = ups.length ? 1 + Math.max(...ups.map(u => depthOf(u, seen))) : 0;
    depth.set(name, d);
    return d;
  };
  const columns = [];
  for (const st of steps) {
    const d = depthOf(st.step);
    (columns[d] = columns[d] || []).push(st.step);
  }
  const at = new Map();
  columns.forEach((col, c) => (col || []).forEach((name, r) => at.set(name, [c, r])));
  return {at, columns: columns.length, rows: Math.max(1, ...columns.map(c => (c || []).length))};
}

function dag(steps) {
  const {at, columns, rows} = layout(steps);
  const BW = 170, BH = 58, GX = 70, GY = 24, P = 12;
  const width = P * 2 + columns * BW + (columns - 1) * GX, height = P * 2 + rows * BH + (rows - 1) * GY;
  const pos = name => { const [c, r] = at.get(name); return [P + c * (BW + GX), P + r * (BH + GY)]; };
  const svg = s('svg', {class: 'svgplot dag', id: 'dag', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img',
    'aria-label': `Workflow DAG of ${steps.length} steps`},
  s('defs', {}, s('marker', {id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto'},
    s('path', {d: 'M0,0 L10,5 L0,10 z', fill: '#8a949e'}))));
  for (const st of steps) {
    for (const up of st.after || []) {
      if (!at.has(up)) continue;
      const [x1, y1] = pos(up), [x2, y2] = pos(st.step);
      svg.append(s('path', {class: 'edge', d: `M${x1 + BW},${y1 + BH / 2} C${x1 + BW + GX / 2},${y1 + BH / 2} ${x2 - GX / 2},${y2 + BH / 2} ${x2},${y2 + BH / 2}`}));
    }
  }
  for (const st of steps) {
    const [x, y] = pos(st.step);
    const label = st.status === 'reused' ? 'reused (cache hit)' : st.status;
    const node = s('g', {class: `node ${st.status}`, 'data-step': st.step},
      s('rect', {x, y, width: BW, height: BH}),
      s('text', {x: x + 10, y: y + 22, 'font-weight': 600}, st.step.length > 22 ? st.step.slice(0, 21) + '…' : st.step),
      s('text', {x: x + 10, y: y + 42}, label),
      s('title', {}, `${st.step}: ${label}${st.error ? '\n' + st.error : ''}`));
    svg.append(st.run_id ? s('a', {href: runHref(st.run_id)}, node) : node);
  }
  return svg;
}

export async function workflowPage(main, [runId]) {
  const body = await api('/workflow', {run_id: runId});
  const hits = body.steps.filter(st => st.status === 'reused').length;
  fill(main,
    h('nav', {class: 'crumbs', 'aria-label': 'Breadcrumb'}, link('Workflows', '/workflows'), ' / '),
    h('h1', {}, `Workflow ${body.workflow}`),
    h('dl', {class: 'facts'}, h('dt', {}, 'Workflow run'), h('dd', {}, link(body.run_name || runId, '/runs/' + encodeURIComponent(runId))),
      h('dt', {}, 'Status'), h('dd', {}, body.status), h('dt', {}, 'Steps'), h('dd', {}, `${body.steps.length} (${hits} cache hits)`)),
    h('div', {class: 'scroll-x'}, dag(body.steps)),
    h('h2', {}, 'Steps'),
    table(['Step', 'Status', 'Step run', 'Reused run', 'Takes inputs from', 'Duration', 'Error'], body.steps.map(st => [
      st.step, st.status === 'reused' ? 'reused (cache hit)' : st.status,
      st.run_id ? link(st.run_id, '/runs/' + encodeURIComponent(st.run_id)) : '—',
      st.status === 'reused' && st.source_run_id ? link(st.source_run_id, '/runs/' + encodeURIComponent(st.source_run_id)) : '',
      (st.after || []).join(', '), duration(st.start_time, st.end_time), st.error || '']), {id: 'workflow-steps'}));
}
