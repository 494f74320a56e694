import type { IncomingMessage } from 'node:http';
import { Injectable } from '@nestjs/common';
import { OriginPolicy } from '@app/auth';
import { LifecycleState } from './lifecycle.state';

export type UpgradeVerdict = { ok: true } | { ok: false; status: number; reason: string };

/** Decides at the HTTP upgrade: refused while draining (503) or from a foreign origin (403). */
@Injectable()
export class UpgradePolicy {
  constructor(
    private readonly origins: OriginPolicy,
    private readonly lifecycle: LifecycleState,
  ) {}

  check(req: IncomingMessage): UpgradeVerdict {
    if (this.lifecycle.draining) return { ok: false, status: 503, reason: 'Shutting down' };
    if (!this.origins.allows(req.headers)) return { ok: false, status: 403, reason: 'Origin not allowed' };
    return { ok: true };
  }
}
