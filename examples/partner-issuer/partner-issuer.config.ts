import { registerAs } from '@nestjs/config';

/**
 * The partner identity provider this extension trusts, from its own variables. Unset PARTNER_ISSUER:
 * no partner issuer. The values are checked at start like an entry of AUTH_EXTRA_ISSUERS.
 */
export const partnerIssuerConfig = registerAs('partnerIssuer', () => ({
  issuer: process.env.PARTNER_ISSUER ?? '',
  jwksUri: process.env.PARTNER_JWKS_URI ?? '',
  audience: process.env.PARTNER_AUDIENCE ?? '',
  tenantClaim: process.env.PARTNER_TENANT_CLAIM || undefined,
}));
