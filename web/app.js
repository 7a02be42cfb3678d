/**
 * The UI's entry module: picks the view from the URL's hash (#/overview, #/datanodes,
 * #/browse?path=..., #/health), mounts it, and refreshes it live: one poll at a time, every
 * POLL_MS (or `?poll=MS` in the page's URL, at least 500), skipped while the tab is hidden.
 * A failed refresh shows the server's typed error in a banner and polling carries on. The
 * header's "user" field names the user every request acts as (api.js `currentUser`).
 */
import * as overview from './overview.js';
import * as datanodes from './datanodes.js';
import * as browse from './browse.js';
import * as health from './health.js';
import { currentUser, setUser } from './api.js';

const VIEWS = { overview, datanodes, browse, health };
const POLL_MS = Math.max(500, Number(new URLSearchParams(location.search).get('poll')) || 3000);

const viewRoot = document.getElementById('view');
const banner = document.getElementById('banner');
const live = document.getElementById('live');
let current = null;
let timer = null;
let inflight = false;
let again = false;
let refreshes = 0;

function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const q = hash.indexOf('?');
  const name = q < 0 ? hash : hash.slice(0, q);
  return {
    name: Object.hasOwn(VIEWS, name) ? name : 'overview',
    params: new URLSearchParams(q < 0 ? '' : hash.slice(q + 1)),
  };
}

/** A refresh that works hides the banner, except an action's error for its first STICKY_MS. */
const STICKY_MS = 8000;
let stickyUntil = 0;

function showError(err, sticky = false) {
  stickyUntil = sticky ? Date.now() + STICKY_MS : 0;
  const code = err && err.code ? `${err.code}: ` : '';
  banner.textContent = `${code}${err && err.message ? err.message : String(err)}`;
  banner.classList.remove('hidden');
}

const ctx = {
  /** Refresh the view now (after a change), then keep the usual rhythm. */
  refreshNow,
  /** An action failed: say so, and keep saying it for a while although refreshes succeed. */
  error: (err) => showError(err, true),
  clearNotice() {
    stickyUntil = 0;
    banner.classList.add('hidden');
  },
  go(hash) {
    location.hash = hash;
  },
};

async function refreshNow() {
  if (inflight) {
    again = true;
    return;
  }
  clearTimeout(timer);
  inflight = true;
  try {
    if (!document.hidden && current !== null) {
      const started = performance.now();
      await current.view.refresh();
      refreshes++;
      live.dataset.refreshMs = String(Math.round(performance.now() - started));
      live.textContent = `live · ${new Date().toLocaleTimeString()}`;
      live.dataset.refreshes = String(refreshes);
      if (Date.now() >= stickyUntil) banner.classList.add('hidden');
    }
  } catch (err) {
    showError(err);
  } finally {
    inflight = false;
    if (again) {
      again = false;
      void refreshNow();
    } else {
      timer = setTimeout(refreshNow, POLL_MS);
    }
  }
}

function show() {
  const { name, params } = route();
  for (const a of document.querySelectorAll('[data-nav]'))
    a.classList.toggle('active', a.dataset.nav === name);
  if (current !== null && current.name === name && current.view.navigate) {
    current.view.navigate(params);
  } else {
    current?.view.unmount?.();
    viewRoot.replaceChildren();
    viewRoot.dataset.view = name;
    current = { name, view: VIEWS[name].create(viewRoot, params, ctx) };
  }
  void refreshNow();
}

// The user the page acts as: kept in localStorage, applied at once (every view refreshes as it).
const userField = document.getElementById('user');
userField.value = currentUser();
userField.addEventListener('change', () => {
  setUser(userField.value);
  userField.value = currentUser();
  ctx.clearNotice();
  void refreshNow();
});

window.addEventListener('hashchange', show);
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) void refreshNow();
});
show();
