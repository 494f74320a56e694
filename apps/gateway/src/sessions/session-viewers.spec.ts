import { Test, type TestingModule } from '@nestjs/testing';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { asTenantId, type SessionId } from '@app/common';
import { recordingConnection } from '../../../../test/support/live-fixture';
import { Broadcaster, sessionTopic } from '../connection/broadcaster';
import { ConnectionRegistry } from '../connection/connection-registry';
import { GatewayEvents } from '../connection/gateway-events';
import { InProcessBroadcaster } from '../connection/in-process-broadcaster';
import { SessionViewers } from './session-viewers';

/** The listeners wired by Nest's event-emitter module, reached only through the typed emit. */
describe('SessionViewers', () => {
  let app: TestingModule;
  let events: GatewayEvents;
  let broadcaster: Broadcaster;
  let registry: ConnectionRegistry;

  beforeEach(async () => {
    app = await Test.createTestingModule({
      imports: [EventEmitterModule.forRoot()],
      providers: [
        SessionViewers,
        GatewayEvents,
        ConnectionRegistry,
        { provide: Broadcaster, useClass: InProcessBroadcaster },
      ],
    }).compile();
    await app.init();
    events = app.get(GatewayEvents);
    broadcaster = app.get(Broadcaster);
    registry = app.get(ConnectionRegistry);
  });

  afterEach(() => app.close());

  function viewer(...sessions: string[]) {
    const { conn, socket } = recordingConnection();
    registry.add(conn);
    for (const id of sessions) {
      broadcaster.subscribe(sessionTopic(id), conn);
      conn.joined.add(id);
    }
    return { conn, socket };
  }

  it('a closed connection leaves every session topic it joined', () => {
    const a = viewer('s1', 's2');
    const b = viewer('s1');
    events.emit('connection.closed', a.conn);
    expect(a.conn.joined.size).toBe(0);
    expect(broadcaster.subscriberCount(sessionTopic('s1'))).toBe(1);
    expect(broadcaster.subscriberCount(sessionTopic('s2'))).toBe(0);
    broadcaster.publishFrame(sessionTopic('s1'), '{"type":"x"}');
    expect(a.socket.sent).toEqual([]);
    expect(b.socket.sent).toEqual(['{"type":"x"}']);
  });

  it("a deleted session loses its viewers, and only that session's", () => {
    const a = viewer('s1', 's2');
    const b = viewer('s1');
    events.emit('session.deleted', { tenantId: asTenantId('t1'), sessionId: 's1' as SessionId });
    expect(broadcaster.subscriberCount(sessionTopic('s1'))).toBe(0);
    expect([...a.conn.joined]).toEqual(['s2']);
    expect(b.conn.joined.size).toBe(0);
    expect(broadcaster.subscriberCount(sessionTopic('s2'))).toBe(1);
  });
});
