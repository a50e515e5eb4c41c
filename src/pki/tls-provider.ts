import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { FarolError, isFarolError } from '../errors.js';
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
  /** Where a refused change (one error per bad content) and each change (info) are logged. */
  logger?: Logger;
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

/**
 * Why fs.watch on the parent directory and a stat poll, by hand: fs.watch on a file loses it when
 * an editor or `mv` replaces it (the watch follows the old inode), the directory's watch sees the
 * new name; the poll catches what inotify does not report (network mounts, a symlink retargeted
 * elsewhere, as Kubernetes does with mounted secrets). chokidar would add a dependency for the
 * same two mechanisms.
 */
class FileTlsProvider<T> implements TlsProvider<T> {
  private material: T;
  private fingerprint: string;
  private readonly listeners = new Set<(material: T) => void>();
  private readonly watchers: FSWatcher[] = [];
  private readonly stats = new Map<string, string>();
  private pollTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private settleTimer: NodeJS.Timeout | undefined;
  private polling = false;
  private queuedFromFiles = false;
  private chain: Promise<unknown> = Promise.resolve();
  /** When the current run of transient refusals began (performance.now ms). */
  private pendingSince: number | undefined;
  /** The message last reported, so one bad content is reported once. */
  private reported: string | undefined;
  private closed = false;

  private constructor(
    initial: T,
    private readonly load: () => Promise<T>,
    private readonly files: string[],
    private readonly opts: TlsProviderOptions,
    private readonly shape: Shape<T>,
  ) {
    this.material = initial;
    this.fingerprint = shape.fingerprint(initial);
  }

  static async create<T>(load: () => Promise<T>, files: string[], opts: TlsProviderOptions, shape: Shape<T>): Promise<FileTlsProvider<T>> {
    const unique = [...new Set(files.map((file) => resolve(file)))];
    const stats = await statAll(unique);
    const provider = new FileTlsProvider(await load(), load, unique, opts, shape);
    for (const [file, key] of stats) provider.stats.set(file, key);
    if (unique.length > 0 && opts.watch !== false) provider.startWatching();
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
    for (const watcher of this.watchers) watcher.close();
    this.watchers.length = 0;
    clearInterval(this.pollTimer);
    clearTimeout(this.debounceTimer);
    clearTimeout(this.settleTimer);
    this.listeners.clear();
  }

  private startWatching(): void {
    const namesByDir = new Map<string, Set<string>>();
    for (const file of this.files) {
      const dir = dirname(file);
      const names = namesByDir.get(dir) ?? new Set<string>();
      names.add(basename(file));
      namesByDir.set(dir, names);
    }
    for (const [dir, names] of namesByDir) {
      try {
        const watcher = watch(dir, { persistent: false }, (_event, name) => {
          if (name === null || names.has(name.toString())) this.fileChanged();
        });
        // The directory went away or the watch broke: the poll carries on alone.
        watcher.on('error', () => watcher.close());
        this.watchers.push(watcher);
      } catch {
        // No inotify here (or the directory is missing): the poll carries on alone.
      }
    }
    const intervalMs = this.opts.pollIntervalMs ?? DEFAULT_TLS_POLL_INTERVAL_MS;
    this.pollTimer = setInterval(() => void this.poll(), Math.max(1, clampTimerDelay(intervalMs))); // options are ms: at most 2^31-1
    this.pollTimer.unref();
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const now = await statAll(this.files);
      if (this.files.some((file) => now.get(file) !== this.stats.get(file))) this.fileChanged();
    } finally {
      this.polling = false;
    }
  }

  private fileChanged(): void {
    if (this.closed) return;
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      if (this.queuedFromFiles) return;
      this.queuedFromFiles = true;
      void this.enqueue('file');
    }, clampTimerDelay(this.opts.debounceMs ?? DEFAULT_DEBOUNCE_MS));
    this.debounceTimer.unref();
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
    // Stat before reading: a write after this point is seen by the next poll.
    for (const [file, key] of await statAll(this.files)) this.stats.set(file, key);
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
    this.opts.logger?.info({ event: 'tls_reloaded', trigger, ...this.shape.describe(next) }, 'new TLS material in use for new connections');
    for (const listener of this.listeners) {
      try {
        listener(next);
      } catch (error) {
        this.opts.logger?.error({ event: 'tls_listener_failed', error: (error as Error).message }, 'a TLS change listener failed');
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
      this.opts.logger?.error(
        { event: 'tls_reload_failed', code: error.code, error: error.message, hint: error.hint },
        'new TLS material refused: the previous one stays in use',
      );
    }
    return { status: 'invalid', error };
  }
}

function asFarolError(error: unknown): FarolError {
  if (isFarolError(error)) return error;
  return new FarolError('CERT_INVALID', `TLS material could not be loaded: ${(error as Error).message}`, { hint: 'check the certificate files', cause: error });
}

/** A key per file that changes when its content is replaced or rewritten ('missing' when absent). */
async function statAll(files: string[]): Promise<Map<string, string>> {
  const entries = await Promise.all(
    files.map(async (file): Promise<[string, string]> => {
      try {
        const info = await stat(file);
        return [file, `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`];
      } catch {
        return [file, 'missing'];
      }
    }),
  );
  return new Map(entries);
}
