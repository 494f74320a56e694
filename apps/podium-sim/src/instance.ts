/** One simulated agent instance: its workspace, its event sockets, and the turn it is running. */
import { randomUUID } from 'node:crypto';
import { WebSocket, type RawData } from 'ws';
import type { Agent } from './agents';
import { isRecord } from './http-util';
import { takeTurnKnobs } from './knobs';
import type { SimState } from './state';
import { Turn, type FrameChannel } from './turn';
import { Workspace } from './workspace';

/** Above this many buffered bytes on a socket, fast senders wait for it to drain. */
const HIGH_WATER_BYTES = 1024 * 1024;

export interface InstanceInfo {
  instance_id: string;
  deployment_id: string;
  status: 'running';
}

export class SimInstance implements FrameChannel {
  readonly workspace: Workspace;
  readonly createdAt = Date.now();
  private readonly sockets = new Set<WebSocket>();
  private readonly listenerWaiters = new Set<() => void>();
  private turn: Turn | undefined;
  private turnCount = 0;

  constructor(
    readonly id: string,
    readonly deploymentId: string,
    readonly agent: Agent,
    readonly agentId: string | undefined,
    private readonly state: SimState,
  ) {
    this.workspace = Workspace.seeded(id);
  }

  info(): InstanceInfo {
    return { instance_id: this.id, deployment_id: this.deploymentId, status: 'running' };
  }

  /** Snapshot for `GET /_sim/instances`. */
  describe(): Record<string, unknown> {
    return {
      ...this.info(),
      agent_type: this.agent.type,
      agent_id: this.agentId ?? null,
      connections: this.openSockets().length,
      turns: this.turnCount,
      turn: this.turn?.status ?? null,
    };
  }

  get connectionCount(): number {
    return this.openSockets().length;
  }

  /** Takes over an accepted event socket. Several sockets may be open; every frame goes to all of them. */
  attach(ws: WebSocket): void {
    this.sockets.add(ws);
    this.state.counters.connectionsOpened++;
    this.log(`event socket connected (${this.sockets.size} open)`);
    ws.on('message', (data) => this.onControl(rawToString(data)));
    ws.on('close', (code) => {
      this.sockets.delete(ws);
      this.log(`event socket closed (code ${code}, ${this.sockets.size} open)`);
    });
    ws.on('error', (err) => this.log(`event socket error: ${err.message}`));
    for (const wake of [...this.listenerWaiters]) wake();
  }

  // ---- FrameChannel ----

  hasListener(): boolean {
    return this.openSockets().length > 0;
  }

