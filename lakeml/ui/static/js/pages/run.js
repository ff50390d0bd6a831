// A run: info, params, latest metrics (pick one to chart), tags (editable), dataset inputs, parent
// and children, and an artifact browser with previews of images, text and JSON.
import {api, apiUrl, apiFetch} from '../api.js';
import {h, fill, link, table, errorBox, debounce} from '../dom.js';
import {setQuery} from '../url.js';
import {when, duration, value} from '../format.js';
import {metricChart} from '../chart.js';
import {tagEditor} from '../tagedit.js';

const IMAGE = /\.(png|jpe?g|gif|webp)$/i;

export async function runPage(main, [runId], query) {
  const r = await api('/run', {run_id: runId, q: query.get('q')});
  const i = r.info;
  const runLink = x => link(x.run_name || x.run_id, '/runs/' + encodeURIComponent(x.run_id));
  const chartBox = h('div', {id: 'run-chart'});
  const showChart = key => fill(chartBox, metricChart(key, [{run_id: i.run_id, label: i.run_name || i.run_id}]));
  const artifacts = h('div', {id: 'artifacts'});
  const preview = h('div', {id: 'artifact-preview', 'aria-live': 'polite'});
  const keysBox = h('div', {id: 'run-keys'});
  const search = h('input', {id: 'key-search', type: 'search', value: r.q || '', autocomplete: 'off', placeholder: 'key contains…'});
  const drawKeys = body => fill(keysBox,
    section(heading('Metrics', body.metrics.length, body.counts.metrics), body.metrics.length ? h('div', {class: 'scroll-x'}, h('table', {id: 'metrics-table'},
      h('thead', {}, h('tr', {}, ['Metric', 'Latest value', 'Step', 'Time'].map(t => h('th', {scope: 'col'}, t)))),
      h('tbody', {}, body.metrics.map(m => h('tr', {},
        h('td', {}, h('button', {type: 'button', class: 'linkish', title: `Chart ${m.key}`, onclick: () => showChart(m.key)}, m.key)),
        h('td', {class: 'num'}, value(m.value)), h('td', {class: 'num'}, String(m.step)), h('td', {}, when(m.timestamp))))))) : h('p', {class: 'muted'}, 'No metrics.')),
    section(heading('Params', Object.keys(body.params).length, body.counts.params), kv(body.params, 'params-table')),
    section(heading('Tags', Object.keys(body.tags).length, body.counts.tags), tagEditor(runId, body.tags, () => search.value, i.lifecycle_stage)));
  search.addEventListener('input', debounce(async () => {
    const q = new URLSearchParams(search.value ? {q: search.value} : {});
    setQuery(q, {replace: true});
    try { drawKeys(await api('/run', {run_id: runId, q: search.value})); } catch (err) { fill(keysBox, errorBox(err)); }
  }, 250));
  drawKeys(r);
  fill(main,
    h('nav', {class: 'crumbs', 'aria-label': 'Breadcrumb'}, link('Experiments', '/'), ' / ',
      link(r.experiment_name, '/experiments/' + encodeURIComponent(i.experiment_id)), ' / '),
    h('h1', {id: 'run-name'}, i.run_name || i.run_id),
    h('dl', {class: 'facts'},
      fact('Run id', h('span', {class: 'mono'}, i.run_id)), fact('Status', i.status),
      fact('Started', when(i.start_time)), fact('Ended', when(i.end_time)),
      fact('Duration', duration(i.start_time, i.end_time)), fact('User', i.user_id || ''),
      fact('Lifecycle', i.lifecycle_stage),
      fact('Parent run', r.parent ? runLink(r.parent) : '—'),
      r.tags['lakeml.workflow'] ? fact('Workflow', link(`${r.tags['lakeml.workflow']}: the steps' DAG`, '/workflows/' +
        encodeURIComponent(r.tags['lakeml.workflow.step'] ? i.parent_run_id : i.run_id))) : null,
      fact('Artifact URI', h('span', {class: 'mono'}, i.artifact_uri))),
    r.children.length ? section('Child runs', h('ul', {}, r.children.map(c => h('li', {}, runLink(c), ` (${c.status})`)))) : null,
    h('div', {class: 'bar'}, h('label', {for: 'key-search'}, 'Search params, metrics and tags'), search),
    chartBox, keysBox,
    r.inputs.length ? section('Dataset inputs', table(['Name', 'Digest', 'Source', 'Context'],
      r.inputs.map(d => [d.name, d.digest, `${d.source_type}: ${d.source}`, d.context || '']))) : null,
    section('Artifacts', artifacts, preview));
  if (r.metrics.length) showChart(r.metrics[0].key);
  await browse(runId, '', artifacts, preview);
}

