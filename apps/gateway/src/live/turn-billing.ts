import type { TenantId } from '@app/common';
import type { TurnUsage } from './active-session';

/** The session a turn runs in (an ActiveSession is one; so is a registry row before activation). */
export interface SessionRef {
  tenantId: TenantId;
  sessionId: string;
}

/** The turn being charged. */
export interface TurnRef {
  id: string;
  reservationId?: string;
}

/** What a turn's usage cost, as reported on `usage_update`. */
export interface TurnCharge {
  /** Micro-credits charged (sent as `credits` on usage_update). */
  cost: number;
}

/**
 * Credits around a turn: reserved before Podium is contacted, settled from the usage, released when a
 * turn ends without usage. The billing module provides the real implementation.
 */
export abstract class TurnBilling {
  /** Reserves credits for a turn; throws INSUFFICIENT_CREDITS. Returns a reservation id. */
  abstract reserve(session: SessionRef, turnId: string, userId: string): Promise<string | undefined>;
  /** Prices usage (also when billing is off, so usage_update carries the cost). */
  abstract price(usage: TurnUsage): TurnCharge;
  abstract settle(session: SessionRef, turn: TurnRef, charge: TurnCharge): Promise<void>;
  abstract release(session: SessionRef, turn: TurnRef): Promise<void>;
  /** After a restart: release reservations left open by turns that died with the old process. */
  abstract recover(tenantId: string): Promise<void>;
}
