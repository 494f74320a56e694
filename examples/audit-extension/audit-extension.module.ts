import { Module } from '@nestjs/common';
import { AuditGateway } from './audit.gateway';
import { AuditLogService } from './audit-log.service';

/** The worked example of docs/extending.md: a client message and an audit table of its own. */
@Module({ providers: [AuditLogService, AuditGateway] })
export class AuditExtensionModule {}
