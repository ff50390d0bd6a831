// A run's tags, editable: change a value, delete a tag, add one. Each change is a POST of
// JSON to the UI API (lakeml/ui/edits.py), then the table is read back from the server.
import {api, post} from './api.js';
import {h, fill, errorBox} from './dom.js';

const SYSTEM = /^mlflow\.|^lakeml\./;  // the platform's own tags: shown, not edited here

/** The tags table of run `runId` (`tags`: key -> value), with edit, delete and add unless
 *  the run is deleted (`lifecycle`): as in MLflow, an ended run still takes tags. */
export function tagEditor(runId, tags, q, lifecycle) {
  if (lifecycle !== 'active') return readOnly(tags);
  const box = h('div', {id: 'tags-editor'});
  const status = h('div', {'aria-live': 'polite'});
  const reload = async () => {
    try { draw((await api('/run', {run_id: runId, q: q()})).tags); } catch (err) { fill(status, errorBox(err)); }
  };
  const change = async (path, body) => {
    try { await post(path, {run_id: runId, ...body}); fill(status); await reload(); }
    catch (err) { fill(status, errorBox(err)); }
  };
  const draw = (current) => {
    const rows = Object.entries(current).map(([k, v], i) => {
      if (SYSTEM.test(k)) return h('tr', {}, h('td', {class: 'mono'}, k), h('td', {class: 'wrap'}, v), h('td', {class: 'muted'}, 'system tag'));
      const input = h('input', {type: 'text', id: `tag-value-${i}`, 'aria-label': `Value of tag ${k}`});
      input.value = v;
      return h('tr', {class: 'edit-row'}, h('td', {class: 'mono'}, k), h('td', {}, input),
        h('td', {}, h('div', {class: 'bar small'},
          h('button', {type: 'button', class: 'save-tag', onclick: () => change('/run/set-tag', {key: k, value: input.value})}, 'Save'),
          h('button', {type: 'button', class: 'delete-tag', 'aria-label': `Delete tag ${k}`, onclick: () => change('/run/delete-tag', {key: k})}, 'Delete'))));
    });
    const key = h('input', {type: 'text', id: 'new-tag-key', autocomplete: 'off'});
    const value = h('input', {type: 'text', id: 'new-tag-value', autocomplete: 'off'});
    fill(box, h('div', {class: 'scroll-x'}, h('table', {id: 'tags-table'},
      h('thead', {}, h('tr', {}, ['Key', 'Value', ''].map(t => h('th', {scope: 'col'}, t)))),
      h('tbody', {}, rows))),
      h('form', {class: 'bar', id: 'add-tag', onsubmit: e => { e.preventDefault(); change('/run/set-tag', {key: key.value, value: value.value}); }},
        h('label', {for: 'new-tag-key'}, 'New tag'), key, h('label', {for: 'new-tag-value'}, 'value'), value,
        h('button', {type: 'submit'}, 'Add tag')), status);
  };
  draw(tags);
  return box;
}

function readOnly(tags) {
  const entries = Object.entries(tags);
  return h('div', {id: 'tags-editor'},
    entries.length ? h('div', {class: 'scroll-x'}, h('table', {id: 'tags-table'},
      h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Key'), h('th', {scope: 'col'}, 'Value'))),
      h('tbody', {}, entries.map(([k, v]) => h('tr', {}, h('td', {class: 'mono'}, k), h('td', {class: 'wrap'}, v))))))
      : h('p', {class: 'muted'}, 'None.'),
    h('p', {class: 'muted', id: 'tags-readonly'}, 'The run is deleted: restore it to change its tags.'));
}
