/**
 * A virtual table for long lists (1,000 DataNodes and more): only the rows in view, plus a
 * few either side, exist in the DOM, in a pool reused as the list scrolls or refreshes;
 * a refresh rewrites only cells whose text changed. Columns sort on a header click; a
 * filter keeps rows whose text contains it. Rows have a fixed height (ROW_PX, style.css).
 */
import { h, setText } from './dom.js';

const ROW_PX = 28;
const OVERSCAN = 8;

export class VirtualTable {
  /**
   * columns: [{ key, label, num, text(row) -> string, value(row) -> sortable }]
   * options: { key(row) -> string (data-key), rowClass(row) -> string }
   */
  constructor(columns, options) {
    this.columns = columns;
    this.options = options;
    this.rows = [];
    this.shown = [];
    this.sortKey = null;
    this.sortDir = 1;
    this.filter = '';
    this.pool = [];
    const colgroup = () => h('colgroup', {}, ...columns.map((c) => h('col', { class: `c-${c.key}` })));
    this.head = h(
      'table',
      { class: 'vt-head' },
      colgroup(),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...columns.map((c) =>
            h(
              'th',
              { class: c.num ? 'num' : '', 'data-sort': c.key, onclick: () => this.sortBy(c.key) },
              c.label,
            ),
          ),
        ),
      ),
    );
    this.body = h('tbody');
    this.table = h('table', { class: 'vt-body' }, colgroup(), this.body);
    this.spacer = h('div', { class: 'vt-spacer' }, this.table);
    this.scroller = h('div', { class: 'vt-scroll', onscroll: () => this.render() }, this.spacer);
    this.count = h('div', { class: 'vt-count', 'data-field': 'rowCount' });
    this.el = h('div', { class: 'vt' }, this.head, this.scroller, this.count);
  }

  setRows(rows) {
    this.rows = rows;
    this.apply();
  }

  setFilter(text) {
    this.filter = text.trim().toLowerCase();
    this.apply();
  }

  sortBy(key) {
    this.sortDir = this.sortKey === key ? -this.sortDir : 1;
    this.sortKey = key;
    for (const th of this.head.querySelectorAll('th'))
      th.dataset.dir = th.dataset.sort === key ? (this.sortDir > 0 ? 'asc' : 'desc') : '';
    this.apply();
  }

  apply() {
    let rows = this.rows;
    if (this.filter !== '')
      rows = rows.filter((r) => this.columns.some((c) => c.text(r).toLowerCase().includes(this.filter)));
    const col = this.columns.find((c) => c.key === this.sortKey);
    if (col !== undefined) {
      const value = col.value ?? col.text;
      const dir = this.sortDir;
      rows = [...rows].sort((a, b) => {
        const x = value(a);
        const y = value(b);
        return x < y ? -dir : x > y ? dir : 0;
      });
    }
    this.shown = rows;
    this.spacer.style.height = `${rows.length * ROW_PX}px`;
    setText(this.count, `${rows.length} of ${this.rows.length} shown`);
    this.render();
  }

  render() {
    const top = this.scroller.scrollTop;
    const height = this.scroller.clientHeight || 520;
    const first = Math.max(0, Math.floor(top / ROW_PX) - OVERSCAN);
    const last = Math.min(this.shown.length, Math.ceil((top + height) / ROW_PX) + OVERSCAN);
    this.table.style.transform = `translateY(${first * ROW_PX}px)`;
    const n = last - first;
    while (this.pool.length < n) {
      const tr = h(
        'tr',
        {},
        ...this.columns.map((c) => h('td', { class: c.num ? 'num' : '', 'data-col': c.key })),
      );
      this.pool.push(tr);
    }
    for (let i = 0; i < n; i++) {
      const row = this.shown[first + i];
      const tr = this.pool[i];
      const key = this.options.key(row);
      if (tr.dataset.key !== key) tr.dataset.key = key;
      const cls = this.options.rowClass ? this.options.rowClass(row) : '';
      if (tr.className !== cls) tr.className = cls;
      this.columns.forEach((c, j) => setText(tr.children[j], c.text(row)));
      if (tr.parentNode !== this.body || this.body.children[i] !== tr) this.body.append(tr);
    }
    while (this.body.children.length > n) this.body.lastChild.remove();
  }
}
