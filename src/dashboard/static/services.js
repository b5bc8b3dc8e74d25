// One card per service: its figures with 3-minute charts, and a row per worker. Rows are keyed by
// worker id and updated in place, so a thousand workers re-render cheaply.
import { codeChips, el, fmtAge, fmtMb, fmtMs, fmtPercent, fmtRate, setAttr, setText, sparkline } from './dom.js';
import { SERVICE_POINTS, WORKER_POINTS } from './history.js';

const COLUMNS = ['worker', 'state', 'calls/s', 'errors/s', 'p50 · p99', 'in flight', 'loop delay', 'memory', 'heartbeat'];
/** Fixed widths, so the columns of every service line up (the first takes the rest). */
const WIDTHS = ['col-id', 'col-state', 'col-cps', 'col-codes', 'col-lat', 'col-inflight', 'col-loop', 'col-rss', 'col-age'];

function kpi(title, color) {
  const node = el('div', 'kpi');
  const value = el('div', 'v');
  const codes = el('div', 'codes');
  const chart = sparkline(color);
  node.append(el('div', 'k', title), value, codes, chart.svg);
  return { node, value, codes, chart };
}

function valueWithUnit(node, main, unit) {
  const key = `${main}|${unit}`;
  if (node.dataset.key === key) return;
  node.dataset.key = key;
  node.replaceChildren(document.createTextNode(main), el('small', '', unit));
}

export class ServicesView {
  constructor(root, onAction) {
    this.root = root;
    this.onAction = onAction;
    this.cards = new Map();
    this.actions = false;
    // Worker rows are only kept current in cards on (or near) the screen: with a thousand workers,
    // updating rows nobody sees is most of the cost. A card coming into view is brought up to date.
    this.visible = new Set();
    this.observer = new IntersectionObserver((entries) => this.#onVisibility(entries), { rootMargin: '400px 0px' });
  }

  #onVisibility(entries) {
    for (const e of entries) {
      const service = e.target.dataset.service;
      if (!e.isIntersecting) {
        this.visible.delete(service);
        continue;
      }
      this.visible.add(service);
      const card = this.cards.get(service);
      if (card?.stale) this.#renderRows(card, true);
    }
  }

