import { redactUrl } from '@app/auth';
import { describeDatabase } from '@app/billing';
import type { AllConfig } from '.';

/** One line of the effective non-secret settings; secrets appear only as set/unset. */
export function configSummary(c: AllConfig): Record<string, unknown> {
  const set = (v: boolean) => (v ? 'set' : 'unset');
  return {
    mode: c.app.devMode ? 'development (auth bypassed)' : 'production',
    nodeEnv: c.app.nodeEnv,
    listen: `${c.app.host}:${c.app.port}`,
    logLevel: c.app.logLevel,
    dataDir: c.persistence.dataDir,
    writeBatch: `${c.persistence.writeBatchMs}ms/${c.persistence.writeBatchSize}`,
    dbCaches: `registry ${c.persistence.registryCache}, session ${c.persistence.sessionCache}`,
    authUrl: c.auth.authUrl || '(none)',
    audience: c.auth.audience || '(not checked)',
    extraIssuers: c.auth.issuers.slice(1).map((i) => `${i.issuer} (aud ${i.audience})`),
    tenantClaim: c.auth.tenantClaim,
    rolesClaim: c.auth.rolesClaim || '(none)',
    allowedOrigins: c.auth.allowedOrigins,
    trustProxy: c.auth.trustProxy,
    authRateLimit: `${c.auth.rateLimitMax}/${c.auth.rateLimitWindowMs}ms`,
    authLimiterStore: c.auth.redisUrl ? `redis ${redactUrl(c.auth.redisUrl)}` : 'memory',
    wsMaxMessageBytes: c.app.ws.maxMessageBytes,
    wsRateLimit: `${c.app.ws.rateLimitMax}/${c.app.ws.rateLimitWindowMs}ms`,
    heartbeatMs: c.app.ws.heartbeatIntervalMs,
    metrics: !c.app.metricsEnabled
      ? 'off'
      : c.app.metricsPort === undefined
        ? 'on the main port'
        : `own listener on port ${c.app.metricsPort}`,
    podiumUrl: c.podium.url,
    activateOnJoin: c.app.sessions.activateOnJoin,
    billing: `${c.billing.enabled ? 'on' : 'off'}, reservation ${c.billing.reservationCredits} micro-credits, ${Object.keys(c.billing.prices).length} configured prices`,
    creditStore: c.billing.database
      ? `postgres ${describeDatabase(c.billing.database)}`
      : 'tenant registries',
    openApi: c.app.openApiEnabled,
    tenantOwnership: c.cluster.leases
      ? `lease (member ${c.cluster.instanceId}, ttl ${c.cluster.leaseTtlMs}ms)`
      : 'local',
    shardTenants: c.shard.restricted
      ? [...c.shard.tenants, ...c.shard.prefixes.map((p) => `${p}*`)]
      : '(all)',
    PODIUM_API_KEY: set(c.podium.apiKey !== ''),
    AUTH_CLIENT_SECRET: set(c.auth.clientSecretSet),
    ...Object.fromEntries(Object.entries(c.app.secretsSet).map(([k, v]) => [k, set(v)])),
  };
}
