import type { IncomingHttpHeaders } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { AUTH_OPTIONS } from './auth.module-definition';
import type { AuthConfig } from './auth.config';
import { clientAddress } from './client-address';

/**
 * The upgrade-time Origin allowlist and CSRF check (docs/security.md), both off in dev mode.
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

  /** Client address, counting TRUST_PROXY hops from the right of X-Forwarded-For (`clientAddress`). */
  clientIp(headers: IncomingHttpHeaders, socketAddress: string | undefined): string {
    return clientAddress(headers, socketAddress, this.config.trustProxy);
  }
}

function normalise(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase();
}
