import type { SessionState } from '@app/protocol';
import { AgentQuota, canStartAgent, type QuotaSession } from './agent-quota';

describe('AgentQuota', () => {
  const live: QuotaSession[] = [];
  const put = (tenantId: string, sessionId: string, state: SessionState) => {
    const i = live.findIndex((s) => s.sessionId === sessionId);
    if (i >= 0) live.splice(i, 1);
    live.push({ tenantId, sessionId, state });
  };
  beforeEach(() => live.splice(0));

  it('counts sessions that hold an agent, per tenant; inactive and failed ones do not count', () => {
    const quota = new AgentQuota(10, () => live);
    for (const [id, state] of [
      ['a', 'activating'],
      ['b', 'ready'],
      ['c', 'running'],
      ['d', 'waiting'],
      ['e', 'deactivating'],
      ['f', 'error'],
      ['g', 'inactive'],
    ] as const)
      put('t1', id, state);
    put('t2', 'x', 'ready');
    expect(quota.used('t1')).toBe(5);
    expect(quota.used('t2')).toBe(1);
    expect(quota.used('t3')).toBe(0);
  });

  it('refuses the start past the cap with TOO_MANY_ACTIVE_SESSIONS; other tenants are not affected', () => {
    const quota = new AgentQuota(2, () => live);
    put('t1', 'a', 'ready');
    put('t1', 'b', 'running');
    expect(() => quota.take('t1', 'c')).toThrow(
      expect.objectContaining({ code: 'TOO_MANY_ACTIVE_SESSIONS' }),
    );
    expect(() => quota.take('t2', 'c')).not.toThrow();
  });

  it('reserves synchronously: two starts at cap − 1 cannot both pass before either is counted', () => {
    const quota = new AgentQuota(2, () => live);
    put('t1', 'a', 'ready');
    const give = quota.take('t1', 'b'); // not yet in `live`
    expect(() => quota.take('t1', 'c')).toThrow(
      expect.objectContaining({ code: 'TOO_MANY_ACTIVE_SESSIONS' }),
    );
    // While it starts it is counted once, whether or not its state already shows it.
    put('t1', 'b', 'activating');
    expect(quota.used('t1')).toBe(2);
    give();
    expect(quota.used('t1')).toBe(2);
    // A start that failed gives its slot back.
    put('t1', 'b', 'error');
    expect(quota.used('t1')).toBe(1);
    const again = quota.take('t1', 'c');
    again();
    again();
    expect(quota.used('t1')).toBe(1);
  });

  it('does not cap at 0', () => {
    const quota = new AgentQuota(0, () => live);
    for (let i = 0; i < 100; i++) put('t1', `s${i}`, 'ready');
    expect(() => quota.take('t1', 'more')).not.toThrow();
  });

  it('lets every role that may write start an agent, never a viewer', () => {
    expect(['owner', 'admin', 'billing_admin', 'member'].every((r) => canStartAgent(r as never))).toBe(true);
    expect(canStartAgent('viewer')).toBe(false);
  });
});
