import { validateSync } from 'class-validator';
import {
  AnswerQuestionMessage,
  ArchiveSessionMessage,
  AuthenticateMessage,
  CLIENT_MESSAGES,
  CreateSessionMessage,
  DeleteSessionMessage,
  FileAtIterationMessage,
  FileHistoryMessage,
  GetEventsMessage,
  GetHistoryMessage,
  isClientMessageType,
  JoinSessionMessage,
  LeaveSessionMessage,
  ListFilesMessage,
  ListSessionsMessage,
  ManageMembersMessage,
  permissionFor,
  PingMessage,
  PRE_AUTH_MESSAGES,
  ReadFileMessage,
  RenameSessionMessage,
  RunTurnMessage,
  SteerMessage,
  StopTurnMessage,
  UnarchiveSessionMessage,
} from './messages';

type Ctor = new () => object;

/** Builds a DTO the way the frame pipeline does: a fresh instance with the fields assigned. */
function build(cls: Ctor, fields: Record<string, unknown>): object {
  return Object.assign(new cls(), fields);
}

function errorsOf(cls: Ctor, fields: Record<string, unknown>): string[] {
  return validateSync(build(cls, fields), { whitelist: true, forbidNonWhitelisted: false }).map(
    (e) => e.property,
  );
}

const S = { sessionId: 'sess-1' };
const long = (n: number) => 'x'.repeat(n);

interface Case {
  cls: Ctor;
  valid: Record<string, unknown>;
  required: string[];
  wrong: [field: string, value: unknown][];
}

