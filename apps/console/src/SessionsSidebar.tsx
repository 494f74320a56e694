import { useState } from 'react';
import type { Diminuendo, SessionMeta } from '@diminuendo/client';
import { errorText } from './hooks';

const AGENTS = ['coding-agent', 'echo'];

/** The tenant's sessions, live across tabs: create, open, rename, archive, delete. */
export function SessionsSidebar(props: {
  client: Diminuendo;
  sessions: SessionMeta[];
  openId: string | null;
  onOpen: (id: string) => void;
}) {
  const { client } = props;
  const [agentType, setAgentType] = useState(AGENTS[0]);
  const [name, setName] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const attempt = (action: () => Promise<unknown>) => {
    setProblem(null);
    action().catch((err: unknown) => setProblem(errorText(err)));
  };

  return (
    <aside aria-label="Sessions">
      <form
        className="create"
        onSubmit={(e) => {
          e.preventDefault();
          attempt(async () => {
            const handle = await client.createSession(agentType, name.trim() || undefined);
            setName('');
            props.onOpen(handle.id);
          });
        }}
      >
        <label htmlFor="agent">Agent</label>
        <select id="agent" value={agentType} onChange={(e) => setAgentType(e.target.value)}>
          {AGENTS.map((a) => (
            <option key={a}>{a}</option>
          ))}
        </select>
        <label htmlFor="session-name">Name</label>
        <input
          id="session-name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="New session"
        />
        <button type="submit">Create session</button>
      </form>
      {problem && (
        <p role="alert" className="error">
          {problem}
        </p>
      )}
      <ul className="sessions">
        {props.sessions.map((s) => (
          <li key={s.id} className={s.id === props.openId ? 'open' : undefined} data-testid="session-item">
            <button
              type="button"
              className="open-session"
              onClick={() => props.onOpen(s.id)}
              aria-current={s.id === props.openId}
            >
              <span className="name">{s.name}</span>
              <span className={`badge status-${s.status}`}>{s.archived ? 'archived' : s.status}</span>
            </button>
            <div className="row-actions">
              <button
                type="button"
                aria-label={`Rename ${s.name}`}
                onClick={() => {
                  const next = window.prompt('New name', s.name);
                  if (next?.trim()) attempt(() => client.session(s.id).rename(next.trim()));
                }}
              >
                Rename
              </button>
              <button
                type="button"
                aria-label={`${s.archived ? 'Unarchive' : 'Archive'} ${s.name}`}
                onClick={() => attempt(() => client.session(s.id).archive(!s.archived))}
              >
                {s.archived ? 'Unarchive' : 'Archive'}
              </button>
              <button
                type="button"
                aria-label={`Delete ${s.name}`}
                onClick={() => {
                  if (window.confirm(`Delete "${s.name}" and its files?`))
                    attempt(() => client.session(s.id).delete());
                }}
              >
                Delete
              </button>
            </div>
          </li>
        ))}
      </ul>
    </aside>
  );
}
