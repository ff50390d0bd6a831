// The UI's JSON API (lakeml/ui/*.py under /ajax-api/lakeml).
import {queryString} from './url.js';

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

export function apiUrl(path, params) {
  const s = queryString(params);
  return new URL('/ajax-api/lakeml' + path, location.origin).toString() + (s ? '?' + s : '');
}

const LONGEST_URL = 4000;

// Sent on every API request: the server refuses requests without it (lakeml/ui/routes.py),
// which a link, an <img> or another site's form cannot carry.
const UI_HEADER = {'X-Lakeml-UI': '1'};

/** fetch() an API URL with the header the server asks for. */
export function apiFetch(url, options) {
  return fetch(url, {...options, headers: {...(options || {}).headers, ...UI_HEADER}});
}

/** POST `body` to the API route `path` and save the answer as a file named `filename`. */
export async function download(path, body, filename) {
  const r = await apiFetch(apiUrl(path, {}), {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
  if (!r.ok) {
    const out = await r.json().catch(() => ({}));
    throw new ApiError(r.status, out.error_code, out.message || r.statusText);
  }
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement('a');
  a.href = url; a.download = filename;
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** GET the API route `path` with `params`; as a POST of JSON when the URL would be too
 *  long for a server to take (a thousand run ids to compare). */
export async function api(path, params, options) {
  let url = apiUrl(path, params);
  if (url.length > LONGEST_URL) {
    const body = Object.fromEntries(Object.entries(params).filter(([, v]) => v != null && v !== ''));
    options = {...options, method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)};
    url = apiUrl(path, {});
  }
  const r = await apiFetch(url, options);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    const what = r.status === 403 ? 'permission denied: ' : '';
    throw new ApiError(r.status, body.error_code, what + (body.message || r.statusText));
  }
  return body;
}

/** POST a write to the API route `path`: a JSON body always (the server refuses any other
 *  body, so a page on another site cannot make a browser send one without asking). */
export async function post(path, body) {
  const r = await apiFetch(apiUrl(path, {}), {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
  const out = await r.json().catch(() => ({}));
  if (!r.ok) {
    const what = r.status === 403 ? 'permission denied: ' : '';
    throw new ApiError(r.status, out.error_code, what + (out.message || r.statusText));
  }
  return out;
}
