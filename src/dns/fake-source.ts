/**
 * An in-memory DnsSource for tests and benchmarks: the test sets the
 * objects and says when the source has "synced", as informers would.
 */
import type { Service } from "../kube/dns-services.ts";
import { EMPTY_SNAPSHOT, type DnsSnapshot, type DnsSource } from "./source.ts";

export class FakeSource implements DnsSource {
  #snapshot: DnsSnapshot;
  #synced: boolean;
  readonly #listeners = new Set<() => void>();

  constructor(initial: Partial<DnsSnapshot> = {}, synced = true) {
    this.#snapshot = { ...EMPTY_SNAPSHOT, ...initial };
    this.#synced = synced;
  }

  snapshot(): DnsSnapshot {
    return this.#snapshot;
  }

  synced(): boolean {
    return this.#synced;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }

  /** Replaces some kinds of object and signals the change. */
  set(change: Partial<DnsSnapshot>): void {
    this.#snapshot = { ...this.#snapshot, ...change };
    this.#emit();
  }

  /** Adds or replaces a Service (by namespace and name). */
  putService(s: Service): void {
    this.set({ services: [...this.#snapshot.services.filter((x) => x.namespace !== s.namespace || x.name !== s.name), s] });
  }

  deleteService(namespace: string, name: string): void {
    this.set({ services: this.#snapshot.services.filter((x) => x.namespace !== namespace || x.name !== name) });
  }

  /** Marks the source synced (as informers do after their first list). */
  markSynced(): void {
    this.#synced = true;
    this.#emit();
  }

  #emit(): void {
    for (const l of this.#listeners) l();
  }
}
