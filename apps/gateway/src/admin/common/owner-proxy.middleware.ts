import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, Logger, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { API_KEY_PREFIX, AuthService, bearerToken } from '@app/auth';
import type { ClusterConfig } from '../../config/cluster.config';
import { CLUSTER_CONFIG } from '../../cluster/cluster.tokens';
import { TenantLeases } from '../../cluster/tenant-leases';

/** Marks a request sent on by another instance: served only where the tenant lives. */
export const FORWARDED_HEADER = 'x-diminuendo-forwarded-by';
/** When the forwarding instance signed the request (ms since the epoch). */
export const FORWARDED_AT_HEADER = 'x-diminuendo-forwarded-at';
/** HMAC-SHA256 (CLUSTER_SECRET) of the method, URL, forwarding member, time and body hash. */
export const SIGNATURE_HEADER = 'x-diminuendo-signature';
/** How far a forwarded request's signing time may be from the owner's clock. */
export const FORWARD_MAX_SKEW_MS = 30_000;
/** On a proxied answer: the instance (bus member) that served it. */
export const SERVED_BY_HEADER = 'x-diminuendo-served-by';

/** Request headers the owner needs to authenticate and check the request again. */
const PASSED = ['authorization', 'content-type', 'origin', 'referer', 'sec-fetch-site', 'x-requested-with'];
/** Answer headers returned as the owner sent them (security headers are set here again by helmet). */
const RETURNED = ['content-type', 'retry-after', 'cache-control', 'location', 'www-authenticate'];
const UNAVAILABLE = { statusCode: 503, code: 'TENANT_UNAVAILABLE', message: 'Tenant unavailable; retry' };
const UNSIGNED = {
  statusCode: 403,
  code: 'FORBIDDEN',
  message: 'Forwarded request not signed by an instance of this deployment',
};

/** The signature of a request one instance sends on to another (both sides compute it alike). */
export function forwardSignature(
  secret: string,
  parts: { method: string; url: string; member: string; at: string; body: string },
): Buffer {
  const bodyHash = createHash('sha256').update(parts.body).digest('hex');
  return createHmac('sha256', secret)
    .update([parts.method, parts.url, parts.member, parts.at, bodyHash].join('\n'))
    .digest();
}

/** The body as it is sent on (and as the owner re-serialises what it parsed): JSON, or nothing. */
function bodyText(req: Request): string {
  return !['GET', 'HEAD', 'DELETE'].includes(req.method) && req.body !== undefined
    ? JSON.stringify(req.body)
    : '';
}

/**
 * Lease mode: an admin API request for a tenant owned by another instance is sent on to the owner's
 * advertised HTTP address and its answer returned, so every instance serves the whole API and only the
 * owner writes the tenant's registry. The credential is verified here only to learn the tenant; the
 * owner authenticates and authorises the request again. Anything this cannot place (no or bad
 * credential) goes on to the normal guards, which answer it. The marker of a forwarded request is
 * signed with CLUSTER_SECRET; a marker without a valid, fresh signature is refused (403).
 */
@Injectable()
export class OwnerProxyMiddleware implements NestMiddleware {
  private readonly logger = new Logger(OwnerProxyMiddleware.name);

  constructor(
    private readonly leases: TenantLeases,
    private readonly auth: AuthService,
    @Inject(CLUSTER_CONFIG) private readonly config: ClusterConfig,
  ) {}

  async use(req: Request, res: Response, next: NextFunction): Promise<void> {
    if (!this.leases.enabled) return next();
    const tenantId = await this.tenantOf(req);
    if (!tenantId) return next();
    if (req.headers[FORWARDED_HEADER] !== undefined) {
      // Sent on by another instance (or claiming to be): never sent on again, served only by the owner.
      if (!this.signedByMember(req)) {
        this.logger.warn(`refused ${req.method} ${req.path}: forwarding marker without a valid signature`);
        res.status(403).json(UNSIGNED);
        return;
      }
      // The sender lost the lease race to this instance: wait for the takeover rather than refuse.
      if (this.leases.holds(tenantId) || (await this.leases.whenServing(tenantId))) return next();
      return this.unavailable(res);
    }
    let owner: string;
    try {
      const route = await this.leases.resolve(tenantId);
      if (route.self) return next();
      owner = route.owner;
    } catch (err) {
      this.logger.warn(`cannot place tenant ${tenantId}: ${(err as Error).message}`);
      return this.unavailable(res);
    }
    const base = await this.leases.addressOf(owner).catch(() => null);
    if (!base) return this.unavailable(res);
    const body = bodyText(req);
    const at = String(Date.now());
    // Signed as it goes out: the owner sees the path and query exactly as the URL parser wrote them.
    const target = new URL(`${base}${req.originalUrl}`);
    const url = `${target.pathname}${target.search}`;
    const headers: Record<string, string> = {
      [FORWARDED_HEADER]: this.leases.member,
      [FORWARDED_AT_HEADER]: at,
      'x-forwarded-for': [req.headers['x-forwarded-for'], req.socket.remoteAddress]
        .filter(Boolean)
        .join(', '),
    };
    for (const h of PASSED) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    if (this.config.secret) {
      headers[SIGNATURE_HEADER] = forwardSignature(this.config.secret, {
        method: req.method,
        url,
        member: this.leases.member,
        at,
        body,
      }).toString('base64url');
    }
    try {
      const answer = await fetch(target, {
        method: req.method,
        headers,
        body: body === '' ? undefined : body,
        redirect: 'manual',
        signal: AbortSignal.timeout(15_000),
      });
      res.status(answer.status);
      for (const h of RETURNED) {
        const v = answer.headers.get(h);
        if (v !== null) res.setHeader(h, v);
      }
      res.setHeader(SERVED_BY_HEADER, owner);
      res.send(Buffer.from(await answer.arrayBuffer()));
    } catch (err) {
      this.logger.warn(`sending ${req.method} ${req.path} on to ${owner} failed: ${(err as Error).message}`);
      res
        .status(502)
        .json({ ...UNAVAILABLE, statusCode: 502, message: 'The owning instance did not answer; retry' });
    }
  }

  /** The forwarding marker's signature is valid and fresh (dev mode without a secret: not checked). */
  private signedByMember(req: Request): boolean {
    if (!this.config.secret) return true;
    const member = req.headers[FORWARDED_HEADER];
    const at = req.headers[FORWARDED_AT_HEADER];
    const signature = req.headers[SIGNATURE_HEADER];
    if (typeof member !== 'string' || typeof at !== 'string' || typeof signature !== 'string') return false;
    if (!/^\d{1,16}$/.test(at) || Math.abs(Date.now() - Number(at)) > FORWARD_MAX_SKEW_MS) return false;
    const given = Buffer.from(signature, 'base64url');
    const expected = forwardSignature(this.config.secret, {
      method: req.method,
      url: req.originalUrl,
      member,
      at,
      body: bodyText(req),
    });
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private unavailable(res: Response): void {
    res.setHeader('retry-after', '1');
    res.status(503).json(UNAVAILABLE);
  }

  private async tenantOf(req: Request): Promise<string | undefined> {
    const bearer = bearerToken(req.headers.authorization);
    if (this.auth.devMode && (!bearer || !bearer.startsWith(API_KEY_PREFIX))) return 'dev';
    if (!bearer) return undefined;
    try {
      return (await this.auth.verifyCredential(bearer)).tenantId;
    } catch {
      return undefined;
    }
  }
}
