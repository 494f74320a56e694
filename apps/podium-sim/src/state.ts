/** Mutable state shared by the HTTP routes, the control API and the event sockets of one simulator. */
import type { ResolvedSimOptions } from './config';
import type { SimInstance } from './instance';
import { initialCounters, initialKnobs, type SimCounters, type SimKnobs } from './knobs';

export interface SimState {
  readonly options: ResolvedSimOptions;
  readonly knobs: SimKnobs;
  readonly counters: SimCounters;
  readonly instances: Map<string, SimInstance>;
  log(line: string): void;
}

export function createState(options: ResolvedSimOptions): SimState {
  return {
    options,
    knobs: initialKnobs(options.tokenDelayMs, options.reconnectGraceMs),
    counters: initialCounters(),
    instances: new Map(),
    log: options.log,
  };
}

/** `POST /_sim/reset`: knobs back to the start-up values, counters to zero. Instances are kept. */
export function resetState(state: SimState): void {
  Object.assign(state.knobs, initialKnobs(state.options.tokenDelayMs, state.options.reconnectGraceMs));
  Object.assign(state.counters, initialCounters());
}
