// The supervisor's decisions, newest first, each with its reason and figures (as text).
import { el, fmtAge, fmtTime, setAttr } from './dom.js';

const MAX_ITEMS = 300;

function figuresText(figures) {
  const parts = [];
  for (const [k, v] of Object.entries(figures ?? {})) {
    const when = typeof v === 'number' && v > 1e12 && /(until|at|ts)$/i.test(k);
    const s = when ? fmtTime(v) : typeof v === 'number' ? String(Math.round(v * 1000) / 1000) : typeof v === 'string' ? v : JSON.stringify(v);
    parts.push(`${k}=${s.length > 120 ? `${s.slice(0, 117)}...` : s}`);
  }
  return parts.join('  ');
}

export class TimelineView {
  constructor(list) {
    this.list = list;
  }

  #item(e) {
    const li = el('li');
    li.dataset.kind = e.kind;
    if (e.workerId) li.dataset.workerId = e.workerId;
    const head = el('div', 'ev-head');
    const kind = el('span', 'ev-kind', e.kind);
    kind.dataset.kind = e.kind;
    head.append(el('span', 'ev-time', fmtTime(e.ts)), kind, el('span', 'ev-who', e.workerId ? `${e.service} / ${e.workerId}` : e.service));
    const reason = el('div', 'ev-reason', e.reason);
    if (e.ejectionMs !== null && e.ejectionMs !== undefined) reason.append(el('span', 'ev-ejection', ` out for ${fmtAge(e.ejectionMs)}${e.ejection ? ` (ejection #${e.ejection})` : ''}`));
    li.append(head, reason);
    const figures = figuresText(e.figures);
    if (figures || e.code) {
      const line = li.appendChild(el('div', 'ev-figures', figures));
      if (e.code) line.prepend(el('span', 'ev-code', e.code));
    }
    setAttr(li, 'title', `decided by ${e.supervisor}`);
    return li;
  }

  reset(events) {
    this.list.replaceChildren(...events.slice(-MAX_ITEMS).reverse().map((e) => this.#item(e)));
    this.#placeholder();
  }

  add(e) {
    this.list.querySelector(':scope > .empty')?.remove();
    this.list.prepend(this.#item(e));
    while (this.list.children.length > MAX_ITEMS) this.list.lastElementChild.remove();
  }

  #placeholder() {
    if (this.list.children.length === 0) this.list.append(el('li', 'empty', 'No decision yet.'));
  }
}

/** The `$SRV.STATS` table, shown only while no supervisor leads. */
export function renderSrv(panel, endpoints) {
  panel.hidden = endpoints.length === 0;
  const tbody = panel.querySelector('tbody');
  const key = JSON.stringify(endpoints);
  if (tbody.dataset.key === key) return;
  tbody.dataset.key = key;
  tbody.replaceChildren(
    ...endpoints.map((e) => {
      const tr = el('tr');
      tr.dataset.instance = e.instance;
      tr.append(el('td', 'id', e.service), el('td', 'id', e.instance), el('td', 'id', e.endpoint), el('td', 'num', String(e.requests)), el('td', 'num', String(e.errors)), el('td', 'num', String(e.averageMs)), el('td', 'reason', e.lastError));
      return tr;
    }),
  );
}
