// Compare runs (from ?run=a&run=b...): params and latest metrics side by side, rows whose
// values differ marked (a sign and a colour, not the colour alone), and a chart of any
// metric over all of them.
import {api} from '../api.js';
import {h, fill, link, href, errorBox} from '../dom.js';
import {value} from '../format.js';
import {setQuery} from '../url.js';
import {metricChart} from '../chart.js';

export async function comparePage(main, _parts, query) {
  const ids = query.getAll('run');
  if (ids.length < 2) {
    fill(main, h('h1', {}, 'Compare runs'), errorBox('Select two runs or more in a runs table to compare them.'));
    return;
  }
  const body = await api('/compare', {run_id: ids});
  const runs = body.runs;
  const onlyDiff = h('input', {type: 'checkbox', id: 'only-diff', checked: query.get('diff') === '1'});
  const tableBox = h('div', {id: 'compare-table'});
  const metricKeys = body.metrics.map(m => m.key);
  const pick = h('select', {id: 'compare-metric'}, metricKeys.map(k => h('option', {value: k, selected: k === query.get('metric')}, k)));
  const chartBox = h('div', {id: 'compare-chart'});
  const drawTable = () => {
    const rows = [];
    for (const [group, items] of [['Params', body.params], ['Metrics', body.metrics]]) {
      const shown = items.filter(r => !onlyDiff.checked || r.differs);
      rows.push(h('tr', {class: 'group'}, h('th', {scope: 'rowgroup', colspan: String(runs.length + 1)}, `${group} (${shown.length})`)));
      for (const r of shown) {
        rows.push(h('tr', {class: r.differs ? 'differs' : ''},
          h('th', {scope: 'row', class: 'mono'}, r.differs ? h('span', {title: 'values differ', 'aria-label': 'differs: '}, '≠ ') : null, r.key),
          r.values.map(v => h('td', {class: typeof v === 'number' ? 'num' : ''}, value(v)))));
      }
    }
    fill(tableBox, h('div', {class: 'scroll-x'}, h('table', {class: 'compare'},
      h('caption', {class: 'sr-only'}, 'Params and metrics of the compared runs'),
      h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Key'), runs.map(r => h('th', {scope: 'col'},
        link(r.run_name || r.run_id, '/runs/' + encodeURIComponent(r.run_id)))))),
      h('tbody', {}, rows))));
  };
  const state = () => {
    const q = new URLSearchParams();
    ids.forEach(i => q.append('run', i));
    if (onlyDiff.checked) q.set('diff', '1');
    if (pick.value) q.set('metric', pick.value);
    setQuery(q, {replace: true});
  };
  const drawChart = () => {
    if (!pick.value) { fill(chartBox, h('p', {class: 'muted'}, 'No metrics to chart.')); return; }
    fill(chartBox, metricChart(pick.value, runs.map(r => ({run_id: r.run_id, label: r.run_name || r.run_id}))));
  };
  onlyDiff.addEventListener('change', () => { drawTable(); state(); });
  pick.addEventListener('change', () => { drawChart(); state(); });
  fill(main,
    h('nav', {class: 'crumbs', 'aria-label': 'Breadcrumb'}, link('Experiments', '/'), ' / ',
      link('Runs', '/experiments/' + encodeURIComponent(runs[0].experiment_id)), ' / '),
    h('h1', {}, `Compare ${runs.length} runs`),
    h('div', {class: 'bar'}, onlyDiff, h('label', {for: 'only-diff'}, 'Only rows that differ')),
    tableBox,
    h('section', {}, h('h2', {}, 'Chart'), h('div', {class: 'bar'}, h('label', {for: 'compare-metric'}, 'Metric'), pick), chartBox),
    h('p', {}, h('a', {href: href('/plots', {run_id: ids}), id: 'compare-plots'}, 'Scatter and parallel coordinates of these runs')));
  drawTable();
  drawChart();
}
