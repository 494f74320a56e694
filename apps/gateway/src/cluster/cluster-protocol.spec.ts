import {
  BusSigner,
  decode,
  encode,
  packDeliveries,
  unpackDeliveries,
  type Delivery,
  type OutHeader,
} from './cluster-protocol';

describe('cluster bus messages', () => {
  it('carries a raw body after the header line without escaping it', () => {
    const body = '{"type":"run_turn","text":"line one\\nline two ✓ \\u2028"}';
    const msg = encode({ k: 'msg', from: 'gw-b.1', c: 'conn-1' }, body);
    expect(msg.split('\n')[0]).toBe('{"k":"msg","from":"gw-b.1","c":"conn-1"}');
    expect(decode(msg)).toEqual({ header: { k: 'msg', from: 'gw-b.1', c: 'conn-1' }, body });
    expect(decode(encode({ k: 'close', from: 'x', c: 'y' }))).toEqual({
      header: { k: 'close', from: 'x', c: 'y' },
      body: '',
    });
  });

  it('packs one broadcast to many connections of an instance as one frame, in order with the rest', () => {
    const shared = JSON.stringify({ type: 'text_delta', text: 'héllo\n', seq: 7 });
    const queue: Delivery[] = [
      { kind: 'frame', conn: 'a', frame: '{"type":"pong"}', ephemeral: false },
      { kind: 'frame', conn: 'a', frame: shared, ephemeral: true },
      { kind: 'frame', conn: 'b', frame: shared, ephemeral: true },
      { kind: 'frame', conn: 'c', frame: shared, ephemeral: true },
      { kind: 'close', conn: 'b', code: 1013, reason: 'slow consumer' },
      { kind: 'frame', conn: 'c', frame: shared, ephemeral: false },
    ];
    const packed = packDeliveries('gw-a.1', queue);
    // The shared frame crosses once for the three connections, once more after the close.
    expect(packed.split(shared).length - 1).toBe(2);
    expect((decode(packed).header as OutHeader).lists).toEqual([['a'], ['a', 'b', 'c'], ['c']]);
    const { header, body } = decode(packed);
    expect([...unpackDeliveries(header as OutHeader, body)]).toEqual([
      { kind: 'frame', ids: ['a'], ephemeral: false, frame: '{"type":"pong"}' },
      { kind: 'frame', ids: ['a', 'b', 'c'], ephemeral: true, frame: shared },
      { kind: 'close', conn: 'b', code: 1013, reason: 'slow consumer' },
      { kind: 'frame', ids: ['c'], ephemeral: false, frame: shared },
    ]);
  });

  it('lists a stream to the same viewers once per batch, however many frames it carries', () => {
    const viewers = Array.from(
      { length: 100 },
      (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    );
    const queue: Delivery[] = [];
    for (let n = 0; n < 1000; n++) {
      const frame = JSON.stringify({ type: 'text_delta', seq: n, text: 'x'.repeat(100) });
      for (const conn of viewers) queue.push({ kind: 'frame', conn, frame, ephemeral: true });
    }
    const packed = packDeliveries('gw-a.1', queue);
    const { header, body } = decode(packed);
    expect((header as OutHeader).lists).toHaveLength(1);
    // Frames dominate the message: the 100 ids (~3.9 KB) appear once, not once per frame (which would
    // add ~3.9 MB); each frame costs a short op in the header.
    expect(packed.length - body.length).toBeLessThan(5_000 + 20 * 1000);
    const out = [...unpackDeliveries(header as OutHeader, body)];
    expect(out).toHaveLength(1000);
    expect(out.every((o) => o.kind === 'frame' && o.ids.length === 100)).toBe(true);
  });

  it('round-trips frames whose text contains newlines, surrogate pairs and escapes', () => {
    const frames = ['{"t":"a\\nb"}', JSON.stringify({ t: '😀 \u2028 "q"' }), '{}'];
    const queue: Delivery[] = frames.map((frame, i) => ({
      kind: 'frame',
      conn: `c${i}`,
      frame,
      ephemeral: false,
    }));
    const { header, body } = decode(packDeliveries('gw-a.1', queue));
    const out = [...unpackDeliveries(header as OutHeader, body)].map((o) =>
      o.kind === 'frame' ? o.frame : '',
    );
    expect(out).toEqual(frames);
  });

  describe('signed envelope', () => {
    const secret = 'unit-test-cluster-secret-0123456789abcdef';
    const signer = new BusSigner(secret);
    const message = encode({ k: 'msg', from: 'gw-b.1', c: 'conn-1' }, '{"type":"list_sessions"}');

    it('opens what it sealed for the same channel', () => {
      const sealed = signer.seal('p:inst:gw-a.1', 7, message);
      expect(sealed).toMatch(/^[A-Za-z0-9_-]{43}\.7\./);
      expect(signer.open('p:inst:gw-a.1', sealed)).toEqual({ seq: 7, message });
    });

    it('refuses an altered message, sequence number or channel, and another secret', () => {
      const sealed = signer.seal('p:inst:gw-a.1', 7, message);
      expect(signer.open('p:inst:gw-a.1', sealed.replace('list_sessions', 'delete_session'))).toEqual({
        rejected: 'bad_signature',
      });
      expect(signer.open('p:inst:gw-a.1', sealed.replace('.7.', '.8.'))).toEqual({
        rejected: 'bad_signature',
      });
      expect(signer.open('p:inst:gw-c.1', sealed)).toEqual({ rejected: 'bad_signature' });
      expect(signer.open('other:inst:gw-a.1', sealed)).toEqual({ rejected: 'bad_signature' });
      const other = new BusSigner('another-secret-of-at-least-32-characters');
      expect(other.open('p:inst:gw-a.1', sealed)).toEqual({ rejected: 'bad_signature' });
    });

    it('refuses unsigned messages; without a secret (dev mode) it signs nothing and accepts anything', () => {
      const unsigned = new BusSigner('');
      const plain = unsigned.seal('ch', 3, message);
      expect(plain).toBe(`-.3.${message}`);
      expect(signer.open('ch', plain)).toEqual({ rejected: 'unsigned' });
      expect(signer.open('ch', message)).toEqual({ rejected: 'unsigned' });
      expect(unsigned.open('ch', plain)).toEqual({ seq: 3, message });
      expect(unsigned.open('ch', signer.seal('ch', 4, message))).toEqual({ seq: 4, message });
    });
  });
});
