/**
 * The in-process events of the persistence lib, emitted on the application's `EventEmitter2`
 * (`@nestjs/event-emitter`) when it has one; any number of listeners may subscribe with
 * `@OnEvent(name)`. An application merges this map into its own typed event map.
 */
export interface PersistenceEventMap {
  /** The batched writer wrote one batch (committed, or failed and logged): `rows` commands over `sessions`. */
  'persistence.flushed': { durationMs: number; rows: number; sessions: number };
}
