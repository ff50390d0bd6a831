// Plots of a set of runs: a scatter of a metric against a param, and parallel coordinates
// over params and the metric. The runs are an experiment's (its filter from the runs
// table) or those picked for comparison: #/plots?experiment_id=1&filter=... or
// #/plots?run_id=a&run_id=b. The chosen metric, x param and params are in the URL too.
import {api} from '../api.js';
import {h, fill, link, href, errorBox} from '../dom.js';
import {setQuery} from '../url.js';
import {scatter, parallel} from '../plots.js';

export async function plotsPage(main, _parts, query) {
  const scope = {experiment_id: query.getAll('experiment_id'), run_id: query.getAll('run_id'), filter: query.get('filter')};
  const body = await api('/points', {...scope, metric: query.get('metric'), x: query.get('x'), param: query.getAll('param')});
  const metric = h('select', {id: 'plot-metric'}, body.metrics.map(m => h('option', {value: m, selected: m === body.metric}, m)));
  const x = h('select', {id: 'plot-x'}, body.params.map(p => h('option', {value: p, selected: p === body.x}, p)));
  const picks = h('fieldset', {class: 'bar small', id: 'plot-params'}, h('legend', {}, 'Parallel coordinates: params'),
    body.params.map((p, i) => h('label', {class: 'check'}, h('input', {type: 'checkbox', value: p, id: `pp-${i}`,
      checked: body.chosen_params.includes(p)}), p)));
  const out = h('div', {id: 'plots', 'aria-live': 'polite'});
  const back = scope.run_id.length
    ? link('Compare', '/compare', {run: scope.run_id})
    : link('Runs', '/experiments/' + scope.experiment_id.map(encodeURIComponent).join(','), scope.filter ? {filter: scope.filter} : {});
  const apply = () => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(scope)) (Array.isArray(v) ? v : [v]).forEach(x => x && q.append(k, x));
    q.set('metric', metric.value); q.set('x', x.value);
    for (const c of picks.querySelectorAll('input:checked')) q.append('param', c.value);
    setQuery(q);
    plotsPage(main, _parts, q).catch(err => fill(out, errorBox(err)));
  };
  for (const el of [metric, x, picks]) el.addEventListener('change', apply);
  fill(main, h('nav', {class: 'crumbs', 'aria-label': 'Breadcrumb'}, back, ' / '),
    h('h1', {}, `Plots of ${body.runs.length.toLocaleString('en')} runs`),
    body.truncated ? h('p', {class: 'muted'}, 'Only the first runs are plotted; narrow the filter to see others.') : null,
    h('div', {class: 'bar'}, h('label', {for: 'plot-metric'}, 'Metric'), metric, h('label', {for: 'plot-x'}, 'Scatter x (param)'), x),
    picks, out);
  if (!body.metric) { fill(out, h('p', {class: 'muted'}, 'These runs have no metric.')); return; }
  const runLink = r => href('/runs/' + encodeURIComponent(r.run_id));
  fill(out,
    h('figure', {class: 'chart', id: 'scatter'}, h('figcaption', {}, `${body.metric} against ${x.value}`),
      scatter(body.runs.map(r => ({...r, y: r.metric})), x.value, body.metric, {href: runLink})),
    h('figure', {class: 'chart', id: 'parallel'}, h('figcaption', {}, `Parallel coordinates: ${[...body.chosen_params, body.metric].join(', ')}`),
      parallel(body.runs.map(r => ({...r, values: [...r.params, r.metric]})), [...body.chosen_params, body.metric], {href: runLink})));
}
