import { ConfigValidationError } from '@app/common';
import { buildAppConfig } from './app.config';

function failure(env: NodeJS.ProcessEnv): ConfigValidationError {
  try {
    buildAppConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigValidationError);
    return err as ConfigValidationError;
  }
  throw new Error('expected buildAppConfig to throw');
}

describe('buildAppConfig (operations.md §2)', () => {
  it('applies the documented defaults to an empty environment', () => {
    const c = buildAppConfig({});
    expect(c.port).toBe(8080);
    expect(c.host).toBe('0.0.0.0');
    expect(c.nodeEnv).toBe('production');
    expect(c.devMode).toBe(false);
    expect(c.logLevel).toBe('info');
    expect(c.ws).toEqual({
      maxMessageBytes: 1024 * 1024,
      hardMaxPayload: 4 * 1024 * 1024,
      rateLimitMax: 60,
      rateLimitWindowMs: 10_000,
      heartbeatIntervalMs: 30_000,
      authTimeoutMs: 30_000,
      backpressureSkipBytes: 1024 * 1024,
      backpressureCloseBytes: 8 * 1024 * 1024,
      backpressureStallMs: 4000,
    });
    expect(c.errorMessageMaxChars).toBe(500);
    expect(c.shutdownTimeoutMs).toBe(10_000);
    expect(c.shutdownDrainMs).toBe(500);
    expect(c.metricsEnabled).toBe(true);
    expect(c.metricsPort).toBeUndefined();
    expect(c.openApiEnabled).toBe(false);
    expect(c.secretsSet).toEqual({
      ENSEMBLE_API_KEY: false,
      E2B_API_KEY: false,
      PODIUM_ADMIN_API_KEY: false,
      PODIUM_SECRETS_KEY: false,
    });
  });

  it('converts numeric variables', () => {
    const c = buildAppConfig({
      PORT: '9000',
      WS_RATE_LIMIT_MAX: '5',
      WS_RATE_LIMIT_WINDOW_MS: '1000',
      ERROR_MESSAGE_MAX_CHARS: '200',
    });
    expect(c.port).toBe(9000);
    expect(c.ws.rateLimitMax).toBe(5);
    expect(c.ws.rateLimitWindowMs).toBe(1000);
    expect(c.errorMessageMaxChars).toBe(200);
  });

  it('treats empty variables as unset', () => {
    const c = buildAppConfig({ PORT: '', LOG_LEVEL: '', METRICS_ENABLED: '' });
    expect(c.port).toBe(8080);
    expect(c.logLevel).toBe('info');
    expect(c.metricsEnabled).toBe(true);
  });

  it('lets HOST win over HOSTNAME', () => {
    expect(buildAppConfig({ HOSTNAME: 'container-1' }).host).toBe('container-1');
    expect(buildAppConfig({ HOSTNAME: 'container-1', HOST: '127.0.0.1' }).host).toBe('127.0.0.1');
  });

  it('binds dev mode to loopback unless HOST is set (HOSTNAME is not a request to publish)', () => {
    expect(buildAppConfig({ NODE_ENV: 'development' }).host).toBe('127.0.0.1');
    expect(buildAppConfig({ DEV_MODE: 'true', HOSTNAME: 'laptop' }).host).toBe('127.0.0.1');
    expect(buildAppConfig({ NODE_ENV: 'development', HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(buildAppConfig({ NODE_ENV: 'development', HOST: '' }).host).toBe('127.0.0.1');
  });

  it('turns OpenAPI on by default in dev mode only; OPENAPI_ENABLED overrides', () => {
    expect(buildAppConfig({ NODE_ENV: 'development' }).openApiEnabled).toBe(true);
    expect(buildAppConfig({ NODE_ENV: 'production' }).openApiEnabled).toBe(false);
    expect(buildAppConfig({ NODE_ENV: 'production', OPENAPI_ENABLED: 'true' }).openApiEnabled).toBe(true);
    expect(buildAppConfig({ NODE_ENV: 'development', OPENAPI_ENABLED: 'false' }).openApiEnabled).toBe(false);
  });

  it('reads METRICS_PORT and refuses it equal to PORT', () => {
    expect(buildAppConfig({ METRICS_PORT: '9464' }).metricsPort).toBe(9464);
    expect(buildAppConfig({ PORT: '0', METRICS_PORT: '0' }).metricsPort).toBe(0);
    expect(failure({ PORT: '9000', METRICS_PORT: '9000' }).message).toContain('METRICS_PORT');
  });

  it('reads booleans', () => {
    const c = buildAppConfig({ METRICS_ENABLED: 'false', OPENAPI_ENABLED: '0' });
    expect(c.metricsEnabled).toBe(false);
    expect(c.openApiEnabled).toBe(false);
  });

  it.each([
    [{}, false],
    [{ NODE_ENV: 'development' }, true],
    [{ NODE_ENV: 'production' }, false],
    [{ NODE_ENV: 'production', DEV_MODE: 'true' }, true],
    [{ NODE_ENV: 'development', DEV_MODE: 'false' }, true],
  ])('derives devMode from %p → %p', (env, dev) => {
    expect(buildAppConfig(env).devMode).toBe(dev);
  });

  it('raises the hard payload cap with the message limit, never below 4 MiB', () => {
    expect(buildAppConfig({ WS_MAX_MESSAGE_BYTES: '2048' }).ws.hardMaxPayload).toBe(4 * 1024 * 1024);
    expect(buildAppConfig({ WS_MAX_MESSAGE_BYTES: String(2 * 1024 * 1024) }).ws.hardMaxPayload).toBe(
      8 * 1024 * 1024,
    );
  });

  it('reports which secrets are set without exposing them', () => {
    const c = buildAppConfig({ PODIUM_ADMIN_API_KEY: 'pod_admin_secret_value' });
    expect(c.secretsSet.PODIUM_ADMIN_API_KEY).toBe(true);
    expect(c.secretsSet.E2B_API_KEY).toBe(false);
    expect(JSON.stringify(c)).not.toContain('pod_admin_secret_value');
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['LOG_LEVEL', 'verbose'],
    ['DEV_MODE', 'maybe'],
    ['METRICS_ENABLED', 'sometimes'],
    ['METRICS_PORT', '70000'],
    ['METRICS_PORT', 'nine'],
    ['OPENAPI_ENABLED', 'perhaps'],
    ['WS_MAX_MESSAGE_BYTES', '10'],
    ['WS_RATE_LIMIT_MAX', '0'],
    ['ERROR_MESSAGE_MAX_CHARS', '10'],
    ['ENSEMBLE_URL', 'not a url'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'ftp://collector'],
  ])('rejects %s=%p naming the variable', (name, value) => {
    expect(failure({ [name]: value }).message).toContain(name);
  });
});
