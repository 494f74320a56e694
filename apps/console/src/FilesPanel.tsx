import { useEffect, useState } from 'react';
import type { Diminuendo, FileContentEvent, FileEntry, FileIteration } from '@diminuendo/client';
import { errorText } from './hooks';

/** The session's workspace: a file list, a file's content, and its earlier iterations. */
export function FilesPanel(props: { client: Diminuendo; sessionId: string; initialPath?: string }) {
  const handle = props.client.session(props.sessionId);
  const [entries, setEntries] = useState<FileEntry[] | null>(null);
  const [path, setPath] = useState<string | undefined>(props.initialPath);
  const [content, setContent] = useState<FileContentEvent | null>(null);
  const [iterations, setIterations] = useState<FileIteration[]>([]);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    handle
      .listFiles('/', 3)
      .then((list) => setEntries(list.entries))
      .catch((err: unknown) => setProblem(errorText(err)));
  }, [handle]);

  useEffect(() => {
    if (!path) return;
    setProblem(null);
    Promise.all([handle.readFile(path), handle.fileHistory(path)])
      .then(([file, history]) => {
        setContent(file);
        setIterations(history.iterations);
      })
      .catch((err: unknown) => setProblem(errorText(err)));
  }, [handle, path]);

  return (
    <section className="files" aria-label="Files">
      <h2>Files</h2>
      {entries === null ? (
        <p>Loading…</p>
      ) : entries.length === 0 ? (
        <p>No files yet.</p>
      ) : (
        <ul className="file-list">
          {entries.map((e) => (
            <li key={e.path}>
              {e.type === 'file' ? (
                <button type="button" aria-current={e.path === path} onClick={() => setPath(e.path)}>
                  {e.path}
                </button>
              ) : (
                <span>{e.path}/</span>
              )}
            </li>
          ))}
        </ul>
      )}
      {problem && (
        <p role="alert" className="error">
          {problem}
        </p>
      )}
      {path && content && (
        <div className="file-view">
          <h3>
            <code>{content.path}</code>
          </h3>
          {iterations.length > 0 && (
            <>
              <label htmlFor="iteration">Iteration</label>
              <select
                id="iteration"
                value={content.iteration ?? ''}
                onChange={(e) =>
                  handle
                    .readFile(path, Number(e.target.value))
                    .then(setContent)
                    .catch((err: unknown) => setProblem(errorText(err)))
                }
              >
                {iterations.map((it) => (
                  <option key={it.iteration} value={it.iteration}>
                    {it.iteration} — {new Date(it.timestamp).toLocaleString()} ({it.size} B)
                  </option>
                ))}
              </select>
            </>
          )}
          <pre data-testid="file-content">
            {content.encoding === 'utf8' ? content.content : '(binary file)'}
          </pre>
        </div>
      )}
    </section>
  );
}
