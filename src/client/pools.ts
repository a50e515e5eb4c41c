import { isIP } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { buildConnector, Pool, type Dispatcher } from 'undici';
import type { Instance } from './instance.js';
import { instanceOrigin } from './instance.js';
import { CLOSED_AFTER_HANDSHAKE } from '../net-errors.js';

/**
 * The name the instance's certificate must carry. A template such as '{service}.service.consul'
 * wins; otherwise a host name address is checked as is. For an IP address there is no SNI
 * name, and Node checks the address against the certificate's IP SANs.
 */
export function serverNameFor(instance: Pick<Instance, 'service' | 'address'>, template?: string): string | undefined {
  if (template) return template.replaceAll('{service}', instance.service);
  return isIP(instance.address) === 0 ? instance.address : undefined;
}

export interface InstancePoolsOptions {
  /** PEM of the CA(s) that sign service certificates. Verification is always on. */
  ca: string;
  connectTimeoutMs: number;
  /** A client certificate (PEM) and its key, presented to instances that require mTLS. */
  clientCertificate?: { cert: string; key: string };
  /** Most connections open to one instance at once; further requests queue. Default unbounded. */
  connections?: number;
}

export interface PoolTarget {
  instance: Pick<Instance, 'address' | 'port'>;
  serverName: string | undefined;
}

/** One keep-alive undici Pool per instance origin (and TLS name), closed when it leaves the set. */
export class InstancePools {
  private readonly pools = new Map<string, Pool>();
  private readonly closing = new Set<Promise<void>>();
  private readonly alerts = new TlsAlerts();
  private closed = false;

  constructor(private opts: InstancePoolsOptions) {}

  /**
   * New TLS material (a CA bundle or client certificate that changed): the pools made so far stop
   * taking requests and close once their in-flight ones are done; new pools, with new
   * connections, use the new material.
   */
  setTls(tls: Pick<InstancePoolsOptions, 'ca' | 'clientCertificate'>): void {
    const { clientCertificate: _previous, ...rest } = this.opts;
    this.opts = { ...rest, ca: tls.ca, ...(tls.clientCertificate ? { clientCertificate: tls.clientCertificate } : {}) };
    for (const pool of this.pools.values()) this.track(pool.close());
    this.pools.clear();
  }

  get size(): number {
    return this.pools.size;
  }

  poolFor(target: PoolTarget): Pool {
    if (this.closed) throw new Error('instance pools are closed');
    const id = poolKey(target);
    let pool = this.pools.get(id);
    if (!pool) {
      const connector = buildConnector({
        ca: this.opts.ca,
        minVersion: 'TLSv1.2',
        timeout: this.opts.connectTimeoutMs,
        ...(this.opts.clientCertificate === undefined ? {} : { cert: this.opts.clientCertificate.cert, key: this.opts.clientCertificate.key }),
        ...(target.serverName === undefined ? {} : { servername: target.serverName }),
      });
      pool = new Pool(instanceOrigin(target.instance), {
        ...(this.opts.connections === undefined ? {} : { connections: this.opts.connections }),
        connect: (options, callback) =>
          connector(options, (error, socket) => {
            if (socket) this.alerts.watch(socket, this.opts.clientCertificate !== undefined);
            callback(error, socket as never);
          }),
      });
      this.pools.set(id, pool);
    }
    return pool;
  }

  /** Closes (after their in-flight requests) the pools of every target not in `targets`. */
  retainOnly(targets: Iterable<PoolTarget>): void {
    const keep = new Set<string>();
    for (const target of targets) keep.add(poolKey(target));
    for (const [id, pool] of this.pools) {
      if (!keep.has(id)) {
        this.pools.delete(id);
        this.track(pool.close());
      }
    }
  }

  /**
   * The TLS alert behind an undici "other side closed" error, if the instance sent one on that
   * connection: with TLS 1.3 a server rejects a missing or untrusted client certificate only after
   * the client's handshake is done, and undici then reports the close, not the alert.
   */
  tlsAlertBehind(error: unknown): Error | undefined {
    return this.alerts.behind(error);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pool of this.pools.values()) this.track(pool.close());
    this.pools.clear();
    await Promise.all([...this.closing]);
  }

  private track(closing: Promise<void>): void {
    const settled = closing.catch(() => undefined).finally(() => this.closing.delete(settled));
    this.closing.add(settled);
  }
}

function poolKey(target: PoolTarget): string {
  return `${instanceOrigin(target.instance)} ${target.serverName ?? ''}`;
}

/** The last TLS alerts received, by the local port of their connection (few: a handful of failed handshakes). */
class TlsAlerts {
  private static readonly KEEP = 64;
  private readonly byLocalPort = new Map<number, Error>();

