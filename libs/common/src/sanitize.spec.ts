import { sanitizeMessage } from './sanitize';

const JWT =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhdXRoMHx1MSIsInRlbmFudF9pZCI6InQxIn0.c2lnbmF0dXJlLWJ5dGVz_-x';

describe('sanitizeMessage (docs/protocol.md §12)', () => {
  it('leaves an ordinary message unchanged', () => {
    expect(sanitizeMessage('Session not found')).toBe('Session not found');
  });

  it.each([
    ['a bearer token', 'upstream said: Bearer abc.DEF-123_~+/=xyz rejected', 'abc.DEF-123_~+/=xyz'],
    ['a lower-case bearer token', 'auth header bearer s3cr3tT0ken', 's3cr3tT0ken'],
    ['a JWT-shaped string', `token ${JWT} expired`, JWT],
    ['a Podium key', 'Podium refused pod_live_8f7e6d5c4b3a', 'pod_live_8f7e6d5c4b3a'],
    ['a Podium admin key', 'with pod_admin_ABCDEF123456', 'pod_admin_ABCDEF123456'],
    ['an Ensemble key', 'key ens_abcdef012345 invalid', 'ens_abcdef012345'],
    ['an OpenAI-style key', 'provider error for sk-proj-abcdef123456', 'sk-proj-abcdef123456'],
    ['an sk_ key', 'stripe sk_live_abcdef123456', 'sk_live_abcdef123456'],
    ['a gateway API key', 'bad key dim_acme_Zx9Yw8Vu7T', 'dim_acme_Zx9Yw8Vu7T'],
  ])('redacts %s', (_name, input, secret) => {
    const out = sanitizeMessage(input);
    expect(out).not.toContain(secret);
    expect(out).toContain('[redacted]');
  });

  it.each([
    ['api_key=abc123&x=1', 'api_key=[redacted]&x=1', 'abc123'],
    ['GET /v1?apikey=abc123 failed', 'apikey=[redacted]', 'abc123'],
    ['api-key=zzz999', 'api-key=[redacted]', 'zzz999'],
    ['password=hunter2 token=t0k3n', 'password=[redacted] token=[redacted]', 'hunter2'],
    ['API_KEY=SHOUTED', 'API_KEY=[redacted]', 'SHOUTED'],
  ])('redacts the value of %p but keeps the key name', (input, expected, secret) => {
    const out = sanitizeMessage(input);
    expect(out).toContain(expected);
    expect(out).not.toContain(secret);
  });

  it('redacts every secret in a message, not just the first', () => {
    const out = sanitizeMessage('a pod_aaaaaaaa1 b pod_bbbbbbbb2 c sk-cccccccc3');
    expect(out).toBe('a [redacted] b [redacted] c [redacted]');
  });

  it('keeps only the first line, so stack traces never leave', () => {
    const err = new Error('Cannot read properties of undefined');
    const out = sanitizeMessage(err.stack ?? '');
    expect(out).toBe('Error: Cannot read properties of undefined');
    expect(sanitizeMessage('first\nsecond\nthird')).toBe('first');
  });

  it('redacts a secret on the first line even when it is followed by more lines', () => {
    expect(sanitizeMessage('Bearer abcdefgh\n at x')).toBe('[redacted]');
  });

  it.each([
    ['/var/lib/diminuendo/data/tenants/t1/registry.db'],
    ['/home/app/dist/apps/gateway/main.js'],
    ['./libs/persistence/src/datasource-registry.ts'],
  ])('replaces the internal path %s', (path) => {
    const out = sanitizeMessage(`SQLITE_CANTOPEN: unable to open ${path}`);
    expect(out).toContain('[path]');
    expect(out).not.toContain('registry.db');
    expect(out).not.toContain('main.js');
    expect(out).not.toContain('datasource-registry');
    expect(out.startsWith('SQLITE_CANTOPEN: unable to open ')).toBe(true);
  });

  it('does not treat a single slash as a path', () => {
    expect(sanitizeMessage('read 3/4 chunks')).toBe('read 3/4 chunks');
  });

  describe('truncation', () => {
    it('defaults to 500 characters including the ellipsis', () => {
      const out = sanitizeMessage('a'.repeat(2_000));
      expect(out).toHaveLength(500);
      expect(out.endsWith('…')).toBe(true);
      expect(out.slice(0, 499)).toBe('a'.repeat(499));
    });

    it('leaves a message of exactly max characters alone', () => {
      expect(sanitizeMessage('b'.repeat(500))).toBe('b'.repeat(500));
      expect(sanitizeMessage('abcde', 5)).toBe('abcde');
    });

    it('honours a custom max', () => {
      expect(sanitizeMessage('abcdefghij', 5)).toBe('abcd…');
    });

    it('redacts before truncating, so a cut cannot expose part of a secret', () => {
      expect(sanitizeMessage(`${'x'.repeat(20)} pod_${'s'.repeat(100)}`, 40)).toBe(
        `${'x'.repeat(20)} [redacted]`,
      );
      const cut = sanitizeMessage(`${'x'.repeat(20)} pod_${'s'.repeat(100)}`, 25);
      expect(cut).toBe(`${'x'.repeat(20)} [re…`);
      expect(cut).not.toContain('pod_');
    });
  });
});
