import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { SessionId } from '@app/common';
import type { AuthIdentity } from '@app/auth';
import { SessionStore, TenantRegistry, type StoredMessage } from '@app/persistence';
import {
  DomainError,
  type HistoryEvent,
  type HistoryMessage,
  type SessionLeftEvent,
  type StateSnapshotEvent,
} from '@app/protocol';
import type { AllConfig } from '../config';
import { SerializedEvent, type Connection } from '../connection/connection';
import { Broadcaster, sessionTopic } from '../connection/broadcaster';
import { Activation } from '../live/activation.service';
import { canStartAgent } from '../live/agent-quota';
import { LiveSessions } from '../live/live-sessions';
import { SessionsService } from './sessions.service';
import { toSessionMeta } from './session-meta';

const RECENT_MESSAGES = 20;
/** Page size of the replay a join with `afterSeq` sends (it pages until it has sent everything). */
const JOIN_REPLAY_PAGE = 1000;

/**
 * Watching a session: join (subscribe, activate, snapshot, replay), leave, and the replay reads
 * (`get_events`, `get_history`), which never miss an event already broadcast.
 */
@Injectable()
export class SessionInteraction {
  private readonly activateOnJoin: boolean;
  private readonly holdMaxBytes: number;

  constructor(
    private readonly sessions: SessionsService,
    private readonly live: LiveSessions,
    private readonly activation: Activation,
    private readonly store: SessionStore,
    private readonly registry: TenantRegistry,
    private readonly broadcaster: Broadcaster,
    config: ConfigService<AllConfig, true>,
  ) {
    const cfg = config.get('app', { infer: true }).sessions;
    this.activateOnJoin = cfg.activateOnJoin;
    this.holdMaxBytes = cfg.joinHoldMaxBytes;
  }

  /**
   * Subscribes the connection, activates an inactive session (not for viewers, who watch without starting
   * the agent), then answers `state_snapshot` followed by the durable events after `afterSeq`; live
   * frames published meanwhile are held back and released after the replay, so the client sees no gap
   * and no duplicate at the seam. The held frames are bounded (`JOIN_HOLD_MAX_BYTES`; past it the socket
   * is closed with 1013), and the replay stops as soon as the socket is closed.
   * A join that fails (e.g. TOO_MANY_ACTIVE_SESSIONS) leaves no subscription behind.
   */
  async join(
    conn: Connection,
    identity: AuthIdentity,
    sessionId: string,
    afterSeq: number | undefined,
    requestId?: string,
  ): Promise<void> {
    const row = await this.sessions.require(identity.tenantId, sessionId);
    const id = row.id;
    const rejoin = conn.joined.has(id);
    conn.hold(id, this.holdMaxBytes);
    this.broadcaster.subscribe(sessionTopic(id), conn);
    conn.joined.add(id);
    let replayedUpTo = -1;
    try {
      if (this.activateOnJoin && !row.archived && canStartAgent(identity.role)) {
        await this.activation.ensureLive(identity.tenantId, row).catch((err: unknown) => {
          // The cap refuses the join; an activation failure does not (it is visible as `error`).
          if (err instanceof DomainError && err.code === 'TOO_MANY_ACTIVE_SESSIONS') throw err;
        });
      }
      const recent = await this.store.messages(id, RECENT_MESSAGES);
      const fresh = (await this.registry.findSession(identity.tenantId, id)) ?? row;
      const active = this.live.get(id);
      const snapshot: StateSnapshotEvent = {
        type: 'state_snapshot',
        sessionId: id,
        session: toSessionMeta(identity.tenantId, fresh, active?.state ?? 'inactive'),
        lastSeq: active ? active.lastSeq : await this.store.maxSeq(id),
        activeTurn: active?.turn
          ? { turnId: active.turn.id, startedAt: active.turn.startedAt, text: active.turn.text }
          : null,
        pendingRequest: active?.pending ?? null,
        recentMessages: recent.messages.map(toHistoryMessage),
      };
      conn.send(snapshot, requestId);
      if (afterSeq !== undefined) {
        // Every durable event after afterSeq, page by page; live frames stay held until the end.
        replayedUpTo = afterSeq;
        let replayed = 0;
        for (;;) {
          if (!conn.isOpen) {
            conn.log.info({ sessionId: id, replayed }, 'join replay stopped: the socket closed');
            break;
          }
          const page = await this.store.events(id, replayedUpTo, JOIN_REPLAY_PAGE);
          for (const e of page.events) conn.sendFrame(e.payload, false);
          replayed += page.events.length;
          if (page.events.length) replayedUpTo = page.events[page.events.length - 1].seq;
          if (!page.hasMore) break;
        }
      }
    } catch (err) {
      if (!rejoin) {
        this.broadcaster.unsubscribe(sessionTopic(id), conn);
        conn.joined.delete(id);
        replayedUpTo = Number.POSITIVE_INFINITY; // nothing held is sent to a connection that did not join
      }
      throw err;
    } finally {
      conn.release(id, replayedUpTo);
    }
  }

  leave(conn: Connection, identity: AuthIdentity, sessionId: string): SessionLeftEvent {
    this.broadcaster.unsubscribe(sessionTopic(sessionId), conn);
    conn.joined.delete(sessionId);
    return { type: 'session_left', sessionId };
  }

  /**
   * A page of durable events. The stored payloads are the exact frames that were broadcast; they are
   * spliced into the answer as they are (an `EventsEvent` on the wire), not parsed and re-serialised.
   */
  async events(
    identity: AuthIdentity,
    sessionId: string,
    afterSeq = 0,
    limit = 500,
  ): Promise<SerializedEvent> {
    const row = await this.sessions.require(identity.tenantId, sessionId);
    const page = await this.store.events(row.id, afterSeq, limit);
    const lastSeq = page.events.length ? page.events[page.events.length - 1].seq : afterSeq;
    const head = `{"type":"events","sessionId":${JSON.stringify(row.id)},"events":[`;
    const tail = `],"lastSeq":${lastSeq},"hasMore":${page.hasMore}}`;
    return new SerializedEvent(head + page.events.map((e) => e.payload).join(',') + tail);
  }

  async history(
    identity: AuthIdentity,
    sessionId: string,
    limit = 50,
    before?: string | number,
  ): Promise<HistoryEvent> {
    const row = await this.sessions.require(identity.tenantId, sessionId);
    const page = await this.store.messages(row.id as SessionId, limit, before);
    return {
      type: 'history',
      sessionId: row.id,
      messages: page.messages.map(toHistoryMessage),
      hasMore: page.hasMore,
    };
  }
}

function toHistoryMessage(m: StoredMessage): HistoryMessage {
  return {
    id: m.id,
    role: m.role as HistoryMessage['role'],
    text: m.content,
    ...(m.turnId ? { turnId: m.turnId } : {}),
    ...(m.userId ? { userId: m.userId } : {}),
    createdAt: m.createdAt,
  };
}
