import { FarolError, isFarolError } from '../errors.js';
import { watchFiles, type FileWatch } from '../files/watch-files.js';
import { channels, eventError, type EventOwner } from '../events/channels.js';
import { componentEvents, type ComponentEvents } from '../events/owner.js';
import type { Logger } from '../log/logger.js';
import { clampTimerDelay } from '../timers/long-timeout.js';
import { loadCaSource, loadKeyPairSource, type LoadedCa, type LoadedKeyPair } from './load.js';
import { sourceFiles, type CaSource, type KeyPairSource } from './sources.js';

/** What a TLS server presents and (for mTLS) whom it trusts. */
export interface ServerTlsState {
  keyPair: LoadedKeyPair;
  /** CA(s) that issue the client certificates the server accepts. */
  clientCa?: LoadedCa;
}

/** Whom a TLS client trusts and (for mTLS) what it presents. */
export interface ClientTlsState {
  ca: LoadedCa;
  clientCertificate?: LoadedKeyPair;
}

export type TlsReloadOutcome =
  | { status: 'changed' | 'unchanged' }
  /** A file was refused for a reason a half-written pair also gives; it is read again shortly. */
  | { status: 'pending'; error: FarolError }
  /** Refused: the previous material stays in use. */
  | { status: 'invalid'; error: FarolError };

/**
 * The current, validated TLS material. Material from files is read again when a file changes
 * (and on reload()); a change is validated before it replaces the current material, and
 * subscribers are told. Material from PEM text never changes.
 */
export interface TlsProvider<T> {
  current(): T;
  reload(): Promise<TlsReloadOutcome>;
  /** Called with the new material after each change; returns a function that unsubscribes. */
  onChange(listener: (material: T) => void): () => void;
  /** Stops watching the files. */
  close(): void;
}

export interface TlsProviderOptions {
  /** Where a refused change (one error per bad content) and each change (info) are logged, for a provider made on its own. */
  logger?: Logger;
  /** The owner to publish events under (the client or service that made the provider); its logger writes the lines. */
  events?: EventOwner;
  /** Watch the files and reload on change. Default true. */
  watch?: boolean;
  /** The stat poll behind fs.watch (network file systems, symlink swaps). Default 1000 ms. */
  pollIntervalMs?: number;
  /**
   * How long a key that does not match its certificate (or an unreadable file) may be a pair
   * in the middle of being written, before it is reported. Default 2000 ms.
   */
  settleMs?: number;
  /** Coalesces the events of one write. Default 50 ms. */
  debounceMs?: number;
  /** The clock validity is checked against. */
  now?: () => Date;
}

export const DEFAULT_TLS_POLL_INTERVAL_MS = 1000;
export const DEFAULT_TLS_SETTLE_MS = 2000;
const DEFAULT_DEBOUNCE_MS = 50;

/** A server's key pair, checked against `ca` when given, and the CA of its callers' certificates. */
export async function createServerTlsProvider(
  sources: { keyPair: KeyPairSource; ca?: CaSource; clientCa?: CaSource },
  opts: TlsProviderOptions = {},
): Promise<TlsProvider<ServerTlsState>> {
  const load = async (): Promise<ServerTlsState> => {
    const now = opts.now?.() ?? new Date();
    const [ca, clientCa] = await Promise.all([
      sources.ca === undefined ? undefined : loadCaSource(sources.ca, now),
      sources.clientCa === undefined ? undefined : loadCaSource(sources.clientCa, now),
    ]);
    const keyPair = await loadKeyPairSource(sources.keyPair, ca ? { ca, now } : { now });
    return { keyPair, ...(clientCa ? { clientCa } : {}) };
  };
  const files = [sources.keyPair, sources.ca, sources.clientCa].flatMap((source) => (source ? sourceFiles(source) : []));
  return FileTlsProvider.create(load, files, opts, {
    fingerprint: (state) => [state.keyPair.certPem, state.keyPair.keyPem, state.clientCa?.pem ?? ''].join('\0'),
    describe: (state) => ({ what: 'server certificate', ...certificateFacts(state.keyPair), clientCas: state.clientCa?.certificates.length ?? 0 }),
  });
}

/** A client's trusted CA bundle and the certificate it presents to services that ask for one. */
export async function createClientTlsProvider(
  sources: { ca: CaSource; clientCertificate?: KeyPairSource },
  opts: TlsProviderOptions = {},
): Promise<TlsProvider<ClientTlsState>> {
  const load = async (): Promise<ClientTlsState> => {
    const now = opts.now?.() ?? new Date();
    const [ca, clientCertificate] = await Promise.all([
      loadCaSource(sources.ca, now),
      sources.clientCertificate === undefined ? undefined : loadKeyPairSource(sources.clientCertificate, { now }),
    ]);
    return { ca, ...(clientCertificate ? { clientCertificate } : {}) };
  };
  const files = [sources.ca, sources.clientCertificate].flatMap((source) => (source ? sourceFiles(source) : []));
  return FileTlsProvider.create(load, files, opts, {
    fingerprint: (state) => [state.ca.pem, state.clientCertificate?.certPem ?? '', state.clientCertificate?.keyPem ?? ''].join('\0'),
    describe: (state) => ({
      what: 'client TLS',
      cas: state.ca.certificates.length,
      ...(state.clientCertificate ? certificateFacts(state.clientCertificate) : {}),
    }),
  });
}

function certificateFacts(pair: LoadedKeyPair): Record<string, string> {
  return { serial: pair.certificate.serialNumber, notAfter: new Date(pair.certificate.validTo).toISOString() };
}

