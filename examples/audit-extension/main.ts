import 'reflect-metadata';
import { bootstrap } from '../../apps/gateway/src/bootstrap';
import { AuditExtensionModule } from './audit-extension.module';
import { AUDIT_MESSAGES } from './audit.messages';
import { LINT_REPORT } from './lint-report';

/** The gateway with the audit extension: the same configuration and behaviour, plus `audit_log`, `lint_report` and the audit table. */
void bootstrap({
  extensions: [{ module: AuditExtensionModule, messages: AUDIT_MESSAGES, upstreamEvents: [LINT_REPORT] }],
}).catch((err: unknown) => {
  process.stderr.write(`Gateway failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
