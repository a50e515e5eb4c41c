import type { Socket } from 'node:net';
import { CLOSED_AFTER_HANDSHAKE } from '../net-errors.js';

/** The socket facts an alert is filed under: what undici's SocketError.socket also carries. */
interface ConnectionFacts {
  readonly localPort?: number | undefined;
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
}

function connectionKey(facts: ConnectionFacts): string | undefined {
  const { localPort, remoteAddress, remotePort } = facts;
  if (typeof localPort !== 'number' || typeof remoteAddress !== 'string' || typeof remotePort !== 'number') return undefined;
  return `${localPort} ${remoteAddress} ${remotePort}`;
}

/**
 * The last TLS alerts received (and closes right after a handshake), filed under their
 * connection's local port and remote address and port, so that undici's bare "other side
 * closed" (UND_ERR_SOCKET) can be told apart from a refused client certificate. undici's error
 * names the connection only by those facts, not by the socket, hence the key. An entry is only
 * believed for `maxAgeMs` (undici's error follows the close at once): a later connection that
 * reuses the same ports must never inherit it.
 */
export class TlsAlerts {
  private static readonly KEEP = 64;
  private readonly byConnection = new Map<string, { error: Error; at: number }>();

  constructor(
    private readonly maxAgeMs = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Called with the socket right after its handshake, before undici adds its listeners, so these
   * run first. With `presentedCertificate`, a close before the peer sent a single byte is kept
   * too: Node's TLS server closes so, without an alert, on a client certificate it does not trust.
   */
  watch(socket: Socket, presentedCertificate: boolean): void {
    const key = connectionKey(socket);
    if (key === undefined) return;
    let alerted = false;
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (typeof error.code !== 'string' || !error.code.startsWith('ERR_SSL_')) return;
      alerted = true;
      this.keep(key, error);
    });
    if (!presentedCertificate) return;
    const bytesAtHandshake = socket.bytesRead;
    const closed = (): void => {
      if (alerted || socket.bytesRead !== bytesAtHandshake) return;
      const error = new Error('the service closed the connection right after the TLS handshake, before any answer') as NodeJS.ErrnoException;
      error.code = CLOSED_AFTER_HANDSHAKE;
      this.keep(key, error);
    };
    socket.once('end', closed);
    socket.once('close', closed);
  }

  /** The alert behind undici's UND_ERR_SOCKET on the same connection, if one came within maxAgeMs; each is handed out once. */
  behind(error: unknown): Error | undefined {
    const failure = error as { code?: unknown; socket?: ConnectionFacts } | null;
    if (failure === null || typeof failure !== 'object' || failure.code !== 'UND_ERR_SOCKET' || failure.socket === undefined) return undefined;
    const key = connectionKey(failure.socket);
    if (key === undefined) return undefined;
    const entry = this.byConnection.get(key);
    this.byConnection.delete(key);
    return entry !== undefined && this.now() - entry.at <= this.maxAgeMs ? entry.error : undefined;
  }

  private keep(key: string, error: Error): void {
    this.byConnection.delete(key);
    this.byConnection.set(key, { error, at: this.now() });
    if (this.byConnection.size > TlsAlerts.KEEP) this.byConnection.delete(this.byConnection.keys().next().value!);
  }
}
