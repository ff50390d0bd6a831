// The column chooser: every metric, param and tag key of the experiment (tens of
// thousands of them is fine), filtered by a search box as one types. Only the first
// SHOWN matches are put in the DOM; the chosen columns are always listed first.
import {h, fill, debounce} from './dom.js';

const SHOWN = 150;
const GROUPS = [['metrics', 'Metrics'], ['params', 'Params'], ['tags', 'Tags']];

/** keys: {metrics: [{key, runs}], params: [...], tags: [...]}; chosen: ['metrics.x', ...];
 *  onChange(newChosen) after each tick. */
export function columnChooser(keys, chosen, onChange) {
  const selected = new Set(chosen);
  const search = h('input', {id: 'col-search', type: 'search', placeholder: 'key contains…', autocomplete: 'off'});
  const list = h('div', {class: 'chooser-list'});
  const count = h('p', {class: 'muted', 'aria-live': 'polite'});
  const all = GROUPS.flatMap(([g]) => (keys[g] || []).map(k => ({id: `${g}.${k.key}`, group: g, key: k.key, runs: k.runs, low: k.key.toLowerCase()})));
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const matches = [];
    let total = 0;
    for (const k of all) {
      if (q && !k.low.includes(q)) continue;
      total++;
      if (matches.length < SHOWN || selected.has(k.id)) matches.push(k);
    }
    matches.sort((a, b) => selected.has(b.id) - selected.has(a.id));
    fill(count, `${total.toLocaleString('en')} of ${all.length.toLocaleString('en')} keys match` +
      (total > SHOWN ? `; showing ${SHOWN}, refine the search for more` : ''));
    fill(list, GROUPS.map(([g, label]) => {
      const items = matches.filter(k => k.group === g);
      if (!items.length) return null;
      return h('fieldset', {}, h('legend', {}, label), items.map(k => {
        const id = 'col-' + k.id;
        return h('div', {class: 'check'},
          h('input', {type: 'checkbox', id, checked: selected.has(k.id), onchange: e => {
            if (e.target.checked) selected.add(k.id); else selected.delete(k.id);
            onChange([...selected]);
          }}),
          h('label', {for: id}, k.key, h('span', {class: 'muted'}, ` (${k.runs})`)));
      }));
    }));
  };
  search.addEventListener('input', debounce(draw, 60));
  draw();
  return h('section', {class: 'chooser', 'aria-label': 'Columns'},
    h('label', {for: 'col-search'}, 'Search columns'), search, count, list);
}
