/**
 * The medium tier: the gateway's live-session parts built by plain construction on real SQLite files in a
 * temp dir (no spawned process, no network). The only stand-in is the client's socket, whose sent frames
 * the test reads (the slow-consumer policy only reads `bufferedAmount`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import pino from 'pino';
import type { WebSocket } from 'ws';
import { CreditsService, PriceTable, TypeOrmCreditStore, type BillingConfig } from '@app/billing';
import { asTenantId, type SessionId, type TenantId } from '@app/common';
import {
  RegistryCreditRepository,
  SessionRow,
  SessionStore,
  TenantRegistry,
  type PersistenceConfig,
} from '@app/persistence';
import { CreditTurnBilling } from '../../apps/gateway/src/billing/credit-turn-billing';
import { buildAppConfig, type AllConfig } from '../../apps/gateway/src/config';
import { Connection } from '../../apps/gateway/src/connection/connection';
import { EventPublisher } from '../../apps/gateway/src/live/event-publisher';
import { GatewayEvents } from '../../apps/gateway/src/connection/gateway-events';
import { InProcessBroadcaster } from '../../apps/gateway/src/connection/in-process-broadcaster';
import { ActiveSession } from '../../apps/gateway/src/live/active-session';
import { SessionStates } from '../../apps/gateway/src/live/session-states.service';

/** A client socket: records what the gateway sends; `onSend` lets a test act at an exact frame. */
export class RecordingSocket {
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  closed?: { code: number; reason: string };
  onSend?: (frame: string) => void;

  send(frame: string): void {
    this.sent.push(frame);
    this.onSend?.(frame);
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason };
    this.readyState = 3;
  }
  terminate(): void {
    this.readyState = 3;
  }
  /** The frames sent, parsed. */
  frames(): Record<string, unknown>[] {
    return this.sent.map((f) => JSON.parse(f) as Record<string, unknown>);
  }
}

let connections = 0;

export function recordingConnection(): { socket: RecordingSocket; conn: Connection } {
  const socket = new RecordingSocket();
  const conn = new Connection(
    `c${++connections}`,
    socket as unknown as WebSocket,
    '127.0.0.1',
    1,
    pino({ level: 'silent' }),
    { max: 1000, windowMs: 10_000 },
    { skipBytes: 1 << 20, closeBytes: 1 << 22, stallMs: 60_000 },
  );
  return { socket, conn };
}

export interface LiveFixture {
  dataDir: string;
  config: ConfigService<AllConfig, true>;
  events: GatewayEvents;
  /** The bus behind `events`, to listen on in a spec. */
  emitter: EventEmitter2;
  registry: TenantRegistry;
  store: SessionStore;
  broadcaster: InProcessBroadcaster;
  publisher: EventPublisher;
  states: SessionStates;
  credits: CreditsService;
  billing: CreditTurnBilling;
  /** A new tenant with one inactive session row. */
  session(): Promise<{ tenantId: TenantId; row: SessionRow & { id: SessionId } }>;
  /** A new tenant's session, in memory, with its seq position loaded and its first block reserved. */
  active(): Promise<ActiveSession>;
  close(): Promise<void>;
}

/** Builds the parts on a fresh temp dir; `env` overrides gateway variables (validated as at boot). */
export function liveFixture(env: Record<string, string> = {}): LiveFixture {
  Logger.overrideLogger(false);
  const dataDir = mkdtempSync(join(tmpdir(), 'live-'));
  const persistence: PersistenceConfig = {
    dataDir,
    writeBatchMs: 20,
    writeBatchSize: 100,
    registryCache: 8,
    sessionCache: 8,
  };
  const app = buildAppConfig({ NODE_ENV: 'development', ...env });
  const config = new ConfigService<AllConfig, true>({ app } as unknown as AllConfig);
  const emitter = new EventEmitter2();
  const events = new GatewayEvents(emitter);
  const registry = new TenantRegistry(persistence);
  const store = new SessionStore(persistence);
  const broadcaster = new InProcessBroadcaster();
  const publisher = new EventPublisher(broadcaster, store, registry, config, events);
  const states = new SessionStates(publisher, registry);
  const billingConfig: BillingConfig = {
    enabled: true,
    reservationCredits: 1_000,
    prices: {},
    defaultPrice: new PriceTable().fallback,
    database: null,
  };
  const credits = new CreditsService(
    billingConfig,
    new TypeOrmCreditStore(new RegistryCreditRepository(registry)),
    new PriceTable(),
  );
  const billing = new CreditTurnBilling(credits, registry);
  let tenants = 0;
  const prefix = `t${process.pid}x${Date.now().toString(36)}`;

  const session: LiveFixture['session'] = async () => {
    const tenantId = asTenantId(`${prefix}-${++tenants}`);
    const id = `s${tenants}`;
    await registry.insertSession(
      tenantId,
      Object.assign(new SessionRow(), {
        id,
        name: 'Session',
        agentType: 'coding-agent',
        status: 'inactive',
        archived: false,
        projectId: null,
        createdBy: 'auth0|u1',
        instanceId: null,
        sandboxStatus: null,
        lastSeq: 0,
        createdAt: 1_000,
        updatedAt: 1_000,
        lastActivityAt: null,
      }),
    );
    const row = (await registry.findSession(tenantId, id))!;
    return { tenantId, row };
  };

  return {
    dataDir,
    config,
    events,
    emitter,
    registry,
    store,
    broadcaster,
    publisher,
    states,
    credits,
    billing,
    session,
    async active() {
      const { tenantId, row } = await session();
      const active = new ActiveSession(tenantId, row.id, row.agentType);
      await publisher.initSeq(active, Number(row.lastSeq ?? 0));
      return active;
    },
    async close() {
      await store.shutdown();
      await registry.closeAll();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Resolves once `check` holds, polling the event loop (no fixed wait, no timed assertion). */
export async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never happened: ${what}`);
}
