/** In-memory workspace of one instance: every write of a path creates an immutable iteration. */
import { createHash } from 'node:crypto';

export interface IterationMeta {
  iteration: number;
  /** Epoch milliseconds. */
  timestamp: number;
  /** Bytes (UTF-8). */
  size: number;
  /** SHA-256 of the content, hex. */
  hash: string;
}

export interface FileEntry {
  path: string;
  name: string;
  type: 'file' | 'directory';
  size?: number;
  /** Epoch milliseconds of the latest iteration (files only). */
  modifiedAt?: number;
}

export interface FileContent {
  path: string;
  content: string;
  encoding: 'utf8';
  size: number;
  iteration: number;
}

interface StoredIteration extends IterationMeta {
  content: string;
}

export class Workspace {
  private readonly files = new Map<string, StoredIteration[]>();

  /** A fresh workspace with `README.md` (2 iterations) and `src/index.ts`. */
  static seeded(instanceId: string): Workspace {
    const ws = new Workspace();
    ws.write('README.md', '# Workspace\n');
    ws.write('README.md', `# Workspace\n\nSandbox workspace of instance ${instanceId}.\n`);
    ws.write('src/index.ts', "export const greeting = 'hello';\n");
    return ws;
  }

  /** Writes a file (path relative to the workspace root, '/'-separated); returns the new iteration. */
  write(path: string, content: string): { meta: IterationMeta; created: boolean } {
    const key = normalize(path);
    if (!key) throw new Error('cannot write the workspace root');
    if (this.isDirectory(key)) throw new Error(`${key} is a directory`);
    const history = this.files.get(key) ?? [];
    const created = history.length === 0;
    const last = history[history.length - 1];
    const stored: StoredIteration = {
      iteration: history.length + 1,
      // Keep timestamps strictly monotonic per path even within one millisecond.
      timestamp: Math.max(Date.now(), last ? last.timestamp + 1 : 0),
      size: Buffer.byteLength(content, 'utf8'),
      hash: createHash('sha256').update(content, 'utf8').digest('hex'),
      content,
    };
    history.push(stored);
    this.files.set(key, history);
    return { meta: toMeta(stored), created };
  }

  exists(path: string): boolean {
    return this.files.has(normalize(path));
  }

  /** Latest content, or undefined when the path is not a file. */
  read(path: string): FileContent | undefined {
    const key = normalize(path);
    const history = this.files.get(key);
    return history ? toContent(key, history[history.length - 1]) : undefined;
  }

  history(path: string): IterationMeta[] | undefined {
    return this.files.get(normalize(path))?.map(toMeta);
  }

  at(path: string, iteration: number): FileContent | undefined {
    const key = normalize(path);
    const stored = this.files.get(key)?.[iteration - 1];
    return stored ? toContent(key, stored) : undefined;
  }

  isDirectory(path: string): boolean {
    const key = normalize(path);
    if (!key) return true;
    for (const file of this.files.keys()) if (file.startsWith(`${key}/`)) return true;
    return false;
  }

  /**
   * Entries under `path` down to `depth` levels (1 = direct children), sorted by path.
   * A file path lists just that file; undefined when nothing exists there.
   */
  list(path: string, depth: number): FileEntry[] | undefined {
    const base = normalize(path);
    const file = this.files.get(base);
    if (base && file) return [fileEntry(base, file)];
    if (!this.isDirectory(base)) return undefined;
    const prefix = base ? `${base}/` : '';
    const entries = new Map<string, FileEntry>();
    for (const [filePath, history] of this.files) {
      if (!filePath.startsWith(prefix)) continue;
      const rel = filePath.slice(prefix.length).split('/');
      for (let level = 1; level <= Math.min(depth, rel.length); level++) {
        const entryPath = prefix + rel.slice(0, level).join('/');
        if (entries.has(entryPath)) continue;
        entries.set(
          entryPath,
          level === rel.length
            ? fileEntry(entryPath, history)
            : { path: entryPath, name: rel[level - 1], type: 'directory' },
        );
      }
    }
    return [...entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}

function normalize(path: string): string {
  return path
    .split('/')
    .filter((s) => s !== '')
    .join('/');
}

function toMeta(s: StoredIteration): IterationMeta {
  return { iteration: s.iteration, timestamp: s.timestamp, size: s.size, hash: s.hash };
}

function toContent(path: string, s: StoredIteration): FileContent {
  return { path, content: s.content, encoding: 'utf8', size: s.size, iteration: s.iteration };
}

function fileEntry(path: string, history: StoredIteration[]): FileEntry {
  const last = history[history.length - 1];
  return {
    path,
    name: path.slice(path.lastIndexOf('/') + 1),
    type: 'file',
    size: last.size,
    modifiedAt: last.timestamp,
  };
}
