import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { ConfigValidationError, validateEnv } from '@app/common';
import { podiumConfig, PodiumEnv, toPodiumConfig, type PodiumConfig } from './podium.config';
import { PodiumClient } from './podium.client';
import { PodiumModule } from './podium.module';

describe('podium config', () => {
  it('applies the defaults', () => {
    expect(toPodiumConfig(validateEnv(PodiumEnv, {}))).toEqual({
      url: 'http://localhost:5082',
      apiKey: '',
      wsPathTemplate: '/api/v1/instances/{instanceId}/ws',
      createTimeoutMs: 30000,
      stopTimeoutMs: 10000,
      fileTimeoutMs: 15000,
      fileReadMaxBytes: 8 * 1024 * 1024,
      infoTimeoutMs: 5000,
      reconnectAttempts: 5,
      reconnectBaseMs: 500,
      breakerThreshold: 5,
      breakerCooldownMs: 30000,
    });
  });

  it('reads and converts overrides', () => {
    const config = toPodiumConfig(
      validateEnv(PodiumEnv, {
        PODIUM_URL: 'https://podium.internal:8443',
        PODIUM_API_KEY: 'pod_x',
        PODIUM_BREAKER_THRESHOLD: '7',
      }),
    );
    expect(config).toMatchObject({
      url: 'https://podium.internal:8443',
      apiKey: 'pod_x',
      breakerThreshold: 7,
    });
  });

  it.each([
    ['PODIUM_URL', 'not a url'],
    ['PODIUM_URL', 'ftp://podium'],
    ['PODIUM_CREATE_TIMEOUT_MS', 'soon'],
    ['PODIUM_BREAKER_THRESHOLD', '0'],
    ['PODIUM_WS_PATH_TEMPLATE', '/ws'],
  ])('rejects %s=%j', (key, value) => {
    expect(() => validateEnv(PodiumEnv, { [key]: value })).toThrow(ConfigValidationError);
  });

  it('is a registerAs namespace', () => {
    expect(podiumConfig.KEY).toBe('CONFIGURATION(podium)');
  });
});

describe('PodiumModule', () => {
  const config: PodiumConfig = toPodiumConfig(validateEnv(PodiumEnv, {}));

  it('forRoot provides PodiumClient', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [PodiumModule.forRoot(config)] }).compile();
    expect(moduleRef.get(PodiumClient)).toBeInstanceOf(PodiumClient);
    expect(moduleRef.get(PodiumClient).wsUrl('i-1')).toBe('ws://localhost:5082/api/v1/instances/i-1/ws');
  });

  it('forRootAsync reads the podium namespace through ConfigService', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          load: [() => ({ podium: { ...config, url: 'https://p.example/base/' } })],
        }),
        PodiumModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (c: ConfigService) => c.getOrThrow<PodiumConfig>('podium'),
        }),
      ],
    }).compile();
    expect(moduleRef.get(PodiumClient).wsUrl('a/b')).toBe('wss://p.example/base/api/v1/instances/a%2Fb/ws');
  });
});
