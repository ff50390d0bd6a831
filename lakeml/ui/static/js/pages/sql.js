// A read-only SQL box over the store's views (runs, params, metrics, latest_metrics,
// tags, experiments, model_versions...): the first 1,000 rows as a table.
import {post, download} from '../api.js';
import {h, fill, table, errorBox} from '../dom.js';
import {value} from '../format.js';
import {setQuery} from '../url.js';

const EXAMPLE = 'SELECT experiment_id, count(*) AS runs FROM runs GROUP BY 1 ORDER BY runs DESC';

export async function sqlPage(main, _parts, query) {
  const box = h('textarea', {id: 'sql-box', rows: '6', class: 'mono wide', spellcheck: 'false'});
  box.value = query.get('q') || EXAMPLE;
  const out = h('div', {id: 'sql-result', 'aria-live': 'polite'});
  const saver = (q, format, label, id) => h('button', {type: 'button', class: 'linkish', id, onclick: () =>
    download('/sql-download', {q, format}, `lakeml-query.${format}`).catch(err => fill(out, errorBox(err)))}, label);
  const run = async () => {
    setQuery(new URLSearchParams({q: box.value}), {replace: true});
    fill(out, h('p', {class: 'muted'}, 'Running…'));
    try {
      const q = box.value;  // the query the downloads give, whatever the box holds later
      const body = await post('/sql', {q});
      fill(out, h('p', {class: 'muted'}, `${body.rows.length} rows${body.truncated ? ' (the first 1,000)' : ''}. Download: `,
          saver(q, 'csv', 'CSV', 'sql-csv'), ' · ', saver(q, 'parquet', 'Parquet', 'sql-parquet')),
        table(body.columns, body.rows.map(r => r.map(value))));
    } catch (err) { fill(out, errorBox(err)); }
  };
  box.addEventListener('keydown', e => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); } });
  fill(main, h('h1', {}, 'SQL'),
    h('form', {onsubmit: e => { e.preventDefault(); run(); }},
      h('label', {for: 'sql-box'}, 'Query (read-only; Ctrl+Enter runs it)'), box,
      h('div', {class: 'bar'}, h('button', {type: 'submit', id: 'sql-run'}, 'Run'))),
    out);
  if (query.get('q')) await run();
}
