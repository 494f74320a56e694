/** A minimal typed event emitter: `on` returns its own unsubscribe function. */
export class Emitter<M extends Record<string, unknown>> {
  private readonly listeners = new Map<keyof M, Set<(value: never) => void>>();

  on<K extends keyof M>(name: K, listener: (value: M[K]) => void): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener as (value: never) => void);
    return () => set.delete(listener as (value: never) => void);
  }

  emit<K extends keyof M>(name: K, value: M[K]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (value: M[K]) => void)(value);
      } catch (err) {
        // A listener's failure must not break delivery to the others or the SDK's own state.
        setTimeout(() => {
          throw err;
        });
      }
    }
  }
}
