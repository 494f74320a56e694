import 'reflect-metadata';
import { bootstrap } from './bootstrap';

void bootstrap().catch((err: unknown) => {
  process.stderr.write(`Gateway failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
