import { KeyedSlidingWindow, SlidingWindow } from './sliding-window';

describe('SlidingWindow', () => {
  it('allows exactly max hits inside one window', () => {
    const w = new SlidingWindow(60, 10_000);
    for (let i = 0; i < 60; i++) expect(w.hit(1_000 + i * 100)).toBe(0);
    expect(w.hit(1_000 + 60 * 100)).toBeGreaterThan(0);
  });

  it('answers the ms until the oldest hit leaves the window', () => {
    const w = new SlidingWindow(3, 1_000);
    expect(w.hit(0)).toBe(0);
    expect(w.hit(100)).toBe(0);
    expect(w.hit(200)).toBe(0);
    expect(w.hit(300)).toBe(700);
    expect(w.hit(999)).toBe(1);
    // At exactly windowMs after the first hit, that hit has left the window.
    expect(w.hit(1_000)).toBe(0);
    // The window now holds 100, 200, 1000: the next slot frees at 1100.
    expect(w.hit(1_050)).toBe(50);
  });

  it('slides: capacity comes back one hit at a time, not all at once', () => {
    const w = new SlidingWindow(2, 1_000);
    w.hit(0);
    w.hit(500);
    expect(w.hit(600)).toBe(400);
    expect(w.hit(1_000)).toBe(0); // 0 left; 500 and 1000 remain
    expect(w.hit(1_200)).toBe(300); // waits for 500 to leave at 1500
    expect(w.hit(1_500)).toBe(0);
  });

  it('does not record rejected hits (a client hammering while limited is not punished further)', () => {
    const w = new SlidingWindow(1, 1_000);
    w.hit(0);
    for (let t = 1; t < 1_000; t += 50) expect(w.hit(t)).toBe(1_000 - t);
    expect(w.hit(1_000)).toBe(0);
  });

  it('never answers 0 while limited, even right at the edge', () => {
    const w = new SlidingWindow(1, 1_000);
    w.hit(500);
    expect(w.check(1_499)).toBe(1);
    expect(w.check(1_500)).toBe(0);
  });

  it('check() reports without recording', () => {
    const w = new SlidingWindow(2, 1_000);
    expect(w.check(0)).toBe(0);
    expect(w.check(0)).toBe(0);
    w.hit(0);
    expect(w.check(1)).toBe(0);
    w.hit(1);
    expect(w.check(2)).toBe(998);
    expect(w.hit(2)).toBe(998);
  });

  it('reports emptiness after the window passes', () => {
    const w = new SlidingWindow(5, 1_000);
    expect(w.isEmpty(0)).toBe(true);
    w.hit(10);
    expect(w.isEmpty(500)).toBe(false);
    expect(w.isEmpty(1_009)).toBe(false);
    expect(w.isEmpty(1_010)).toBe(true);
  });

  it('uses the clock when no time is given', () => {
    const w = new SlidingWindow(1, 60_000);
    expect(w.hit()).toBe(0);
    const wait = w.hit();
    expect(wait).toBeGreaterThan(59_000);
    expect(wait).toBeLessThanOrEqual(60_000);
  });
});

describe('KeyedSlidingWindow', () => {
  it('limits each key independently', () => {
    const k = new KeyedSlidingWindow(2, 1_000);
    expect(k.hit('1.1.1.1', 0)).toBe(0);
    expect(k.hit('1.1.1.1', 10)).toBe(0);
    expect(k.hit('1.1.1.1', 20)).toBe(980);
    expect(k.hit('2.2.2.2', 20)).toBe(0);
    expect(k.check('2.2.2.2', 20)).toBe(0);
    expect(k.check('1.1.1.1', 500)).toBe(500);
  });

  it('check() of an unknown key is 0 and creates no entry', () => {
    const k = new KeyedSlidingWindow(1, 1_000);
    expect(k.check('nobody', 0)).toBe(0);
    expect(k.size).toBe(0);
  });

  it('sweep drops only keys whose window is empty', () => {
    const k = new KeyedSlidingWindow(3, 1_000);
    k.hit('old', 0);
    k.hit('recent', 800);
    expect(k.size).toBe(2);
    k.sweep(999);
    expect(k.size).toBe(2);
    k.sweep(1_000);
    expect(k.size).toBe(1);
    expect(k.check('recent', 1_000)).toBe(0);
    k.hit('recent', 1_000);
    k.hit('recent', 1_000);
    expect(k.hit('recent', 1_000)).toBe(800);
    k.sweep(2_000);
    expect(k.size).toBe(0);
  });

  it('a swept key starts fresh', () => {
    const k = new KeyedSlidingWindow(1, 1_000);
    k.hit('a', 0);
    k.sweep(5_000);
    expect(k.hit('a', 5_000)).toBe(0);
    expect(k.hit('a', 5_001)).toBe(999);
  });
});
