#!/usr/bin/env node
/**
 * The import-cycle check (`npm run depcheck`): dependency-cruiser validates .dependency-cruiser.cjs on
 * every module, then the folder-level graph (each apps/gateway/src/<folder> and libs/<lib> collapsed to
 * one node) must have no cycle either. `--graph` prints that graph as mermaid instead; `--graph --write`
 * puts it into docs/architecture.md, between the `depgraph:start` and `depgraph:end` markers.
 */
const { execFileSync } = require('node:child_process');
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..');
const BIN = join(ROOT, 'node_modules', '.bin', 'depcruise');
const SOURCES = ['apps/gateway/src', 'libs'];
const COLLAPSE = '^apps/gateway/src/[^/]+/|^libs/[^/]+/';

function cruise(args) {
  return execFileSync(BIN, [...SOURCES, '--config', '.dependency-cruiser.cjs', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** Folder → folders it imports, from the collapsed cruise. */
function folderGraph() {
  const result = JSON.parse(cruise(['--collapse', COLLAPSE, '--output-type', 'json']));
  const graph = new Map();
  for (const m of result.modules) {
    if (!/\/$/.test(m.source)) continue;
    const to = new Set();
    for (const d of m.dependencies) if (/\/$/.test(d.resolved) && d.resolved !== m.source) to.add(d.resolved);
    graph.set(m.source, to);
  }
  return graph;
}

/** Strongly connected components with more than one folder (Tarjan). */
function cycles(graph) {
  let index = 0;
  const stack = [];
  const on = new Set();
  const idx = new Map();
  const low = new Map();
  const found = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

function mermaid(graph) {
  const name = (f) => f.replace(/^apps\/gateway\/src\//, '').replace(/\/$/, '');
  const id = (f) => name(f).replace(/[^A-Za-z0-9]/g, '_');
  const lines = ['flowchart LR'];
  for (const f of [...graph.keys()].sort()) lines.push(`  ${id(f)}["${name(f)}"]`);
  for (const [f, to] of [...graph.entries()].sort()) {
    for (const t of [...to].sort()) if (graph.has(t)) lines.push(`  ${id(f)} --> ${id(t)}`);
  }
  return lines.join('\n');
}

if (process.argv.includes('--graph')) {
  const graph = mermaid(folderGraph());
  if (!process.argv.includes('--write')) {
    process.stdout.write(graph + '\n');
    process.exit(0);
  }
  const doc = join(ROOT, 'docs', 'architecture.md');
  const text = readFileSync(doc, 'utf8');
  const block = /(<!-- depgraph:start -->\n)[\s\S]*?(<!-- depgraph:end -->)/;
  if (!block.test(text)) throw new Error('docs/architecture.md has no depgraph markers');
  writeFileSync(
    doc,
    text.replace(block, (_, start, end) => `${start}\`\`\`mermaid\n${graph}\n\`\`\`\n${end}`),
  );
  console.log('docs/architecture.md: import graph updated');
  process.exit(0);
}

try {
  process.stdout.write(cruise(['--output-type', 'err']));
} catch (err) {
  process.stdout.write(err.stdout ?? '');
  process.stderr.write(err.stderr ?? '');
  process.exit(1);
}
const found = cycles(folderGraph());
if (found.length > 0) {
  console.error(`import cycles between feature folders (${found.length}):`);
  for (const c of found) console.error(`  ${c.join(' ↔ ')}`);
  process.exit(1);
}
console.log('no import cycle between feature folders');
