/** Patterns of secrets that must never reach a client or a log line. */
const SECRET_PATTERNS: RegExp[] = [
  /Bearer\s+[A-Za-z0-9._~+/=-]+/gi,
  /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, // JWT-shaped
  /\b(?:pod_admin|pod|ens|sk|dim)_[A-Za-z0-9_-]{6,}/g,
  /\bsk-[A-Za-z0-9_-]{6,}/g,
  /(api[_-]?key|token|secret|password)=([^&\s]+)/gi,
];

/** Redacts secrets, drops stack-like and path-like detail, and truncates to `max` characters. */
export function sanitizeMessage(message: string, max = 500): string {
  let out = String(message).split('\n')[0];
  for (const re of SECRET_PATTERNS)
    out = out.replace(re, (m, k) =>
      typeof k === 'string' && m.includes('=') ? `${k}=[redacted]` : '[redacted]',
    );
  out = out.replace(/(?:\/[\w.-]+){2,}/g, '[path]');
  return out.length > max ? `${out.slice(0, Math.max(0, max - 1))}…` : out;
}
