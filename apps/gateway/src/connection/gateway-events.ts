import { Injectable } from '@nestjs/common';
import { EventEmitter2, OnEvent } from '@nestjs/event-emitter';
import type { AuthEventMap } from '@app/auth';
import type { SessionId, TenantId } from '@app/common';
import type { PersistenceEventMap } from '@app/persistence';
import type { PodiumEventMap } from '@app/podium';
import type { ErrorCode, SessionEvent } from '@app/protocol';
import type { Connection } from './connection';

/**
 * Every in-process event of the gateway and its payload: one map, so an emitter and its listeners
 * cannot disagree. Emitted synchronously (`emit`): a listener runs before `emit` returns. Per-frame
 * paths (publishing, fan-out, agent frames) call their collaborators directly instead. The libs'
 * own events (`auth.failed`, `podium.call`, `persistence.flushed`), emitted by the libs on the same
 * emitter, are part of the map.
 */
export interface GatewayEventMap extends AuthEventMap, PodiumEventMap, PersistenceEventMap {
  /** A client socket closed (after it left the registry and its tenant topic). */
  'connection.closed': Connection;
  /** A protocol `error` was sent to a client. */
  'connection.error_sent': { code: ErrorCode };
  /** A session is becoming live on this instance (before its first write). */
  'live.session_opening': { tenantId: TenantId; sessionId: SessionId };
  /** A session was created (its registry row is written). */
  'session.created': { tenantId: TenantId; sessionId: SessionId; createdBy: string };
  /**
   * A durable session event was published (sequenced, queued to the writer, sent to the viewers).
   * Emitted only while someone listens: without a listener, publishing pays one `hasListeners` check.
   */
  'session.event_published': { tenantId: TenantId; sessionId: SessionId; event: SessionEvent };
  /** A session is being deleted: its live side is torn down and its database closed; its row goes next. */
  'session.deleted': { tenantId: TenantId; sessionId: SessionId };
}

export type GatewayEventName = keyof GatewayEventMap;

/** The typed emit helper over `@nestjs/event-emitter`. */
@Injectable()
export class GatewayEvents {
  constructor(private readonly emitter: EventEmitter2) {}

  emit<K extends GatewayEventName>(name: K, payload: GatewayEventMap[K]): void {
    this.emitter.emit(name, payload);
  }

  /** Whether anyone listens to `name` (for emitters on a hot path, to skip building the payload). */
  hasListeners(name: GatewayEventName): boolean {
    return this.emitter.hasListeners(name).valueOf();
  }
}

/**
 * `@OnEvent` restricted to the names of the map, on a method taking `GatewayEventMap[K]`. A listener's
 * failure is logged by the emitter and does not reach the emitting code.
 */
export function OnGatewayEvent<K extends GatewayEventName>(name: K) {
  return OnEvent(name) as <M extends (payload: GatewayEventMap[K]) => unknown>(
    target: object,
    key: string | symbol,
    descriptor: TypedPropertyDescriptor<M>,
  ) => void;
}