/** protocol.md §10.1/§10.2: one correct example per message, its required fields and mistyped values. */
const CASES: Record<string, Case> = {
  authenticate: {
    cls: AuthenticateMessage,
    valid: { token: 'eyJ.a.b' },
    required: ['token'],
    wrong: [
      ['token', 42],
      ['token', ''],
      ['token', { jwt: 'x' }],
    ],
  },
  ping: {
    cls: PingMessage,
    valid: { clientTs: 1_709_312_400_000 },
    required: [],
    wrong: [
      ['clientTs', 'now'],
      ['clientTs', 1.5],
    ],
  },
  list_sessions: {
    cls: ListSessionsMessage,
    valid: { includeArchived: true },
    required: [],
    wrong: [
      ['includeArchived', 'yes'],
      ['includeArchived', 1],
    ],
  },
  create_session: {
    cls: CreateSessionMessage,
    valid: { agentType: 'coding-agent', name: 'Demo' },
    required: ['agentType'],
    wrong: [
      ['agentType', 7],
      ['agentType', ''],
      ['name', 5],
      ['name', long(201)],
    ],
  },
  rename_session: {
    cls: RenameSessionMessage,
    valid: { ...S, name: 'Renamed' },
    required: ['sessionId', 'name'],
    wrong: [
      ['name', 5],
      ['name', ''],
      ['name', long(201)],
      ['sessionId', 9],
    ],
  },
  archive_session: {
    cls: ArchiveSessionMessage,
    valid: { ...S },
    required: ['sessionId'],
    wrong: [
      ['sessionId', 1],
      ['sessionId', ''],
      ['sessionId', long(129)],
    ],
  },
  unarchive_session: {
    cls: UnarchiveSessionMessage,
    valid: { ...S },
    required: ['sessionId'],
    wrong: [
      ['sessionId', true],
      ['sessionId', ''],
    ],
  },
  delete_session: {
    cls: DeleteSessionMessage,
    valid: { ...S },
    required: ['sessionId'],
    wrong: [
      ['sessionId', ['sess-1']],
      ['sessionId', ''],
    ],
  },
  join_session: {
    cls: JoinSessionMessage,
    valid: { ...S, afterSeq: 3 },
    required: ['sessionId'],
    wrong: [
      ['afterSeq', -1],
      ['afterSeq', '3'],
      ['afterSeq', 1.5],
      ['sessionId', null],
    ],
  },
  leave_session: {
    cls: LeaveSessionMessage,
    valid: { ...S },
    required: ['sessionId'],
    wrong: [['sessionId', 3]],
  },
  run_turn: {
    cls: RunTurnMessage,
    valid: { ...S, text: 'Write hello world', clientTurnId: 'ct-1' },
    required: ['sessionId', 'text'],
    wrong: [
      ['text', ''],
      ['text', 12],
      ['text', { text: 'x' }],
      ['clientTurnId', 1],
    ],
  },
  stop_turn: {
    cls: StopTurnMessage,
    valid: { ...S, turnId: 't1' },
    required: ['sessionId'],
    wrong: [
      ['turnId', 1],
      ['turnId', long(129)],
    ],
  },
  steer: {
    cls: SteerMessage,
    valid: { ...S, text: 'use tabs', turnId: 't1' },
    required: ['sessionId', 'text'],
    wrong: [
      ['text', ''],
      ['text', false],
      ['turnId', 2],
    ],
  },
  answer_question: {
    cls: AnswerQuestionMessage,
    valid: {
      ...S,
      requestId: 'q-1',
      answers: { q1: 'yes', q2: ['a', 'b'] },
      approved: true,
      dismissed: false,
    },
    required: ['sessionId'],
    wrong: [
      ['requestId', 5],
      ['requestId', ''],
      ['answers', 5],
      ['answers', ['a']],
      ['answers', true],
      ['answers', { q1: { nested: 'x' } }],
      ['answers', { q1: ['a', ['b']] }],
      ['answers', { q1: 7 }],
      ['answers', { '': 'x' }],
      ['answers', Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`q${i}`, 'x']))],
      ['answers', { q1: Array.from({ length: 65 }, () => 'a') }],
      ['answers', { q1: 'x'.repeat(16 * 1024 + 1) }],
      ['approved', 'yes'],
      ['dismissed', 1],
    ],
  },
  get_history: {
    cls: GetHistoryMessage,
    valid: { ...S, limit: 50, before: 'msg-9' },
    required: ['sessionId'],
    wrong: [
      ['limit', 0],
      ['limit', 201],
      ['limit', '50'],
      ['before', true],
    ],
  },
  get_events: {
    cls: GetEventsMessage,
    valid: { ...S, afterSeq: 0, limit: 500 },
    required: ['sessionId'],
    wrong: [
      ['afterSeq', -1],
      ['afterSeq', '0'],
      ['limit', 0],
      ['limit', 1001],
    ],
  },
  list_files: {
    cls: ListFilesMessage,
    valid: { ...S, path: '/', depth: 1 },
    required: ['sessionId'],
    wrong: [
      ['path', 1],
      ['depth', 0],
      ['depth', 11],
      ['depth', 'deep'],
    ],
  },
  read_file: {
    cls: ReadFileMessage,
    valid: { ...S, path: 'src/index.ts' },
    required: ['sessionId', 'path'],
    wrong: [
      ['path', ''],
      ['path', 1],
      ['path', long(4097)],
    ],
  },
  file_history: {
    cls: FileHistoryMessage,
    valid: { ...S, path: 'src/index.ts' },
    required: ['sessionId', 'path'],
    wrong: [
      ['path', ''],
      ['path', { p: 1 }],
    ],
  },
  file_at_iteration: {
    cls: FileAtIterationMessage,
    valid: { ...S, path: 'src/index.ts', iteration: 0 },
    required: ['sessionId', 'path', 'iteration'],
    wrong: [
      ['iteration', -1],
      ['iteration', '1'],
      ['iteration', 1.5],
      ['path', 3],
    ],
  },
  manage_members: {
    cls: ManageMembersMessage,
    valid: { action: 'add', userId: 'auth0|u2', email: 'u2@example.com', role: 'admin' },
    required: ['action', 'userId'],
    wrong: [
      ['action', 'promote'],
      ['action', 1],
      ['role', 'superuser'],
      ['userId', 5],
      ['email', 5],
    ],
  },
};

