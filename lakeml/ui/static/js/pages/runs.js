// The runs table of an experiment: filter (lakeml's search grammar; errors with their
// caret line), sort by any column, a column chooser, runs loaded a page at a time as the
// table scrolls, only the rows in view in the DOM; filter, sort and columns in the URL.
import {api} from '../api.js';
import {h, fill, link, href, errorBox} from '../dom.js';
import {when, duration, value} from '../format.js';
import {setQuery} from '../url.js';
import {VTable} from '../vtable.js';
import {columnChooser} from '../chooser.js';

const PAGE = 200;

/** The order key of a column id ('metrics.val loss' -> 'metrics.`val loss`'). */
export function orderKey(id) {
  const i = id.indexOf('.');
  const group = id.slice(0, i), key = id.slice(i + 1);
  return /^[A-Za-z_][\w.]*$/.test(key) ? `${group}.${key}` : `${group}.\`${key.replaceAll('`', '``')}\``;
}

export async function runsPage(main, [idList], query) {
  // one experiment, or several: /experiments/<id>,<id>...
  const experimentId = idList.split(',').filter(Boolean);
  const experiments = await Promise.all(experimentId.map(id => api('/experiment', {experiment_id: id})));
  const names = Object.fromEntries(experiments.map(e => [e.experiment_id, e.name]));
  let keys = null;  // every key of the experiment, fetched when the chooser first opens
  const st = {
    filter: query.get('filter') || '',
    order: query.get('order') || '',
    cols: query.getAll('col'),
    runs: [], token: null, loading: false, done: false, generation: 0,
    selected: new Set(),
    group: query.get('group') || '',
  };
  // no columns in the URL: the server picks a few from the first page
  st.defaults = !query.has('col');
  const filter = h('input', {id: 'run-filter', type: 'search', value: st.filter, class: 'mono wide',
    placeholder: "metrics.loss < 0.5 and params.model = 'tree'", autocomplete: 'off', spellcheck: 'false'});
  const message = h('div', {id: 'filter-message'});
  const status = h('p', {class: 'muted', id: 'runs-status', 'aria-live': 'polite'});
  const compareBtn = h('button', {type: 'button', id: 'compare', disabled: true,
    onclick: () => { location.hash = href('/compare', {run: [...st.selected]}); }}, 'Compare selected');
  const chooserBox = h('div', {id: 'chooser', hidden: true});
  const groupSel = h('select', {id: 'group-by'});
  const groupBox = h('div', {id: 'groups', 'aria-live': 'polite'});
  const groupOptions = () => {
    const keys = st.cols.filter(c => !c.startsWith('metrics.'));
    if (st.group && !keys.includes(st.group)) keys.unshift(st.group);
    fill(groupSel, h('option', {value: ''}, '(none)'),
      keys.map(k => h('option', {value: k, selected: k === st.group}, k)));
  };
  const drawGroups = async () => {
    if (!st.group) { fill(groupBox); return; }
    fill(groupBox, h('p', {class: 'muted'}, 'Grouping…'));
    const metrics = st.cols.filter(c => c.startsWith('metrics.'));
    try {
      const body = await api('/groups', {experiment_id: experimentId, filter: st.filter,
        by: st.group, metric: metrics});
      fill(groupBox, h('h2', {}, `Runs by ${body.by}`),
        body.truncated ? h('p', {class: 'muted'}, 'Of the first 50,000 matching runs.') : null,
        h('div', {class: 'scroll-x'}, h('table', {id: 'groups-table'},
          h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, body.by), h('th', {scope: 'col', class: 'num'}, 'Runs'),
            body.metrics.map(m => h('th', {scope: 'col', class: 'num'}, `${m} mean (min – max)`)))),
          h('tbody', {}, body.groups.map(g => h('tr', {},
            h('td', {}, g.value == null ? h('span', {class: 'muted'}, '(none)') : g.value),
            h('td', {class: 'num'}, String(g.runs)),
            body.metrics.map(m => {
              const x = g.metrics[m];
              return h('td', {class: 'num'}, x.count ? `${value(x.mean)} (${value(x.min)} – ${value(x.max)})` : '');
            })))))));
    } catch (err) { fill(groupBox, errorBox(err)); }
  };
  groupSel.addEventListener('change', () => { st.group = groupSel.value; changed(); });
  const colsBtn = h('button', {type: 'button', id: 'columns-button', 'aria-expanded': 'false',
    'aria-controls': 'chooser', onclick: async () => {
      const open = chooserBox.hidden;
      chooserBox.hidden = !open;
      colsBtn.setAttribute('aria-expanded', String(open));
      if (!open) return;
      fill(chooserBox, h('p', {class: 'muted'}, 'Loading the keys…'));
      try {
        keys = keys || await api('/keys', {experiment_id: experimentId});
      } catch (err) { fill(chooserBox, errorBox(err)); return; }
      fill(chooserBox, columnChooser(keys, st.cols, chosen => { st.cols = chosen; st.defaults = false; changed(); }));
      chooserBox.querySelector('input').focus();
    }}, 'Columns');

  const table = new VTable({label: 'Runs', columns: [], onSort: c => {
    const cur = sortOf(c);
    st.order = `${c.orderKey} ${cur === 'asc' ? 'DESC' : 'ASC'}`;
    changed();
  }, onNearEnd: () => more()});

  const sortOf = c => {
    if (!c.orderKey || !st.order) return null;
    const m = st.order.match(/^(.*)\s+(ASC|DESC)$/i);
    const k = m ? m[1] : st.order;
    if (k !== c.orderKey) return null;
    return m && m[2].toUpperCase() === 'DESC' ? 'desc' : 'asc';
  };

  const columns = () => {
    const cols = [
      {id: 'select', label: 'Select', width: 64, render: r => h('input', {type: 'checkbox',
        'aria-label': `Select run ${r.run_name || r.run_id}`, checked: st.selected.has(r.run_id),
        onchange: e => { if (e.target.checked) st.selected.add(r.run_id); else st.selected.delete(r.run_id); selection(); }})},
      {id: 'name', label: 'Run', width: 220, orderKey: 'attributes.run_name', sortable: true,
        render: r => link(r.run_name || r.run_id, '/runs/' + encodeURIComponent(r.run_id))},
      experimentId.length > 1 ? {id: 'experiment', label: 'Experiment', width: 160,
        render: r => names[r.experiment_id] || r.experiment_id} : null,
      {id: 'status', label: 'Status', width: 100, orderKey: 'attributes.status', sortable: true, render: r => r.status},
      {id: 'start', label: 'Started (UTC)', width: 170, orderKey: 'attributes.start_time', sortable: true, render: r => when(r.start_time)},
      {id: 'duration', label: 'Duration', width: 90, render: r => duration(r.start_time, r.end_time)},
      ...st.cols.map(id => ({id, label: id.slice(id.indexOf('.') + 1), title: id,
        group: {metrics: 'metric', params: 'param', tags: 'tag'}[id.slice(0, id.indexOf('.'))],
        width: 150, num: id.startsWith('metrics.'),
        orderKey: orderKey(id), sortable: true, render: r => value(r.cells[id])})),
    ];
    const shown = cols.filter(Boolean);
    for (const c of shown) c.sort = sortOf(c);
    if (!st.order) shown.find(c => c.id === 'start').sort = 'desc';  // the default: newest first
    return shown;
  };

  const selection = () => {
    compareBtn.disabled = st.selected.size < 2;
    fill(compareBtn, `Compare selected (${st.selected.size})`);
  };

  const more = async () => {
    if (st.loading || st.done) return;
    st.loading = true;
    const gen = st.generation;
    try {
      const body = await api('/runs', {experiment_id: experimentId, filter: st.filter,
        order: st.order || null, column: st.cols, max_results: PAGE, page_token: st.token,
        default_columns: st.defaults && !st.cols.length ? '1' : null});
      if (gen !== st.generation) return;
      fill(message);
      if (st.defaults && !st.cols.length && body.columns.length) {
        st.cols = body.columns;
        table.setColumns(columns());
        groupOptions();
        if (st.group) drawGroups();
      }
      st.runs = st.runs.concat(body.runs);
      st.token = body.next_page_token;
      st.done = !st.token;
      fill(status, `${st.runs.length.toLocaleString('en')}${st.done && !body.truncated ? '' : '+'} runs` +
        (st.filter ? ' match the filter' : '') +
        (body.truncated ? ` (the table shows the first ${st.runs.length.toLocaleString('en')}; narrow the filter for others)` : ''));
      table.setRows(st.runs);
    } catch (err) {
      if (gen !== st.generation) return;
      st.done = true;
      fill(message, errorBox(err));
      fill(status, 'No runs shown.');
      table.setRows([]);
    } finally {
      if (gen === st.generation) st.loading = false;
    }
  };

  const changed = () => {
    const q = new URLSearchParams();
    if (st.filter) q.set('filter', st.filter);
    if (st.order) q.set('order', st.order);
    if (st.group) q.set('group', st.group);
    for (const c of st.cols) q.append('col', c);
    if (!st.cols.length) q.append('col', '');
    setQuery(q);
    reload();
  };

  const reload = () => {
    st.generation++;
    st.runs = []; st.token = null; st.done = false; st.loading = false;
    table.setColumns(columns());
    table.el.scrollTop = 0;
    table.setRows([]);
    groupOptions();
    drawGroups();
    more();
  };

  fill(main,
    h('nav', {class: 'crumbs', 'aria-label': 'Breadcrumb'}, link('Experiments', '/'), ' / '),
    h('h1', {}, experiments.map(e => e.name).join(' + ')),
    h('form', {class: 'bar', role: 'search', onsubmit: e => { e.preventDefault(); st.filter = filter.value.trim(); changed(); }},
      h('label', {for: 'run-filter'}, 'Filter runs'), filter,
      h('button', {type: 'submit', id: 'apply-filter'}, 'Apply'),
      colsBtn, compareBtn,
      h('button', {type: 'button', id: 'plots-link', onclick: () => { location.hash = href('/plots', {experiment_id: experimentId, filter: st.filter}); }}, 'Plots'),
      h('label', {for: 'group-by'}, 'Group by'), groupSel),
    message, chooserBox, groupBox, status, table.el);
  st.cols = st.cols.filter(Boolean);
  selection();
  reload();
}
