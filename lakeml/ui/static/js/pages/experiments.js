// The experiments list: search by name, run counts, last activity; create, rename,
// delete and restore (each a JSON POST to lakeml/ui/edits.py, then the list is read again).
import {api, post} from '../api.js';
import {h, fill, link, errorBox, debounce} from '../dom.js';
import {ago, when} from '../format.js';
import {setQuery} from '../url.js';

export async function experimentsPage(main, _parts, query) {
  const search = h('input', {id: 'exp-search', type: 'search', value: query.get('q') || '',
    placeholder: 'name contains…', autocomplete: 'off'});
  const view = h('select', {id: 'exp-view'},
    ['active', 'deleted', 'all'].map(v => h('option', {value: v, selected: v === (query.get('view') || 'active')}, v)));
  const list = h('div', {id: 'experiments', 'aria-live': 'polite'});
  const status = h('div', {id: 'exp-status', 'aria-live': 'polite'});
  const newName = h('input', {id: 'new-experiment', type: 'text', autocomplete: 'off'});
  const change = async (path, body) => {
    try { await post(path, body); fill(status); await load(); } catch (err) { fill(status, errorBox(err)); }
  };
  const chosen = new Set();
  const openBtn = h('button', {type: 'button', id: 'open-selected', disabled: true, onclick: () => {
    location.hash = '#/experiments/' + [...chosen].map(encodeURIComponent).join(',');
  }}, 'Runs of the selected experiments');
  const pick = (id, on) => {
    if (on) chosen.add(id); else chosen.delete(id);
    openBtn.disabled = chosen.size < 1;
  };
  fill(main,
    h('h1', {}, 'Experiments'),
    h('form', {class: 'bar', role: 'search', onsubmit: e => e.preventDefault()},
      h('label', {for: 'exp-search'}, 'Search experiments'), search,
      h('label', {for: 'exp-view'}, 'Show'), view, openBtn),
    h('form', {class: 'bar', id: 'create-experiment', onsubmit: e => {
      e.preventDefault();
      change('/experiments/create', {name: newName.value}).then(() => { newName.value = ''; });
    }}, h('label', {for: 'new-experiment'}, 'New experiment'), newName, h('button', {type: 'submit'}, 'Create')),
    status, list);
  const load = async () => {
    const q = new URLSearchParams();
    if (search.value) q.set('q', search.value);
    if (view.value !== 'active') q.set('view', view.value);
    setQuery(q, {replace: true});
    try {
      const body = await api('/experiments', {q: search.value, view: view.value});
      fill(list, render(body.experiments, chosen, pick, change));
    } catch (err) { fill(list, errorBox(err)); }
  };
  search.addEventListener('input', debounce(load, 200));
  view.addEventListener('change', load);
  await load();
}

function render(rows, chosen, pick, change) {
  if (!rows.length) return h('p', {class: 'muted'}, 'No experiment matches.');
  return h('div', {class: 'scroll-x'}, h('table', {class: 'list'},
    h('caption', {class: 'sr-only'}, 'Experiments'),
    h('thead', {}, h('tr', {},
      h('th', {scope: 'col'}, 'Select'), h('th', {scope: 'col'}, 'Name'), h('th', {scope: 'col', class: 'num'}, 'Runs'),
      h('th', {scope: 'col'}, 'Last activity'), h('th', {scope: 'col'}, 'Id'), h('th', {scope: 'col'}, 'Actions'))),
    h('tbody', {}, rows.map(e => h('tr', {},
      h('td', {}, h('input', {type: 'checkbox', 'aria-label': `Select experiment ${e.name}`,
        checked: chosen.has(e.experiment_id), onchange: ev => pick(e.experiment_id, ev.target.checked)})),
      h('td', {}, link(e.name, '/experiments/' + encodeURIComponent(e.experiment_id)),
        e.lifecycle_stage === 'deleted' ? h('span', {class: 'badge'}, 'deleted') : null),
      h('td', {class: 'num'}, e.runs.toLocaleString('en')),
      h('td', {title: when(e.last_activity)}, ago(e.last_activity) || when(e.last_activity)),
      h('td', {class: 'mono'}, e.experiment_id),
      h('td', {}, actions(e, change)))))));
}

function actions(e, change) {
  const id = e.experiment_id;
  if (e.lifecycle_stage === 'deleted') {
    return h('button', {type: 'button', class: 'restore-exp', 'aria-label': `Restore experiment ${e.name}`,
      onclick: () => change('/experiments/restore', {experiment_id: id})}, 'Restore');
  }
  const cell = h('div', {class: 'bar small'});
  const show = () => fill(cell,
    h('button', {type: 'button', class: 'rename-exp', 'aria-label': `Rename experiment ${e.name}`, onclick: () => {
      const input = h('input', {type: 'text', class: 'rename-input', 'aria-label': `New name of experiment ${e.name}`});
      input.value = e.name;
      fill(cell, h('form', {class: 'bar small', onsubmit: ev => { ev.preventDefault(); change('/experiments/rename', {experiment_id: id, name: input.value}); }},
        input, h('button', {type: 'submit'}, 'Save'), h('button', {type: 'button', onclick: show}, 'Cancel')));
      input.focus();
    }}, 'Rename'),
    h('button', {type: 'button', class: 'delete-exp', 'aria-label': `Delete experiment ${e.name}`, onclick: () => {
      if (confirm(`Delete experiment "${e.name}"? It can be restored (Show: deleted).`)) change('/experiments/delete', {experiment_id: id});
    }}, 'Delete'));
  show();
  return cell;
}
