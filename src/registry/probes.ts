/**
 * The network side of the check runner: one HTTP(S) or TCP probe, with Consul's result texts
 * ("HTTP GET <url>: 200 OK Output: <body>", "TCP connect <addr>: Success"). HTTPS is verified
 * against the configured CA (or the system roots without one), with TLSServerName as the name
 * to verify, by Go's rules (see go-hostname.ts); verification is never turned off.
 */
import { STATUS_CODES } from 'node:http';
import { connect, isIP } from 'node:net';
import { Agent, request } from 'undici';
import { clampTimerDelay } from '../timers/long-timeout.js';
import type { CheckDefinition } from './catalog.js';
import type { Probe, ProbeResult } from './checks.js';
import { goCheckServerIdentity } from './go-hostname.js';

/** Consul keeps the last 4 KiB of a check's output (OutputMaxSize). */
const OUTPUT_MAX_BYTES = 4096;
const USER_AGENT = 'Consul Health Check';

/**
 * A check's Timeout is any Go duration; a timer beyond 2^31-1 ms would fire after 1 ms, so it is
 * clamped (a probe still waiting after 24.8 days is one that a longer wait would not save).
 */
function probeTimeoutMs(check: CheckDefinition): number {
  return Math.max(1, clampTimerDelay(check.timeoutMs));
}

function lastBytes(text: string): string {
  const bytes = Buffer.from(text);
  return bytes.length <= OUTPUT_MAX_BYTES ? text : bytes.subarray(bytes.length - OUTPUT_MAX_BYTES).toString();
}

const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
]);

/** The failure as Go's net/http client words it, where Node's error maps cleanly onto one. */
function errorText(error: unknown, url: URL, serverName: string | undefined): string {
  const err = error as { name?: string; message?: string; code?: string; reason?: string; cause?: { message?: string; code?: string } };
  const code = err.code ?? err.cause?.code;
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'context deadline exceeded (Client.Timeout exceeded while awaiting headers)';
  if (code === 'ECONNREFUSED') return `dial tcp ${url.hostname}:${port}: connect: connection refused`;
  if (code && UNTRUSTED_CODES.has(code)) return 'tls: failed to verify certificate: x509: certificate signed by unknown authority';
  if (code === 'CERT_HAS_EXPIRED') return 'tls: failed to verify certificate: x509: certificate has expired or is not yet valid';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    // goCheckServerIdentity's reason is Go's own text.
    if (err.reason?.startsWith('x509: ') === true) return `tls: failed to verify certificate: ${err.reason}`;
    return `tls: failed to verify certificate: x509: certificate is not valid for ${serverName ?? url.hostname} (${err.reason ?? err.message ?? ''})`;
  }
  return err.cause?.message ?? err.message ?? String(error);
}

async function httpProbe(check: CheckDefinition, ca: string | undefined): Promise<ProbeResult> {
  const url = check.http as string;
  const method = check.method ?? 'GET';
  const serverName = check.tlsServerName;
  const dispatcher = new Agent({
    connect: {
      ...(ca ? { ca } : {}),
      // An IP is not a TLS server name (RFC 6066): Go then sends no SNI, and verifies the IP.
      ...(serverName && isIP(serverName) === 0 ? { servername: serverName } : {}),
      // Consul (Go) verifies subjectAltName only; Node would accept a CN-only certificate.
      checkServerIdentity: (host: string, peer: { raw: Buffer }) => goCheckServerIdentity(serverName || host, peer),
    },
    pipelining: 0,
  });
  const headers: Record<string, string> = { 'user-agent': USER_AGENT, accept: 'text/plain, text/*, */*' };
  for (const [name, values] of Object.entries(check.header ?? {})) headers[name.toLowerCase()] = values.join(', ');
  try {
    const response = await request(url, {
      method: method as 'GET',
      headers,
      body: check.body,
      dispatcher,
      signal: AbortSignal.timeout(probeTimeoutMs(check)),
    });
    const body = await response.body.text();
    const statusText = `${response.statusCode} ${STATUS_CODES[response.statusCode] ?? ''}`.trimEnd();
    const output = `HTTP ${method} ${url}: ${statusText} Output: ${lastBytes(body)}`;
    if (response.statusCode >= 200 && response.statusCode <= 299) return { status: 'passing', output };
    if (response.statusCode === 429) return { status: 'warning', output };
    return { status: 'critical', output };
  } catch (error) {
    const verb = method.charAt(0) + method.slice(1).toLowerCase();
    return { status: 'critical', output: `${verb} ${JSON.stringify(url)}: ${errorText(error, new URL(url), check.tlsServerName)}` };
  } finally {
    void dispatcher.close().catch(() => undefined);
  }
}

function splitHostPort(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]*)\]?:(\d+)$/.exec(address);
  if (!match) throw new Error(`address ${address}: missing port in address`);
  return { host: match[1] as string, port: Number(match[2]) };
}

function tcpProbe(check: CheckDefinition): Promise<ProbeResult> {
  const address = check.tcp as string;
  return new Promise((resolve) => {
    let target: { host: string; port: number };
    try {
      target = splitHostPort(address);
    } catch (error) {
      resolve({ status: 'critical', output: `dial tcp ${(error as Error).message}` });
      return;
    }
    const socket = connect({ host: target.host, port: target.port });
    const finish = (result: ProbeResult) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(probeTimeoutMs(check), () => finish({ status: 'critical', output: `dial tcp ${address}: i/o timeout` }));
    socket.once('connect', () => finish({ status: 'passing', output: `TCP connect ${address}: Success` }));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'ECONNREFUSED' ? 'connect: connection refused' : error.message;
      finish({ status: 'critical', output: `dial tcp ${address}: ${reason}` });
    });
  });
}

/** The probe the registry uses: HTTP(S) verified against `ca` (PEM), or TCP connect. */
export function networkProbe(ca: string | undefined): Probe {
  return (check) => (check.type === 'tcp' ? tcpProbe(check) : httpProbe(check, ca));
}
