/** Standalone entry point: `node dist/apps/podium-sim/apps/podium-sim/src/main.js`. */
import { optionsFromEnv } from './config';
import { startPodiumSim } from './simulator';

async function main(): Promise<void> {
  const sim = await startPodiumSim(optionsFromEnv(process.env));
  console.log(`podium-sim listening on ${sim.url}`);
  const stop = (signal: string) => {
    console.log(`podium-sim received ${signal}, closing`);
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(`podium-sim failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
