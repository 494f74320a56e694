import { ConfigService } from '@nestjs/config';
import { PinoLogger } from 'nestjs-pino';
import { buildAppConfig, type AllConfig } from '../config';
import { ConnectionRegistry } from '../connection/connection-registry';
import { LifecycleService, SHUTDOWN_ORDER } from './lifecycle.service';
import { LifecycleState } from '../connection/lifecycle.state';

function lifecycle(): LifecycleService {
  const app = buildAppConfig({ NODE_ENV: 'development' });
  const config = new ConfigService<AllConfig, true>({ app } as unknown as AllConfig);
  const logger = new PinoLogger({ pinoHttp: { level: 'silent' } });
  return new LifecycleService(config, new LifecycleState(), new ConnectionRegistry(), logger);
}

// The steps' order is read from `shutdownSteps`, which `beforeApplicationShutdown` runs one by one (not
// called here: it arms the process-exit guard).
describe('LifecycleService shutdown steps', () => {
  it('orders the steps as declared, whatever order they were registered in', () => {
    const service = lifecycle();
    for (const name of [...SHUTDOWN_ORDER].reverse())
      service.addShutdownStep({ name, run: async () => undefined });
    expect(service.shutdownSteps.map((s) => s.name)).toEqual([...SHUTDOWN_ORDER]);
  });

  it('lists only the steps registered', () => {
    const service = lifecycle();
    service.addShutdownStep({ name: 'release tenant leases', run: async () => undefined });
    service.addShutdownStep({ name: 'stop agents', run: async () => undefined });
    expect(service.shutdownSteps.map((s) => s.name)).toEqual(['stop agents', 'release tenant leases']);
  });

  it('refuses a step registered twice', () => {
    const service = lifecycle();
    service.addShutdownStep({ name: 'stop agents', run: async () => undefined });
    expect(() => service.addShutdownStep({ name: 'stop agents', run: async () => undefined })).toThrow(
      /twice/,
    );
  });
});
