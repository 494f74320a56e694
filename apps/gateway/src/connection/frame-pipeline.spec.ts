import { Equals, IsString, MaxLength, validateSync } from 'class-validator';
import { ClientMessageBase, CLIENT_MESSAGES, isClientMessageType, type ErrorCode } from '@app/protocol';
import { FramePipeline, type FrameResult } from './frame-pipeline';
import { extensionMessageTable } from './message-extensions';

const MB = 1024 * 1024;
const TRANSPORT_CODES: ErrorCode[] = ['MESSAGE_TOO_LARGE', 'RATE_LIMITED', 'INVALID_JSON', 'INVALID_MESSAGE'];

const open = () => 0;
const frame = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8');

function expectError(
  result: FrameResult | ReturnType<FramePipeline['validate']>,
  code: ErrorCode,
): Extract<FrameResult, { ok: false }> {
  expect(result).toMatchObject({ ok: false, code });
  if (result.ok) throw new Error('unreachable');
  return result;
}

function expectOk(result: FrameResult): Extract<FrameResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.message}`);
  return result;
}

describe('FramePipeline transport outcomes (docs/protocol.md §12)', () => {
  const pipeline = new FramePipeline(MB);

  describe('size', () => {
    it('rejects an oversize frame before parsing it (invalid JSON still yields MESSAGE_TOO_LARGE)', () => {
      const rate = jest.fn(open);
      const data = Buffer.alloc(MB + 1, '{');
      const error = expectError(pipeline.accept(data, false, rate), 'MESSAGE_TOO_LARGE');
      expect(error.message).toContain(String(MB));
      expect(rate).not.toHaveBeenCalled();
    });

    it('rejects oversize bytes that are not even UTF-8, and oversize binary frames', () => {
      expectError(pipeline.accept(Buffer.alloc(MB + 1, 0xff), false, open), 'MESSAGE_TOO_LARGE');
      expectError(pipeline.accept(Buffer.alloc(MB + 1, 0xff), true, open), 'MESSAGE_TOO_LARGE');
    });

    it('accepts a frame of exactly the limit and rejects one byte more', () => {
      const small = new FramePipeline(256);
      const head = '{"type":"ping","pad":"';
      const exact = head + 'x'.repeat(256 - head.length - 2) + '"}';
      expect(Buffer.byteLength(exact)).toBe(256);
      expect(expectOk(small.accept(frame(exact), false, open)).message.type).toBe('ping');
      const over = head + 'x'.repeat(256 - head.length - 1) + '"}';
      expectError(small.accept(frame(over), false, open), 'MESSAGE_TOO_LARGE');
    });

    it('counts bytes, not characters', () => {
      const small = new FramePipeline(1024);
      const text = '€'.repeat(400); // 400 characters, 1200 bytes
      const msg = { type: 'run_turn', sessionId: 's1', text };
      expect(JSON.stringify(msg).length).toBeLessThan(1024);
      expectError(small.accept(frame(msg), false, open), 'MESSAGE_TOO_LARGE');
    });
  });

  describe('requestId of frames answered without being parsed', () => {
    it('is echoed on RATE_LIMITED, MESSAGE_TOO_LARGE and INVALID_JSON when it leads the frame', () => {
      const limited = expectError(
        pipeline.accept(frame({ requestId: 'r-1', type: 'ping' }), false, () => 40),
        'RATE_LIMITED',
      );
      expect(limited).toMatchObject({ requestId: 'r-1', retryAfterMs: 40 });
      const big = frame({ requestId: 'r-"2"', type: 'run_turn', text: 'x'.repeat(MB) });
      expect(expectError(pipeline.accept(big, false, open), 'MESSAGE_TOO_LARGE').requestId).toBe('r-"2"');
      const broken = frame('{"requestId":"r-3","type":"ping",');
      expect(expectError(pipeline.accept(broken, false, open), 'INVALID_JSON').requestId).toBe('r-3');
    });

    it('is not taken from beyond the first KiB or when it is not a string', () => {
      const late = frame({ type: 'ping', pad: 'x'.repeat(2000), requestId: 'late' });
      expect(
        expectError(
          pipeline.accept(late, false, () => 1),
          'RATE_LIMITED',
        ).requestId,
      ).toBeUndefined();
      const numeric = frame('{"requestId":5,"type":"ping"}');
      expect(
        expectError(
          pipeline.accept(numeric, false, () => 1),
          'RATE_LIMITED',
        ).requestId,
      ).toBeUndefined();
    });
  });

  describe('deep and wide structures', () => {
    it('answers a 50,000-deep `answers` object with INVALID_MESSAGE and its requestId', () => {
      const depth = 50_000;
      const deep = `{"type":"answer_question","sessionId":"s1","requestId":"q-9","answers":${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}}`;
      const error = expectError(pipeline.accept(Buffer.from(deep), false, open), 'INVALID_MESSAGE');
      expect(error.requestId).toBe('q-9');
      expect(error.message).toContain('answers');
    });

    it('keeps the frame text of a valid message, to forward it as received', () => {
      const text = '{"type":"ping", "clientTs": 5}';
      expect(expectOk(pipeline.accept(Buffer.from(text), false, open)).text).toBe(text);
    });
  });

  describe('rate limit', () => {
    it('takes precedence over parsing: invalid JSON while limited yields RATE_LIMITED with the wait', () => {
      const error = expectError(
        pipeline.accept(frame('{not json'), false, () => 250),
        'RATE_LIMITED',
      );
      expect(error.retryAfterMs).toBe(250);
    });

    it('takes precedence over the binary and schema checks', () => {
      expectError(
        pipeline.accept(frame({ type: 'ping' }), true, () => 1),
        'RATE_LIMITED',
      );
      expectError(
        pipeline.accept(frame({ type: 'nope' }), false, () => 1),
        'RATE_LIMITED',
      );
      expectError(
        pipeline.accept(Buffer.from([0xc3, 0x28]), false, () => 1),
        'RATE_LIMITED',
      );
    });

    it('drops a valid message while limited', () => {
      const error = expectError(
        pipeline.accept(frame({ type: 'ping' }), false, () => 9_000),
        'RATE_LIMITED',
      );
      expect(error.retryAfterMs).toBe(9_000);
    });

    it('asks the limiter exactly once per frame that passed the size check', () => {
      const rate = jest.fn(open);
      pipeline.accept(frame({ type: 'ping' }), false, rate);
      pipeline.accept(frame('garbage'), false, rate);
      pipeline.accept(frame({ type: 'ping' }), true, rate);
      expect(rate).toHaveBeenCalledTimes(3);
    });
  });

  it('rejects binary frames with INVALID_MESSAGE even when they hold a valid message', () => {
    const error = expectError(pipeline.accept(frame({ type: 'ping' }), true, open), 'INVALID_MESSAGE');
    expect(error.message).toMatch(/binary/i);
  });

  it.each([
    ['a lone continuation byte', Buffer.from([0x80])],
    ['a truncated two-byte sequence', Buffer.from([0xc3])],
    ['an overlong encoding', Buffer.from([0xc0, 0xaf])],
    ['a UTF-16 surrogate', Buffer.from([0xed, 0xa0, 0x80])],
    ['0xff', Buffer.from([0xff, 0xfe])],
    [
      'otherwise valid JSON with a bad byte inside a string',
      Buffer.concat([frame('{"type":"ping","x":"'), Buffer.from([0xff]), frame('"}')]),
    ],
  ])('rejects invalid UTF-8 (%s) with INVALID_JSON', (_name, data) => {
    expectError(pipeline.accept(data, false, open), 'INVALID_JSON');
  });

  it.each([
    ['{'],
    ['{"type":"ping"'],
    ["{'type':'ping'}"],
    ['{"type":"ping",}'],
    [''],
    ['   '],
    ['undefined'],
    ['NaN'],
    ['{"type":"ping"} extra'],
  ])('rejects invalid JSON %p with INVALID_JSON', (text) => {
    const error = expectError(pipeline.accept(frame(text), false, open), 'INVALID_JSON');
    expect(error.requestId).toBeUndefined();
  });

  it.each([['null'], ['42'], ['"ping"'], ['true'], ['[]'], ['[{"type":"ping"}]']])(
    'rejects non-object JSON %s with INVALID_MESSAGE',
    (text) => {
      expectError(pipeline.accept(frame(text), false, open), 'INVALID_MESSAGE');
    },
  );

  describe('unknown type', () => {
    it('answers INVALID_MESSAGE naming the type and echoes the requestId', () => {
      const error = expectError(
        pipeline.accept(frame({ type: 'launch_rockets', requestId: 'r-7' }), false, open),
        'INVALID_MESSAGE',
      );
      expect(error.requestId).toBe('r-7');
      expect(error.message).toContain('launch_rockets');
    });

    it.each([
      ['missing', { requestId: 'r-1' }],
      ['a number', { type: 3, requestId: 'r-1' }],
      ['an inherited property name', { type: 'constructor', requestId: 'r-1' }],
      ['__proto__', { type: '__proto__', requestId: 'r-1' }],
      ['hasOwnProperty', { type: 'hasOwnProperty', requestId: 'r-1' }],
      ['wrong case', { type: 'PING', requestId: 'r-1' }],
    ])('treats a type that is %s as unknown', (_name, msg) => {
      expect(expectError(pipeline.accept(frame(msg), false, open), 'INVALID_MESSAGE').requestId).toBe('r-1');
    });

    it('does not echo a requestId that is not a string or is longer than 128 characters', () => {
      expect(
        expectError(pipeline.accept(frame({ type: 'x', requestId: 5 }), false, open), 'INVALID_MESSAGE')
          .requestId,
      ).toBeUndefined();
      const long = 'r'.repeat(129);
      expect(
        expectError(pipeline.accept(frame({ type: 'x', requestId: long }), false, open), 'INVALID_MESSAGE')
          .requestId,
      ).toBeUndefined();
    });

    it('does not reflect a huge type string back in full', () => {
      const error = expectError(
        pipeline.accept(frame({ type: 'y'.repeat(10_000) }), false, open),
        'INVALID_MESSAGE',
      );
      expect(error.message.length).toBeLessThan(200);
    });
  });

  describe('invalid fields', () => {
    it.each([
      [{ type: 'authenticate' }, 'token'],
      [{ type: 'authenticate', token: 42 }, 'token'],
      [{ type: 'run_turn', sessionId: 's1' }, 'text'],
      [{ type: 'run_turn', sessionId: 's1', text: '' }, 'text'],
      [{ type: 'join_session', sessionId: 's1', afterSeq: 'one' }, 'afterSeq'],
      [{ type: 'manage_members', action: 'update_role', userId: 'u' }, 'role'],
      [{ type: 'get_events', sessionId: 's1', limit: 5000 }, 'limit'],
    ])('rejects %p with INVALID_MESSAGE naming the field', (msg, field) => {
      const error = expectError(
        pipeline.accept(frame({ ...msg, requestId: 'req-9' }), false, open),
        'INVALID_MESSAGE',
      );
      expect(error.message).toContain(field);
      expect(error.message.startsWith(`${msg.type}:`)).toBe(true);
      expect(error.requestId).toBe('req-9');
    });

    it('keeps the error message short even for a huge invalid value', () => {
      const error = expectError(
        pipeline.accept(
          frame({ type: 'rename_session', sessionId: 's1', name: 'n'.repeat(500_000) }),
          false,
          open,
        ),
        'INVALID_MESSAGE',
      );
      expect(error.message.length).toBeLessThanOrEqual(300);
      expect(error.message).not.toContain('nnnnnnnnnn');
    });
  });

  describe('prototype keys', () => {
    afterEach(() => {
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    });

    it('ignores __proto__ and constructor keys without polluting anything', () => {
      const before = Object.getOwnPropertyNames(Object.prototype).sort();
      const text =
        '{"type":"run_turn","sessionId":"s1","text":"hi","__proto__":{"polluted":"yes","text":""},' +
        '"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"}}';
      const { message } = expectOk(pipeline.accept(frame(text), false, open));
      expect(message).toBeInstanceOf(CLIENT_MESSAGES.run_turn);
      expect(Object.getPrototypeOf(message)).toBe(CLIENT_MESSAGES.run_turn.prototype);
      expect(Object.prototype.hasOwnProperty.call(message, '__proto__')).toBe(false);
      expect(Object.prototype.hasOwnProperty.call(message, 'constructor')).toBe(false);
      expect(Object.prototype.hasOwnProperty.call(message, 'prototype')).toBe(false);
      expect((message as unknown as Record<string, unknown>).polluted).toBeUndefined();
      expect(message.constructor).toBe(CLIENT_MESSAGES.run_turn);
      expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before);
      expect(Object.prototype.hasOwnProperty.call(CLIENT_MESSAGES.run_turn.prototype, 'polluted')).toBe(
        false,
      );
    });

    it('cannot use __proto__ to smuggle a required field past validation', () => {
      const text = '{"type":"run_turn","sessionId":"s1","__proto__":{"text":"smuggled"}}';
      expectError(pipeline.accept(frame(text), false, open), 'INVALID_MESSAGE');
    });

    it('leaves nested __proto__ keys as inert data', () => {
      const text =
        '{"type":"answer_question","sessionId":"s1","requestId":"q1","answers":{"__proto__":"yes","q1":"a"}}';
      const { message } = expectOk(pipeline.accept(frame(text), false, open));
      expect(message.type).toBe('answer_question');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('rejects a nested object under __proto__ like any other nested answer', () => {
      const text =
        '{"type":"answer_question","sessionId":"s1","requestId":"q1","answers":{"__proto__":{"polluted":"yes"}}}';
      expect(expectError(pipeline.accept(frame(text), false, open), 'INVALID_MESSAGE').requestId).toBe('q1');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });

  it('strips unknown extra fields and keeps the known ones', () => {
    const { message } = expectOk(
      pipeline.accept(
        frame({
          type: 'join_session',
          sessionId: 's1',
          afterSeq: 4,
          requestId: 'r',
          evil: true,
          nested: { a: 1 },
          role: 'owner',
        }),
        false,
        open,
      ),
    );
    expect({ ...message }).toEqual({ type: 'join_session', sessionId: 's1', afterSeq: 4, requestId: 'r' });
  });

  it('treats null optional fields as absent', () => {
    expect(expectOk(pipeline.accept(frame({ type: 'ping', clientTs: null }), false, open)).message.type).toBe(
      'ping',
    );
  });

  describe('valid messages keep their type', () => {
    const valid: Record<string, Record<string, unknown>> = {
      authenticate: { token: 't' },
      ping: { clientTs: 1 },
      list_sessions: { includeArchived: false },
      create_session: { agentType: 'echo', name: 'n' },
      rename_session: { sessionId: 's', name: 'n' },
      archive_session: { sessionId: 's' },
      unarchive_session: { sessionId: 's' },
      delete_session: { sessionId: 's' },
      join_session: { sessionId: 's', afterSeq: 0 },
      leave_session: { sessionId: 's' },
      run_turn: { sessionId: 's', text: 'go', clientTurnId: 'c' },
      stop_turn: { sessionId: 's', turnId: 't' },
      steer: { sessionId: 's', text: 'left' },
      answer_question: { sessionId: 's', requestId: 'q', answers: 'yes' },
      get_history: { sessionId: 's', limit: 10, before: 1_700_000_000_000 },
      get_events: { sessionId: 's', afterSeq: 2, limit: 10 },
      list_files: { sessionId: 's', path: '/', depth: 2 },
      read_file: { sessionId: 's', path: 'a.txt' },
      file_history: { sessionId: 's', path: 'a.txt' },
      file_at_iteration: { sessionId: 's', path: 'a.txt', iteration: 3 },
      manage_members: { action: 'remove', userId: 'u' },
    };

    it('has an example for each of the 21 types', () => {
      expect(Object.keys(valid).sort()).toEqual(Object.keys(CLIENT_MESSAGES).sort());
    });

    it.each(Object.entries(valid))('%s', (type, fields) => {
      const { message } = expectOk(pipeline.accept(frame({ type, ...fields }), false, open));
      expect(message.type).toBe(type);
      expect(message).toBeInstanceOf(CLIENT_MESSAGES[type as keyof typeof CLIENT_MESSAGES]);
      expect({ ...message }).toEqual({ type, ...fields });
    });
  });

  describe('validate() on an already parsed value', () => {
    it('is total for non-objects', () => {
      for (const v of [undefined, null, 0, 'x', [], () => 1])
        expectError(pipeline.validate(v), 'INVALID_MESSAGE');
    });
  });
});

/** mulberry32: a tiny deterministic PRNG so a failing fuzz case can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('FramePipeline fuzz', () => {
  const SEED = 0x5eed1234;
  const ITERATIONS = 3000;
  const pipeline = new FramePipeline(MB);
  const types = Object.keys(CLIENT_MESSAGES);
  const keys = [
    'type',
    'sessionId',
    'text',
    'token',
    'requestId',
    'afterSeq',
    'limit',
    'path',
    'iteration',
    'action',
    'userId',
    'role',
    'answers',
    'approved',
    'name',
    'agentType',
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'valueOf',
    'hasOwnProperty',
  ];

  it(`never throws and always returns a known message or a transport error (seed ${SEED}, ${ITERATIONS} frames)`, () => {
    const rnd = prng(SEED);
    const int = (n: number) => Math.floor(rnd() * n);
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];

    const value = (depth: number): unknown => {
      switch (int(depth > 2 ? 7 : 9)) {
        case 0:
          return null;
        case 1:
          return rnd() < 0.5;
        case 2:
          return pick([0, -1, 1.5, 2 ** 53, -0, 1e308, 7, 128]);
        case 3:
          return 'x'.repeat(int(300));
        case 4:
          return pick([
            '',
            's1',
            '../etc/passwd',
            'owner',
            'list',
            'update_role',
            '\u0000',
            '😀',
            'a'.repeat(129),
          ]);
        case 5:
          return pick(types);
        case 6:
          return String(int(1e6));
        case 7:
          return Array.from({ length: int(4) }, () => value(depth + 1));
        default:
          return Object.fromEntries(Array.from({ length: int(4) }, () => [pick(keys), value(depth + 1)]));
      }
    };
    const message = (): Record<string, unknown> => {
      const m: Record<string, unknown> = { type: rnd() < 0.9 ? pick(types) : value(0) };
      for (let i = int(6); i > 0; i--) m[pick(keys)] = value(0);
      return m;
    };
    const generators: (() => Buffer)[] = [
      () => Buffer.from(Array.from({ length: int(200) }, () => int(256))),
      () => {
        const s = JSON.stringify(message());
        return frame(s.slice(0, int(s.length + 1)));
      },
      () => frame(message()),
      () => frame(message()),
      () => {
        const s = JSON.stringify(message());
        const b = Buffer.from(s);
        if (b.length) b[int(b.length)] = int(256);
        return b;
      },
      () => {
        const n = 10_000;
        const opens = rnd() < 0.5 ? '['.repeat(n) : '{"a":'.repeat(n);
        const closes = opens.startsWith('[') ? ']'.repeat(n) : '}'.repeat(n);
        return frame(rnd() < 0.5 ? opens : opens + '1' + closes);
      },
      () => {
        const n = 10_000;
        const deep = '['.repeat(n) + ']'.repeat(n);
        return frame(`{"type":"answer_question","sessionId":"s","requestId":"q","answers":{"a":${deep}}}`);
      },
      () => {
        const big = 'z'.repeat(rnd() < 0.5 ? MB : int(600_000));
        return frame({
          type: pick(['run_turn', 'steer', 'authenticate']),
          sessionId: 's',
          text: big,
          token: big,
        });
      },
      () =>
        frame(
          pick([
            '',
            ' ',
            '{',
            '}',
            '[',
            '"',
            'nul',
            'tru',
            '-',
            '1e',
            '{"type"',
            '{"type":}',
            '\uFEFF{"type":"ping"}',
          ]),
        ),
      () => frame(JSON.stringify(value(0)) ?? 'undefined'),
    ];

    const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    const counts: Record<string, number> = {};
    for (let i = 0; i < ITERATIONS; i++) {
      // Heavy generators (deep nesting, huge strings) are rarer so the loop stays fast.
      const g = rnd() < 0.03 ? int(3) + 5 : pick([0, 1, 2, 3, 4, 8, 9]);
      const data = generators[g]();
      const isBinary = rnd() < 0.05;
      const wait = rnd() < 0.05 ? 1 + int(10_000) : 0;
      let result: FrameResult;
      try {
        result = pipeline.accept(data, isBinary, () => wait);
      } catch (err) {
        throw new Error(
          `iteration ${i} (generator ${g}) threw: ${(err as Error).message}; frame starts ${data.subarray(0, 80).toString('hex')}`,
        );
      }
      if (result.ok) {
        expect(isClientMessageType(result.message.type)).toBe(true);
        const cls = CLIENT_MESSAGES[result.message.type];
        expect(result.message).toBeInstanceOf(cls);
        expect(validateSync(result.message)).toEqual([]);
        expect(isBinary || wait > 0).toBe(false);
        counts.ok = (counts.ok ?? 0) + 1;
      } else {
        expect(TRANSPORT_CODES).toContain(result.code);
        expect(typeof result.message).toBe('string');
        expect(result.message.length).toBeLessThanOrEqual(300);
        if (result.code === 'RATE_LIMITED') expect(result.retryAfterMs).toBe(wait);
        counts[result.code] = (counts[result.code] ?? 0) + 1;
      }
    }
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // The generators reach every outcome, so the loop is not vacuous.
    for (const outcome of ['ok', ...TRANSPORT_CODES]) expect(counts[outcome] ?? 0).toBeGreaterThan(0);
  });
});

describe('FramePipeline: fixed edge cases', () => {
  const pipeline = new FramePipeline(1024 * 1024);
  const accept = (obj: unknown) => pipeline.accept(Buffer.from(JSON.stringify(obj)), false, () => 0);

  it('requires the requestId of answer_question (the pending request it answers)', () => {
    expect(accept({ type: 'answer_question', sessionId: 's1' })).toMatchObject({
      ok: false,
      code: 'INVALID_MESSAGE',
    });
    expect(accept({ type: 'answer_question', sessionId: 's1', requestId: null })).toMatchObject({
      ok: false,
      code: 'INVALID_MESSAGE',
    });
    expect(
      accept({ type: 'answer_question', sessionId: 's1', requestId: 'q1', answers: 'yes' }),
    ).toMatchObject({ ok: true });
  });

  it("ignores fields named after Object's own methods", () => {
    const r = accept({ type: 'ping', hasOwnProperty: 1, isPrototypeOf: 2, __defineGetter__: 3, clientTs: 5 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const msg = r.message as unknown as Record<string, unknown>;
    expect(Object.prototype.hasOwnProperty.call(msg, 'hasOwnProperty')).toBe(false);
    expect(Object.prototype.hasOwnProperty.call(msg, 'isPrototypeOf')).toBe(false);
    expect(Object.prototype.hasOwnProperty.call(msg, '__defineGetter__')).toBe(false);
    expect(msg.clientTs).toBe(5);
    expect(typeof msg.hasOwnProperty).toBe('function');
  });
});

describe('FramePipeline with contributed message types', () => {
  class NoteMessage extends ClientMessageBase {
    @Equals('ext_note')
    readonly type = 'ext_note' as const;

    @IsString()
    @MaxLength(10)
    text!: string;
  }
  const table = extensionMessageTable(
    [{ type: 'ext_note', dto: NoteMessage, permission: 'session:read' }],
    isClientMessageType,
  );
  const pipeline = new FramePipeline(MB, table);

  it('validates a contributed type with its DTO, copying only declared fields', () => {
    const ok = expectOk(
      pipeline.accept(frame({ type: 'ext_note', text: 'hi', extra: 1, requestId: 'r' }), false, open),
    );
    expect(ok.message).toBeInstanceOf(NoteMessage);
    expect(ok.message).toMatchObject({ type: 'ext_note', text: 'hi', requestId: 'r' });
    expect('extra' in ok.message).toBe(false);
    const bad = expectError(
      pipeline.accept(frame({ type: 'ext_note', text: 'x'.repeat(11), requestId: 'r2' }), false, open),
      'INVALID_MESSAGE',
    );
    expect(bad.requestId).toBe('r2');
  });

  it('leaves the core types as they are and other names unknown', () => {
    expectOk(pipeline.accept(frame({ type: 'ping' }), false, open));
    expectError(pipeline.accept(frame({ type: 'ext_other' }), false, open), 'INVALID_MESSAGE');
    expectError(
      new FramePipeline(MB).accept(frame({ type: 'ext_note', text: 'hi' }), false, open),
      'INVALID_MESSAGE',
    );
  });

  it('refuses at boot a contributed type that the core or another extension defines, or a bad name', () => {
    const as = (type: string) => ({ type, dto: NoteMessage, permission: 'session:read' as const });
    expect(() => extensionMessageTable([as('ping')], isClientMessageType)).toThrow(/already defined/);
    expect(() => extensionMessageTable([as('ext_a'), as('ext_a')], isClientMessageType)).toThrow(
      /already defined/,
    );
    expect(() => extensionMessageTable([as('Ext-A')], isClientMessageType)).toThrow(/lower_snake_case/);
  });
});