  /**
   * Called with the socket right after its handshake, before undici adds its listeners, so these
   * run first. With `presentedCertificate`, a close before the peer sent a single byte is kept
   * too: Node's TLS server closes so, without an alert, on a client certificate it does not trust.
   */
  watch(socket: Socket, presentedCertificate: boolean): void {
    const localPort = socket.localPort;
    if (localPort === undefined) return;
    let alerted = false;
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (typeof error.code !== 'string' || !error.code.startsWith('ERR_SSL_')) return;
      alerted = true;
      this.keep(localPort, error);
    });
    if (!presentedCertificate) return;
    const bytesAtHandshake = socket.bytesRead;
    const closed = (): void => {
      if (alerted || socket.bytesRead !== bytesAtHandshake) return;
      const error = new Error('the service closed the connection right after the TLS handshake, before any answer') as NodeJS.ErrnoException;
      error.code = CLOSED_AFTER_HANDSHAKE;
      this.keep(localPort, error);
    };
    socket.once('end', closed);
    socket.once('close', closed);
  }

  private keep(localPort: number, error: Error): void {
    this.byLocalPort.delete(localPort);
    this.byLocalPort.set(localPort, error);
    if (this.byLocalPort.size > TlsAlerts.KEEP) this.byLocalPort.delete(this.byLocalPort.keys().next().value!);
  }

  behind(error: unknown): Error | undefined {
    const failure = error as { code?: unknown; socket?: { localPort?: unknown } } | null;
    if (failure === null || typeof failure !== 'object' || failure.code !== 'UND_ERR_SOCKET') return undefined;
    const localPort = failure.socket?.localPort;
    if (typeof localPort !== 'number') return undefined;
    const alert = this.byLocalPort.get(localPort);
    this.byLocalPort.delete(localPort);
    return alert;
  }
}

export interface Exchange {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface ExchangeRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array | null;
}

/** Why an exchange was given up: its time was up. */
export class TryTimedOut extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no complete answer within ${timeoutMs} ms`);
    this.name = 'TryTimedOut';
  }
}

/**
 * Sends one request on `dispatcher` and resolves with the whole response, its body as text; or
 * rejects with undici's error, a TryTimedOut after `timeoutMs`, or the signal's reason once it
 * aborts. A request still queued for a free connection when its time is up is given up at once.
 *
 * Why not `pool.request()` with AbortSignal.timeout(): per call that made a timer-backed signal
 * (and an AbortSignal.any with the caller's), an abort listener, a body stream and the promises
 * reading it, which cost the client more than undici's own work for a small response. Here it is
 * one handler object, one timer and the body chunks. The timer is a plain setTimeout cleared on
 * completion: Node keeps timers of equal duration in one list behind one libuv timer, so arming
 * and clearing one is a list insert and removal, and a coarse timer wheel of our own would save
 * next to nothing. (undici's headersTimeout and bodyTimeout are passed too, only as a backstop:
 * its timers are coarse, a 300 ms timeout was seen to fire after about a second.)
 */
export function exchange(dispatcher: Dispatcher, request: ExchangeRequest, timeoutMs: number, signal?: AbortSignal): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const handler = new ExchangeHandler(resolve, reject, timeoutMs, signal);
    if (handler.settled) return;
    dispatcher.dispatch(
      { method: request.method, path: request.path, headers: request.headers, body: request.body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs },
      handler,
    );
  });
}

const UTF8_BOM = 0xfeff;

class ExchangeHandler implements Dispatcher.DispatchHandler {
  settled = false;
  private controller: Dispatcher.DispatchController | undefined;
  /** Set when the exchange was given up before undici handed over its controller. */
  private abortReason: Error | undefined;
  private readonly timer: NodeJS.Timeout;
  private statusCode = 0;
  private headers: IncomingHttpHeaders = {};
  private readonly chunks: Buffer[] = [];
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly resolve: (exchange: Exchange) => void,
    private readonly reject: (error: unknown) => void,
    timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.timer = setTimeout(timedOut, timeoutMs, this, timeoutMs);
    if (signal) {
      if (signal.aborted) {
        this.giveUp(abortReasonOf(signal));
        return;
      }
      this.onAbort = () => this.giveUp(abortReasonOf(signal));
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  giveUp(reason: Error): void {
    if (this.settled) return;
    if (this.controller) this.controller.abort(reason);
    else this.abortReason = reason;
    this.settle();
    this.reject(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason) controller.abort(this.abortReason);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.statusCode = statusCode;
    this.headers = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.settled) return;
    this.settle();
    const chunks = this.chunks;
    let body = chunks.length === 0 ? '' : chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
    // As undici's body.text(): a leading byte order mark is not part of the text.
    if (body.charCodeAt(0) === UTF8_BOM) body = body.slice(1);
    this.resolve({ statusCode: this.statusCode, headers: this.headers, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.settled) return;
    this.settle();
    this.reject(error);
  }

  private settle(): void {
    this.settled = true;
    clearTimeout(this.timer);
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
  }
}

function timedOut(handler: ExchangeHandler, timeoutMs: number): void {
  handler.giveUp(new TryTimedOut(timeoutMs));
}

function abortReasonOf(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('This operation was aborted', 'AbortError');
}
