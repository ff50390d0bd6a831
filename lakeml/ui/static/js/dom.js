// Building DOM without HTML strings: every text a user typed goes in as a text node
// (append of a string, or textContent), never parsed as HTML.
import {queryString} from './url.js';

/** h('a', {href: '#/x', class: 'k'}, 'text', child) -> an element. Strings become
 *  text nodes; attributes starting with "on" are event listeners. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (typeof v === 'boolean' || typeof v === 'number' && k in el) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Replace the children of el. */
export function fill(el, ...children) {
  el.replaceChildren();
  for (const c of children.flat(Infinity)) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** A hash link to an in-app route; parts are URL-encoded. */
export function link(text, route, params) {
  return h('a', {href: href(route, params)}, text);
}

export function href(route, params) {
  const s = queryString(params);
  return '#' + route + (s ? '?' + s : '');
}

export function enc(s) { return encodeURIComponent(s); }

/** A table of rows (arrays of cells); head is a list of header texts. */
export function table(head, rows, attrs) {
  return h('div', {class: 'scroll-x'}, h('table', attrs || {},
    h('thead', {}, h('tr', {}, head.map(t => h('th', {scope: 'col'}, t)))),
    h('tbody', {}, rows.map(r => r instanceof Node ? r : h('tr', {}, r.map(c => h('td', {}, c)))))));
}

/** A message shown in place of a page part that failed: the server's text as is
 *  (a filter error keeps its caret line, so it goes in a <pre>). */
export function errorBox(err) {
  return h('pre', {class: 'error', role: 'alert'}, err && err.message ? err.message : String(err));
}

export function debounce(fn, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}
