import { useEffect, useMemo, useState } from 'react';
import type {
  Diminuendo,
  PermissionRequestedEvent,
  QuestionRequestedEvent,
  SessionHandle,
  SessionMeta,
  ViewItem,
} from '@diminuendo/client';
import { errorText, useSessionView } from './hooks';

/** One session: its history and replay, the live turn, questions and permissions, steer and stop. */
export function SessionPanel(props: {
  client: Diminuendo;
  session: SessionMeta;
  onOpenFile: (path: string) => void;
}) {
  const handle = props.client.session(props.session.id);
  const view = useMemo(() => handle.view(), [handle]);
  const state = useSessionView(view);
  const [text, setText] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const running = state.turn?.status === 'running';

  useEffect(() => {
    if (!handle.joined) handle.join().catch((err: unknown) => setProblem(errorText(err)));
  }, [handle]);

  const attempt = (action: () => Promise<unknown>) => {
    setProblem(null);
    action().catch((err: unknown) => setProblem(errorText(err)));
  };

  return (
    <section className="session" aria-label={`Session ${props.session.name}`}>
      <h2>
        {props.session.name} <span className={`badge status-${state.status}`}>{state.status}</span>
      </h2>
      <ol className="timeline" aria-live="polite">
        {state.items.map((item) => (
          <li key={item.key} className={`item item-${item.kind}`}>
            <Item
              item={item}
              handle={handle}
              pending={state.pending}
              onOpenFile={props.onOpenFile}
              onError={setProblem}
            />
          </li>
        ))}
      </ol>
      {state.turn?.status === 'error' && (
        <p role="alert" className="error">
          Turn failed: {state.turn.error?.code} {state.turn.error?.message}
        </p>
      )}
      {problem && (
        <p role="alert" className="error">
          {problem}
        </p>
      )}
      <form
        className="composer"
        onSubmit={(e) => {
          e.preventDefault();
          const prompt = text.trim();
          if (!prompt) return;
          setText('');
          attempt(() => (running ? handle.steer(prompt) : handle.runTurn(prompt).turnId));
        }}
      >
        <label htmlFor="prompt">{running ? 'Steer the running turn' : 'Message'}</label>
        <textarea
          id="prompt"
          rows={3}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.metaKey || e.ctrlKey)) e.currentTarget.form?.requestSubmit();
          }}
        />
        <div className="buttons">
          <button type="submit">{running ? 'Steer' : 'Send'}</button>
          {running && (
            <button type="button" onClick={() => attempt(() => handle.stop())}>
              Stop
            </button>
          )}
        </div>
      </form>
      <p className="usage" data-testid="usage">
        {state.usage.turns} turns · {state.usage.inputTokens} in / {state.usage.outputTokens} out tokens ·{' '}
        {state.usage.credits} µcredits
      </p>
    </section>
  );
}

function Item(props: {
  item: ViewItem;
  handle: SessionHandle;
  pending: QuestionRequestedEvent | PermissionRequestedEvent | null;
  onOpenFile: (path: string) => void;
  onError: (text: string) => void;
}) {
  const { item } = props;
  switch (item.kind) {
    case 'message':
      return (
        <article
          className={`message ${item.role}`}
          data-testid="message"
          data-role={item.role}
          aria-busy={item.streaming}
        >
          <h3 className="sr-only">{item.role === 'user' ? (item.steer ? 'You (steer)' : 'You') : 'Agent'}</h3>
          <p>{item.text}</p>
        </article>
      );
    case 'thinking':
      return (
        <details className="thinking">
          <summary>
            {item.done
              ? `Thought${item.durationMs ? ` for ${Math.round(item.durationMs / 100) / 10} s` : ''}`
              : 'Thinking…'}
          </summary>
          <pre>{item.text}</pre>
        </details>
      );
    case 'tool':
      return (
        <details className={`tool tool-${item.status}`} open={item.status !== 'done'}>
          <summary>
            Tool <code>{item.toolName}</code> — {item.status}
          </summary>
          <h4>Input</h4>
          <pre>{item.input ? JSON.stringify(item.input, null, 2) : item.inputText}</pre>
          {item.output !== undefined && (
            <>
              <h4>Result</h4>
              <pre>
                {typeof item.output === 'string' ? item.output : JSON.stringify(item.output, null, 2)}
              </pre>
            </>
          )}
          {item.error && <p className="error">{item.error}</p>}
        </details>
      );
    case 'terminal':
      return (
        <figure className="terminal">
          <figcaption>
            $ {item.command ?? 'terminal'}
            {item.exitCode !== undefined && ` (exit ${item.exitCode})`}
          </figcaption>
          <pre data-testid="terminal">{item.output}</pre>
        </figure>
      );
    case 'file':
      return (
        <p className="file-change">
          File {item.changeType}: <code>{item.path}</code>
          {item.iteration !== undefined && ` (iteration ${item.iteration})`}{' '}
          <button type="button" onClick={() => props.onOpenFile(item.path)}>
            Open {item.path}
          </button>
        </p>
      );
    case 'request':
      return (
        <RequestItem
          request={item.request}
          resolution={item.resolution}
          isPending={props.pending?.requestId === item.request.requestId}
          handle={props.handle}
          onError={props.onError}
        />
      );
  }
}

