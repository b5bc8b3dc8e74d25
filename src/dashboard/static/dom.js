// DOM helpers for the dashboard page. Bus data only ever reaches the page through textContent,
// attributes set as strings and numeric SVG attributes: nothing here parses HTML.
const SVG = 'http://www.w3.org/2000/svg';

// Control characters and bidi overrides are shown as \uXXXX escapes, so that text from the bus
// cannot reorder or hide what the page shows: the rule of src/cli/escape.ts (test/attack-terminal
// keeps the two patterns the same).
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `value` as text with every control and bidi character visible as an escape. */
export function visible(value) {
  return String(value).replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** An element with a class and optional text (set as text, never as HTML). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = visible(text);
  return node;
}

/** Sets text only when it changed (cheap updates of a thousand rows). */
export function setText(node, text) {
  const s = visible(text);
  if (node.textContent !== s) node.textContent = s;
}

/** Sets an attribute (as a string, escaped like text) only when it changed. */
export function setAttr(node, name, value) {
  const s = visible(value);
  if (node.getAttribute(name) !== s) node.setAttribute(name, s);
}

/** A small line chart: `{ svg, update(values) }`. */
export function sparkline(color, width = 100, height = 24) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('aria-hidden', 'true');
  const area = document.createElementNS(SVG, 'polygon');
  area.setAttribute('class', `area c-${color}`);
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('class', `line c-${color}`);
  svg.append(area, line);
  return {
    svg,
    update(values, capacity) {
      const n = Math.max(capacity ?? values.length, 2);
      let max = 0;
      for (const v of values) if (v > max) max = v;
      const scale = max > 0 ? (height - 2) / max : 0;
      const step = width / (n - 1);
      const offset = n - values.length;
      let pts = '';
      for (let i = 0; i < values.length; i++) {
        pts += `${((offset + i) * step).toFixed(1)},${(height - 1 - values[i] * scale).toFixed(1)} `;
      }
      setAttr(line, 'points', pts);
      const first = (offset * step).toFixed(1);
      const last = ((n - 1) * step).toFixed(1);
      setAttr(area, 'points', values.length > 1 ? `${first},${height} ${pts}${last},${height}` : '');
    },
  };
}

export function fmtRate(n) {
  if (n >= 10_000) return `${(n / 1_000).toFixed(1)}k`;
  if (n >= 100) return String(Math.round(n));
  return n === 0 ? '0' : n.toFixed(1);
}

export function fmtMs(n) {
  if (n >= 10_000) return `${(n / 1_000).toFixed(1)} s`;
  if (n >= 100) return `${Math.round(n)} ms`;
  if (n >= 10) return `${n.toFixed(1)} ms`;
  return `${n.toFixed(2)} ms`;
}

export function fmtMb(bytes) {
  const mb = bytes / 1_048_576;
  return mb >= 10_240 ? `${(mb / 1_024).toFixed(1)} GB` : `${Math.round(mb)} MB`;
}

export function fmtPercent(fraction) {
  if (fraction === 0) return '0%';
  if (fraction < 0.001) return '<0.1%';
  return `${(fraction * 100).toFixed(fraction < 0.1 ? 1 : 0)}%`;
}

export function fmtAge(ms) {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 120_000) return `${(ms / 1_000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

export function fmtTime(ts) {
  const d = new Date(ts);
  return d.toLocaleTimeString([], { hour12: false });
}

/** Error codes by rate as chips, at most `max`, highest first. */
export function codeChips(container, rates, max = 3) {
  const codes = Object.keys(rates).sort((a, b) => rates[b] - rates[a]);
  const key = codes.slice(0, max).map((c) => `${c}:${fmtRate(rates[c])}`).join(' ');
  if (container.dataset.key === key) return;
  container.dataset.key = key;
  container.replaceChildren(...codes.slice(0, max).map((c) => el('span', 'chip code', `${c} ${fmtRate(rates[c])}/s`)));
  if (codes.length > max) container.append(el('span', 'chip', `+${codes.length - max}`));
}
