/**
 * The in-process events of the auth lib, emitted on the application's `EventEmitter2`
 * (`@nestjs/event-emitter`) when it has one; any number of listeners may subscribe with
 * `@OnEvent(name)`. An application merges this map into its own typed event map.
 */
export interface AuthEventMap {
  /** An authentication was refused: an invalid credential, or the per-IP limiter said no. */
  'auth.failed': { reason: 'invalid' | 'rate_limited' };
}