function RequestItem(props: {
  request: QuestionRequestedEvent | PermissionRequestedEvent;
  resolution?: { approved?: boolean; answers?: unknown; dismissed?: boolean };
  isPending: boolean;
  handle: SessionHandle;
  onError: (text: string) => void;
}) {
  const { request, handle } = props;
  const [answers, setAnswers] = useState<Record<string, string>>({});
  const send = (reply: Parameters<SessionHandle['answer']>[1]) =>
    handle.answer(request.requestId, reply).catch((err: unknown) => props.onError(errorText(err)));
  const resolved = props.resolution
    ? props.resolution.dismissed
      ? 'Dismissed'
      : props.resolution.approved !== undefined
        ? props.resolution.approved
          ? 'Approved'
          : 'Denied'
        : `Answered: ${formatAnswers(props.resolution.answers)}`
    : null;

  if (request.type === 'permission_requested') {
    return (
      <fieldset className="request" aria-label="Permission request">
        <legend>
          Permission: <code>{request.toolName}</code>
        </legend>
        <p>{request.description}</p>
        {resolved ? (
          <p className="resolved">{resolved}</p>
        ) : (
          props.isPending && (
            <div className="buttons">
              <button type="button" onClick={() => void send({ approved: true })}>
                Approve
              </button>
              <button type="button" onClick={() => void send({ approved: false })}>
                Deny
              </button>
            </div>
          )
        )}
      </fieldset>
    );
  }
  return (
    <fieldset className="request" aria-label="Question">
      <legend>The agent asks</legend>
      {request.questions.map((q) => (
        <div key={q.id} className="question">
          <p id={`q-${request.requestId}-${q.id}`}>{q.question}</p>
          {!resolved && props.isPending && q.options?.length ? (
            <div className="buttons" role="group" aria-labelledby={`q-${request.requestId}-${q.id}`}>
              {q.options.map((o) => (
                <button
                  key={o}
                  type="button"
                  aria-pressed={answers[q.id] === o}
                  onClick={() => setAnswers({ ...answers, [q.id]: o })}
                >
                  {o}
                </button>
              ))}
            </div>
          ) : (
            !resolved &&
            props.isPending && (
              <input
                aria-labelledby={`q-${request.requestId}-${q.id}`}
                value={answers[q.id] ?? ''}
                onChange={(e) => setAnswers({ ...answers, [q.id]: e.target.value })}
              />
            )
          )}
        </div>
      ))}
      {resolved ? (
        <p className="resolved">{resolved}</p>
      ) : (
        props.isPending && (
          <div className="buttons">
            <button
              type="button"
              disabled={request.questions.some((q) => !answers[q.id])}
              onClick={() => void send({ answers })}
            >
              Answer
            </button>
            <button type="button" onClick={() => void send({ dismissed: true })}>
              Dismiss
            </button>
          </div>
        )
      )}
    </fieldset>
  );
}

function formatAnswers(answers: unknown): string {
  if (typeof answers === 'string') return answers;
  if (answers && typeof answers === 'object') return Object.values(answers).flat().join(', ');
  return '';
}
