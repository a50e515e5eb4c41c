/**
 * The registry's one rising index and its one change notification. Consul keeps a single raft
 * index across its tables (catalog, KV...): every write takes the next index, and every table's
 * blocking queries compare against it. Here the catalog and the KV store both raise this index,
 * and `changed()` after a write is the only thing that wakes parked blocking queries.
 */
export class RaftIndex {
  private value = 0;
  private readonly listeners = new Set<() => void>();

  /** The index of the last change anywhere (0 before the first). */
  current(): number {
    return this.value;
  }

  /** Takes the next index for a write about to be applied. */
  next(): number {
    this.value += 1;
    return this.value;
  }

  /** Announces that a write was applied (call once per write, after its state is in place). */
  changed(): void {
    for (const listener of [...this.listeners]) listener();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
