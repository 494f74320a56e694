import { clientAddress } from './client-address';

const xff = (value: string | string[]) => ({ 'x-forwarded-for': value });

describe('clientAddress (TRUST_PROXY hops, as Express)', () => {
  it('ignores X-Forwarded-For with 0 hops', () => {
    expect(clientAddress(xff('203.0.113.9'), '10.0.0.2', 0)).toBe('10.0.0.2');
  });

  it('takes the rightmost entry behind one proxy, whatever the client put on the left', () => {
    expect(clientAddress(xff('198.51.100.7'), '10.0.0.2', 1)).toBe('198.51.100.7');
    expect(clientAddress(xff('1.2.3.4, 198.51.100.7'), '10.0.0.2', 1)).toBe('198.51.100.7');
    expect(clientAddress(xff('evil, 5.6.7.8,198.51.100.7'), '10.0.0.2', 1)).toBe('198.51.100.7');
  });

  it('counts hops from the right behind several proxies', () => {
    // client → CDN (appends the client) → nginx (appends the CDN) → gateway
    expect(clientAddress(xff('6.6.6.6, 198.51.100.7, 192.0.2.1'), '10.0.0.2', 2)).toBe('198.51.100.7');
    expect(clientAddress(xff('6.6.6.6, 198.51.100.7, 192.0.2.1'), '10.0.0.2', 3)).toBe('6.6.6.6');
  });

  it('takes the leftmost entry when there are fewer entries than hops, and the socket without a header', () => {
    expect(clientAddress(xff('198.51.100.7'), '10.0.0.2', 3)).toBe('198.51.100.7');
    expect(clientAddress({}, '10.0.0.2', 1)).toBe('10.0.0.2');
    expect(clientAddress(xff(''), '10.0.0.2', 1)).toBe('10.0.0.2');
    expect(clientAddress({}, undefined, 1)).toBe('unknown');
  });

  it('never reads X-Real-IP, and skips empty entries', () => {
    expect(clientAddress({ 'x-real-ip': '6.6.6.6' }, '10.0.0.2', 1)).toBe('10.0.0.2');
    expect(clientAddress(xff('6.6.6.6, , 198.51.100.7 ,'), '10.0.0.2', 1)).toBe('198.51.100.7');
  });

  it('reads repeated headers in order', () => {
    expect(clientAddress(xff(['6.6.6.6', '198.51.100.7']), '10.0.0.2', 1)).toBe('198.51.100.7');
  });
});