interface Shape<T> {
  fingerprint: (material: T) => string;
  describe: (material: T) => Record<string, unknown>;
}

type Trigger = 'file' | 'settle' | 'explicit';

/** The files are followed by watchFiles (folder watch + stat poll), which the provider marks at each read. */
class FileTlsProvider<T> implements TlsProvider<T> {
  private material: T;
  private fingerprint: string;
  private readonly listeners = new Set<(material: T) => void>();
  private fileWatch: FileWatch | undefined;
  private settleTimer: NodeJS.Timeout | undefined;
  private queuedFromFiles = false;
  private chain: Promise<unknown> = Promise.resolve();
  /** When the current run of transient refusals began (performance.now ms). */
  private pendingSince: number | undefined;
  /** The message last reported, so one bad content is reported once. */
  private reported: string | undefined;
  private closed = false;
  private readonly events: ComponentEvents;

  private constructor(
    initial: T,
    private readonly load: () => Promise<T>,
    private readonly opts: TlsProviderOptions,
    private readonly shape: Shape<T>,
  ) {
    this.events = componentEvents('tls', 'tls', opts);
    this.material = initial;
    this.fingerprint = shape.fingerprint(initial);
  }

  static async create<T>(load: () => Promise<T>, files: string[], opts: TlsProviderOptions, shape: Shape<T>): Promise<FileTlsProvider<T>> {
    // Watching starts (and marks the files) before the first read, so no write between them is
    // missed; a notice that comes before the provider exists is noticed again by the next poll.
    const onFileChange = { changed: (): void => undefined };
    const fileWatch = files.length > 0 && opts.watch !== false
      ? await watchFiles(files, () => onFileChange.changed(), {
          debounceMs: opts.debounceMs ?? DEFAULT_DEBOUNCE_MS,
          pollIntervalMs: opts.pollIntervalMs ?? DEFAULT_TLS_POLL_INTERVAL_MS,
        })
      : undefined;
    let initial: T;
    try {
      initial = await load();
    } catch (error) {
      fileWatch?.close();
      throw error;
    }
    const provider = new FileTlsProvider(initial, load, opts, shape);
    provider.fileWatch = fileWatch;
    onFileChange.changed = () => provider.fileChanged();
    return provider;
  }

  current(): T {
    return this.material;
  }

  onChange(listener: (material: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  reload(): Promise<TlsReloadOutcome> {
    return this.enqueue('explicit');
  }

  close(): void {
    this.closed = true;
    this.events.close();
    this.fileWatch?.close();
    clearTimeout(this.settleTimer);
    this.listeners.clear();
  }

  private fileChanged(): void {
    if (this.closed || this.queuedFromFiles) return;
    this.queuedFromFiles = true;
    void this.enqueue('file');
  }

  private enqueue(trigger: Trigger): Promise<TlsReloadOutcome> {
    const run = this.chain.then(() => {
      if (trigger === 'file') this.queuedFromFiles = false;
      return this.attempt(trigger);
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async attempt(trigger: Trigger): Promise<TlsReloadOutcome> {
    if (this.closed) return { status: 'unchanged' };
    // Marked before reading: a write after this point is noticed again.
    await this.fileWatch?.mark();
    let next: T;
    try {
      next = await this.load();
    } catch (caught) {
      return this.refused(asFarolError(caught), trigger);
    }
    this.pendingSince = undefined;
    clearTimeout(this.settleTimer);
    this.reported = undefined;
    const fingerprint = this.shape.fingerprint(next);
    if (fingerprint === this.fingerprint || this.closed) return { status: 'unchanged' };
    this.material = next;
    this.fingerprint = fingerprint;
    if (channels.tlsReloaded.hasSubscribers) channels.tlsReloaded.publish({ owner: this.events.owner, trigger, material: this.shape.describe(next) });
    for (const listener of this.listeners) {
      try {
        listener(next);
      } catch (error) {
        if (channels.tlsFailed.hasSubscribers) channels.tlsFailed.publish({ owner: this.events.owner, stage: 'listener', error: eventError(error) });
      }
    }
    return { status: 'changed' };
  }

  private refused(error: FarolError, trigger: Trigger): TlsReloadOutcome {
    const reason = error.details?.reason;
    const settleMs = this.opts.settleMs ?? DEFAULT_TLS_SETTLE_MS;
    if (trigger !== 'explicit' && (reason === 'key_mismatch' || reason === 'unreadable')) {
      const now = performance.now();
      this.pendingSince ??= now;
      const leftMs = this.pendingSince + settleMs - now;
      if (leftMs > 0) {
        clearTimeout(this.settleTimer);
        this.settleTimer = setTimeout(() => void this.enqueue('settle'), clampTimerDelay(leftMs));
        this.settleTimer.unref();
        return { status: 'pending', error };
      }
    }
    this.pendingSince = undefined;
    if (this.reported !== error.message) {
      this.reported = error.message;
      if (channels.tlsFailed.hasSubscribers) {
        channels.tlsFailed.publish({ owner: this.events.owner, stage: 'reload', error: { code: error.code, message: error.message, hint: error.hint } });
      }
    }
    return { status: 'invalid', error };
  }
}

function asFarolError(error: unknown): FarolError {
  if (isFarolError(error)) return error;
  return new FarolError('CERT_INVALID', `TLS material could not be loaded: ${(error as Error).message}`, { hint: 'check the certificate files', cause: error });
}
