// A virtualized table: only the rows in view (and a few either side) are in the DOM, so a
// table of 100,000 loaded rows scrolls as fast as one of 20. Rows have one fixed height.
// The header stays on top (sticky) and scrolls sideways with the rows.
import {h} from './dom.js';

const OVERSCAN = 8;

export class VTable {
  /** columns: [{id, label, title (the full name, if label is short), group (a short
   *  prefix such as 'metric'), width (px), render(row) -> Node|string,
   *  sort: 'asc'|'desc'|null, sortable, num}]; onSort(column); onNearEnd() when the view nears the last row. */
  constructor({columns, label, rowHeight = 34, onSort, onNearEnd}) {
    this.rowHeight = rowHeight;
    this.onSort = onSort;
    this.onNearEnd = onNearEnd;
    this.rows = [];
    this.el = h('div', {class: 'vt', role: 'table', 'aria-label': label, tabindex: '0'});
    this.spacer = h('div', {class: 'vt-spacer'});
    this.el.addEventListener('scroll', () => this.draw(), {passive: true});
    new ResizeObserver(() => this.draw()).observe(this.el);
    this.setColumns(columns);
  }

  setColumns(columns) {
    this.columns = columns;
    this.template = columns.map(c => `${c.width || 140}px`).join(' ');
    const width = columns.reduce((s, c) => s + (c.width || 140), 0);
    this.head = h('div', {class: 'vt-row vt-head', role: 'row', style: `grid-template-columns:${this.template}`},
      columns.map(c => h('div', {role: 'columnheader', class: c.num ? 'num' : '', title: c.title || c.label,
        'aria-sort': c.sort === 'asc' ? 'ascending' : c.sort === 'desc' ? 'descending' : null},
        c.sortable ? h('button', {type: 'button', class: 'sort', title: `Sort by ${c.title || c.label}`,
          onclick: () => this.onSort && this.onSort(c)}, c.group ? h('span', {class: 'grp'}, c.group + ' ') : null, c.label,
          h('span', {'aria-hidden': 'true'}, c.sort === 'asc' ? ' ▲' : c.sort === 'desc' ? ' ▼' : ''))
          : c.label)));
    this.body = h('div', {class: 'vt-body', role: 'rowgroup'});
    this.el.replaceChildren(this.head, this.spacer, this.body);
    this.el.style.setProperty('--vt-width', width + 'px');
    this.drawn = null;
    this.draw();
  }

  setRows(rows) {
    this.rows = rows;
    this.el.setAttribute('aria-rowcount', String(rows.length + 1));
    this.drawn = null;
    this.draw();
  }

  draw() {
    const rh = this.rowHeight;
    this.spacer.style.height = `${this.rows.length * rh}px`;
    const top = Math.max(0, this.el.scrollTop - this.head.offsetHeight);
    const first = Math.max(0, Math.floor(top / rh) - OVERSCAN);
    const last = Math.min(this.rows.length, Math.ceil((top + this.el.clientHeight) / rh) + OVERSCAN);
    const key = `${first}:${last}`;
    if (key !== this.drawn) {
      this.drawn = key;
      const out = [];
      for (let i = first; i < last; i++) {
        const row = this.rows[i];
        out.push(h('div', {class: 'vt-row', role: 'row', 'aria-rowindex': String(i + 2),
          style: `grid-template-columns:${this.template};transform:translateY(${i * rh}px)`},
          this.columns.map(c => h('div', {role: 'cell', class: c.num ? 'num' : ''}, c.render(row)))));
      }
      this.body.replaceChildren(...out);
    }
    if (this.onNearEnd && this.rows.length && last >= this.rows.length - OVERSCAN) this.onNearEnd();
  }
}
