import { createHmac, timingSafeEqual } from 'node:crypto';
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

/**
 * `f`: a frame of `len` chars to the connections of id list `list` (an index into `lists`); `e` = 1
 * when skippable for slow consumers. `x`: close one connection.
 */
export type OutOp = ['f', number, 0 | 1, number] | ['x', string, number, string];

export interface OutHeader {
  k: 'out';
  /** The owner that sent the batch (a client re-routed to another owner ignores the old one's ops). */
  from: string;
  /** Distinct recipient lists of the batch: a stream to the same viewers lists them once. */
  lists: string[][];
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
export function packDeliveries(from: string, queue: Delivery[]): string {
  const groups: { frame: string; ephemeral: boolean; ids: string[] }[] = [];
  const order: ({ kind: 'f'; group: number } | { kind: 'x'; op: OutOp })[] = [];
  let last: (typeof groups)[number] | undefined;
  for (const d of queue) {
    if (d.kind === 'frame') {
      if (last && last.frame === d.frame && last.ephemeral === d.ephemeral) {
        last.ids.push(d.conn);
        continue;
      }
      last = { frame: d.frame, ephemeral: d.ephemeral, ids: [d.conn] };
      order.push({ kind: 'f', group: groups.length });
      groups.push(last);
    } else {
      last = undefined;
      order.push({ kind: 'x', op: ['x', d.conn, d.code, d.reason] });
    }
  }
  const lists: string[][] = [];
  const ops: OutOp[] = order.map((o) => {
    if (o.kind === 'x') return o.op;
    const g = groups[o.group];
    let i = listIndexOf(lists, g.ids);
    if (i < 0) i = lists.push(g.ids) - 1;
    return ['f', i, g.ephemeral ? 1 : 0, g.frame.length];
  });
  return encode({ k: 'out', from, lists, ops }, groups.map((g) => g.frame).join(''));
}

/**
 * The index of an equal recipient list, newest first (a stream to the same viewers matches the last
 * one at once). Compared element by element: no key string is built per frame.
 */
function listIndexOf(lists: string[][], ids: string[]): number {
  for (let i = lists.length - 1; i >= 0; i--) {
    const l = lists[i];
    if (l.length === ids.length && l.every((id, k) => id === ids[k])) return i;
  }
  return -1;
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
      yield { kind: 'frame', ids: header.lists[op[1]] ?? [], ephemeral: op[2] === 1, frame };
    } else {
      yield { kind: 'close', conn: op[1], code: op[2], reason: op[3] };
    }
  }
}

/** Why a bus message was dropped before any handler saw it. */
export type RejectReason = 'unsigned' | 'bad_signature' | 'replayed' | 'malformed';
export const REJECT_REASONS: readonly RejectReason[] = ['unsigned', 'bad_signature', 'replayed', 'malformed'];

const UNSIGNED = '-';
/** `<mac>.<seq>.`: a base64url mac (or `-`), then a positive integer. */
const ENVELOPE = /^([A-Za-z0-9_-]{1,64}|-)\.([1-9][0-9]{0,15})\./;
const ENVELOPE_MAX = 64 + 1 + 16 + 1;

/**
 * The signed envelope of every bus message: `<mac>.<seq>.<message>`. `mac` is the base64url
 * HMAC-SHA256, keyed by CLUSTER_SECRET, of the destination channel, `seq` and the message, so a message
 * cannot be forged, altered, or redirected to another instance's inbox (or another deployment's prefix)
 * without the secret. `seq` grows with every message a process publishes, whatever its destination: a
 * receiver drops anything not newer than the last it accepted from that sender (a replay). One MAC per
 * published message: a batch of frames for an instance is signed once.
 *
 * Without a secret (dev mode only) the mac is `-` and every message is accepted.
 */
export class BusSigner {
  constructor(private readonly secret: string) {}

  get signing(): boolean {
    return this.secret !== '';
  }

  seal(channel: string, seq: number, message: string): string {
    const mac = this.signing ? this.mac(channel, seq, message).toString('base64url') : UNSIGNED;
    return `${mac}.${seq}.${message}`;
  }

  /**
   * The sequence number and message of a well-signed envelope, or why it is refused: `unsigned`
   * without an envelope or a mac, `bad_signature` when the mac does not match.
   */
  open(channel: string, raw: string): { seq: number; message: string } | { rejected: RejectReason } {
    const envelope = ENVELOPE.exec(raw.slice(0, ENVELOPE_MAX));
    if (!envelope) return { rejected: 'unsigned' };
    const [prefix, mac, seqText] = envelope;
    const seq = Number(seqText);
    const message = raw.slice(prefix.length);
    if (!this.signing) return { seq, message };
    if (mac === UNSIGNED) return { rejected: 'unsigned' };
    const given = Buffer.from(mac, 'base64url');
    const expected = this.mac(channel, seq, message);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { rejected: 'bad_signature' };
    }
    return { seq, message };
  }

  private mac(channel: string, seq: number, message: string): Buffer {
    return createHmac('sha256', this.secret).update(`${channel}\n${seq}\n`).update(message).digest();
  }
}
