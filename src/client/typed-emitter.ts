/** Listener signatures by event name. */
export type EventMap = { [event: string]: (...args: never[]) => void };

/**
 * A minimal typed event emitter that runs in browsers and Node (no node:events). A listener that
 * throws does not stop the others or the emitter; its error is rethrown on a microtask so it still
 * surfaces as an uncaught error.
 */
export class TypedEmitter<Events extends EventMap> {
  private readonly listeners = new Map<keyof Events, Set<Events[keyof Events]>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof Events>(event: K, listener: Events[K]): void {
    this.listeners.get(event)?.delete(listener);
  }

  protected emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as (...values: Parameters<Events[K]>) => void)(...args);
      } catch (error) {
        this.listenerFailed(error);
      }
    }
  }

  /** A listener threw: rethrown on a microtask, so it surfaces as an uncaught error without breaking the emitter. */
  protected listenerFailed(error: unknown): void {
    queueMicrotask(() => {
      throw error;
    });
  }
}
