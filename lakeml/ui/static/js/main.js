// The router: the page is chosen by the URL's hash (#/route?query), so every state worth
// sharing (an experiment's filter, sort and columns; the runs compared) is a link.
import {api} from './api.js';
import {h, fill, errorBox} from './dom.js';
import {experimentsPage} from './pages/experiments.js';
import {runsPage} from './pages/runs.js';
import {runPage} from './pages/run.js';
import {comparePage} from './pages/compare.js';
import {modelsPage, modelPage} from './pages/models.js';
import {versionPage} from './pages/version.js';
import {sqlPage} from './pages/sql.js';
import {plotsPage} from './pages/plots.js';
import {workflowsPage, workflowPage} from './pages/workflows.js';
import {current, state} from './url.js';

const ROUTES = [
  [/^\/?$/, experimentsPage],
  [/^\/experiments\/([^/]+)$/, runsPage],
  [/^\/runs\/([^/]+)$/, runPage],
  [/^\/compare$/, comparePage],
  [/^\/models$/, modelsPage],
  [/^\/models\/([^/]+)$/, modelPage],
  [/^\/models\/([^/]+)\/versions\/([^/]+)$/, versionPage],
  [/^\/sql$/, sqlPage],
  [/^\/plots$/, plotsPage],
  [/^\/workflows$/, workflowsPage],
  [/^\/workflows\/([^/]+)$/, workflowPage],
];

let shownKey = null;

async function route() {
  // a click on a link fires both hashchange and popstate: route once
  if (location.hash === state.routed) return;
  state.routed = location.hash;
  const {path, query} = current();
  const main = document.getElementById('main');
  for (const [re, page] of ROUTES) {
    const m = path.match(re);
    if (!m) continue;
    const key = path;
    const same = key === shownKey && main.firstChild && main.lakemlUpdate;
    if (same) { main.lakemlUpdate(query); return; }
    shownKey = key;
    main.lakemlUpdate = null;
    fill(main, h('p', {class: 'muted'}, 'Loading…'));
    try {
      await page(main, m.slice(1).map(decodeURIComponent), query);
    } catch (err) {
      fill(main, h('h1', {}, 'Error'), errorBox(err));
    }
    for (const a of document.querySelectorAll('header nav a')) {
      const target = a.getAttribute('href').slice(1);
      a.toggleAttribute('aria-current', target === '/' ? path === '/' || path.startsWith('/experiments') || path.startsWith('/runs') || path === '/compare' || path === '/plots' : path.startsWith(target));
    }
    return;
  }
  shownKey = null;
  fill(main, h('h1', {}, 'Not found'), h('p', {}, `No page at ${path}.`));
}

// who the pages act as (on a server with users: who signed in)
api('/me', {}).then(me => {
  if (me.signed_in) document.getElementById('whoami').textContent = `${me.user}${me.admin ? ' (admin)' : ''}`;
}).catch(() => {});

window.addEventListener('hashchange', route);
window.addEventListener('popstate', route);
route();

// the skip link must not change the hash (the hash is the route)
document.getElementById('skip').addEventListener('click', e => {
  e.preventDefault();
  document.getElementById('main').focus();
});
