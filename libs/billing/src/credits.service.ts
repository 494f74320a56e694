import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { TenantId } from '@app/common';
import { BILLING_OPTIONS } from './billing.module-definition';
import type { BillingConfig } from './billing.config';
import { CreditStore, type LedgerEntry, type LedgerPage, type Reservation } from './credit-store';
import { available } from './ledger-math';
import { PriceTable, type Usage } from './pricing';

export const CREDIT_UNIT = 'micro-credits';

export interface BalanceView {
  balance: number;
  reserved: number;
  available: number;
  unit: typeof CREDIT_UNIT;
  billingEnabled: boolean;
}

export interface TurnRef {
  sessionId: string;
  turnId: string;
  actorUserId?: string;
}

/**
 * Credits of a tenant: the balance, the ledger, grants and adjustments, and the turn cycle (reserve before
 * the agent is contacted, settle from the usage, release when a turn ends without usage). When billing is
 * off, turns reserve and charge nothing; prices still apply so usage carries its cost.
 */
@Injectable()
export class CreditsService {
  private readonly logger = new Logger(CreditsService.name);
  /** Reservations taken by this process and not yet closed: recovery must not release them. */
  private readonly live = new Set<string>();

  constructor(
    @Inject(BILLING_OPTIONS) private readonly config: BillingConfig,
    private readonly store: CreditStore,
    private readonly prices: PriceTable,
  ) {}

  get enabled(): boolean {
    return this.config.enabled;
  }

  /** Micro-credits a turn with this usage costs. */
  price(usage: Usage): number {
    return this.prices.cost(usage);
  }

  async balance(tenantId: TenantId): Promise<BalanceView> {
    const a = await this.store.account(tenantId);
    return {
      balance: a.balance,
      reserved: a.reserved,
      available: available(a),
      unit: CREDIT_UNIT,
      billingEnabled: this.config.enabled,
    };
  }

  ledger(tenantId: TenantId, limit: number, before?: number): Promise<LedgerPage> {
    return this.store.ledger(tenantId, limit, before);
  }

  async grant(
    tenantId: TenantId,
    amount: number,
    actorUserId: string,
    note?: string,
  ): Promise<{ entry: LedgerEntry; balance: number }> {
    const entry = await this.store.grant(tenantId, amount, { actorUserId, note });
    this.logger.log(`tenant ${tenantId}: ${amount} micro-credits granted by ${actorUserId}`);
    return { entry, balance: entry.balanceAfter };
  }

  async adjust(
    tenantId: TenantId,
    delta: number,
    actorUserId: string,
    note?: string,
  ): Promise<{ entry: LedgerEntry; balance: number }> {
    const entry = await this.store.adjust(tenantId, delta, { actorUserId, note });
    this.logger.log(`tenant ${tenantId}: balance adjusted by ${delta} by ${actorUserId}`);
    return { entry, balance: entry.balanceAfter };
  }

  /**
   * Holds TURN_RESERVATION_CREDITS for a turn; throws INSUFFICIENT_CREDITS. Undefined when billing is
   * off (nothing held).
   */
  async reserveTurn(tenantId: TenantId, turn: TurnRef): Promise<string | undefined> {
    if (!this.config.enabled) return undefined;
    const id = randomUUID();
    // Known as live before it exists, so a recovery pass running meanwhile cannot release it.
    this.live.add(id);
    try {
      await this.store.reserve(tenantId, { id, amount: this.config.reservationCredits, ...turn });
      return id;
    } catch (err) {
      this.live.delete(id);
      throw err;
    }
  }

  /** Charges a finished turn. Without a reservation (billing off) nothing is charged. */
  async settleTurn(tenantId: TenantId, reservationId: string | undefined, cost: number): Promise<void> {
    if (!reservationId) return;
    try {
      await this.store.settle(tenantId, reservationId, cost);
    } finally {
      this.live.delete(reservationId);
    }
  }

  async releaseTurn(tenantId: TenantId, reservationId: string | undefined, note?: string): Promise<void> {
    if (!reservationId) return;
    try {
      await this.store.release(tenantId, reservationId, note);
    } finally {
      this.live.delete(reservationId);
    }
  }

  /**
   * After a restart: releases every open reservation this process did not take (their turns died with
   * the previous process). Runs whether billing is on or not, so nothing stays held after a mode change.
   * On a shared store other instances hold reservations of the same tenant too: only those `ours` claims
   * (a reservation of a session this instance stores) are released, and none without that predicate.
   */
  async recover(tenantId: TenantId, ours?: (r: Reservation) => Promise<boolean>): Promise<number> {
    const open = await this.store.openReservations(tenantId);
    let released = 0;
    for (const r of open) {
      if (this.live.has(r.id)) continue;
      if (this.store.shared && !(ours && (await ours(r)))) continue;
      if (await this.store.release(tenantId, r.id, 'recovery: the turn ended with a previous process'))
        released++;
    }
    if (released > 0) this.logger.log(`tenant ${tenantId}: ${released} stale credit reservations released`);
    return released;
  }

  /** Reservations held by this process right now (health, tests). */
  get liveReservations(): number {
    return this.live.size;
  }
}
