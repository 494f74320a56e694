import { SUPPORTED_PROTOCOL_VERSIONS } from '@app/protocol';

/**
 * Protocol negotiation (protocol.md §3.2): the client may put `?protocolVersion=N` or
 * `?protocolVersions=1,2` on the /ws URL; the highest version both sides support wins; with no
 * preference the version is 1. Returns null when there is no version in common.
 */
export function negotiateProtocolVersion(url: string | undefined): number | null {
  const query = new URL(url ?? '/', 'http://x').searchParams;
  const raw = query.get('protocolVersions') ?? query.get('protocolVersion');
  if (raw === null || raw.trim() === '') return 1;
  const wanted = raw
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n));
  const common = wanted.filter((v) => SUPPORTED_PROTOCOL_VERSIONS.includes(v));
  return common.length ? Math.max(...common) : null;
}
