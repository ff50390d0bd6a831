// The model registry: the models list (search by name, latest version per stage,
// aliases), a model (versions, stages, aliases, tags, description) and a version (source
// run, review, audit: pages/version.js). Descriptions are markdown, rendered by the server.
import {api, post} from '../api.js';
import {h, fill, link, table, errorBox, debounce} from '../dom.js';
import {when, ago} from '../format.js';
import {setQuery} from '../url.js';
import {descriptionSection} from '../describe.js';

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
    descriptionSection(m.description, body.description_html, text => post('/model/description', {name: m.name, description: text})),
    h('section', {}, h('h2', {}, 'Aliases'), Object.keys(m.aliases).length ? table(['Alias', 'Version'],
      Object.entries(m.aliases).map(([a, v]) => [`@${a}`, versionLink(m.name, v, `v${v}`)])) : h('p', {class: 'muted'}, 'None.')),
    h('section', {}, h('h2', {}, 'Tags'), Object.keys(m.tags).length ? table(['Key', 'Value'], Object.entries(m.tags)) : h('p', {class: 'muted'}, 'None.')),
    h('section', {}, h('h2', {}, `Versions (${body.versions.length})`), table(['Version', 'Stage', 'Aliases', 'Source run', 'Created', 'By'],
      body.versions.map(v => [versionLink(m.name, v.version), v.current_stage, v.aliases.map(a => `@${a}`).join(' '),
        v.run_id ? link(v.run_id, '/runs/' + encodeURIComponent(v.run_id)) : '', when(v.creation_timestamp), v.user_id || '']))));
}
