/**
 * `fetch` through a Farol client's dispatcher to ONE instance, against `fetch` with a plain undici
 * Agent (keep-alive, the same CA) to the same instance, in the same run: what discovery, selection,
 * the retry decision and the events cost a fetch. Goal: the dispatcher row at ≥ 0.9× the Agent's.
 *
 * The instance is a bare node:https server in a child process answering a small JSON; discovery
 * comes from the embedded registry (src/registry), so no Consul binary is needed. The two rows
 * alternate in slices (--rounds) so a machine whose speed drifts weighs on both alike.
 *
 *   node --import tsx bench/fetch-dispatcher.ts --seconds 3 --concurrency 16
 *   import { benchFetchDispatcher } from './fetch-dispatcher.js'  (from bench/fleet.ts)
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, type Dispatcher } from 'undici';
import { createClient, createCertificateAuthority, issueCertificate } from '../src/index.js';
import { ConsulClient } from '../src/consul/index.js';
import { startRegistry } from '../src/registry/index.js';

export interface FetchDispatcherOptions {
  /** Measured seconds per row, split over the rounds. Default 3. */
  seconds?: number;
  /** Fetches in flight at once. Default 16. */
  concurrency?: number;
  /** Slices each row is measured in, alternating. Default 4. */
  rounds?: number;
}

export interface FetchDispatcherResult {
  agent: { requests: number; perSecond: number };
  dispatcher: { requests: number; perSecond: number };
  /** dispatcher.perSecond / agent.perSecond (goal ≥ 0.9). */
  ratio: number;
}

const SERVER = `
const { createServer } = require('node:https');
const body = JSON.stringify({ ok: true, instance: 'bench' });
const server = createServer({ cert: process.env.CERT, key: process.env.KEY }, (req, res) => {
  req.resume();
  req.on('end', () => { res.setHeader('content-type', 'application/json'); res.end(body); });
});
server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

async function load(url: string, dispatcher: Dispatcher, concurrency: number, ms: number): Promise<number> {
  const until = performance.now() + ms;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < until) {
      const response = await fetch(url, { dispatcher } as object as RequestInit);
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`status ${response.status}`);
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done;
}

export async function benchFetchDispatcher(options: FetchDispatcherOptions = {}): Promise<FetchDispatcherResult> {
  const seconds = options.seconds ?? 3;
  const concurrency = options.concurrency ?? 16;
  const rounds = options.rounds ?? 4;
  const ca = await createCertificateAuthority({ commonName: 'Farol bench CA' });
  const leaf = await issueCertificate(ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const child = spawn(process.execPath, ['-e', SERVER], { env: { ...process.env, CERT: leaf.certPem, KEY: leaf.keyPem }, stdio: ['pipe', 'pipe', 'inherit'] });
  const registry = await startRegistry({ port: 0 });
  const consul = new ConsulClient({ address: registry.address });
  const agent = new Agent({ connect: { ca: ca.certPem }, connections: 32 });
  const client = createClient({ consul, tls: { ca: { pem: ca.certPem } }, tracing: false });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the bench instance did not start within 10 s')), 10_000);
      child.stdout!.on('data', (data: Buffer) => {
        const match = /port (\d+)/.exec(data.toString());
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
    });
    await consul.agent.registerService({ ID: 'bench-1', Name: 'bench', Address: '127.0.0.1', Port: port });
    const direct = `https://127.0.0.1:${port}/`;
    const viaFarol = 'https://bench.service.consul/';
    // Warm-up: connections, JIT, the first discovery answer.
    await load(direct, agent, concurrency, 300);
    await load(viaFarol, client.dispatcher, concurrency, 300);
    const sliceMs = (seconds * 1000) / rounds;
    let agentRequests = 0;
    let dispatcherRequests = 0;
    for (let round = 0; round < rounds; round += 1) {
      // Alternate which row goes first, so neither always inherits the other's garbage.
      if (round % 2 === 0) {
        agentRequests += await load(direct, agent, concurrency, sliceMs);
        dispatcherRequests += await load(viaFarol, client.dispatcher, concurrency, sliceMs);
      } else {
        dispatcherRequests += await load(viaFarol, client.dispatcher, concurrency, sliceMs);
        agentRequests += await load(direct, agent, concurrency, sliceMs);
      }
    }
    const agentRate = agentRequests / seconds;
    const dispatcherRate = dispatcherRequests / seconds;
    return {
      agent: { requests: agentRequests, perSecond: agentRate },
      dispatcher: { requests: dispatcherRequests, perSecond: dispatcherRate },
      ratio: dispatcherRate / agentRate,
    };
  } finally {
    await client.close();
    await agent.close();
    await consul.close();
    await registry.close();
    child.stdin!.end();
    child.kill();
  }
}

export function formatFetchDispatcher(result: FetchDispatcherResult): string {
  const row = (name: string, r: { requests: number; perSecond: number }): string => `${name.padEnd(44)} ${r.perSecond.toFixed(0).padStart(8)} req/s  (${r.requests} requests)`;
  return [
    row('fetch + plain undici Agent, one instance', result.agent),
    row('fetch + Farol dispatcher, same instance', result.dispatcher),
    `ratio dispatcher / Agent: ${result.ratio.toFixed(2)}× (goal ≥ 0.90×)`,
  ].join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, concurrency: { type: 'string' }, rounds: { type: 'string' } } });
  const result = await benchFetchDispatcher({
    ...(values.seconds ? { seconds: Number(values.seconds) } : {}),
    ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}),
    ...(values.rounds ? { rounds: Number(values.rounds) } : {}),
  });
  console.log(formatFetchDispatcher(result));
}
