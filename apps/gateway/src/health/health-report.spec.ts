import { healthReport, type ComponentResult } from './health-report';

const up = (key: string, critical: boolean): ComponentResult => ({ key, critical, result: { status: 'up' } });
const down = (key: string, critical: boolean): ComponentResult => ({
  key,
  critical,
  result: { status: 'down', code: 'UNREACHABLE' },
});

describe('healthReport (docs/operations.md "Probe")', () => {
  it('is ok when every component is up', () => {
    const r = healthReport([up('lifecycle', true), up('dataDir', true), up('podium', false)]);
    expect(r.status).toBe('ok');
    expect(Object.keys(r.info)).toEqual(['lifecycle', 'dataDir', 'podium']);
    expect(r.error).toEqual({});
  });

  it('is degraded when only non-critical components are down (Podium, the ledger, Redis outside lease mode)', () => {
    const r = healthReport([up('dataDir', true), down('podium', false), down('billingDatabase', false)]);
    expect(r.status).toBe('degraded');
    expect(Object.keys(r.error)).toEqual(['podium', 'billingDatabase']);
    expect(r.details.podium).toEqual({ status: 'down', code: 'UNREACHABLE' });
  });

  it.each([
    [[down('dataDir', true), up('podium', false)]],
    [[down('podium', false), down('redis', true)]],
    [[down('redis', true), down('podium', false)]],
    [[down('lifecycle', true)]],
  ])('is error when a critical component is down, whatever the order (%#)', (components) => {
    expect(healthReport(components).status).toBe('error');
  });
});
