/**
 * The four fan-out systems P1 compares, behind one shape: the raw ws relay (one frame per event),
 * Socket.IO 4 room broadcast, and the gateway with protocol v1 or v2 subscribers. A group is
 * `sessions` independent streams (gateway sessions, relay rooms), each with its own subscribers; its
 * turns start together and count as one run.
 */
import type { GatewayProcess, Helper, SimProcess } from './common';
import { combineRuns, gatewayFanout, relayFanout, socketIoFanout, type Fanout, type TurnRun } from './fanout';

export type SystemName = 'relay' | 'socketio' | 'v1' | 'v2';

export const SYSTEMS: SystemName[] = ['relay', 'socketio', 'v1', 'v2'];

export const SYSTEM_LABELS: Record<SystemName, string> = {
  relay: 'raw ws relay',
  socketio: 'Socket.IO 4',
  v1: 'gateway v1',
  v2: 'gateway v2',
};

export interface Targets {
  sim: SimProcess;
  gw: GatewayProcess;
  relay: Helper;
  socketio: Helper;
}

export interface Group {
  system: SystemName;
  /** The protocol version the gateway chose for v1/v2 subscribers (undefined for the relays). */
  protocolVersion?: number;
  /** Streams `bench:<events>` on every session at once; resolves when every subscriber saw the end. */
  run(events: number, timeoutMs?: number): Promise<TurnRun>;
  close(): Promise<void>;
}

export async function openGroup(
  system: SystemName,
  t: Targets,
  sessions: number,
  subscribersPerSession: number,
): Promise<Group> {
  const fanouts: Fanout[] = [];
  let protocolVersion: number | undefined;
  try {
    for (let s = 0; s < sessions; s++) {
      const room = `room${s}`;
      if (system === 'relay') {
        fanouts.push(await relayFanout(t.relay.port, t.sim, subscribersPerSession, '127.0.0.1', room));
      } else if (system === 'socketio') {
        fanouts.push(await socketIoFanout(t.socketio.port, t.sim, subscribersPerSession, '127.0.0.1', room));
      } else {
        const f = await gatewayFanout(t.gw, subscribersPerSession, '127.0.0.1', undefined, {
          protocol: system === 'v2' ? 2 : 1,
        });
        protocolVersion = f.protocolVersion;
        fanouts.push(f);
      }
    }
  } catch (err) {
    await Promise.all(fanouts.map((f) => f.close()));
    throw err;
  }
  return {
    system,
    protocolVersion,
    async run(events, timeoutMs = 300_000) {
      const runs = await Promise.all(fanouts.map((f) => f.run(`bench:${events}`, events, { timeoutMs })));
      return combineRuns(runs);
    },
    async close() {
      await Promise.all(fanouts.map((f) => f.close()));
    },
  };
}
