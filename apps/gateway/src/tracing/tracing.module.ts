import { Global, Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { TracingMiddleware } from './tracing.middleware';
import { TracingService } from './tracing.service';

/** OpenTelemetry traces (docs/operations.md, "Tracing"): the SDK's lifecycle and the admin request spans. */
@Global()
@Module({
  providers: [TracingService, TracingMiddleware],
  exports: [TracingService],
})
export class TracingModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(TracingMiddleware).forRoutes('api/v1/*path');
  }
}
