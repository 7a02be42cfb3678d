/**
 * Small DOM and formatting helpers shared by the views. Updates write only what changed
 * (`setText`, `setValue`), so a poll that brings the same numbers touches nothing and the
 * browser has no layout to redo.
 */

/** Creates an element: h('td', { class: 'num', 'data-col': 'used' }, 'text', child...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

export function setText(el, text) {
  const s = String(text);
  if (el.textContent !== s) el.textContent = s;
}

/** A figure: its text for people, its exact value in data-value for scripts and tests. */
export function setValue(el, value, text = String(value)) {
  const v = String(value);
  if (el.dataset.value !== v) el.dataset.value = v;
  setText(el, text);
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function bytes(n) {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${UNITS[u]}`;
}

export function percent(p) {
  return `${p.toFixed(1)}%`;
}

export function duration(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `${hr}h ${m % 60}m`;
  return `${Math.floor(hr / 24)}d ${hr % 24}h`;
}

export function time(ms) {
  return ms > 0 ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z' : 'never';
}

/** A fill colour for a use fraction 0..1: green through amber to red. */
export function heatColor(fraction) {
  const f = Math.max(0, Math.min(1, fraction));
  const hue = Math.round(120 - 120 * f);
  return `hsl(${hue} 70% 45%)`;
}

/** Binds data-field elements under `root` by name, once per view. */
export function fields(root) {
  const out = {};
  for (const el of root.querySelectorAll('[data-field]')) out[el.dataset.field] = el;
  return out;
}