describe('client message DTOs (protocol.md §10)', () => {
  it('covers exactly the 21 message types of the schema union', () => {
    expect(Object.keys(CLIENT_MESSAGES).sort()).toEqual(Object.keys(CASES).sort());
    expect(Object.keys(CLIENT_MESSAGES)).toHaveLength(21);
  });

  it.each(Object.entries(CLIENT_MESSAGES))('%s: the DTO instance carries its own type', (type, cls) => {
    expect(new cls().type).toBe(type);
    expect(CASES[type].cls).toBe(cls);
  });

  const entries = Object.entries(CASES);

  it.each(entries)('%s: accepts a correct example', (_type, c) => {
    expect(errorsOf(c.cls, c.valid)).toEqual([]);
  });

  it.each(entries)('%s: accepts a correct example with a requestId', (_type, c) => {
    expect(errorsOf(c.cls, { requestId: 'r-1', ...c.valid })).toEqual([]);
  });

  const missing = entries.flatMap(([type, c]) => c.required.map((field) => [type, field, c] as const));
  it.each(missing)('%s: rejects a missing %s', (_type, field, c) => {
    const fields = { ...c.valid };
    delete fields[field];
    expect(errorsOf(c.cls, fields)).toContain(field);
  });

  const wrong = entries.flatMap(([type, c]) =>
    c.wrong.map(([field, value]) => [type, field, value, c] as const),
  );
  it.each(wrong)('%s: rejects %s = %p', (_type, field, value, c) => {
    expect(errorsOf(c.cls, { ...c.valid, [field]: value })).toContain(field);
  });

  it.each(entries.filter(([t]) => t !== 'answer_question'))(
    '%s: rejects a non-string or over-long requestId',
    (_t, c) => {
      expect(errorsOf(c.cls, { ...c.valid, requestId: 17 })).toContain('requestId');
      expect(errorsOf(c.cls, { ...c.valid, requestId: long(129) })).toContain('requestId');
      expect(errorsOf(c.cls, { ...c.valid, requestId: long(128) })).toEqual([]);
    },
  );

  it.each(entries.filter(([, c]) => c.required.length === 0))('%s: accepts the bare message', (_t, c) => {
    expect(errorsOf(c.cls, {})).toEqual([]);
  });
});

describe('AnswerQuestionMessage.answers', () => {
  const base = { ...S, requestId: 'q-1' };

  it.each([
    ['an object of strings', { q1: 'yes' }],
    ['an object of string arrays', { q1: ['a', 'b'] }],
    ['an empty object', {}],
    ['a free-text string', 'yes please'],
    ['an empty string', ''],
  ])('accepts %s', (_name, answers) => {
    expect(errorsOf(AnswerQuestionMessage, { ...base, answers })).toEqual([]);
  });

  it('accepts a permission answer without answers', () => {
    expect(errorsOf(AnswerQuestionMessage, { ...base, approved: false })).toEqual([]);
  });

  it.each([
    ['a number', 3],
    ['an array', ['yes']],
    ['a boolean', true],
  ])('rejects %s', (_name, answers) => {
    expect(errorsOf(AnswerQuestionMessage, { ...base, answers })).toEqual(['answers']);
  });
});

