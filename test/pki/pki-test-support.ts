import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadX509, type X509 } from '../../src/pki/crypto-provider.js';

const x509 = loadX509();

/** A fresh temp directory and a function that removes it. */
export async function makeTempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'farol-pki-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export function nodeCertificate(pem: string): X509Certificate {
  return new X509Certificate(pem);
}

/** The certificate parsed by @peculiar/x509, for looking at extensions node:crypto does not expose. */
export function parsedCertificate(pem: string): X509.X509Certificate {
  return new x509.X509Certificate(pem);
}

export interface RunningHttpsServer {
  port: number;
  /** Handshakes the server refused, with OpenSSL's reason (e.g. a client certificate it could not verify). */
  clientErrors: Error[];
  close: () => Promise<void>;
}

/** An HTTPS server on 127.0.0.1 (ephemeral port) answering every request with the peer's identity, if any. */
export async function startHttpsServer(options: https.ServerOptions): Promise<RunningHttpsServer> {
  const server = https.createServer(options, (request, response) => {
    const socket = request.socket as TLSSocket;
    const peer = socket.getPeerCertificate();
    const peerName = peer && typeof peer.subject === 'object' ? peer.subject.CN : undefined;
    response.end(JSON.stringify({ ok: true, authorized: socket.authorized, peer: peerName ?? null }));
  });
  const clientErrors: Error[] = [];
  server.on('tlsClientError', (error) => clientErrors.push(error));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    clientErrors,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface HttpsGetResult {
  status: number;
  body: { ok: boolean; authorized: boolean; peer: string | null };
}

/** GET / over HTTPS with full verification (never disabled), without connection reuse. */
export function httpsGet(options: https.RequestOptions): Promise<HttpsGetResult> {
  return new Promise((resolve, reject) => {
    const request = https.get({ path: '/', agent: false, timeout: 10_000, ...options }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as HttpsGetResult['body'] }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error('request timed out')));
    request.on('error', reject);
  });
}

/** Polls `condition` every 10 ms, for at most `timeoutMs`; rejects if it never holds. */
export async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  for (let waited = 0; waited < timeoutMs; waited += 10) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (!condition()) throw new Error(`condition not met within ${timeoutMs} ms`);
}
