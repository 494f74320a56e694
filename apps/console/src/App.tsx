import { useCallback, useEffect, useState, useSyncExternalStore } from 'react';
import { Diminuendo } from '@diminuendo/client';
import { AccountPanel } from './AccountPanel';
import { FilesPanel } from './FilesPanel';
import { SessionPanel } from './SessionPanel';
import { SessionsSidebar } from './SessionsSidebar';
import { errorText, useConnectionState } from './hooks';

const TOKEN_KEY = 'diminuendo.token';

/** Signs in (dev mode: at once; otherwise with a pasted JWT or API key), then shows the console. */
export function App() {
  const [client, setClient] = useState<Diminuendo | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(true);

  const connect = useCallback(async (token: string) => {
    setBusy(true);
    const next = new Diminuendo({ url: window.location.origin, token: token || undefined });
    try {
      await next.connect();
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      setProblem(null);
      setClient(next);
    } catch (err) {
      next.close();
      setProblem(token || !/UNAUTHENTICATED/.test(errorText(err)) ? errorText(err) : null);
    } finally {
      setBusy(false);
    }
  }, []);

  useEffect(() => {
    void connect(sessionStorage.getItem(TOKEN_KEY) ?? '');
  }, [connect]);

  if (client) {
    return (
      <Console
        client={client}
        onSignOut={() => {
          sessionStorage.removeItem(TOKEN_KEY);
          client.close();
          setClient(null);
        }}
      />
    );
  }
  return <SignIn busy={busy} problem={problem} onSubmit={(token) => void connect(token)} />;
}

function SignIn(props: { busy: boolean; problem: string | null; onSubmit: (token: string) => void }) {
  const [token, setToken] = useState('');
  return (
    <main className="sign-in">
      <h1>Diminuendo console</h1>
      <p role="status" data-testid="connection-state">
        {props.busy ? 'connecting' : 'closed'}
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          props.onSubmit(token.trim());
        }}
      >
        <label htmlFor="token">Access token (JWT) or API key</label>
        <textarea
          id="token"
          rows={4}
          value={token}
          onChange={(e) => setToken(e.target.value)}
          autoComplete="off"
          spellCheck={false}
        />
        <button type="submit" disabled={props.busy || !token.trim()}>
          Sign in
        </button>
      </form>
      {props.problem && (
        <p role="alert" className="error">
          {props.problem}
        </p>
      )}
    </main>
  );
}

type Tab = 'session' | 'files' | 'account';

function Console({ client, onSignOut }: { client: Diminuendo; onSignOut: () => void }) {
  const state = useConnectionState(client);
  const list = client.sessionList();
  const sessions = useSyncExternalStore(list.subscribe, list.getSnapshot);
  const [openId, setOpenId] = useState<string | null>(null);
  const [tab, setTab] = useState<Tab>('session');
  const [filePath, setFilePath] = useState<string | undefined>(undefined);
  const open = openId ? sessions.sessions.find((s) => s.id === openId) : undefined;

  useEffect(() => {
    if (openId && sessions.loaded && !open) setOpenId(null);
  }, [openId, open, sessions.loaded]);

  return (
    <div className="console">
      <header>
        <h1>Diminuendo</h1>
        <span className={`state state-${state}`} role="status" data-testid="connection-state">
          {state}
        </span>
        <span className="who">
          {client.identity?.email || client.identity?.userId} · {client.identity?.role}
        </span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <SessionsSidebar
        client={client}
        sessions={sessions.sessions}
        openId={openId}
        onOpen={(id) => {
          setOpenId(id);
          setTab('session');
        }}
      />
      <main>
        <nav className="tabs" aria-label="Views">
          {(['session', 'files', 'account'] as const).map((t) => (
            <button key={t} type="button" aria-pressed={tab === t} onClick={() => setTab(t)}>
              {t === 'session' ? 'Session' : t === 'files' ? 'Files' : 'Account'}
            </button>
          ))}
        </nav>
        {tab === 'account' && <AccountPanel client={client} />}
        {tab !== 'account' && !open && <p className="hint">Create or open a session.</p>}
        {tab === 'session' && open && (
          <SessionPanel
            key={open.id}
            client={client}
            session={open}
            onOpenFile={(path) => {
              setFilePath(path);
              setTab('files');
            }}
          />
        )}
        {tab === 'files' && open && (
          <FilesPanel key={open.id} client={client} sessionId={open.id} initialPath={filePath} />
        )}
      </main>
    </div>
  );
}
