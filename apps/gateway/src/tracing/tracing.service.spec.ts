import type { ConfigService } from '@nestjs/config';
import { tracing } from '@app/common';
import type { AllConfig } from '../config';
import { TracingService } from './tracing.service';

// With an endpoint, the exporter's HTTP transport loads `http` through a dynamic import that the test
// runner's module system does not support; export and the flush at shutdown are covered end to end
// by test/tracing.e2e-spec.ts against a real gateway process.
describe('TracingService', () => {
  it('stays off without an endpoint: no tracer is installed, shutdown is a no-op', async () => {
    const config = { get: () => ({ tracing: { endpoint: undefined, serviceName: 'spec-service' } }) };
    const off = new TracingService(config as unknown as ConfigService<AllConfig, true>);
    await off.onModuleInit();
    expect(off.enabled).toBe(false);
    expect(tracing.tracer).toBeNull();
    await off.onApplicationShutdown();
    expect(tracing.tracer).toBeNull();
  });
});
