'use strict';
/**
 * Draws the P1 sweeps of a results file as SVG charts (no dependencies):
 *   node bench/chart.js bench/results/<file>.json [outDir]   (outDir defaults to docs/images)
 * Writes p1-subscribers.svg (delivered events/s vs subscribers of one session) and p1-sessions.svg
 * (delivered events/s vs sessions streaming at once, 100 subscribers in total). Both axes are log scale.
 */
const { readFileSync, writeFileSync, mkdirSync } = require('node:fs');
const { basename, join, resolve } = require('node:path');

const SERIES = [
  { key: 'v2', label: 'gateway, protocol v2 (coalesced frames)', color: '#1b7f3b', dash: '' },
  { key: 'v1', label: 'gateway, protocol v1 (frame per event)', color: '#1f5fbf', dash: '' },
  { key: 'relay', label: 'raw ws relay (frame per event)', color: '#555555', dash: '6 4' },
  { key: 'socketio', label: 'Socket.IO 4 room broadcast', color: '#c0392b', dash: '2 3' },
];

const W = 760;
const H = 450;
const M = { left: 90, right: 24, top: 56, bottom: 120 };

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function fmtCount(n) {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(0)}k`;
  return String(Math.round(n));
}

/** Decades covering [min, max], with 2× and 5× steps when the range is short. */
function logTicks(min, max) {
  const ticks = [];
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  const steps = hi - lo <= 2 ? [1, 2, 5] : [1];
  for (let e = lo; e <= hi; e++)
    for (const m of steps) {
      const v = m * 10 ** e;
      if (v >= min * 0.999 && v <= max * 1.001) ticks.push(v);
    }
  return ticks;
}

/** One line chart: x and y log scale. `points` is a list of {x, values: {seriesKey: y}}. */
function lineChart({ title, subtitle, xLabel, yLabel, points }) {
  const xs = points.map((p) => p.x);
  const ys = points.flatMap((p) => SERIES.map((s) => p.values[s.key]).filter((v) => v > 0));
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  const yMin = 10 ** Math.floor(Math.log10(Math.min(...ys)));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...ys)));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const lx = (v) =>
    xMax === xMin ? 0.5 : (Math.log10(v) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin));
  const X = (v) => M.left + 20 + lx(v) * (pw - 40);
  const Y = (v) =>
    M.top + ph - ((Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * ph;
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="${W / 2}" y="43" text-anchor="middle" font-size="12" fill="#555">${esc(subtitle)}</text>`,
    `<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`,
  );
  for (const v of logTicks(yMin, yMax)) {
    const y = Y(v).toFixed(1);
    out.push(
      `<line x1="${M.left}" x2="${M.left + pw}" y1="${y}" y2="${y}" stroke="#e3e3e3"/>`,
      `<text x="${M.left - 8}" y="${y}" dy="4" text-anchor="end">${fmtCount(v)}</text>`,
    );
  }
  for (const v of xs) {
    const x = X(v).toFixed(1);
    out.push(
      `<line x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + ph}" stroke="#eeeeee"/>`,
      `<text x="${x}" y="${M.top + ph + 18}" text-anchor="middle">${v.toLocaleString('en-US')}</text>`,
    );
  }
  out.push(
    `<text x="${M.left + pw / 2}" y="${M.top + ph + 40}" text-anchor="middle" font-weight="bold">${esc(xLabel)}</text>`,
    `<text transform="translate(22 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle" font-weight="bold">${esc(yLabel)}</text>`,
  );
  for (const s of SERIES) {
    const pts = points.filter((p) => p.values[s.key] > 0).map((p) => [X(p.x), Y(p.values[s.key])]);
    if (pts.length === 0) continue;
    out.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2.5"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} points="${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>`,
    );
    for (const [x, y] of pts)
      out.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="4" fill="${s.color}"/>`);
  }
  // legend below the plot, two columns
  SERIES.forEach((s, i) => {
    const x = M.left + (i % 2) * (pw / 2);
    const y = M.top + ph + 70 + Math.floor(i / 2) * 24;
    out.push(
      `<line x1="${x}" x2="${x + 30}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="2.5"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
      `<circle cx="${x + 15}" cy="${y}" r="4" fill="${s.color}"/>`,
      `<text x="${x + 38}" y="${y}" dy="4">${esc(s.label)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function valuesOf(point) {
  const values = {};
  for (const s of SERIES) values[s.key] = point.systems[s.key]?.eventsPerSecond ?? 0;
  return values;
}

function main() {
  const [file, outArg] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node bench/chart.js bench/results/<file>.json [outDir]');
    process.exit(2);
  }
  const data = JSON.parse(readFileSync(file, 'utf8'));
  const sweeps = (data.results || []).map((r) => r.extra && r.extra.sweeps).find(Boolean);
  if (!sweeps) {
    console.error(`${file} has no P1 sweeps (run the P1S benchmark)`);
    process.exit(1);
  }
  const outDir = resolve(outArg || join(__dirname, '..', 'docs', 'images'));
  mkdirSync(outDir, { recursive: true });
  const m = data.machine || {};
  const fellBack = [...sweeps.subscribers, ...sweeps.sessions].some((p) => p.v2ProtocolVersion !== 2);
  const source =
    `${m.cores} cores, Node ${m.node}, ${data.mode} run ${basename(file)}` +
    (fellBack ? ' — v2 NOT NEGOTIATED (the v2 line is v1)' : '');
  const written = [];
  if (sweeps.subscribers.length) {
    const target = join(outDir, 'p1-subscribers.svg');
    writeFileSync(
      target,
      lineChart({
        title: 'Fan-out: delivered events/s vs subscribers (1 session)',
        subtitle: source,
        xLabel: 'subscribers of the session (log scale)',
        yLabel: 'events delivered per second (log scale)',
        points: sweeps.subscribers.map((p) => ({ x: p.subscribers, values: valuesOf(p) })),
      }),
    );
    written.push(target);
  }
  if (sweeps.sessions.length) {
    const total = sweeps.sessions[0].sessions * sweeps.sessions[0].subscribers;
    const target = join(outDir, 'p1-sessions.svg');
    writeFileSync(
      target,
      lineChart({
        title: `Fan-out: delivered events/s vs sessions (${total} subscribers in total)`,
        subtitle: source,
        xLabel: `sessions streaming at once, ${total} / sessions subscribers each (log scale)`,
        yLabel: 'events delivered per second (log scale)',
        points: sweeps.sessions.map((p) => ({ x: p.sessions, values: valuesOf(p) })),
      }),
    );
    written.push(target);
  }
  for (const f of written) console.log(`chart: ${f}`);
}

main();
