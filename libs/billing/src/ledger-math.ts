import { DomainError } from '@app/protocol';

/**
 * The rules of the credit account (docs/billing.md, "Rules"), as pure functions of its state. Amounts are
 * integer micro-credits. The store applies them inside one transaction per operation.
 */
export interface AccountState {
  balance: number;
  /** Held by open reservations. */
  reserved: number;
}

export class InsufficientCreditsError extends DomainError {
  constructor() {
    super('INSUFFICIENT_CREDITS');
  }
}

/** Raised for an amount that is not a valid integer number of micro-credits (a programming or input error). */
export class InvalidAmountError extends Error {
  constructor(detail: string) {
    super(`invalid credit amount: ${detail}`);
    this.name = 'InvalidAmountError';
  }
}

export const EMPTY_ACCOUNT: Readonly<AccountState> = { balance: 0, reserved: 0 };

export function available(a: AccountState): number {
  return a.balance - a.reserved;
}

/** Holds `amount` for a turn: requires balance − reserved ≥ amount. */
export function applyReserve(a: AccountState, amount: number): AccountState {
  nonNegative(amount, 'reservation');
  if (available(a) < amount) throw new InsufficientCreditsError();
  return checked({ balance: a.balance, reserved: a.reserved + amount });
}

/**
 * Charges a turn's cost and frees what it held. The cost may exceed the reservation: the balance may
 * go negative, and the next reservation then fails. `held` is 0 when the reservation was no longer open.
 */
export function applySettle(a: AccountState, held: number, cost: number): AccountState {
  nonNegative(held, 'reservation');
  nonNegative(cost, 'cost');
  return checked({ balance: a.balance - cost, reserved: Math.max(0, a.reserved - held) });
}

/** Frees what a turn held, charging nothing. */
export function applyRelease(a: AccountState, held: number): AccountState {
  nonNegative(held, 'reservation');
  return checked({ balance: a.balance, reserved: Math.max(0, a.reserved - held) });
}

export function applyGrant(a: AccountState, amount: number): AccountState {
  nonNegative(amount, 'grant');
  if (amount === 0) throw new InvalidAmountError('a grant must be positive');
  return checked({ balance: a.balance + amount, reserved: a.reserved });
}

/** A signed correction of the balance by an operator. */
export function applyAdjust(a: AccountState, delta: number): AccountState {
  if (!Number.isSafeInteger(delta) || delta === 0)
    throw new InvalidAmountError('an adjustment must be a non-zero integer');
  return checked({ balance: a.balance + delta, reserved: a.reserved });
}

function nonNegative(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidAmountError(`${what} must be a non-negative integer`);
}

function checked(a: AccountState): AccountState {
  if (!Number.isSafeInteger(a.balance) || !Number.isSafeInteger(a.reserved))
    throw new InvalidAmountError('the account would leave the safe integer range');
  return a;
}