describe('ManageMembersMessage conditional fields', () => {
  it('needs no userId for list', () => {
    expect(errorsOf(ManageMembersMessage, { action: 'list' })).toEqual([]);
  });

  it.each(['add', 'update_role', 'remove'])('needs a userId for %s', (action) => {
    const role = action === 'update_role' ? { role: 'member' } : {};
    expect(errorsOf(ManageMembersMessage, { action, ...role })).toEqual(['userId']);
    expect(errorsOf(ManageMembersMessage, { action, userId: '', ...role })).toEqual(['userId']);
    expect(errorsOf(ManageMembersMessage, { action, userId: 'u1', ...role })).toEqual([]);
  });

  it('needs a role for update_role', () => {
    expect(errorsOf(ManageMembersMessage, { action: 'update_role', userId: 'u1' })).toEqual(['role']);
  });

  it('lets add default the role (no role is valid)', () => {
    expect(errorsOf(ManageMembersMessage, { action: 'add', userId: 'u1' })).toEqual([]);
  });

  it.each(['owner', 'admin', 'billing_admin', 'member', 'viewer'])(
    'accepts role %s on update_role',
    (role) => {
      expect(errorsOf(ManageMembersMessage, { action: 'update_role', userId: 'u1', role })).toEqual([]);
    },
  );

  it.each(['add', 'update_role'])('rejects an unknown role on %s', (action) => {
    expect(errorsOf(ManageMembersMessage, { action, userId: 'u1', role: 'root' })).toEqual(['role']);
  });
});

describe('permissionFor (protocol.md §6.3)', () => {
  const table: [message: { type: string; action?: string }, permission: string | null][] = [
    [{ type: 'authenticate' }, null],
    [{ type: 'ping' }, null],
    [{ type: 'list_sessions' }, 'session:read'],
    [{ type: 'join_session' }, 'session:read'],
    [{ type: 'leave_session' }, 'session:read'],
    [{ type: 'get_history' }, 'session:read'],
    [{ type: 'get_events' }, 'session:read'],
    [{ type: 'list_files' }, 'session:read'],
    [{ type: 'read_file' }, 'session:read'],
    [{ type: 'file_history' }, 'session:read'],
    [{ type: 'file_at_iteration' }, 'session:read'],
    [{ type: 'create_session' }, 'session:create'],
    [{ type: 'rename_session' }, 'session:write'],
    [{ type: 'run_turn' }, 'session:write'],
    [{ type: 'stop_turn' }, 'session:write'],
    [{ type: 'answer_question' }, 'session:write'],
    [{ type: 'steer' }, 'session:steer'],
    [{ type: 'archive_session' }, 'session:archive'],
    [{ type: 'unarchive_session' }, 'session:archive'],
    [{ type: 'delete_session' }, 'session:delete'],
    [{ type: 'manage_members', action: 'list' }, 'member:read'],
    [{ type: 'manage_members', action: 'add' }, 'member:write'],
    [{ type: 'manage_members', action: 'update_role' }, 'member:write'],
    [{ type: 'manage_members', action: 'remove' }, 'member:delete'],
  ];

  it('covers all 21 message types', () => {
    expect(new Set(table.map(([m]) => m.type)).size).toBe(21);
  });

  it.each(table)('%p needs %p', (message, permission) => {
    expect(permissionFor(message)).toBe(permission);
  });

  it('needs no permission exactly for the pre-authentication messages', () => {
    const free = table.filter(([, p]) => p === null).map(([m]) => m.type);
    expect(free.sort()).toEqual([...PRE_AUTH_MESSAGES].sort());
  });
});

describe('isClientMessageType', () => {
  it.each(Object.keys(CASES))('accepts %s', (t) => expect(isClientMessageType(t)).toBe(true));

  it.each(['', 'Ping', 'session_created', 'constructor', '__proto__', 'hasOwnProperty', 'toString', 5, null])(
    'rejects %p',
    (t) => expect(isClientMessageType(t)).toBe(false),
  );
});

describe('permissionFor fails closed', () => {
  it.each(['constructor', 'toString', '__proto__', 'no_such'])(
    'unknown type %s needs tenant:admin',
    (type) => {
      expect(permissionFor({ type })).toBe('tenant:admin');
    },
  );
  it('an unknown manage_members action needs tenant:admin', () => {
    expect(permissionFor({ type: 'manage_members', action: 'constructor' })).toBe('tenant:admin');
  });
});
