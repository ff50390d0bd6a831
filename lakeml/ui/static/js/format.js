// Display of times and values.

export function when(ms) {
  if (ms == null) return '';
  const d = new Date(ms);
  return d.toISOString().replace('T', ' ').slice(0, 19);
}

export function ago(ms) {
  if (ms == null) return '';
  const s = (Date.now() - ms) / 1000;
  if (s < 60) return 'just now';
  const units = [[86400 * 365, 'y'], [86400 * 30, 'mo'], [86400, 'd'], [3600, 'h'], [60, 'min']];
  for (const [n, u] of units) if (s >= n) return `${Math.floor(s / n)} ${u} ago`;
  return '';
}

export function duration(start, end) {
  if (start == null || end == null) return '';
  const s = (end - start) / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export function value(v) {
  if (v == null) return '';
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(4) : String(+v.toPrecision(6));
  }
  return String(v);
}
