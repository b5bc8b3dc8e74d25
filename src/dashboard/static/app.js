// The dashboard page: one EventSource on /api/stream. It says plainly when the dashboard, the bus
// or the supervisor is gone, and greys the figures instead of showing them as live.
import { el, fmtAge, fmtTime, setAttr, setText } from './dom.js';
import { Histories } from './history.js';
import { ServicesView } from './services.js';
import { renderSrv, TimelineView } from './timeline.js';

/** No message for this long and the page calls its figures stale (the server pushes every 0.5 s). */
const STALE_AFTER_MS = 3_000;

const $ = (id) => document.getElementById(id);
const histories = new Histories();
const services = new ServicesView($('services'), runAction);
const timeline = new TimelineView($('timeline'));
let fleet = null;
let lastMessageAt = 0;
let streamLostAt = 0;

/** Render timings and counters, read by the browser tests and the scale bench. */
const stats = { renders: 0, lastRenderMs: 0, lastScriptMs: 0, maxRenderMs: 0, renderMs: [], scriptMs: [], lastFleetTs: 0, events: 0 };
window.natsrpcDashboard = stats;

function banners() {
  const list = [];
  const now = Date.now();
  if (streamLostAt > 0) list.push(['bad', `Lost contact with the dashboard server at ${fmtTime(streamLostAt)}. Nothing below is live; reconnecting…`]);
  else if (lastMessageAt > 0 && now - lastMessageAt > STALE_AFTER_MS) list.push(['bad', `No update from the dashboard server for ${fmtAge(now - lastMessageAt)}. Nothing below is live.`]);
  if (fleet && !fleet.bus.connected) list.push(['bad', `The dashboard is not connected to the NATS bus (since ${fmtTime(fleet.bus.since)}). The figures below are frozen as of then and are not live.`]);
  if (fleet && fleet.bus.connected && fleet.supervisor.state === 'gone') {
    list.push(['bad', `The supervisor is gone: none has answered since ${fmtTime(fleet.supervisor.since)}. Nobody is draining sick workers; health verdicts are not shown. Worker figures come from their own heartbeats.`]);
  }
  if (fleet && fleet.supervisor.statusTruncated) {
    list.push(['warn', 'The supervisor\'s status reply is truncated: it tracks more workers than one reply holds, so some are not listed below.']);
  }
  if (fleet && fleet.bus.connected && fleet.supervisor.state === 'none') {
    list.push(['warn', 'No supervisor is running on this bus. Worker figures come from their own heartbeats; nobody drains sick workers.']);
  }
  const key = JSON.stringify(list);
  const root = $('banners');
  if (root.dataset.key === key) return list.length;
  root.dataset.key = key;
  root.replaceChildren(...list.map(([level, text]) => el('div', `banner ${level}`, text)));
  return list.length;
}

function renderStatus() {
  const now = Date.now();
  const streamOk = streamLostAt === 0 && lastMessageAt > 0 && now - lastMessageAt <= STALE_AFTER_MS;
  const live = $('live-status');
  setAttr(live, 'data-state', streamOk ? 'live' : lastMessageAt === 0 ? 'connecting' : 'stale');
  setText(live.querySelector('.value'), streamOk ? `live · ${fmtTime(fleet?.ts ?? now)}` : lastMessageAt === 0 ? 'connecting' : 'not live');
  const stale = !streamOk || (fleet !== null && !fleet.bus.connected);
  document.body.classList.toggle('stale', stale && lastMessageAt > 0);
  document.body.classList.toggle('connecting', lastMessageAt === 0);
  banners();
  if (!fleet) return;
  const bus = $('bus-status');
  setAttr(bus, 'data-state', fleet.bus.connected ? 'connected' : 'disconnected');
  setText(bus.querySelector('.value'), fleet.bus.connected ? (fleet.bus.server ?? 'connected') : `unreachable since ${fmtTime(fleet.bus.since)}`);
  const sup = $('supervisor-status');
  const s = fleet.supervisor;
  setAttr(sup, 'data-state', s.state);
  const standby = s.supervisors.filter((x) => !x.leader).length;
  setText(sup.querySelector('.value'), s.state === 'leading' ? `${s.leaderId ?? '?'} leads${standby ? ` · ${standby} standby` : ''}` : s.state === 'gone' ? `gone since ${fmtTime(s.since)}` : 'none');
  const counts = { serving: 0, draining: 0, drained: 0, lost: 0, stopped: 0 };
  for (const w of fleet.workers) counts[w.state]++;
  const summary = $('fleet-summary');
  const key = JSON.stringify([fleet.services.length, counts, fleet.dropped, fleet.rejected]);
  if (summary.dataset.key !== key) {
    summary.dataset.key = key;
    const parts = [[fleet.services.length, 'services'], [fleet.workers.length, 'workers'], [counts.serving, 'serving'], [counts.draining + counts.drained, 'out'], [counts.lost, 'lost']];
    summary.replaceChildren();
    for (const [n, label] of parts) summary.append(el('b', '', String(n)), document.createTextNode(` ${label}   `));
    if (fleet.dropped > 0) summary.append(document.createTextNode(`(${fleet.dropped} not tracked: limit reached)  `));
    const rejected = Object.values(fleet.rejected ?? {}).reduce((a, b) => a + b, 0);
    if (rejected > 0) summary.append(document.createTextNode(`${rejected} invalid messages dropped`));
  }
}

function applyFleet(next) {
  const t0 = performance.now();
  fleet = next;
  histories.append(fleet);
  services.update(fleet, histories);
  renderSrv($('srv-panel'), fleet.srv);
  renderStatus();
  const scriptMs = performance.now() - t0;
  stats.renders++;
  stats.lastFleetTs = fleet.ts;
  // Until the next frame has been laid out and painted: what the operator waits for.
  requestAnimationFrame(() => setTimeout(() => {
    const ms = performance.now() - t0;
    stats.lastRenderMs = ms;
    stats.lastScriptMs = scriptMs;
    stats.maxRenderMs = Math.max(stats.maxRenderMs, ms);
    stats.renderMs.push(ms);
    stats.scriptMs.push(scriptMs);
    if (stats.renderMs.length > 100) (stats.renderMs.shift(), stats.scriptMs.shift());
  }, 0));
}

async function runAction(workerId, action, button) {
  button.disabled = true;
  try {
    const res = await fetch(`/api/workers/${encodeURIComponent(workerId)}/${action}`, { method: 'POST', headers: { 'x-natsrpc-action': '1' } });
    const body = await res.json();
    setAttr(button, 'title', body.ok ? `${action}: worker is ${body.state}` : `${action} failed: ${body.error}`);
  } catch (err) {
    setAttr(button, 'title', `${action} failed: ${err}`);
  } finally {
    button.disabled = false;
  }
}

function connect() {
  const source = new EventSource('/api/stream');
  source.addEventListener('snapshot', (m) => {
    const snap = JSON.parse(m.data);
    lastMessageAt = Date.now();
    streamLostAt = 0;
    histories.seed(snap.history, snap.fleet.sample);
    timeline.reset(snap.events);
    applyFleet(snap.fleet);
  });
  source.addEventListener('fleet', (m) => {
    lastMessageAt = Date.now();
    streamLostAt = 0;
    applyFleet(JSON.parse(m.data));
  });
  source.addEventListener('event', (m) => {
    lastMessageAt = Date.now();
    stats.events++;
    timeline.add(JSON.parse(m.data));
  });
  source.addEventListener('error', () => {
    if (streamLostAt === 0) streamLostAt = Date.now();
    renderStatus();
  });
}

connect();
setInterval(renderStatus, 1_000);
