// The page's state in the URL's hash (#/route?query), so every view is a shareable link.

export const state = {routed: null};  // the hash last routed (see main.js)

/** The current route: its path and its query. */
export function current() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const i = raw.indexOf('?');
  return {path: i < 0 ? raw : raw.slice(0, i), query: new URLSearchParams(i < 0 ? '' : raw.slice(i + 1))};
}

/** Change the query of the current route without reloading the page (replace: no new
 *  history entry, for typing in a box). */
export function setQuery(query, {replace = false} = {}) {
  const {path} = current();
  const s = query.toString();
  const url = '#' + path + (s ? '?' + s : '');
  if ('#' + (location.hash.replace(/^#/, '') || '/') === url) return;
  if (replace) history.replaceState(null, '', url); else history.pushState(null, '', url);
  state.routed = location.hash;
}

/** `params` ({name: value or [values]}; null and '' left out) as a query string. Built in
 *  a URLSearchParams of its own: appending to a URL's searchParams re-serialises the whole
 *  URL each time, which took 0.4 s for the thousand run ids of a compare page. */
export function queryString(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (Array.isArray(v)) v.forEach(x => q.append(k, x));
    else if (v != null && v !== '') q.set(k, v);
  }
  return q.toString();
}
