/**
 * The registry's key/value store with Consul 1.15.4's semantics (agent/consul/state/kvs.go,
 * graveyard.go, agent/consul/kvs_endpoint.go). No I/O and no clock: the rising index and the
 * change notification are given, so the store shares the catalog's index.
 *
 * Index rules, as Consul's state store applies them:
 * - a write that changes nothing (same value, flags, session, lock index) keeps the entry's
 *   ModifyIndex and raises no index; deleting a missing key or an empty tree changes nothing;
 * - deleting a key (or a non-empty tree under a non-empty prefix) leaves a tombstone with the
 *   delete's index, so a list of that prefix answers with an index that moved;
 * - `maxIndex()` is the index of the last change anywhere in the store (Consul's kvs and
 *   tombstones tables); a read of a missing key answers with it;
 * - a list of a prefix answers with the highest ModifyIndex or tombstone under it, or with
 *   `maxIndex()` when there is none (and always for the empty prefix).
 * Consul reaps tombstones after a while (tombstone_gc); here the oldest go once there are more
 * than `maxTombstones`, which only lowers the index a list of that prefix answers with.
 */

export interface KvEntry {
  readonly key: string;
  /** Consul's uint64 flags. */
  readonly flags: bigint;
  readonly value: Buffer;
  readonly createIndex: number;
  readonly modifyIndex: number;
  readonly lockIndex: number;
  /** '' when no session holds the key (this registry has no sessions). */
  readonly session: string;
}

export interface KvStoreOptions {
  /** Takes the next index of the registry's rising index (shared with the catalog). */
  nextIndex: () => number;
  /** Called after every change, so parked blocking queries re-check their index. */
  notify?: () => void;
  /** Default 4096. */
  maxTombstones?: number;
}

/** What a PUT asks for (Consul's KVSet, KVCAS, KVLock, KVUnlock). */
export type KvWrite =
  | { op: 'set'; key: string; value: Buffer; flags: bigint }
  /** cas 0: create only; otherwise the entry's ModifyIndex must equal it. */
  | { op: 'cas'; key: string; value: Buffer; flags: bigint; cas: number }
  | { op: 'lock'; key: string; value: Buffer; flags: bigint; session: string }
  | { op: 'unlock'; key: string; value: Buffer; flags: bigint; session: string };

/** What a DELETE asks for (Consul's KVDelete, KVDeleteCAS, KVDeleteTree). */
export type KvDelete = { op: 'delete'; key: string } | { op: 'delete-cas'; key: string; cas: number } | { op: 'delete-tree'; prefix: string };

/** A write the state store refuses with an error (Consul answers 500 with `raft apply failed: <message>`). */
export class KvApplyError extends Error {}

export const DEFAULT_MAX_TOMBSTONES = 4096;

/**
 * Compares strings by code point, which is the order of their UTF-8 bytes: Consul keeps keys in a
 * radix tree over bytes, while JavaScript's `<` compares UTF-16 code units (different above U+FFFF).
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i += 1) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    // A surrogate (a code point above U+FFFF) sorts after every BMP character; otherwise units compare as points.
    if (xSurrogate !== ySurrogate) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Consul's key listing with a separator (agent/consul/kvs_endpoint.go ListKeys): every key under
 * `prefix`, but a key whose rest after the prefix contains `separator` is cut just after its first
 * occurrence and listed once ("web/b/c" under "web/" with "/" lists "web/b/"). `keys` must be sorted.
 */
export function foldKeys(keys: readonly string[], prefix: string, separator: string): string[] {
  if (separator === '') return [...keys];
  const out: string[] = [];
  const seen = new Set<string>();
  for (const key of keys) {
    const at = key.indexOf(separator, prefix.length);
    if (at === -1) {
      out.push(key);
      continue;
    }
    const folded = key.slice(0, at + separator.length);
    if (!seen.has(folded)) {
      seen.add(folded);
      out.push(folded);
    }
  }
  return out;
}

export class KvStore {
  /** Keys in byte order, so a prefix is a contiguous run found by binary search. */
  private readonly sortedKeys: string[] = [];
  private readonly entries = new Map<string, KvEntry>();
  /** Key or deleted prefix → index of the delete; in insertion (= index) order, oldest first. */
  private readonly tombstones = new Map<string, number>();
  private lastChange = 0;
  private readonly nextIndex: () => number;
  private readonly notify: () => void;
  private readonly maxTombstones: number;

