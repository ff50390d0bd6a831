// The UI's JSON API (lakeml/ui/*.py under /ajax-api/lakeml).

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

export function apiUrl(path, params) {
  const url = new URL('/ajax-api/lakeml' + path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (Array.isArray(v)) v.forEach(x => url.searchParams.append(k, x));
    else if (v != null && v !== '') url.searchParams.set(k, v);
  }
  return url.toString();
}

export async function api(path, params, options) {
  const r = await fetch(apiUrl(path, params), options);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    const what = r.status === 403 ? 'permission denied: ' : '';
    throw new ApiError(r.status, body.error_code, what + (body.message || r.statusText));
  }
  return body;
}
