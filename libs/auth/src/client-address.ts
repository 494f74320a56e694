import type { IncomingHttpHeaders } from 'node:http';

/**
 * The client address of a request that crossed `trustedHops` reverse proxies, as Express's numeric
 * `trust proxy`: reading from the socket leftwards through `X-Forwarded-For`, the address `trustedHops`
 * steps away. Each trusted proxy appends the address it saw on the right, so everything to the left of
 * that entry was written by the client and is never used: a forged leftmost entry neither hides the
 * client nor stands for anyone else. With fewer entries than hops, the leftmost one is taken (as in
 * Express); with 0 hops the header is ignored.
 */
export function clientAddress(
  headers: IncomingHttpHeaders,
  socketAddress: string | undefined,
  trustedHops: number,
): string {
  const socket = socketAddress ?? 'unknown';
  if (trustedHops <= 0) return socket;
  const header = headers['x-forwarded-for'];
  const raw = Array.isArray(header) ? header.join(',') : header;
  if (!raw) return socket;
  const entries = raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  // [socket, nearest proxy's view, …, leftmost]: the hop-th step from the socket, capped at the end.
  const path = [socket, ...entries.reverse()];
  return path[Math.min(trustedHops, path.length - 1)];
}
