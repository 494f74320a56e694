import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import type { ApiKeyVerifier, AuthIdentity } from '@app/auth';
import { ApiKeysRepository, type ApiKeyRow } from '@app/persistence';
import { CloseCode, ForbiddenError, isRole, mayGrant, type Role } from '@app/protocol';
import { TenantLeases } from '../../cluster/tenant-leases';
import { ConnectionRegistry } from '../../connection/connection-registry';
import { AdminError } from '../common/admin-error';
import type { ApiKeyDto, CreatedApiKeyDto } from './api-keys.dto';
import { apiKeyUserId, formatApiKey, hashSecret, newSecret, parseApiKey } from './api-key';

/** `last_used_at` is written at most this often per key. */
export const LAST_USED_WRITE_INTERVAL_MS = 60_000;

/**
 * API keys in each tenant's registry: issue (the key shown once, its SHA-256 stored), list, revoke, and
 * verification for the WebSocket `authenticate` and the HTTP guard (provided as API_KEY_VERIFIER).
 */
@Injectable()
export class ApiKeysService implements ApiKeyVerifier {
  private readonly logger = new Logger(ApiKeysService.name);

  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly connections: ConnectionRegistry,
    private readonly leases: TenantLeases,
  ) {}

  async create(actor: AuthIdentity, role: Role, label?: string): Promise<CreatedApiKeyDto> {
    // A key may carry no permission its issuer lacks (the rule of MembersService, `mayGrant`).
    if (!mayGrant(actor.role, role))
      throw new ForbiddenError('You cannot issue a key with permissions you do not hold');
    const secret = newSecret();
    const row: ApiKeyRow = {
      id: randomUUID(),
      keyHash: hashSecret(secret),
      userId: actor.userId,
      role,
      label: label?.trim() || null,
      createdAt: Date.now(),
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.keys.issue(actor.tenantId, row);
    this.logger.log(`tenant ${actor.tenantId}: API key ${row.id} (${role}) issued by ${actor.userId}`);
    return {
      id: row.id,
      key: formatApiKey(actor.tenantId, secret),
      role,
      ...(row.label ? { label: row.label } : {}),
      createdAt: row.createdAt,
    };
  }

  async list(actor: AuthIdentity): Promise<{ keys: ApiKeyDto[] }> {
    const rows = await this.keys.list(actor.tenantId);
    return { keys: rows.map(toDto) };
  }

  /** Revokes a key (idempotent) and closes the sockets it authenticated. */
  async revoke(actor: AuthIdentity, id: string): Promise<void> {
    const found = await this.keys.revoke(actor.tenantId, id);
    if (!found) throw new AdminError('API_KEY_NOT_FOUND');
    for (const conn of this.connections.ofUser(actor.tenantId, apiKeyUserId(id))) {
      conn.close(CloseCode.POLICY_VIOLATION, 'credential revoked');
    }
    this.logger.log(`tenant ${actor.tenantId}: API key ${id} revoked by ${actor.userId}`);
  }

  /**
   * The identity of a valid, unrevoked key, else null. A key naming a tenant that has no registry is
   * refused without creating one.
   */
  async verify(token: string): Promise<AuthIdentity | null> {
    const parsed = parseApiKey(token);
    if (!parsed) return null;
    const { tenantId, secret } = parsed;
    const row = await this.keys.findByHash(tenantId, hashSecret(secret));
    if (!row || row.revokedAt !== null || !isRole(row.role)) return null;
    const now = Date.now();
    // Only the tenant's owner writes its registry (lease mode); elsewhere the use goes unrecorded.
    const mayWrite = !this.leases.enabled || this.leases.holds(tenantId);
    if (mayWrite && (row.lastUsedAt === null || now - row.lastUsedAt >= LAST_USED_WRITE_INTERVAL_MS)) {
      void this.keys
        .recordUse(tenantId, row.id, now)
        .catch((err: Error) =>
          this.logger.warn(`recording the use of API key ${row.id} failed: ${err.message}`),
        );
    }
    return { userId: apiKeyUserId(row.id), email: '', tenantId, role: row.role, via: 'api_key' };
  }
}

function toDto(row: ApiKeyRow): ApiKeyDto {
  return {
    id: row.id,
    ...(row.label ? { label: row.label } : {}),
    role: row.role as Role,
    createdBy: row.userId,
    createdAt: row.createdAt,
    ...(row.lastUsedAt !== null ? { lastUsedAt: row.lastUsedAt } : {}),
    ...(row.revokedAt !== null ? { revokedAt: row.revokedAt } : {}),
  };
}
