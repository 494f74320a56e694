import type { PodiumCallInfo } from './podium.client';

/**
 * The in-process events of the Podium client, emitted on the application's `EventEmitter2`
 * (`@nestjs/event-emitter`) when it has one; any number of listeners (metrics, tracing, audits) may
 * subscribe with `@OnEvent(name)`. An application merges this map into its own typed event map.
 */
export interface PodiumEventMap {
  /** One upstream attempt ended: each retry attempt and each fail-fast is reported. */
  'podium.call': PodiumCallInfo;
}
