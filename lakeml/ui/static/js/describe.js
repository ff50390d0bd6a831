// A markdown description: shown as the HTML the server rendered and sanitised
// (lakeml/ui/markdown.py: raw HTML off, unsafe link schemes dropped), editable in place.
// The page never parses HTML into itself: the server's HTML is parsed by DOMParser into
// an inert document (no script runs there) and copied over element by element, keeping
// only the tags and attributes CommonMark makes (a second fence behind the server's).
import {h, fill, errorBox} from './dom.js';

const TAGS = new Set(['p', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'ul', 'ol', 'li', 'em', 'strong', 'code',
  'pre', 'blockquote', 'a', 'img', 'hr', 'br', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 's', 'del']);
const ATTRS = {a: ['href', 'title'], img: ['src', 'alt', 'title'], ol: ['start'], th: ['style'], td: ['style']};
const SAFE_URL = /^(https?:|mailto:|#|\/|\.|[^:]*$)/i;

/** The nodes of `html` that are allowed, as new nodes of this page. */
export function safeNodes(html) {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  const copy = node => {
    if (node.nodeType === Node.TEXT_NODE) return document.createTextNode(node.data);
    if (node.nodeType !== Node.ELEMENT_NODE) return null;
    const tag = node.tagName.toLowerCase();
    const kids = [...node.childNodes].map(copy).filter(Boolean);
    if (!TAGS.has(tag)) return kids.length ? kids : null;  // unknown: keep its text only
    const el = document.createElement(tag);
    for (const name of ATTRS[tag] || []) {
      const v = node.getAttribute(name);
      if (v == null) continue;
      if ((name === 'href' || name === 'src') && !SAFE_URL.test(v.trim())) continue;
      if (name === 'style' && !/^text-align:(left|right|center)$/.test(v)) continue;
      el.setAttribute(name, v);
    }
    if (tag === 'a') el.setAttribute('rel', 'noopener noreferrer nofollow');
    el.append(...kids.flat());
    return el;
  };
  return [...doc.body.childNodes].map(copy).flat().filter(Boolean);
}

/** A section showing `html` (the server's rendering of `markdown`); its Edit button opens
 *  a text box whose Save calls `save(text)`, which answers {description, description_html}. */
export function descriptionSection(markdown, html, save) {
  const box = h('div', {class: 'markdown', id: 'description'});
  const section = h('section', {'aria-labelledby': 'description-h'});
  const show = (md, rendered) => {
    fill(box, md ? safeNodes(rendered) : h('span', {class: 'muted'}, 'No description.'));
    fill(section, h('h2', {id: 'description-h'}, 'Description'), box,
      h('button', {type: 'button', id: 'edit-description', onclick: () => edit(md, rendered)}, 'Edit description'));
  };
  const edit = (md, rendered) => {
    const text = h('textarea', {id: 'description-text', rows: 8, class: 'wide'});
    text.value = md || '';
    const status = h('div', {'aria-live': 'polite'});
    fill(section, h('h2', {id: 'description-h'}, 'Description'),
      h('label', {for: 'description-text'}, 'Description (markdown)'), text,
      h('div', {class: 'bar'},
        h('button', {type: 'button', id: 'save-description', onclick: async () => {
          try {
            const out = await save(text.value);
            show(out.description, out.description_html);
          } catch (err) { fill(status, errorBox(err)); }
        }}, 'Save'),
        h('button', {type: 'button', onclick: () => show(md, rendered)}, 'Cancel')), status);
    text.focus();
  };
  show(markdown, html);
  return section;
}
