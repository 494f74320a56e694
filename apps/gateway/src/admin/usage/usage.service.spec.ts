import { cursorOf, InvalidCursorError, parseCursor } from './usage.service';

describe('usage cursors', () => {
  it('round-trips a cursor', () => {
    const key: [number, string, string] = [1_700_000_000_123, 'session-1', 'turn-9'];
    expect(parseCursor(cursorOf(key))).toEqual(key);
    expect(cursorOf(key)).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('accepts a plain unix-ms time as "strictly earlier than"', () => {
    expect(parseCursor('1700000000000')).toEqual([1_700_000_000_000, '', '']);
  });

  it.each([
    ['abc'],
    [Buffer.from('[1,2,3]').toString('base64url')],
    [Buffer.from('{"a":1}').toString('base64url')],
  ])('refuses %p', (value) => {
    expect(() => parseCursor(value)).toThrow(InvalidCursorError);
  });
});
