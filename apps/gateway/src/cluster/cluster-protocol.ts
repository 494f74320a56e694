import type { AuthIdentity } from '@app/auth';

/**
 * Messages between gateway instances, published on each instance's Redis inbox channel
 * (`<prefix>:inst:<member>`). A message is one JSON header line, then an optional raw body, so a
 * client frame or a batch of server frames crosses Redis without being escaped into a JSON string.
 *
 * Client side → owner: `open` (a client of a tenant the owner holds), `msg` (one validated client
 * message; body = its JSON), `ident` (re-authenticated), `close` (the client went away).
 * Owner → client side: `out`, a batch of operations for that instance's clients, in order: `f` sends
 * one frame (body slice) to the listed connections; `x` closes one.
 */
export type InboundHeader =
  | {
      k: 'open';
      from: string;
      c: string;
      id: AuthIdentity;
      ip: string;
      v: number;
    }
  | { k: 'msg'; from: string; c: string }
  | { k: 'ident'; from: string; c: string; id: AuthIdentity }
  | { k: 'close'; from: string; c: string };

/** `f`: frame of `len` chars to connections `ids`; `e` = 1 when skippable for slow consumers. */
export type OutOp = ['f', string[], 0 | 1, number] | ['x', string, number, string];

export interface OutHeader {
  k: 'out';
  ops: OutOp[];
}

export type BusHeader = InboundHeader | OutHeader;

export function encode(header: BusHeader, body = ''): string {
  return body === '' ? JSON.stringify(header) : `${JSON.stringify(header)}\n${body}`;
}

export function decode(message: string): { header: BusHeader; body: string } {
  const nl = message.indexOf('\n');
  const header = JSON.parse(nl < 0 ? message : message.slice(0, nl)) as BusHeader;
  return { header, body: nl < 0 ? '' : message.slice(nl + 1) };
}

/** One pending delivery on the owner, queued for the client's instance. */
export type Delivery =
  | { kind: 'frame'; conn: string; frame: string; ephemeral: boolean }
  | { kind: 'close'; conn: string; code: number; reason: string };

/**
 * Packs an instance's pending deliveries into one `out` message. A broadcast reaches N connections of
 * the instance as N consecutive deliveries of the same string: they become one `f` op, so the frame
 * crosses Redis once per instance whatever N is.
 */
export function packDeliveries(queue: Delivery[]): string {
  const ops: OutOp[] = [];
  const frames: string[] = [];
  let last: { frame: string; ephemeral: boolean; ids: string[] } | undefined;
  for (const d of queue) {
    if (d.kind === 'frame') {
      if (last && last.frame === d.frame && last.ephemeral === d.ephemeral) {
        last.ids.push(d.conn);
        continue;
      }
      last = { frame: d.frame, ephemeral: d.ephemeral, ids: [d.conn] };
      ops.push(['f', last.ids, d.ephemeral ? 1 : 0, d.frame.length]);
      frames.push(d.frame);
    } else {
      last = undefined;
      ops.push(['x', d.conn, d.code, d.reason]);
    }
  }
  return encode({ k: 'out', ops }, frames.join(''));
}

/** Walks an `out` message's operations with their frames. */
export function* unpackDeliveries(
  header: OutHeader,
  body: string,
): Generator<
  | { kind: 'frame'; ids: string[]; ephemeral: boolean; frame: string }
  | { kind: 'close'; conn: string; code: number; reason: string }
> {
  let offset = 0;
  for (const op of header.ops) {
    if (op[0] === 'f') {
      const frame = body.slice(offset, offset + op[3]);
      offset += op[3];
      yield { kind: 'frame', ids: op[1], ephemeral: op[2] === 1, frame };
    } else {
      yield { kind: 'close', conn: op[1], code: op[2], reason: op[3] };
    }
  }
}
