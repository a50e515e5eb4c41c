/**
 * The client as an undici Dispatcher: `fetch(url, { dispatcher })`, `undici.request(url, {
 * dispatcher })` and `setGlobalDispatcher(dispatcher)` send a request for `<service>.service.consul`
 * through a call (discovery → selection → retry decision → credentials → exchange); other hosts go
 * to a plain undici Agent, or are refused. The routing is an interceptor composed over the call
 * dispatcher, as undici composes its own (Dispatcher.compose wraps callers' handlers, old-style
 * ones included, into the controller API the call stages use).
 */
import { Agent, Dispatcher } from 'undici';
import { FarolError } from '../errors.js';

/** The service a request is for, put on its options by the routing interceptor. */
const SERVICE = Symbol('farol.service');
type RoutedOptions = Dispatcher.DispatchOptions & { [SERVICE]?: string };

export interface DispatcherParts {
  /** Starts a call of `service`; its end reaches `handler`. */
  startCall(service: string, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void;
  serviceOfHost(host: string): string | undefined;
  otherHosts: 'pass' | 'refuse';
  /** Whether the client is closed: then every dispatch fails with CLIENT_CLOSED. */
  isClosed(): boolean;
  /** Closes the client (dispatcher.close() and destroy() do). */
  close(): Promise<void>;
}

/** A controller for a request failed before it started (nothing to abort, pause or resume). */
class SettledController implements Dispatcher.DispatchController {
  constructor(readonly reason: Error) {}
  get aborted(): boolean {
    return true;
  }
  get paused(): boolean {
    return false;
  }
  abort(): void {}
  pause(): void {}
  resume(): void {}
}

function failRequest(handler: Dispatcher.DispatchHandler, error: Error): void {
  const controller = new SettledController(error);
  handler.onResponseError?.(controller, error);
}

/** The calls of one client, for requests the routing interceptor found a service for. */
class CallDispatcher extends Dispatcher {
  constructor(private readonly parts: DispatcherParts) {
    super();
  }

  override dispatch(opts: RoutedOptions, handler: Dispatcher.DispatchHandler): boolean {
    const service = opts[SERVICE];
    if (this.parts.isClosed()) {
      failRequest(handler, new FarolError('CLIENT_CLOSED', 'this Farol client has been closed', { hint: 'create a new client with createClient()' }));
      return false;
    }
    if (service === undefined) {
      failRequest(handler, new FarolError('NOT_A_SERVICE', 'the request names no service', { hint: 'dispatch through client.dispatcher' }));
      return false;
    }
    if (opts.upgrade !== undefined && opts.upgrade !== null && opts.upgrade !== false) {
      failRequest(handler, new FarolError('REQUEST_FAILED', `upgrades (${String(opts.upgrade)}) are not supported by the Farol dispatcher`, { hint: 'call the service with plain HTTP requests' }));
      return false;
    }
    this.parts.startCall(service, opts, handler);
    return true;
  }

  // undici's close/destroy contract: a promise, or the callback when one is given.
  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    return settle(this.parts.close(), callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(...args: unknown[]): Promise<void> | void {
    return settle(this.parts.close(), args.find((arg): arg is () => void => typeof arg === 'function'));
  }
}

function settle(closing: Promise<void>, callback: (() => void) | undefined): Promise<void> | void {
  if (callback === undefined) return closing;
  void closing.then(callback, callback);
}

/**
 * The routing interceptor: a `<service>.service.consul` host (or whatever `serviceOfHost`
 * maps) becomes a call of the service; HTTPS only, since every call is made over verified TLS.
 */
function routeByHost(parts: DispatcherParts, passThrough: () => Dispatcher): Dispatcher.DispatcherComposeInterceptor {
  // Origins repeat (fetch passes one string per host): parse each once.
  const routes = new Map<string, { url: URL | undefined; service: string | undefined }>();
  const route = (origin: unknown): { url: URL | undefined; service: string | undefined } => {
    const key = typeof origin === 'string' ? origin : undefined;
    const known = key === undefined ? undefined : routes.get(key);
    if (known) return known;
    let url: URL | undefined;
    try {
      url = origin === undefined || origin === null ? undefined : origin instanceof URL ? origin : new URL(String(origin));
    } catch {
      url = undefined;
    }
    const found = { url, service: url === undefined ? undefined : parts.serviceOfHost(url.hostname) };
    if (key !== undefined) {
      if (routes.size >= 1024) routes.clear();
      routes.set(key, found);
    }
    return found;
  };
  return (dispatch) => (opts, handler) => {
    const origin = opts.origin;
    const { url, service } = route(origin);
    if (service !== undefined) {
      if (url!.protocol !== 'https:') {
        failRequest(
          handler,
          new FarolError('NOT_A_SERVICE', `${url!.origin} names the service '${service}' but is not https: calls to services are always made over verified TLS`, {
            hint: `use https://${url!.host}${opts.path}`,
          }),
        );
        return false;
      }
      return dispatch({ ...opts, [SERVICE]: service } as RoutedOptions, handler);
    }
    if (parts.otherHosts === 'pass') return passThrough().dispatch(opts, handler);
    failRequest(
      handler,
      new FarolError('NOT_A_SERVICE', `${url?.host ?? String(origin)} is not a service host, and this client refuses other hosts`, {
        hint: "use https://<service>.service.consul/..., or createClient({ otherHosts: 'pass' }) to send other hosts through a plain undici Agent",
      }),
    );
    return false;
  };
}

export interface ServiceDispatcher {
  dispatcher: Dispatcher;
  /** Closes the pass-through agent, if one was made. */
  closePassThrough(): Promise<void>;
}

export function createServiceDispatcher(parts: DispatcherParts): ServiceDispatcher {
  let agent: Agent | undefined;
  const passThrough = (): Dispatcher => (agent ??= new Agent());
  const dispatcher = new CallDispatcher(parts).compose(routeByHost(parts, passThrough));
  return {
    dispatcher,
    async closePassThrough() {
      await agent?.close();
    },
  };
}
