/**
 * /v1/kv/: the key/value store as Consul 1.15.4 serves it (agent/kvs_endpoint.go over
 * agent/consul/kvs_endpoint.go): GET one key (JSON with base64 values, or `?raw`), `?recurse`,
 * `?keys` with `?separator`, blocking queries; PUT with `?flags` and `?cas`, answering true/false;
 * DELETE with `?recurse` and `?cas`. The order of the checks, the status codes and the texts are
 * Consul's, asked of a real agent. The state is the pure KvStore (../kv.ts).
 */
import { aclDecision, ACL_NOT_FOUND, anonymousDenied } from '../acl.js';
import { blockingTimeoutMs, headerIndex, parseBlockingParams } from '../blocking.js';
import { checkDatacenter } from '../query-params.js';
import { RegistryHttpError } from '../http-error.js';
import { compareKeys, KvApplyError, KvStore, type KvDelete, type KvEntry, type KvWrite } from '../kv.js';
import type { ApiResponse, EndpointContext, ParsedRequest, Route } from './route.js';

export const KV_PREFIX = '/v1/kv/';
/** Consul's kv_max_value_size default (raft.SuggestedMaxDataSize). */
export const KV_MAX_VALUE_SIZE = 512 * 1024;

const UINT64_MAX = 18446744073709551615n;

/** Consul's answer to a value above kv_max_value_size (413). */
export function kvTooLargeText(bytes: number, max = KV_MAX_VALUE_SIZE): string {
  return `Request body(${bytes} bytes) too large, max size: ${max} bytes. See https://www.consul.io/docs/agent/config/config-files#kv_max_value_size.`;
}

/**
 * Go's strconv.ParseUint(text, 10, 64), with its error texts (Consul answers them as 500s).
 * Go stops at the first overflow, so "99999999999999999999x" is out of range, not a syntax error.
 */
export function parseUint64(text: string): bigint | { error: string } {
  const quoted = JSON.stringify(text);
  if (text === '') return { error: `strconv.ParseUint: parsing ${quoted}: invalid syntax` };
  let value = 0n;
  for (const char of text) {
    if (char < '0' || char > '9') return { error: `strconv.ParseUint: parsing ${quoted}: invalid syntax` };
    value = value * 10n + BigInt(char.charCodeAt(0) - 48);
    if (value > UINT64_MAX) return { error: `strconv.ParseUint: parsing ${quoted}: value out of range` };
  }
  return value;
}