function heading(what, shown, total) {
  return shown < total ? `${what} (${shown.toLocaleString('en')} of ${total.toLocaleString('en')})` : `${what} (${total.toLocaleString('en')})`;
}

function fact(term, desc) { return [h('dt', {}, term), h('dd', {}, desc)]; }

function section(title, ...body) { return h('section', {}, h('h2', {}, title), ...body); }

function kv(obj, id) {
  const entries = Object.entries(obj);
  if (!entries.length) return h('p', {class: 'muted'}, 'None.');
  return h('div', {class: 'scroll-x'}, h('table', {id},
    h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Key'), h('th', {scope: 'col'}, 'Value'))),
    h('tbody', {}, entries.map(([k, v]) => h('tr', {}, h('td', {class: 'mono'}, k), h('td', {class: 'wrap'}, v))))));
}

async function browse(runId, path, box, preview) {
  try {
    const body = await api('/artifacts', {run_id: runId, path});
    const up = path ? h('li', {}, h('button', {type: 'button', class: 'linkish', onclick: () => {
      const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
      browse(runId, parent, box, preview);
    }}, '.. (up)')) : null;
    fill(box, h('p', {class: 'mono'}, '/' + path),
      body.files.length || up ? h('ul', {class: 'files'}, up, body.files.map(f => h('li', {},
        h('button', {type: 'button', class: 'linkish', onclick: () => f.is_dir
          ? browse(runId, f.path, box, preview) : show(runId, f, preview)},
        (f.is_dir ? '📁 ' : '') + f.path.split('/').pop()),
        f.is_dir ? '' : h('span', {class: 'muted'}, ` ${(f.file_size || 0).toLocaleString('en')} bytes`)))) :
        h('p', {class: 'muted'}, 'No artifacts.'));
  } catch (err) { fill(box, errorBox(err)); }
}

async function show(runId, f, preview) {
  // fetched with the UI's header (the API refuses plain links and <img> loads), then shown
  // from a blob: URL
  const title = h('h3', {}, f.path);
  fill(preview, title, h('p', {class: 'muted'}, 'Loading…'));
  const r = await apiFetch(apiUrl('/artifact', {run_id: runId, path: f.path}));
  if (!r.ok) {
    const body = await r.json().catch(() => ({}));
    fill(preview, title, errorBox(body.message || r.statusText));
    return;
  }
  const blob = await r.blob();
  const url = URL.createObjectURL(blob);
  const open = h('a', {href: url, target: '_blank', rel: 'noopener'}, 'Open raw');
  if (IMAGE.test(f.path)) {
    fill(preview, title, open, h('img', {src: url, alt: `Artifact ${f.path}`, class: 'artifact-img'}));
    return;
  }
  const cut = r.headers.get('X-Lakeml-Truncated');
  let text = await blob.text();
  if (/\.json$/i.test(f.path)) {
    try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { /* shown as it is */ }
  }
  fill(preview, title, open, cut ? h('p', {class: 'muted'}, `The first ${(+cut).toLocaleString('en')} bytes of ${(f.file_size || 0).toLocaleString('en')}.`) : null,
    h('pre', {class: 'artifact-text'}, text));
}
