import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber } from './bigint.transformer';

/**
 * An API key of the tenant. Only the SHA-256 of the secret is stored; the
 * secret itself is shown once, when the key is created.
 */
@Entity({ name: 'api_keys' })
@Index('idx_api_keys_hash', ['keyHash'], { unique: true })
export class ApiKeyRow {
  @PrimaryColumn('varchar', { length: 64 }) id!: string;
  @Column('varchar', { name: 'key_hash', length: 64 }) keyHash!: string;
  /** Who created the key. */
  @Column('varchar', { name: 'user_id', length: 256 }) userId!: string;
  @Column('varchar', { length: 32 }) role!: string;
  @Column('varchar', { length: 200, nullable: true }) label!: string | null;
  @Column('bigint', { name: 'created_at', transformer: bigintNumber }) createdAt!: number;
  @Column('bigint', { name: 'last_used_at', nullable: true, transformer: bigintNumber }) lastUsedAt!:
    number | null;
  @Column('bigint', { name: 'revoked_at', nullable: true, transformer: bigintNumber }) revokedAt!:
    number | null;
}
