// The model registry: the models list (search by name, latest version per stage,
// aliases), a model (versions, stages, aliases, tags, description) and a version (source
// run, tags, transition requests and comments). Descriptions are shown as plain text.
import {api} from '../api.js';
import {h, fill, link, table, errorBox, debounce} from '../dom.js';
import {when, ago} from '../format.js';
import {setQuery} from '../url.js';

const modelLink = name => link(name, '/models/' + encodeURIComponent(name));
const versionLink = (name, v, text) => link(text || `Version ${v}`, `/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(v)}`);

export async function modelsPage(main, _parts, query) {
  const search = h('input', {id: 'model-search', type: 'search', value: query.get('q') || '', autocomplete: 'off', placeholder: 'name contains…'});
  const list = h('div', {id: 'models'});
  const moreBtn = h('button', {type: 'button', hidden: true}, 'More models');
  let token = null, rows = [];
  const load = async (next) => {
    if (!next) { rows = []; token = null; setQuery(new URLSearchParams(search.value ? {q: search.value} : {}), {replace: true}); }
    try {
      const body = await api('/models', {q: search.value, page_token: next ? token : null});
      rows = rows.concat(body.models);
      token = body.next_page_token;
      moreBtn.hidden = !token;
      fill(list, rows.length ? table(['Name', 'Latest versions', 'Aliases', 'Updated'], rows.map(m => [
        modelLink(m.name),
        m.latest_versions.map(v => [versionLink(m.name, v.version, `v${v.version}`), ` ${v.current_stage}  `]),
        Object.entries(m.aliases).map(([a, v]) => h('span', {class: 'badge'}, `@${a} → v${v}`)),
        ago(m.last_updated_timestamp)])) : h('p', {class: 'muted'}, 'No registered model matches.'));
    } catch (err) { fill(list, errorBox(err)); }
  };
  search.addEventListener('input', debounce(() => load(false), 200));
  moreBtn.addEventListener('click', () => load(true));
  fill(main, h('h1', {}, 'Registered models'),
    h('form', {class: 'bar', role: 'search', onsubmit: e => e.preventDefault()},
      h('label', {for: 'model-search'}, 'Search models'), search), list, moreBtn);
  await load(false);
}

export async function modelPage(main, [name]) {
  const body = await api('/model', {name});
  const m = body.model;
  fill(main,
    h('nav', {class: 'crumbs', 'aria-label': 'Breadcrumb'}, link('Models', '/models'), ' / '),
    h('h1', {}, m.name),
    h('dl', {class: 'facts'}, h('dt', {}, 'Created'), h('dd', {}, when(m.creation_timestamp)),
      h('dt', {}, 'Updated'), h('dd', {}, when(m.last_updated_timestamp))),
    h('section', {}, h('h2', {}, 'Description'), h('div', {class: 'description'}, m.description || h('span', {class: 'muted'}, 'No description.'))),
    h('section', {}, h('h2', {}, 'Aliases'), Object.keys(m.aliases).length ? table(['Alias', 'Version'],
      Object.entries(m.aliases).map(([a, v]) => [`@${a}`, versionLink(m.name, v, `v${v}`)])) : h('p', {class: 'muted'}, 'None.')),
    h('section', {}, h('h2', {}, 'Tags'), Object.keys(m.tags).length ? table(['Key', 'Value'], Object.entries(m.tags)) : h('p', {class: 'muted'}, 'None.')),
    h('section', {}, h('h2', {}, `Versions (${body.versions.length})`), table(['Version', 'Stage', 'Aliases', 'Source run', 'Created', 'By'],
      body.versions.map(v => [versionLink(m.name, v.version), v.current_stage, v.aliases.map(a => `@${a}`).join(' '),
        v.run_id ? link(v.run_id, '/runs/' + encodeURIComponent(v.run_id)) : '', when(v.creation_timestamp), v.user_id || '']))));
}

export async function versionPage(main, [name, number]) {
  const body = await api('/model-version', {name, version: number});
  const v = body.version;
  fill(main,
    h('nav', {class: 'crumbs', 'aria-label': 'Breadcrumb'}, link('Models', '/models'), ' / ', modelLink(name), ' / '),
    h('h1', {}, `${name} version ${v.version}`),
    h('dl', {class: 'facts'},
      ...[['Stage', v.current_stage], ['Aliases', v.aliases.map(a => `@${a}`).join(' ') || '—'],
        ['Status', v.status], ['Source run', v.run_id ? link(v.run_id, '/runs/' + encodeURIComponent(v.run_id)) : '—'],
        ['Source', h('span', {class: 'mono'}, v.source)], ['Created', when(v.creation_timestamp)],
        ['Updated', when(v.last_updated_timestamp)], ['By', v.user_id || '']].flatMap(([t, d]) => [h('dt', {}, t), h('dd', {}, d)])),
    h('section', {}, h('h2', {}, 'Description'), h('div', {class: 'description'}, v.description || h('span', {class: 'muted'}, 'No description.'))),
    h('section', {}, h('h2', {}, 'Tags'), Object.keys(v.tags).length ? table(['Key', 'Value'], Object.entries(v.tags)) : h('p', {class: 'muted'}, 'None.')),
    h('section', {}, h('h2', {}, 'Stage transition requests'), body.requests.length ? table(
      ['Stage', 'Status', 'Requested by', 'At', 'Comment', 'Resolved by', 'Resolution'],
      body.requests.map(r => [r.stage, r.status, r.requested_by || '', when(r.requested_at), r.comment || '',
        r.resolved_by || '', r.resolution_comment || ''])) : h('p', {class: 'muted'}, 'None.')),
    h('section', {}, h('h2', {}, 'Comments'), body.comments.length ? h('ul', {}, body.comments.map(c =>
      h('li', {}, h('strong', {}, c.user_id || 'someone'), ` (${when(c.timestamp)}): `, c.comment))) : h('p', {class: 'muted'}, 'None.')));
}
