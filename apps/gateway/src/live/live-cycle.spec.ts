import { validateEnv } from '@app/common';
import { PodiumClient, PodiumEnv, toPodiumConfig } from '@app/podium';
import { startPodiumSim, type PodiumSimHandle } from '../../../podium-sim/src/simulator';
import {
  liveFixture,
  recordingConnection,
  until,
  type LiveFixture,
} from '../../../../test/support/live-fixture';
import { sessionTopic } from '../connection/broadcaster';
import { Activation } from './activation.service';
import { AgentLink } from './agent-link';
import { EventPipeline } from './event-pipeline';
import { InteractiveHandler } from './handlers/interactive.handler';
import { MessageStreamHandler } from './handlers/message-stream.handler';
import { TerminalSandboxHandler } from './handlers/terminal-sandbox.handler';
import { ThinkingHandler } from './handlers/thinking.handler';
import { ToolHandler } from './handlers/tool.handler';
import { TurnLifecycleHandler } from './handlers/turn-lifecycle.handler';
import { UsageHandler } from './handlers/usage.handler';
import { LiveSessions } from './live-sessions';
import { Reaper } from './reaper.service';
import { Recovery } from './recovery.service';
import { Teardown } from './teardown.service';
import { TurnFinisher } from './turn-finisher.service';
import { TurnWatchdog } from './turn-watchdog';

const KEY = 'pod_live_cycle_key';

/**
 * The live session's phases on real parts, in this process: the Podium simulator on a loopback port, the
 * real PodiumClient, SQLite files in a temp dir. Activation, the one teardown behind deactivation, failure
 * and abandonment, the reaper and recovery.
 */
