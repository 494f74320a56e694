import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A durable event exactly as broadcast (`payload` is the serialised frame). */
@Entity({ name: 'events' })
export class EventRow {
  @PrimaryColumn('integer') seq!: number;
  @Column('text') type!: string;
  @Column('text', { name: 'turn_id', nullable: true }) turnId!: string | null;
  @Column('text') payload!: string;
  @Column('integer') ts!: number;
}

@Entity({ name: 'messages' })
export class MessageRow {
  @PrimaryColumn('text') id!: string;
  @Column('text', { name: 'turn_id', nullable: true }) turnId!: string | null;
  @Column('text') role!: string;
  @Column('text') content!: string;
  @Column('text', { nullable: true }) metadata!: string | null;
  @Column('text', { name: 'user_id', nullable: true }) userId!: string | null;
  @Column('integer', { name: 'created_at' }) createdAt!: number;
}

@Entity({ name: 'turn_usage' })
export class TurnUsageRow {
  @PrimaryColumn('text', { name: 'turn_id' }) turnId!: string;
  @Column('text', { nullable: true }) model!: string | null;
  @Column('integer', { name: 'input_tokens', default: 0 }) inputTokens!: number;
  @Column('integer', { name: 'output_tokens', default: 0 }) outputTokens!: number;
  @Column('integer', { name: 'cache_read_tokens', default: 0 }) cacheReadTokens!: number;
  @Column('integer', { name: 'cache_write_tokens', default: 0 }) cacheWriteTokens!: number;
  @Column('integer', { default: 0 }) cost!: number;
  @Column('integer', { name: 'created_at' }) createdAt!: number;
}

export const SESSION_ENTITIES = [EventRow, MessageRow, TurnUsageRow];
