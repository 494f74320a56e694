import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { partnerIssuerConfig } from './partner-issuer.config';
import { PartnerIssuers } from './partner-issuers';

/** A second token issuer brought by a team's module: its own configuration and the issuer source. */
@Module({
  imports: [ConfigModule.forFeature(partnerIssuerConfig)],
  providers: [PartnerIssuers],
  exports: [PartnerIssuers],
})
export class PartnerIssuerModule {}
