import { Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { MembersModule } from '../members/members.module';
import { ApiKeysController } from './api-keys/api-keys.controller';
import { ApiKeysModule } from './api-keys/api-keys.module';
import { BillingController } from './billing/billing.controller';
import { OriginGuard } from './common/origin.guard';
import { OwnerProxyMiddleware } from './common/owner-proxy.middleware';
import { HttpErrorFilter } from './http-exception.filter';
import { MeController } from './me.controller';
import { MembersController } from './members/members.controller';
import { UsageController } from './usage/usage.controller';
import { UsageService } from './usage/usage.service';

/** The admin HTTP API under /api/v1 (docs/admin-api.md) and the HTTP error shape. */
@Module({
  imports: [ApiKeysModule, MembersModule],
  controllers: [MeController, BillingController, UsageController, ApiKeysController, MembersController],
  providers: [{ provide: APP_FILTER, useClass: HttpErrorFilter }, OriginGuard, UsageService],
})
export class AdminModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(OwnerProxyMiddleware).forRoutes('api/v1/*path');
  }
}
