import type { IncomingHttpHeaders } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { AUTH_OPTIONS } from './auth.module-definition';
import type { AuthConfig } from './auth.config';

/**
 * The upgrade-time Origin allowlist and CSRF check (architecture.md §16.1), both off in dev mode.
 * Requests without an Origin (native SDKs, CLIs) pass; a browser request (Origin, or
 * Sec-Fetch-Site other than same-origin/none) must come from an allowlisted origin.
 */
@Injectable()
export class OriginPolicy {
  private readonly allowed: Set<string>;

  constructor(@Inject(AUTH_OPTIONS) private readonly config: AuthConfig) {
    this.allowed = new Set(config.allowedOrigins.map(normalise));
  }

  allows(headers: IncomingHttpHeaders): boolean {
    if (this.config.devMode) return true;
    const origin = typeof headers.origin === 'string' ? headers.origin : undefined;
    const fetchSite = typeof headers['sec-fetch-site'] === 'string' ? headers['sec-fetch-site'] : undefined;
    if (origin !== undefined) return this.allowed.has(normalise(origin));
    // No Origin: a browser always sends one on WebSocket upgrades, so a cross-site fetch marker
    // without one is refused; native clients send neither.
    return fetchSite === undefined || fetchSite === 'same-origin' || fetchSite === 'none';
  }

  /** Client address, honouring a trusted reverse proxy when configured. */
  clientIp(headers: IncomingHttpHeaders, socketAddress: string | undefined): string {
    if (this.config.trustProxy) {
      const xff = headers['x-forwarded-for'];
      const first = (Array.isArray(xff) ? xff[0] : xff)?.split(',')[0]?.trim();
      if (first) return first;
      const real = headers['x-real-ip'];
      if (typeof real === 'string' && real) return real;
    }
    return socketAddress ?? 'unknown';
  }
}

function normalise(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase();
}
