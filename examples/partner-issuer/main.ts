import 'reflect-metadata';
import { bootstrap } from '../../apps/gateway/src/bootstrap';
import { PartnerIssuerModule } from './partner-issuer.module';
import { PartnerIssuers } from './partner-issuers';

/** The gateway that also accepts the tokens of a partner identity provider (PARTNER_ISSUER, …). */
void bootstrap({
  extensions: [{ module: PartnerIssuerModule, issuers: PartnerIssuers }],
}).catch((err: unknown) => {
  process.stderr.write(`Gateway failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