  #card(service) {
    let card = this.cards.get(service);
    if (card) return card;
    const node = el('article', 'service');
    node.dataset.service = service;
    const head = el('div', 'svc-head');
    const name = el('span', 'svc-name', service);
    const deadline = el('span', 'chip');
    const count = el('span', 'svc-count');
    head.append(name, deadline, count);
    const k = {
      calls: kpi('calls / s', 'blue'),
      errors: kpi('errors', 'red'),
      latency: kpi('latency p50 · p99', 'purple'),
      inflight: kpi('in flight / limit', 'green'),
      loop: kpi('loop delay, worst', 'amber'),
      memory: kpi('memory, all workers', 'blue'),
    };
    const kpis = el('div', 'kpis');
    kpis.append(...Object.values(k).map((x) => x.node));
    const table = el('table', 'workers');
    const headRow = el('tr');
    for (const c of COLUMNS) headRow.append(el('th', /calls|errors|p50|p99|flight|loop|memory|heartbeat/.test(c) ? 'num' : '', c));
    if (this.actions) headRow.append(el('th', '', 'operator'));
    const cols = el('colgroup');
    for (const w of WIDTHS) cols.append(el('col', w));
    if (this.actions) cols.append(el('col', 'col-actions'));
    table.append(cols, el('thead'), el('tbody'));
    table.tHead.append(headRow);
    node.append(head, kpis, table);
    card = { node, deadline, count, k, tbody: table.tBodies[0], rows: new Map(), order: '', workers: [], stale: true };
    this.cards.set(service, card);
    this.observer.observe(node);
    return card;
  }

  #row(card, w) {
    let row = card.rows.get(w.id);
    if (row) return row;
    const tr = el('tr');
    tr.dataset.workerId = w.id;
    const c = {};
    const td = (name, cls) => (c[name] = tr.appendChild(el('td', cls)));
    td('id', 'id');
    c.idText = c.id.appendChild(el('div', 'wid'));
    c.host = c.id.appendChild(el('div', 'host'));
    td('state', '');
    c.stateBadge = c.state.appendChild(el('span', 'state'));
    c.health = c.state.appendChild(el('span', 'health'));
    td('cps', 'num spark');
    c.cpsText = c.cps.appendChild(el('span'));
    c.cpsSpark = sparkline('blue', 56, 16);
    c.cps.append(c.cpsSpark.svg);
    td('codes', 'codes');
    td('lat', 'num spark');
    c.latText = c.lat.appendChild(el('span'));
    c.p99Spark = sparkline('purple', 56, 16);
    c.lat.append(c.p99Spark.svg);
    td('inflight', 'num');
    c.inflightText = c.inflight.appendChild(el('span'));
    const bar = c.inflight.appendChild(el('span', 'bar'));
    c.bar = bar.appendChild(el('i'));
    td('loop', 'num');
    td('rss', 'num');
    td('age', 'num');
    // Why it is out or unhealthy: a line of its own under the worker, shown only when there is one.
    const why = el('tr', 'why');
    why.dataset.whyFor = w.id;
    c.reason = why.appendChild(el('td', 'reason'));
    c.reason.colSpan = COLUMNS.length + (this.actions ? 1 : 0);
    if (this.actions) {
      const cell = td('actions', '');
      for (const action of ['drain', 'resume']) {
        const b = cell.appendChild(el('button', 'act', action));
        b.type = 'button';
        b.dataset.action = action;
        b.addEventListener('click', () => this.onAction(w.id, action, b));
      }
    }
    row = { tr, why, c };
    card.rows.set(w.id, row);
    return row;
  }

  #updateRow(row, w, history, sampled) {
    const { tr, c } = row;
    const live = w.state !== 'lost' && w.state !== 'stopped';
    setAttr(tr, 'data-state', w.state);
    setText(c.idText, w.id);
    setAttr(c.id, 'title', w.id);
    setText(c.host, `${w.host} · pid ${w.pid} · ${w.version}`);
    setText(c.stateBadge, w.state);
    setAttr(c.stateBadge, 'data-state', w.state);
    setText(c.health, w.health && w.health !== 'healthy' && w.health !== w.state ? w.health : '');
    setAttr(c.health, 'data-health', w.health ?? '');
    setText(c.cpsText, live ? fmtRate(w.callsPerSec) : '—');
    codeChips(c.codes, w.errorsPerSec, 2);
    setText(c.latText, live ? `${fmtMs(w.p50Ms)} · ${fmtMs(w.p99Ms)}` : '—');
    setText(c.inflightText, live ? `${w.inFlight}/${w.concurrency}` : '—');
    const pct = live && w.concurrency > 0 ? Math.min(100, (100 * w.inFlight) / w.concurrency) : 0;
    const width = `${pct.toFixed(0)}%`;
    if (c.bar.style.width !== width) c.bar.style.width = width; // CSSOM: allowed by the CSP, unlike a style attribute
    setAttr(c.bar, 'class', pct >= 90 ? 'hot' : '');
    setText(c.loop, live ? fmtMs(w.loopDelayMs) : '—');
    setText(c.rss, live && w.rssBytes > 0 ? fmtMb(w.rssBytes) : '—');
    setText(c.age, fmtAge(w.heartbeatAgeMs));
    const reason = reasonOf(w);
    setText(c.reason, reason);
    if (row.why.hidden !== (reason === '')) row.why.hidden = reason === '';
    setAttr(row.why, 'data-state', w.state);
    if (history && (sampled || !row.drawn)) {
      row.drawn = true;
      c.cpsSpark.update(history.callsPerSec, WORKER_POINTS);
      c.p99Spark.update(history.p99Ms, WORKER_POINTS);
    }
  }

  #renderRows(card, sampled) {
    const workers = card.workers;
    const ids = new Set();
    for (const w of workers) {
      ids.add(w.id);
      this.#updateRow(this.#row(card, w), w, this.histories.workers.get(w.id), sampled || card.stale);
    }
    card.stale = false;
    for (const [id, row] of card.rows) if (!ids.has(id)) (row.tr.remove(), row.why.remove(), card.rows.delete(id));
    const order = workers.map((w) => w.id).join('\n');
    if (order !== card.order) {
      card.order = order;
      card.tbody.append(...workers.flatMap((w) => [card.rows.get(w.id).tr, card.rows.get(w.id).why]));
    }
  }

  update(fleet, histories) {
    this.histories = histories;
    this.actions = fleet.actions;
    // Charts move once per history sample, not at every update.
    const sampled = fleet.sample !== this.lastSample;
    this.lastSample = fleet.sample;
    const byService = new Map();
    for (const w of fleet.workers) {
      let list = byService.get(w.service);
      if (!list) byService.set(w.service, (list = []));
      list.push(w);
    }
    const seen = new Set();
    for (const s of fleet.services) {
      seen.add(s.service);
      const card = this.#card(s.service);
      if (card.node.parentNode !== this.root) this.root.append(card.node);
      setText(card.deadline, s.deadline ? `deadline ${s.deadline.defaultMs} ms · max ${s.deadline.maxMs} ms` : 'no deadline policy');
      setText(card.count, `${s.serving} of ${s.workers} serving`);
      const h = histories.services.get(s.service);
      valueWithUnit(card.k.calls.value, fmtRate(s.callsPerSec), '/s');
      valueWithUnit(card.k.errors.value, fmtPercent(s.errorRate), 'of calls');
      codeChips(card.k.errors.codes, s.errorsPerSec, 4);
      valueWithUnit(card.k.latency.value, `${fmtMs(s.p50Ms)} · ${fmtMs(s.p99Ms)}`, '');
      valueWithUnit(card.k.inflight.value, String(s.inFlight), `/ ${s.concurrency}`);
      valueWithUnit(card.k.loop.value, fmtMs(s.loopDelayMs), 'p99');
      valueWithUnit(card.k.memory.value, fmtMb(s.rssBytes), 'RSS');
      if (h && (sampled || !card.drawn)) {
        card.drawn = true;
        card.k.calls.chart.update(h.callsPerSec, SERVICE_POINTS);
        card.k.errors.chart.update(h.errorRate, SERVICE_POINTS);
        card.k.latency.chart.update(h.p99Ms, SERVICE_POINTS);
        card.k.inflight.chart.update(h.inFlight, SERVICE_POINTS);
        card.k.loop.chart.update(h.loopDelayMs, SERVICE_POINTS);
        card.k.memory.chart.update(h.rssMb, SERVICE_POINTS);
      }
      card.workers = byService.get(s.service) ?? [];
      if (this.visible.has(s.service) || card.rows.size === 0) this.#renderRows(card, sampled);
      else card.stale = true;
    }
    for (const [name, card] of this.cards) if (!seen.has(name)) (this.observer.unobserve(card.node), card.node.remove(), this.cards.delete(name));
    if (fleet.services.length === 0 && !this.root.querySelector('.empty')) this.root.replaceChildren(el('div', 'empty service', 'No worker heard on the bus yet.'));
    else if (fleet.services.length > 0) this.root.querySelector(':scope > .empty')?.remove();
  }
}

function reasonOf(w) {
  if (w.state === 'lost') return `lost: no heartbeat for ${fmtAge(w.heartbeatAgeMs)}`;
  if (w.state === 'stopped') return 'stopped';
  const parts = [];
  const out = w.state === 'drained' || w.state === 'draining' || w.health === 'ejected';
  if (out && w.drainReason) parts.push(`${w.state === 'serving' ? 'ejected' : w.state}: ${w.drainReason}`);
  const now = w.reasons.join('; ');
  if (now !== '' && now !== w.drainReason) parts.push(`${out ? 'now' : 'unhealthy'}: ${now}`);
  if (w.healthError) parts.push(`health check: ${w.healthError}`);
  if (w.ejectedUntil && w.ejectedUntil > Date.now()) parts.push(`back in ${fmtAge(w.ejectedUntil - Date.now())} if healthy`);
  return parts.join('  ·  ');
}