  constructor(opts: KvStoreOptions) {
    this.nextIndex = opts.nextIndex;
    this.notify = opts.notify ?? (() => undefined);
    this.maxTombstones = opts.maxTombstones ?? DEFAULT_MAX_TOMBSTONES;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The index of the last change to the store (0 if none). */
  maxIndex(): number {
    return this.lastChange;
  }

  get(key: string): KvEntry | undefined {
    return this.entries.get(key);
  }

  /** The index a read of one key answers with: its ModifyIndex, or the store's if it is missing. */
  keyIndex(key: string): number {
    return this.entries.get(key)?.modifyIndex ?? this.lastChange;
  }

  /** Every entry whose key starts with `prefix`, in key order. */
  list(prefix: string): KvEntry[] {
    const out: KvEntry[] = [];
    for (let i = this.lowerBound(prefix); i < this.sortedKeys.length; i += 1) {
      const key = this.sortedKeys[i]!;
      if (!key.startsWith(prefix)) break;
      out.push(this.entries.get(key)!);
    }
    return out;
  }

  /** The index a list (recurse or keys) of `prefix` answers with (0 only for an empty history). */
  listIndex(prefix: string): number {
    if (prefix === '') return this.lastChange;
    let index = 0;
    for (const entry of this.list(prefix)) index = Math.max(index, entry.modifyIndex);
    for (const [key, deletedAt] of this.tombstones) if (key.startsWith(prefix)) index = Math.max(index, deletedAt);
    return index === 0 ? this.lastChange : index;
  }

  /** The keys under `prefix`, folded at `separator` as Consul lists them. */
  keys(prefix: string, separator = ''): string[] {
    return foldKeys(
      this.list(prefix).map((entry) => entry.key),
      prefix,
      separator,
    );
  }

  /**
   * Applies a PUT. Answers as Consul's KVS.Apply: `set` is always true; `cas` and `unlock` say
   * whether they applied. `lock` needs a session, and this registry has none, so it is refused
   * with Consul's texts ("missing session", "invalid session \"x\"").
   */
  put(write: KvWrite): boolean {
    const existing = this.entries.get(write.key);
    switch (write.op) {
      case 'set':
        this.store(write.key, write.value, write.flags, existing);
        return true;
      case 'cas':
        if (write.cas === 0 ? existing !== undefined : existing?.modifyIndex !== write.cas) return false;
        this.store(write.key, write.value, write.flags, existing);
        return true;
      case 'lock':
        if (write.session === '') throw new KvApplyError('missing session');
        throw new KvApplyError(`invalid session ${JSON.stringify(write.session)}`);
      case 'unlock':
        if (write.session === '') throw new KvApplyError('missing session');
        // No entry can be held by a session that does not exist.
        return existing !== undefined && existing.session === write.session;
    }
  }

  /** Applies a DELETE. Answers as Consul: true, except a `delete-cas` whose index does not match an existing key. */
  delete(request: KvDelete): boolean {
    switch (request.op) {
      case 'delete':
        this.deleteKey(request.key);
        return true;
      case 'delete-cas': {
        const existing = this.entries.get(request.key);
        // Consul answers true for a key that is already gone, whatever the index.
        if (existing === undefined) return true;
        if (existing.modifyIndex !== request.cas) return false;
        this.deleteKey(request.key);
        return true;
      }
      case 'delete-tree':
        this.deleteTree(request.prefix);
        return true;
    }
  }

  private store(key: string, value: Buffer, flags: bigint, existing: KvEntry | undefined): void {
    if (existing && existing.flags === flags && existing.value.equals(value)) return;
    const index = this.nextIndex();
    const entry: KvEntry = {
      key,
      flags,
      value: Buffer.from(value),
      createIndex: existing?.createIndex ?? index,
      modifyIndex: index,
      lockIndex: existing?.lockIndex ?? 0,
      session: existing?.session ?? '',
    };
    if (!existing) this.sortedKeys.splice(this.lowerBound(key), 0, key);
    this.entries.set(key, entry);
    this.changed(index);
  }

  private deleteKey(key: string): void {
    if (!this.entries.has(key)) return;
    const index = this.nextIndex();
    this.entries.delete(key);
    this.sortedKeys.splice(this.lowerBound(key), 1);
    this.bury(key, index);
    this.changed(index);
  }

  private deleteTree(prefix: string): void {
    const start = this.lowerBound(prefix);
    let end = start;
    while (end < this.sortedKeys.length && this.sortedKeys[end]!.startsWith(prefix)) end += 1;
    if (end === start) return;
    const index = this.nextIndex();
    for (const key of this.sortedKeys.splice(start, end - start)) this.entries.delete(key);
    // Consul leaves no tombstone when the whole store is emptied: every reader then sees the store's index.
    if (prefix !== '') this.bury(prefix, index);
    this.changed(index);
  }

  private bury(key: string, index: number): void {
    this.tombstones.delete(key);
    this.tombstones.set(key, index);
    while (this.tombstones.size > this.maxTombstones) {
      const oldest = this.tombstones.keys().next().value as string;
      this.tombstones.delete(oldest);
    }
  }

  private changed(index: number): void {
    this.lastChange = index;
    this.notify();
  }

  /** The position of the first key not below `key`. */
  private lowerBound(key: string): number {
    let low = 0;
    let high = this.sortedKeys.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (compareKeys(this.sortedKeys[mid]!, key) < 0) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
