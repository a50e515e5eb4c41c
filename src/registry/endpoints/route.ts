/**
 * What an endpoint group is made of: routes (prefix, exact, method, handler) over a parsed request,
 * and the context every group's handlers share (the catalog, ACL, JSON answers, blocking reads).
 * The router (../router.ts) picks the route; the groups (agent.ts, health.ts, ...) only answer.
 */
import { aclDecision, type AclDecision } from '../acl.js';
import { blockingTimeoutMs, headerIndex, parseBlockingParams, type IndexWaiters } from '../blocking.js';
import type { Catalog } from '../catalog.js';
import type { CheckRunner } from '../checks.js';
import type { DecodeOptions } from '../decode-check.js';
import { RegistryHttpError } from '../http-error.js';
import { checkDatacenter } from '../query-params.js';
import { RenderedJson } from '../views.js';

export interface ApiRequest {
  method: string;
  /** Path and query, e.g. "/v1/health/service/web?passing". */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** The body as UTF-8 text. */
  body: string;
  /** The body's bytes, when a handler needs them exactly (KV values may be binary); absent = Buffer.from(body). */
  bodyBytes?: Buffer;
  /** Aborted when the client goes away, so a parked blocking query is released. */
  signal?: AbortSignal;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  /** Text, or bytes already rendered (large health answers). */
  body: string | Buffer;
}

export interface ParsedRequest extends ApiRequest {
  path: string;
  query: URLSearchParams;
  /** The rest of the path after the route prefix (an ID or a service name), URL-decoded. */
  rest: string;
  token: string | undefined;
}

export type Handler = (req: ParsedRequest) => Promise<ApiResponse> | ApiResponse;

export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD';

/**
 * One route. `exact`: the path must equal `prefix`; otherwise it must start with it and the rest is
 * `req.rest`. The longest matching prefix wins, as in Go's ServeMux; several routes with the same
 * prefix and different methods make one endpoint whose Allow header lists them in order.
 */
export interface Route {
  prefix: string;
  exact: boolean;
  method: Method;
  handler: Handler;
}

export const TEXT = 'text/plain; charset=utf-8';

export interface EndpointOptions {
  catalog: Catalog;
  waiters: IndexWaiters;
  runner?: CheckRunner;
  token?: string;
  /** What status/leader and status/peers report, e.g. "127.0.0.1:8300". */
  serverAddress: string;
  random?: () => number;
  decode?: DecodeOptions;
}

/** What a blocking read is made of (EndpointContext.blockingRead). */
export interface BlockingRead {
  /** The index the answer carries (X-Consul-Index) and, unless `wakeIndex` is given, the one the read waits on. */
  index: () => number;
  /** The body; `filtered`: the anonymous token under default deny, which sees no protected result. */
  build: (filtered: boolean) => unknown;
  /** Checks Consul makes before the token is resolved (a missing name). */
  validate?: () => void;
  /** The catalog endpoints set query metadata before the ACL check fails. */
  metaOnDenied?: boolean;
  /** Checks Consul makes once the token is resolved, before the read (?filter=). */
  afterAcl?: () => void;
  /**
   * What the query watches when that is narrower than the index it answers with (catalog/nodes
   * answers the nodes and services tables' index but wakes for node changes only).
   */
  wakeIndex?: () => number;
}

/** The state and helpers handlers share. */
export class EndpointContext {
  readonly catalog: Catalog;
  readonly waiters: IndexWaiters;
  readonly runner: CheckRunner | undefined;
  readonly token: string | undefined;
  readonly serverAddress: string;
  readonly random: () => number;
  readonly decodeOptions: DecodeOptions;
  /** Stops following the catalog's index (RegistryApi.close). */
  readonly unfollow: () => void;

  constructor(opts: EndpointOptions) {
    this.catalog = opts.catalog;
    this.waiters = opts.waiters;
    this.runner = opts.runner;
    this.token = opts.token;
    this.serverAddress = opts.serverAddress;
    this.random = opts.random ?? Math.random;
    this.decodeOptions = opts.decode ?? {};
    // The one place blocked queries are woken: every write to the catalog or KV announces itself here.
    this.unfollow = this.catalog.raftIndex.onChange(() => this.waiters.notify());
  }

  json(status: number, value: unknown, extra: Record<string, string> = {}): ApiResponse {
    // Consul in dev mode pretty-prints every JSON answer.
    const body = value instanceof RenderedJson ? value.bytes : `${JSON.stringify(value, null, 4)}\n`;
    return { status, headers: { 'content-type': 'application/json', ...extra }, body };
  }

  empty(): ApiResponse {
    return { status: 200, headers: {}, body: '' };
  }

  acl(req: ParsedRequest, access: 'read' | 'write', permission = '', resource = ''): AclDecision {
    const decision = aclDecision(this.token, req.token, access, permission, resource);
    if (decision.outcome === 'deny') throw new RegistryHttpError(decision.status, decision.body);
    return decision;
  }

  /** Agent endpoints resolve the token before anything else: an unknown token is refused even for an unknown ID. */
  rejectUnknownToken(req: ParsedRequest): void {
    if (req.token !== undefined) this.acl(req, 'write');
  }

  /** Parks the request until the read's index rises above ?index (if given), then answers with `build`. */
  async blockingRead(req: ParsedRequest, read: BlockingRead): Promise<ApiResponse> {
    const { index, build, validate, metaOnDenied = false, afterAcl, wakeIndex = index } = read;
    const params = parseBlockingParams(req.query);
    validate?.();
    // Every blocking read goes through the servers, which know no other datacenter.
    checkDatacenter(req.query, this.catalog.node.datacenter);
    let filtered: boolean;
    try {
      filtered = this.acl(req, 'read').outcome === 'filter';
    } catch (error) {
      if (!metaOnDenied || !(error instanceof RegistryHttpError)) throw error;
      throw new RegistryHttpError(error.status, error.body, {
        'x-consul-index': '1',
        'x-consul-knownleader': 'false',
        'x-consul-lastcontact': '0',
        'x-consul-query-backend': 'blocking-query',
      });
    }
    afterAcl?.();
    const timeout = blockingTimeoutMs(params.waitMs, this.random);
    let answerIndex: number;
    if (wakeIndex === index) {
      await this.waiters.wait(() => headerIndex(index()), params.minIndex, timeout, req.signal);
      answerIndex = headerIndex(index());
    } else {
      // Consul's blockingQuery: the first run answers at once if its index is past ?index; else it
      // waits on what the query watches, and a wait that runs out returns that first run's result.
      answerIndex = headerIndex(index());
      if (params.minIndex > 0 && answerIndex <= params.minIndex) {
        const watched = wakeIndex();
        await this.waiters.wait(wakeIndex, watched, timeout, req.signal);
        if (wakeIndex() > watched) answerIndex = headerIndex(index());
      }
    }
    const meta = {
      'x-consul-effective-consistency': 'leader',
      'x-consul-index': String(answerIndex),
      'x-consul-knownleader': 'true',
      'x-consul-lastcontact': '0',
      'x-consul-query-backend': 'blocking-query',
    };
    try {
      return this.json(200, build(filtered), meta);
    } catch (error) {
      // Consul validates some parameters only after the read, so its 400s carry the query metadata.
      if (error instanceof RegistryHttpError) throw new RegistryHttpError(error.status, error.body, { ...meta, ...error.headers });
      throw error;
    }
  }
}
