import {
  applyAdjust,
  applyGrant,
  applyRelease,
  applyReserve,
  applySettle,
  available,
  EMPTY_ACCOUNT,
  InsufficientCreditsError,
  InvalidAmountError,
  type AccountState,
} from './ledger-math';

const R = 1_000_000;

describe('ledger math (docs/billing.md, "Rules")', () => {
  it('reserves only while balance − reserved covers the amount', () => {
    let a: AccountState = { balance: 2 * R, reserved: 0 };
    a = applyReserve(a, R);
    expect(a).toEqual({ balance: 2 * R, reserved: R });
    a = applyReserve(a, R);
    expect(a).toEqual({ balance: 2 * R, reserved: 2 * R });
    expect(available(a)).toBe(0);
    expect(() => applyReserve(a, R)).toThrow(InsufficientCreditsError);
    expect(() => applyReserve(a, 1)).toThrow(expect.objectContaining({ code: 'INSUFFICIENT_CREDITS' }));
  });

  it('refuses any reservation on an empty account, and a reservation of 0 only when the balance is negative', () => {
    expect(() => applyReserve(EMPTY_ACCOUNT, R)).toThrow(InsufficientCreditsError);
    expect(applyReserve(EMPTY_ACCOUNT, 0)).toEqual(EMPTY_ACCOUNT);
    expect(() => applyReserve({ balance: -1, reserved: 0 }, 0)).toThrow(InsufficientCreditsError);
  });

  it('settles the cost and frees the reservation, whether the cost is below or above it', () => {
    const held = applyReserve({ balance: 3 * R, reserved: 0 }, R);
    expect(applySettle(held, R, 250_000)).toEqual({ balance: 3 * R - 250_000, reserved: 0 });
    expect(applySettle(held, R, 4 * R)).toEqual({ balance: -R, reserved: 0 });
  });

  it('lets the balance go negative once, after which the next reservation fails', () => {
    let a = applyReserve({ balance: R, reserved: 0 }, R);
    a = applySettle(a, R, R + 1);
    expect(a.balance).toBe(-1);
    expect(() => applyReserve(a, R)).toThrow(InsufficientCreditsError);
    a = applyGrant(a, 2 * R);
    expect(applyReserve(a, R)).toEqual({ balance: 2 * R - 1, reserved: R });
  });

  it('charges a settle of a reservation no longer held without freeing anything', () => {
    const a = { balance: 5 * R, reserved: R };
    expect(applySettle(a, 0, 10)).toEqual({ balance: 5 * R - 10, reserved: R });
  });

  it('releases without charging, never below zero reserved', () => {
    expect(applyRelease({ balance: R, reserved: R }, R)).toEqual({ balance: R, reserved: 0 });
    expect(applyRelease({ balance: R, reserved: 5 }, R)).toEqual({ balance: R, reserved: 0 });
  });

  it('grants positive amounts and adjusts by non-zero signed amounts', () => {
    expect(applyGrant(EMPTY_ACCOUNT, 7)).toEqual({ balance: 7, reserved: 0 });
    expect(applyAdjust({ balance: 7, reserved: 2 }, -10)).toEqual({ balance: -3, reserved: 2 });
    expect(() => applyGrant(EMPTY_ACCOUNT, 0)).toThrow(InvalidAmountError);
    expect(() => applyAdjust(EMPTY_ACCOUNT, 0)).toThrow(InvalidAmountError);
  });

  it.each([[-1], [1.5], [Number.NaN], [Number.POSITIVE_INFINITY], [2 ** 60]])(
    'refuses the amount %p',
    (amount) => {
      expect(() => applyGrant(EMPTY_ACCOUNT, amount)).toThrow(InvalidAmountError);
      expect(() => applyReserve({ balance: 2 ** 52, reserved: 0 }, amount)).toThrow(InvalidAmountError);
      expect(() => applySettle({ balance: 0, reserved: 0 }, 0, amount)).toThrow(InvalidAmountError);
    },
  );

  it('refuses to leave the safe integer range', () => {
    expect(() => applyGrant({ balance: Number.MAX_SAFE_INTEGER, reserved: 0 }, 1)).toThrow(
      InvalidAmountError,
    );
  });

  it('never lets a sequence of reservations exceed the balance (random walk)', () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let a: AccountState = { balance: 10 * R, reserved: 0 };
    const open: number[] = [];
    for (let i = 0; i < 5_000; i++) {
      const r = rand();
      if (r < 0.5) {
        const before = available(a);
        try {
          a = applyReserve(a, R);
          open.push(R);
          expect(before).toBeGreaterThanOrEqual(R);
        } catch (err) {
          expect(err).toBeInstanceOf(InsufficientCreditsError);
          expect(available(a)).toBeLessThan(R);
        }
      } else if (r < 0.8 && open.length) {
        a = applySettle(a, open.pop()!, Math.floor(rand() * 1.5 * R));
      } else if (open.length) {
        a = applyRelease(a, open.pop()!);
      } else if (r > 0.98) {
        a = applyGrant(a, 3 * R);
      }
      expect(a.reserved).toBe(open.length * R);
    }
  });
});