  deliver(data: string): { sent: number; drain?: Promise<void> } {
    let drain: Promise<void> | undefined;
    let sent = 0;
    for (const ws of this.sockets) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (ws.bufferedAmount > HIGH_WATER_BYTES) {
        drain = new Promise<void>((resolve) => ws.send(data, () => resolve()));
      } else {
        ws.send(data);
      }
      sent++;
    }
    this.state.counters.framesSent += sent;
    return { sent, drain };
  }

  waitForListener(timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.hasListener()) return Promise.resolve(true);
    if (signal.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const done = (value: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.listenerWaiters.delete(wake);
        resolve(value);
      };
      const wake = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.listenerWaiters.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  terminateListeners(reason: string): void {
    this.log(`terminating ${this.sockets.size} event socket(s) abruptly (${reason})`);
    for (const ws of this.sockets) ws.terminate();
  }

  // ---- lifecycle ----

  /** Pushes a raw frame (already serialised) to every open socket; returns how many got it. */
  emitRaw(data: string): number {
    return this.deliver(data).sent;
  }

  /** `DELETE /instances/{id}`: cancel the turn, announce `sandbox.removed`, close sockets normally. */
  stop(): void {
    this.turn?.cancel();
    this.deliver(
      JSON.stringify({
        messageType: 'sandbox.removed',
        content: { event_type: 'sandbox.removed', reason: 'instance stopped' },
      }),
    );
    for (const ws of this.sockets) ws.close(1000, 'instance stopped');
  }

  /** Simulator shutdown: cancel the turn and close sockets with 1001. */
  shutdown(): void {
    this.turn?.cancel();
    for (const ws of this.sockets) ws.close(1001, 'podium-sim shutting down');
  }

  // ---- inbound control envelopes (§7.4) ----

  private onControl(raw: string): void {
    let envelope: unknown;
    try {
      envelope = JSON.parse(raw);
    } catch {
      return this.log('ignored a control message that is not JSON');
    }
    if (!isRecord(envelope) || typeof envelope.type !== 'string') {
      return this.log('ignored a control message without a string "type"');
    }
    const { type } = envelope;
    const content = isRecord(envelope.content) ? envelope.content : {};
    const received = this.state.counters.messagesReceived;
    received[type] = (received[type] ?? 0) + 1;

    switch (type) {
      case 'process_message':
        return this.startTurn(content);
      case 'steer':
        return this.withTurn(type, content, (turn) => {
          turn.steer(typeof content.text === 'string' ? content.text : '');
        });
      case 'interrupt':
        return this.withTurn(type, content, (turn) => {
          turn.interrupt();
        });
      case 'answer_question':
      case 'permission_response':
        return this.reply(type, content);
      default:
        this.log(`ignored unknown control message type "${type}"`);
    }
  }

  private startTurn(content: Record<string, unknown>): void {
    const turnId = typeof content.turn_id === 'string' && content.turn_id ? content.turn_id : randomUUID();
    const text = typeof content.text === 'string' ? content.text : '';
    const running = this.activeTurn();
    if (running) {
      this.log(`rejected turn ${turnId}: busy with ${running.id}`);
      this.deliver(
        JSON.stringify({
          messageType: 'error',
          content: {
            event_type: 'error',
            turn_id: turnId,
            message: `agent is busy with turn ${running.id}`,
            code: 'busy',
          },
        }),
      );
      return;
    }
    this.state.counters.turnsReceived++;
    const knobs = this.state.knobs;
    const turn = new Turn(turnId, text, ++this.turnCount, this.workspace, {
      channel: this,
      knobs: takeTurnKnobs(knobs),
      tokenDelayMs: () => knobs.tokenDelayMs,
      reconnectGraceMs: () => knobs.reconnectGraceMs,
      log: (line) => this.log(line),
    });
    this.turn = turn;
    this.log(`turn ${turnId} started (${this.agent.type}, ${text.length} chars)`);
    void turn.run(this.agent).finally(() => {
      if (this.turn === turn) this.turn = undefined;
    });
  }

  /** Runs `fn` on the active turn when the envelope's `turn_id` (if any) names it. */
  private withTurn(type: string, content: Record<string, unknown>, fn: (turn: Turn) => void): void {
    const turn = this.activeTurn();
    const turnId = typeof content.turn_id === 'string' ? content.turn_id : undefined;
    if (!turn) return this.log(`ignored ${type}: no turn is running`);
    if (turnId !== undefined && turnId !== turn.id) {
      return this.log(`ignored ${type} for turn ${turnId}: running turn is ${turn.id}`);
    }
    this.log(`${type} for turn ${turn.id}`);
    fn(turn);
  }

  private reply(type: 'answer_question' | 'permission_response', content: Record<string, unknown>): void {
    const requestId = typeof content.request_id === 'string' ? content.request_id : '';
    const resolved =
      this.activeTurn()?.resolveReply(
        requestId,
        type === 'answer_question'
          ? { kind: type, answers: content.answers, dismissed: content.dismissed === true }
          : { kind: type, approved: content.approved === true },
      ) ?? false;
    this.log(
      resolved ? `${type} resolved ${requestId}` : `ignored ${type}: no pending request "${requestId}"`,
    );
  }

  private activeTurn(): Turn | undefined {
    return this.turn && this.turn.status.state !== 'ended' ? this.turn : undefined;
  }

  private openSockets(): WebSocket[] {
    return [...this.sockets].filter((ws) => ws.readyState === WebSocket.OPEN);
  }

  private log(line: string): void {
    this.state.log(`instance ${this.id} ${line}`);
  }
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
