import { createHash } from 'node:crypto';
import { asTenantId } from '@app/common';
import { apiKeyUserId, formatApiKey, hashSecret, newSecret, parseApiKey } from './api-key';

describe('API key format dim_<tenantId>_<secret>', () => {
  it('round-trips, including tenant ids that contain underscores and dashes', () => {
    for (const tenant of ['acme', 'my_tenant', 'a_b_c', 'org-42', '_x_']) {
      const secret = newSecret();
      const key = formatApiKey(asTenantId(tenant), secret);
      expect(key.startsWith(`dim_${tenant}_`)).toBe(true);
      expect(parseApiKey(key)).toEqual({ tenantId: tenant, secret });
    }
  });

  it('makes 256-bit hex secrets, a new one each time', () => {
    const a = newSecret();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(newSecret()).not.toBe(a);
  });

  it.each([
    ['not-a-key'],
    ['dim_'],
    ['dim_acme'],
    ['dim__' + 'a'.repeat(64)],
    ['dim_acme_' + 'a'.repeat(63)],
    ['dim_acme_' + 'A'.repeat(64)],
    ['dim_acme_' + 'g'.repeat(64)],
    ['dim_../x_' + 'a'.repeat(64)],
    ['dim_a b_' + 'a'.repeat(64)],
    ['dim_' + 'x'.repeat(129) + '_' + 'a'.repeat(64)],
    ['dk_acme_' + 'a'.repeat(64)],
  ])('refuses the malformed %p', (token) => {
    expect(parseApiKey(token)).toBeNull();
  });

  it('hashes the secret part with SHA-256', () => {
    const secret = 'ab'.repeat(32);
    expect(hashSecret(secret)).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(hashSecret(secret)).not.toContain(secret);
  });

  it('names the identity apikey:<id>', () => {
    expect(apiKeyUserId('k1')).toBe('apikey:k1');
  });
});