describe('live session cycle (in-process Podium simulator)', () => {
  let sim: PodiumSimHandle;
  let fx: LiveFixture;
  let podium: PodiumClient;
  let live: LiveSessions;
  let teardown: Teardown;
  let activation: Activation;
  let reaper: Reaper;
  let recovery: Recovery;
  let link: AgentLink;

  beforeAll(async () => {
    sim = await startPodiumSim({ port: 0, apiKey: KEY, tokenDelayMs: 0, log: false });
    fx = liveFixture({ SESSION_IDLE_TIMEOUT_MS: '60000' });
    podium = new PodiumClient(
      toPodiumConfig(
        validateEnv(PodiumEnv, { PODIUM_URL: sim.url, PODIUM_API_KEY: KEY, PODIUM_RECONNECT_ATTEMPTS: '0' }),
      ),
    );
    const config = fx.config;
    live = new LiveSessions(config, fx.events);
    const finisher = new TurnFinisher(fx.publisher, fx.store, fx.states, fx.billing);
    teardown = new Teardown(config, live, podium, fx.registry, fx.store, fx.publisher, fx.states, finisher);
    const watchdog = new TurnWatchdog(config, teardown);
    const pipeline = new EventPipeline(fx.publisher, watchdog, [
      new TurnLifecycleHandler(finisher),
      new MessageStreamHandler(),
      new ToolHandler(),
      new InteractiveHandler(fx.states),
      new ThinkingHandler(),
      new TerminalSandboxHandler(fx.registry),
      new UsageHandler(),
    ]);
    link = new AgentLink(pipeline, teardown);
    activation = new Activation(config, live, fx.registry, podium, fx.publisher, fx.states, link, teardown);
    reaper = new Reaper(config, live, teardown, fx.broadcaster);
    recovery = new Recovery(
      { get: () => ({ leases: false }) } as unknown as typeof config,
      live,
      fx.registry,
      fx.store,
      podium,
      fx.billing,
    );
  });

  afterAll(async () => {
    await Promise.allSettled(live.all().map((a) => teardown.deactivate(a, 'test end')));
    await sim.close();
    await fx.close();
  });

  async function started() {
    const { tenantId, row } = await fx.session();
    const active = await activation.ensureLive(tenantId, row);
    return { tenantId, row, active, instanceId: active.instanceId! };
  }

  it('activates a session: an instance, its event stream, ready; twice asked, one instance', async () => {
    const { tenantId, row, active, instanceId } = await started();
    expect(active.state).toBe('ready');
    expect(active.podium).toBeDefined();
    expect(await podium.isAlive(instanceId)).toBe(true);
    expect(await activation.ensureLive(tenantId, row)).toBe(active);
    expect(live.statusOf(row.id)).toBe('ready');
    expect((await fx.registry.findSession(tenantId, row.id))!.instanceId).toBe(instanceId);
  });

  it('deactivates to inactive: the agent stopped, the row reset with the exact last seq, the record gone', async () => {
    const { tenantId, row, active, instanceId } = await started();
    const { socket, conn } = recordingConnection();
    fx.broadcaster.subscribe(sessionTopic(row.id), conn);
    await teardown.deactivate(active, 'idle');
    expect(active.state).toBe('inactive');
    expect(active.podium).toBeUndefined();
    expect(await podium.isAlive(instanceId)).toBe(false);
    expect(live.get(row.id)).toBeUndefined();
    const persisted = (await fx.registry.findSession(tenantId, row.id))!;
    expect(persisted).toMatchObject({ status: 'inactive', instanceId: null, lastSeq: active.lastSeq });
    expect(socket.frames().map((f) => f.state)).toEqual(['deactivating', 'inactive']);
  });

  it('an agent failure ends in error with the agent stopped, and the session can be started again', async () => {
    const { tenantId, row, active, instanceId } = await started();
    teardown.fail(active, 'AGENT_UNAVAILABLE', 'gone');
    expect(active.state).toBe('error');
    expect(active.podium).toBeUndefined();
    await until(async () => !(await podium.isAlive(instanceId)), 'instance stopped');
    expect(live.get(row.id)).toBe(active);
    const again = await activation.ensureLive(tenantId, row);
    expect(again).toBe(active);
    expect(again.state).toBe('ready');
    expect(again.instanceId).not.toBe(instanceId);
  });

  it('abandoning a tenant drops its sessions without writing: the row keeps its live status', async () => {
    const { tenantId, row, instanceId } = await started();
    expect(await teardown.abandonTenant(tenantId)).toBe(1);
    expect(live.get(row.id)).toBeUndefined();
    await until(async () => !(await podium.isAlive(instanceId)), 'instance stopped');
    expect((await fx.registry.findSession(tenantId, row.id))!.status).toBe('ready');
  });

  it('recovery resets a stale session left live by a gone process and stops its instance', async () => {
    const { tenantId, row } = await started();
    await teardown.abandonTenant(tenantId);
    // Still persisted ready, with its instance, as a crashed process would leave it.
    const created = await podium.createInstance({ agentType: row.agentType, agentId: row.id });
    await fx.registry.updateSession(tenantId, row.id, { status: 'ready', instanceId: created.instanceId });
    expect(await recovery.recoverTenant(tenantId)).toBe(1);
    expect((await fx.registry.findSession(tenantId, row.id))!).toMatchObject({
      status: 'inactive',
      instanceId: null,
    });
    await until(async () => !(await podium.isAlive(created.instanceId)), 'stale instance stopped');
  });

  it('the reaper deactivates an unwatched idle session and leaves a watched one', async () => {
    const watched = await started();
    const idle = await started();
    const { conn } = recordingConnection();
    fx.broadcaster.subscribe(sessionTopic(watched.row.id), conn);
    reaper.reap(Date.now() + 61_000);
    await until(() => live.get(idle.row.id) === undefined, 'idle session reaped');
    expect(idle.active.state).toBe('inactive');
    expect(live.get(watched.row.id)).toBe(watched.active);
    expect(watched.active.state).toBe('ready');
  });

  it('an activation Podium refuses ends in error with AGENT_UNAVAILABLE and gives the slot back', async () => {
    const { tenantId, row } = await fx.session();
    const refusing = new PodiumClient(
      toPodiumConfig(validateEnv(PodiumEnv, { PODIUM_URL: sim.url, PODIUM_API_KEY: 'wrong-key' })),
    );
    const strict = new Activation(
      fx.config,
      live,
      fx.registry,
      refusing,
      fx.publisher,
      fx.states,
      link,
      teardown,
    );
    await expect(strict.ensureLive(tenantId, row)).rejects.toMatchObject({ code: 'AGENT_UNAVAILABLE' });
    expect(live.get(row.id)?.state).toBe('error');
    const ok = await activation.ensureLive(tenantId, row);
    expect(ok.state).toBe('ready');
  });
});
