import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { IssuerSource, IssuerSpec } from '@app/auth';
import { partnerIssuerConfig } from './partner-issuer.config';

/** Names the partner's issuer to the gateway (docs/extending.md (d)). */
@Injectable()
export class PartnerIssuers implements IssuerSource {
  constructor(
    @Inject(partnerIssuerConfig.KEY) private readonly partner: ConfigType<typeof partnerIssuerConfig>,
  ) {}

  issuers(): IssuerSpec[] {
    if (!this.partner.issuer) return [];
    const { issuer, jwksUri, audience, tenantClaim } = this.partner;
    return [{ issuer, jwksUri, audience, ...(tenantClaim ? { tenantClaim } : {}) }];
  }
}
