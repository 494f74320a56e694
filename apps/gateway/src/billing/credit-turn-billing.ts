import { Injectable, Logger } from '@nestjs/common';
import { CreditsService } from '@app/billing';
import type { TenantId } from '@app/common';
import { TenantRegistry } from '@app/persistence';
import { DomainError } from '@app/protocol';
import type { TurnUsage } from '../live/active-session';
import { TurnBilling, type SessionRef, type TurnCharge, type TurnRef } from '../live/turn-billing';

/** The turn cycle's view of the credits: a session and a turn in, a tenant's account touched. */
@Injectable()
export class CreditTurnBilling extends TurnBilling {
  private readonly logger = new Logger(CreditTurnBilling.name);

  constructor(
    private readonly credits: CreditsService,
    private readonly registry: TenantRegistry,
  ) {
    super();
  }

  /**
   * INSUFFICIENT_CREDITS as the ledger says; a ledger that cannot be reached (a shared database that is
   * down) is BILLING_UNAVAILABLE, and the turn does not start.
   */
  async reserve(active: SessionRef, turnId: string, userId: string): Promise<string | undefined> {
    try {
      return await this.credits.reserveTurn(active.tenantId, {
        sessionId: active.sessionId,
        turnId,
        actorUserId: userId,
      });
    } catch (err) {
      if (err instanceof DomainError) throw err;
      this.logger.warn(
        `reserving credits for a turn of ${active.tenantId} failed: ${(err as Error).message}`,
      );
      throw new DomainError('BILLING_UNAVAILABLE');
    }
  }

  price(usage: TurnUsage): TurnCharge {
    return { cost: this.credits.price(usage) };
  }

  settle(active: SessionRef, turn: TurnRef, charge: TurnCharge): Promise<void> {
    return this.credits.settleTurn(active.tenantId, turn.reservationId, charge.cost);
  }

  release(active: SessionRef, turn: TurnRef): Promise<void> {
    return this.credits.releaseTurn(active.tenantId, turn.reservationId, 'the turn ended without usage');
  }

  /** With a shared credit database, only reservations of sessions stored on this instance are released. */
  async recover(tenantId: string): Promise<void> {
    const tenant = tenantId as TenantId;
    await this.credits.recover(
      tenant,
      async (r) => !!r.sessionId && (await this.registry.findSession(tenant, r.sessionId)) !== null,
    );
  }
}
