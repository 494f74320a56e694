import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { OriginPolicy } from '@app/auth';
import { AdminError } from './admin-error';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CSRF rule of docs/security.md ("Who can reach what"): a state-changing request from a browser must come from an
 * allowlisted origin (Origin, else the Referer's origin). Requests without either (SDKs, curl) pass;
 * dev mode lets everything through (OriginPolicy).
 */
@Injectable()
export class OriginGuard implements CanActivate {
  constructor(private readonly origins: OriginPolicy) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    if (SAFE_METHODS.has(req.method.toUpperCase())) return true;
    const headers = { ...req.headers };
    if (headers.origin === undefined && typeof headers.referer === 'string') {
      headers.origin = originOf(headers.referer);
    }
    if (this.origins.allows(headers)) return true;
    throw new AdminError('ORIGIN_NOT_ALLOWED');
  }
}

function originOf(referer: string): string {
  try {
    return new URL(referer).origin;
  } catch {
    return 'null';
  }
}