/** Go's url.QueryEscape: only A-Z a-z 0-9 - _ . ~ stay as they are, a space becomes '+'. */
function goQueryEscape(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Go's url.Values.Encode: keys sorted, each key's values in order. */
export function goEncodeQuery(query: URLSearchParams): string {
  const keys = [...new Set(query.keys())].sort(compareKeys);
  return keys.flatMap((key) => query.getAll(key).map((value) => `${goQueryEscape(key)}=${goQueryEscape(value)}`)).join('&');
}

/** Consul's conflictingFlags: 400 "Conflicting flags: <the whole query, encoded>" when two of `flags` are present. */
function rejectConflicting(query: URLSearchParams, flags: readonly string[]): void {
  if (flags.filter((flag) => query.has(flag)).length > 1) {
    throw new RegistryHttpError(400, `Conflicting flags: ${goEncodeQuery(query)}`);
  }
}

function uint64Param(query: URLSearchParams, name: string): bigint | undefined {
  if (!query.has(name)) return undefined;
  const parsed = parseUint64(query.get(name) ?? '');
  if (typeof parsed !== 'bigint') throw new RegistryHttpError(500, parsed.error);
  return parsed;
}

/** A cas index beyond 2^53 matches no entry; Number() keeps it unequal to every real index. */
const asIndex = (value: bigint): number => Number(value);

/** One entry as Consul's structs.DirEntry marshals it (Session omitted when empty, Value null when empty). */
function entryView(entry: KvEntry): Record<string, unknown> {
  return {
    LockIndex: entry.lockIndex,
    Key: entry.key,
    // A uint64 may exceed 2^53: rendered as a string here, unquoted by renderEntries.
    Flags: entry.flags.toString(),
    Value: entry.value.length === 0 ? null : entry.value.toString('base64'),
    ...(entry.session === '' ? {} : { Session: entry.session }),
    CreateIndex: entry.createIndex,
    ModifyIndex: entry.modifyIndex,
  };
}

/** Consul's pretty-printed JSON for a list of entries, with Flags as exact uint64 numbers. */
export function renderEntries(entries: readonly KvEntry[]): string {
  // Each field is on its own line at this depth, and a JSON string cannot hold a raw newline,
  // so only the Flags fields themselves can match.
  return `${JSON.stringify(entries.map(entryView), null, 4).replace(/^( {8}"Flags": )"(\d+)"/gm, '$1$2')}\n`;
}

/** The stores of the registries running in this process, one per endpoint context. */
const stores = new WeakMap<EndpointContext, KvStore>();

/** The KV store of a registry: made on first use, on the catalog's rising index, waking blocked queries. */
export function kvStoreOf(ctx: EndpointContext): KvStore {
  let store = stores.get(ctx);
  if (!store) {
    store = new KvStore({ nextIndex: () => ctx.catalog.nextIndex(), notify: () => ctx.catalog.raftIndex.changed() });
    stores.set(ctx, store);
  }
  return store;
}

export function kvRoutes(ctx: EndpointContext): Route[] {
  const kv = new KvEndpoints(ctx, kvStoreOf(ctx));
  return [
    { prefix: KV_PREFIX, exact: false, method: 'GET', handler: (r) => kv.get(r) },
    { prefix: KV_PREFIX, exact: false, method: 'PUT', handler: (r) => kv.put(r) },
    { prefix: KV_PREFIX, exact: false, method: 'DELETE', handler: (r) => kv.delete(r) },
  ];
}

type ReadAccess = 'all' | 'none';

class KvEndpoints {
  constructor(
    private readonly ctx: EndpointContext,
    private readonly store: KvStore,
  ) {}

  /**
   * The registry's one token as Consul's ACL would see it: another token is "ACL not found";
   * anonymous writes need key:write; an anonymous read of one key is refused, and anonymous lists
   * are answered with everything filtered out.
   */
  private authorize(req: ParsedRequest, access: 'read' | 'write', resource: string): ReadAccess {
    // The servers' RPC: another datacenter is refused once the request has parsed, before the token.
    checkDatacenter(req.query, this.ctx.catalog.node.datacenter);
    const decision = aclDecision(this.ctx.token, req.token, access, `key:${access}`, resource);
    if (decision.outcome === 'allow') return 'all';
    if (decision.outcome === 'filter') return 'none';
    if (decision.body !== ACL_NOT_FOUND && resource === '') {
      // acl.PermissionDeniedError names no resource for the empty prefix.
      throw new RegistryHttpError(403, anonymousDenied(`key:${access}`, '').replace(' on "".', '.'));
    }
    throw new RegistryHttpError(decision.status, decision.body);
  }

  async get(req: ParsedRequest): Promise<ApiResponse> {
    const params = parseBlockingParams(req.query);
    const key = req.rest;
    const keysOnly = req.query.has('keys');
    const recurse = !keysOnly && req.query.has('recurse');
    if (!keysOnly && !recurse && key === '') throw new RegistryHttpError(400, 'Missing key name');

    if (!keysOnly && !recurse) {
      // Consul checks key:read inside the query, so an anonymous read is refused even for a missing key.
      if (this.authorize(req, 'read', key) === 'none') throw new RegistryHttpError(403, anonymousDenied('key:read', key));
      const existedAtStart = this.store.get(key) !== undefined;
      await this.block(req, params, () => this.store.keyIndex(key), () => {
        // Consul's blockingQuery keeps a not-found key waiting until it appears, but answers at once
        // when a key it saw is deleted (agent/blockingquery ErrNotFound).
        const entry = this.store.get(key);
        if (entry) return entry.modifyIndex;
        return existedAtStart ? this.store.maxIndex() : 0;
      });
      const entry = this.store.get(key);
      const meta = this.meta(this.store.keyIndex(key));
      if (!entry) return { status: 404, headers: meta, body: '' };
      if (req.query.has('raw')) {
        return {
          status: 200,
          headers: { ...meta, 'content-type': 'text/plain', 'x-content-type-options': 'nosniff', 'content-security-policy': 'sandbox' },
          body: entry.value,
        };
      }
      return { status: 200, headers: { ...meta, 'content-type': 'application/json' }, body: renderEntries([entry]) };
    }

    const access = this.authorize(req, 'read', key);
    const index = (): number => this.store.listIndex(key);
    await this.block(req, params, index, index);
    const meta = this.meta(index());
    const entries = access === 'all' ? this.store.list(key) : [];
    if (keysOnly) {
      const separator = req.query.has('separator') ? (req.query.get('separator') ?? '') : (req.query.get('seperator') ?? '');
      const keys = this.store.keys(key, separator);
      const visible = access === 'all' ? keys : [];
      // The root answers an empty list; a prefix with nothing under it is "not found".
      if (visible.length === 0 && key !== '') return { status: 404, headers: meta, body: '' };
      return this.ctx.json(200, visible, meta);
    }
    if (entries.length === 0) return { status: 404, headers: meta, body: '' };
    return { status: 200, headers: { ...meta, 'content-type': 'application/json' }, body: renderEntries(entries) };
  }

  put(req: ParsedRequest): ApiResponse {
    parseBlockingParams(req.query);
    const key = req.rest;
    if (key === '') throw new RegistryHttpError(400, 'Missing key name');
    rejectConflicting(req.query, ['cas', 'acquire', 'release']);
    const flags = uint64Param(req.query, 'flags') ?? 0n;
    const cas = uint64Param(req.query, 'cas');
    const value = req.bodyBytes ?? Buffer.from(req.body);
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    // Consul checks the declared Content-Length; a chunked body is measured here instead.
    const size = Number.isFinite(declared) ? declared : value.length;
    if (size > KV_MAX_VALUE_SIZE) throw new RegistryHttpError(413, kvTooLargeText(size));
    this.authorize(req, 'write', key);
    let write: KvWrite = { op: 'set', key, value, flags };
    if (cas !== undefined) write = { op: 'cas', key, value, flags, cas: asIndex(cas) };
    if (req.query.has('acquire')) write = { op: 'lock', key, value, flags, session: req.query.get('acquire') ?? '' };
    if (req.query.has('release')) write = { op: 'unlock', key, value, flags, session: req.query.get('release') ?? '' };
    try {
      return this.ctx.json(200, this.store.put(write));
    } catch (error) {
      if (error instanceof KvApplyError) throw new RegistryHttpError(500, `raft apply failed: ${error.message}`);
      throw error;
    }
  }

  delete(req: ParsedRequest): ApiResponse {
    parseBlockingParams(req.query);
    const key = req.rest;
    rejectConflicting(req.query, ['recurse', 'cas']);
    const recurse = req.query.has('recurse');
    if (!recurse && key === '') throw new RegistryHttpError(400, 'Missing key name');
    const cas = uint64Param(req.query, 'cas');
    this.authorize(req, 'write', key);
    let request: KvDelete = recurse ? { op: 'delete-tree', prefix: key } : { op: 'delete', key };
    if (cas !== undefined) request = { op: 'delete-cas', key, cas: asIndex(cas) };
    return this.ctx.json(200, this.store.delete(request));
  }

  /**
   * Holds a read while `?index` is at or above `answerIndex()` (Consul answers at once otherwise),
   * until `wakeIndex()` rises above it or the wait runs out.
   */
  private async block(
    req: ParsedRequest,
    params: ReturnType<typeof parseBlockingParams>,
    answerIndex: () => number,
    wakeIndex: () => number,
  ): Promise<void> {
    if (params.minIndex === 0 || headerIndex(answerIndex()) > params.minIndex) return;
    const timeout = blockingTimeoutMs(params.waitMs, this.ctx.random);
    await this.ctx.waiters.wait(wakeIndex, params.minIndex, timeout, req.signal);
  }

  private meta(index: number): Record<string, string> {
    return {
      'x-consul-index': String(headerIndex(index)),
      'x-consul-knownleader': 'true',
      'x-consul-lastcontact': '0',
      'x-consul-query-backend': 'blocking-query',
    };
  }
}
