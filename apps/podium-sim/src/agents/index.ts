import { codingAgent } from './coding-agent';
import { echoAgent } from './echo';
import type { Agent } from './types';

export type { Agent } from './types';

/** Agent types instances can be created for. `fail` is handled at creation (always 500). */
export const AGENTS: ReadonlyMap<string, Agent> = new Map([echoAgent, codingAgent].map((a) => [a.type, a]));

/** The agent type that makes instance creation fail with 500. */
export const FAILING_AGENT_TYPE = 'fail';
