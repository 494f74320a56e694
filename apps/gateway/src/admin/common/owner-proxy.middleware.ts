import { Injectable, Logger, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { API_KEY_PREFIX, AuthService, bearerToken } from '@app/auth';
import { TenantLeases } from '../../cluster/tenant-leases';

/** Marks a request sent on by another instance: served only where the tenant lives. */
export const FORWARDED_HEADER = 'x-diminuendo-forwarded-by';
/** On a proxied answer: the instance (bus member) that served it. */
export const SERVED_BY_HEADER = 'x-diminuendo-served-by';

/** Request headers the owner needs to authenticate and check the request again. */
const PASSED = ['authorization', 'content-type', 'origin', 'referer', 'sec-fetch-site', 'x-requested-with'];
/** Answer headers returned as the owner sent them (security headers are set here again by helmet). */
const RETURNED = ['content-type', 'retry-after', 'cache-control', 'location', 'www-authenticate'];
const UNAVAILABLE = { statusCode: 503, code: 'TENANT_UNAVAILABLE', message: 'Tenant unavailable; retry' };

/**
 * Lease mode: an admin API request for a tenant owned by another instance is sent on to the owner's
 * advertised HTTP address and its answer returned, so every instance serves the whole API and only the
 * owner writes the tenant's registry. The credential is verified here only to learn the tenant; the
 * owner authenticates and authorises the request again. Anything this cannot place (no or bad
 * credential) goes on to the normal guards, which answer it.
 */
@Injectable()
export class OwnerProxyMiddleware implements NestMiddleware {
  private readonly logger = new Logger(OwnerProxyMiddleware.name);

  constructor(
    private readonly leases: TenantLeases,
    private readonly auth: AuthService,
  ) {}

  async use(req: Request, res: Response, next: NextFunction): Promise<void> {
    if (!this.leases.enabled) return next();
    const tenantId = await this.tenantOf(req);
    if (!tenantId) return next();
    if (req.headers[FORWARDED_HEADER]) {
      // Sent on by another instance (or claiming to be): never sent on again, served only by the owner.
      if (this.leases.holds(tenantId)) return next();
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
    const headers: Record<string, string> = {
      [FORWARDED_HEADER]: this.leases.member,
      'x-forwarded-for': [req.headers['x-forwarded-for'], req.socket.remoteAddress]
        .filter(Boolean)
        .join(', '),
    };
    for (const h of PASSED) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const hasBody = !['GET', 'HEAD', 'DELETE'].includes(req.method) && req.body !== undefined;
    try {
      const answer = await fetch(`${base}${req.originalUrl}`, {
        method: req.method,
        headers,
        body: hasBody ? JSON.stringify(req.body) : undefined,
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
