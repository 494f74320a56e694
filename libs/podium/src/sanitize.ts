/**
 * Error-text sanitising (docs/security.md): secrets are redacted, stack frames removed and the
 * result truncated, before any upstream text can reach a client.
 */

export const ERROR_MESSAGE_MAX_CHARS = 500;
const REDACTED = '[REDACTED]';

/** Ordered: the specific key shapes first, then the generic `key=value` form. */
const SECRET_PATTERNS: ReadonlyArray<[RegExp, string]> = [
  [/\bBearer\s+[A-Za-z0-9._~+/=-]+/gi, `Bearer ${REDACTED}`],
  // JWT-shaped: base64url header (always starts with `{"` → eyJ), payload and optional signature.
  [/\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)?/g, REDACTED],
  [/\bpod_[A-Za-z0-9_-]+/g, REDACTED], // Podium keys, pod_admin_… included
  [/\bens_[A-Za-z0-9_-]+/g, REDACTED], // Ensemble keys
  [/\bdim_[A-Za-z0-9_-]+/g, REDACTED], // our own API keys
  [/\bsk-[A-Za-z0-9_-]+/g, REDACTED], // OpenAI/Anthropic-style keys
  [
    /\b(api[_-]?key|access[_-]?token|token|secret|password|authorization)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&,;]+)/gi,
    `$1$2${REDACTED}`,
  ],
];

/** Replaces anything that looks like a credential with `[REDACTED]`. Does not truncate. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Redacts secrets, drops stack-trace lines and truncates to `max` characters (ellipsis included). */
export function sanitizeErrorMessage(text: string, max: number = ERROR_MESSAGE_MAX_CHARS): string {
  const withoutStack = text
    .split(/\r?\n/)
    .filter((line) => !/^\s+at\s/.test(line))
    .join('\n')
    .trim();
  const redacted = redactSecrets(withoutStack);
  return redacted.length <= max ? redacted : `${redacted.slice(0, Math.max(0, max - 1))}…`;
}
