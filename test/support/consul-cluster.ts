/**
 * A real Consul cluster for tests: N server agents and M client agents of the project's own
 * Consul build, all on 127.0.0.1, each with its own ports (picked free here, as consul-agent.ts
 * does: Consul turns a port of 0 into "disabled") and its own data dir under one temp dir, joined
 * with retry_join. Optional default-deny ACLs (bootstrapped with a known management token) and an
 * HTTPS-only HTTP API whose certificates come from an in-process test CA (src/pki).
 *
 * Agents keep their data dir across stop()/start(), like a process restart on a real host, and
 * never leave the cluster on a signal (leave_on_terminate false, skip_leave_on_interrupt true):
 * a restarted server is still a raft voter, a killed client agent's node goes critical.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { createCertificateAuthority, issueCertificate, type PemPair } from '../../src/pki/index.js';
import { findConsulBinary, freePort } from './consul-agent.js';

export type ClusterRole = 'server' | 'client';

export interface StartConsulClusterOptions {
  /** Server agents (bootstrap_expect is this number). Default 3. */
  servers?: number;
  /** Client agents. Default 2. */
  clients?: number;
  /** ACLs on, with this default policy; the fixture's management token is also every agent's token. */
  acl?: { defaultPolicy?: 'deny' | 'allow'; managementToken?: string };
  /**
   * The HTTP API over HTTPS only (ports.http -1), with a certificate for 127.0.0.1/localhost from a
   * test CA made here (or `ca` if given). `verifyIncoming` makes Consul require a client certificate.
   */
  https?: { verifyIncoming?: boolean; ca?: PemPair };
  /** A CA the agents trust for HTTPS health checks (enable_agent_tls_for_checks), e.g. the services' CA. */
  checksCaFile?: string;
  /** Merged (deeply) over every agent's generated configuration. */
  extraConfig?: Record<string, unknown>;
  /** Bound on start-up (leader elected and every member alive). Default 60 s. */
  startTimeoutMs?: number;
}

export interface ClusterAgent {
  /** The node name: "server-1".., "client-a".. */
  readonly name: string;
  readonly role: ClusterRole;
  /** http://127.0.0.1:PORT, or https://127.0.0.1:PORT with `https`: what `consul: { address }` takes. */
  readonly httpAddress: string;
  /** The same as httpAddress (the shape test/support/consul-health.ts reads). */
  readonly httpAddr: string;
  /** 127.0.0.1:PORT of the server RPC port, as /v1/status/leader and /v1/status/peers name a server. */
  readonly rpcAddress: string;
  /** 127.0.0.1:PORT of Serf LAN (what retry_join points at). */
  readonly serfAddress: string;
  /** The process id while it runs. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** The agent's log file (kept in the cluster's temp dir until close()). */
  readonly logFile: string;
  /** Sends `signal` (default SIGTERM; SIGKILL after 10 s) and waits for the process to exit. Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts the agent again on the same ports and data dir; resolves once its HTTP API answers.
   * `forgetLocalState` removes the services and checks it persisted (an agent whose host lost them).
   */
  start(opts?: { forgetLocalState?: boolean }): Promise<void>;
}

export interface ClusterTls {
  /** The test CA (its key too, for issuing more certificates in a test). */
  ca: PemPair;
  caFile: string;
  /** A client certificate from the same CA (what verify_incoming asks for). */
  clientCertFile: string;
  clientKeyFile: string;
  /** The variables as Consul's CLI reads them. */
  env: { CONSUL_CACERT: string; CONSUL_CLIENT_CERT: string; CONSUL_CLIENT_KEY: string };
}

export interface ConsulCluster {
  readonly agents: readonly ClusterAgent[];
  readonly servers: readonly ClusterAgent[];
  readonly clients: readonly ClusterAgent[];
  /** The cluster's temp dir (data dirs, configs, logs, certificates). */
  readonly dir: string;
  /** With `acl`: the management token (initial_management). */
  readonly managementToken: string | undefined;
  /** With `https`: the CA and client certificate files. */
  readonly tls: ClusterTls | undefined;
  agent(name: string): ClusterAgent;
  /** The server the running servers name as leader, or undefined when none is known (no quorum). */
  leader(): Promise<ClusterAgent | undefined>;
  /** Waits (bounded; default 30 s) until every running server names the same leader, and returns it. */
  waitForLeader(opts?: { timeoutMs?: number; not?: ClusterAgent }): Promise<ClusterAgent>;
  /** Waits (bounded; default 30 s) until the given agents (default: all) are alive members. */
  waitForMembers(opts?: { timeoutMs?: number; names?: string[] }): Promise<void>;
  /** GET a JSON API path from `agent` (default: the first running server), with the management token if any. */
  api(path: string, agent?: ClusterAgent, init?: { method?: string; body?: unknown; token?: string }): Promise<ApiAnswer>;
  /** Kills every agent and removes the temp dir (FAROL_KEEP_CONSUL_LOGS keeps it). Safe to call twice. */
  close(): Promise<void>;
}

export interface ApiAnswer {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

interface ClusterPorts {
  http: number;
  server: number;
  serfLan: number;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

async function tail(file: string, lines = 30): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-lines).join('\n');
  } catch {
    return '(no agent log)';
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveExit) => child.once('exit', () => resolveExit()));
}

class PortClash extends Error {}

export interface AgentConfigInput {
  name: string;
  role: ClusterRole;
  ports: ClusterPorts;
  dataDir: string;
  serverCount: number;
  retryJoin: string[];
  https: boolean;
  acl?: { defaultPolicy: 'deny' | 'allow'; managementToken: string };
  tlsFiles?: { caFile?: string; certFile?: string; keyFile?: string; verifyIncoming: boolean };
  checksTls: boolean;
}

/** The JSON configuration of one cluster agent (pure, for reading and testing). */
export function clusterAgentConfig(input: AgentConfigInput): Record<string, unknown> {
  const server = input.role === 'server';
  const config: Record<string, unknown> = {
    node_name: input.name,
    datacenter: 'dc1',
    data_dir: input.dataDir,
    server,
    bind_addr: '127.0.0.1',
    client_addr: '127.0.0.1',
    advertise_addr: '127.0.0.1',
    retry_join: input.retryJoin,
    retry_interval: '1s',
    // A signal restarts the process on its "host"; it does not take the node out of the cluster.
    leave_on_terminate: false,
    skip_leave_on_interrupt: true,
    disable_update_check: true,
    log_level: 'INFO',
    // Raft's fastest timings (production's recommendation, too): 1 s election timeout on loopback.
    performance: { raft_multiplier: 1 },
    ports: {
      http: input.https ? -1 : input.ports.http,
      https: input.https ? input.ports.http : -1,
      server: input.ports.server,
      serf_lan: input.ports.serfLan,
      serf_wan: -1,
      dns: -1,
      grpc: -1,
      grpc_tls: -1,
    },
  };
  if (server) {
    config.bootstrap_expect = input.serverCount;
    // min_quorum keeps autopilot from removing a killed server from raft while the test restarts it.
    config.autopilot = { min_quorum: input.serverCount, server_stabilization_time: '1s', cleanup_dead_servers: true };
  }
  if (input.acl !== undefined) {
    config.acl = {
      enabled: true,
      default_policy: input.acl.defaultPolicy,
      down_policy: 'extend-cache',
      enable_token_persistence: true,
      // The agent token lets each agent sync its node (anti-entropy) under default-deny.
      tokens: server ? { initial_management: input.acl.managementToken, agent: input.acl.managementToken } : { agent: input.acl.managementToken },
    };
  }
  const tls: Record<string, unknown> = {};
  if (input.tlsFiles?.caFile !== undefined) tls.defaults = { ca_file: input.tlsFiles.caFile };
  if (input.https && input.tlsFiles?.certFile !== undefined) {
    tls.https = { cert_file: input.tlsFiles.certFile, key_file: input.tlsFiles.keyFile, verify_incoming: input.tlsFiles.verifyIncoming };
  }
  if (Object.keys(tls).length > 0) config.tls = tls;
  // Consul 1.15 verifies HTTPS checks with the agent's CA only with this switch (tlsutil.OutgoingTLSConfigForCheck).
  if (input.checksTls) config.enable_agent_tls_for_checks = true;
  return config;
}

class ClusterAgentProcess implements ClusterAgent {
  readonly httpAddress: string;
  readonly httpAddr: string;
  readonly rpcAddress: string;
  readonly serfAddress: string;
  readonly logFile: string;
  readonly dataDir: string;
  readonly configFile: string;
  #child: ChildProcess | undefined;
  #killOnExit: (() => void) | undefined;

  constructor(
    readonly name: string,
    readonly role: ClusterRole,
    readonly ports: ClusterPorts,
    private readonly binary: string,
    dir: string,
    https: boolean,
    private readonly probe: (agent: ClusterAgentProcess) => Promise<boolean>,
  ) {
    this.httpAddress = `${https ? 'https' : 'http'}://127.0.0.1:${ports.http}`;
    this.httpAddr = this.httpAddress;
    this.rpcAddress = `127.0.0.1:${ports.server}`;
    this.serfAddress = `127.0.0.1:${ports.serfLan}`;
    this.logFile = join(dir, `${name}.log`);
    this.dataDir = join(dir, name, 'data');
    this.configFile = join(dir, name, 'config.json');
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    const child = this.#child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  async start(opts: { forgetLocalState?: boolean } = {}, timeoutMs = 30_000): Promise<void> {
    if (this.running) throw new Error(`Consul agent ${this.name} is already running`);
    if (opts.forgetLocalState) {
      await rm(join(this.dataDir, 'services'), { recursive: true, force: true });
      await rm(join(this.dataDir, 'checks'), { recursive: true, force: true });
    }
    const log = await open(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.binary, ['agent', `-config-file=${this.configFile}`], { stdio: ['ignore', log.fd, log.fd] });
    } finally {
      await log.close();
    }
    child.unref();
    this.#child = child;
    const killOnExit = (): void => {
      child.kill('SIGKILL');
    };
    this.#killOnExit = killOnExit;
    process.once('exit', killOnExit);
    void exited(child).then(() => {
      process.removeListener('exit', killOnExit);
    });

    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (!this.running) {
        const logTail = await tail(this.logFile);
        const message = `Consul agent ${this.name} exited during start-up (${child.exitCode ?? child.signalCode}); log tail:\n${logTail}`;
        throw /address already in use/i.test(logTail) ? new PortClash(message) : new Error(message);
      }
      if (await this.probe(this)) return;
      await sleep(50);
    }
    await this.stop('SIGKILL');
    throw new Error(`Consul agent ${this.name}'s HTTP API (${this.httpAddress}) did not answer within ${timeoutMs} ms; log tail:\n${await tail(this.logFile)}`);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    if (this.running) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited(child);
      clearTimeout(timer);
    }
    if (this.#killOnExit) process.removeListener('exit', this.#killOnExit);
    this.#killOnExit = undefined;
    this.#child = undefined;
  }

  killNow(): void {
    if (this.running) this.#child?.kill('SIGKILL');
  }
}

async function distinctPorts(count: number): Promise<number[]> {
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(await freePort(true));
  return [...chosen];
}

class Cluster implements ConsulCluster {
  readonly agents: ClusterAgentProcess[] = [];
  #closed = false;
  readonly #dispatcher: Dispatcher;
  readonly #onExit: () => void;

  constructor(
    readonly dir: string,
    readonly managementToken: string | undefined,
    readonly tls: ClusterTls | undefined,
    dispatcher: Dispatcher,
  ) {
    this.#dispatcher = dispatcher;
    this.#onExit = () => {
      for (const agent of this.agents) agent.killNow();
      if (!process.env.FAROL_KEEP_CONSUL_LOGS) rmSync(this.dir, { recursive: true, force: true });
    };
    process.once('exit', this.#onExit);
  }

  get servers(): ClusterAgentProcess[] {
    return this.agents.filter((a) => a.role === 'server');
  }

  get clients(): ClusterAgentProcess[] {
    return this.agents.filter((a) => a.role === 'client');
  }

  agent(name: string): ClusterAgent {
    const found = this.agents.find((a) => a.name === name);
    if (found === undefined) throw new Error(`no agent named ${name} (have ${this.agents.map((a) => a.name).join(', ')})`);
    return found;
  }

  async api(path: string, agent?: ClusterAgent, init: { method?: string; body?: unknown; token?: string } = {}): Promise<ApiAnswer> {
    const target = agent ?? this.servers.find((s) => s.running) ?? this.agents.find((a) => a.running);
    if (target === undefined) throw new Error('no Consul agent of the cluster is running');
    const token = init.token ?? this.managementToken;
    const response = await request(`${target.httpAddress}${path}`, {
      method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
      dispatcher: this.#dispatcher,
      headers: { ...(token === undefined ? {} : { 'x-consul-token': token }), ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(5000),
    });
    const text = await response.body.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.statusCode, body, headers: response.headers };
  }

  /** The server named by this server as leader ("" when it knows none); undefined when it does not answer. */
  async #leaderSeenBy(server: ClusterAgent): Promise<string | undefined> {
    try {
      const answer = await this.api('/v1/status/leader', server);
      return answer.status === 200 && typeof answer.body === 'string' ? answer.body : undefined;
    } catch {
      return undefined;
    }
  }

  async leader(): Promise<ClusterAgent | undefined> {
    for (const server of this.servers.filter((s) => s.running)) {
      const address = await this.#leaderSeenBy(server);
      const leader = this.servers.find((s) => s.rpcAddress === address);
      if (leader !== undefined) return leader;
    }
    return undefined;
  }

  async waitForLeader(opts: { timeoutMs?: number; not?: ClusterAgent } = {}): Promise<ClusterAgent> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const deadline = performance.now() + timeoutMs;
    let seen = 'no server answered';
    while (performance.now() < deadline) {
      const running = this.servers.filter((s) => s.running);
      const views = await Promise.all(running.map(async (s) => [s.name, await this.#leaderSeenBy(s)] as const));
      seen = views.map(([name, view]) => `${name} sees ${view === undefined ? '(no answer)' : view === '' ? '(no leader)' : view}`).join(', ');
      const addresses = new Set(views.map(([, view]) => view));
      const [only] = addresses;
      const leader = addresses.size === 1 ? this.servers.find((s) => s.rpcAddress === only && s.running) : undefined;
      if (leader !== undefined && leader !== opts.not) return leader;
      await sleep(100);
    }
    throw new Error(`no leader agreed on by every running server within ${timeoutMs} ms: ${seen}`);
  }

  async waitForMembers(opts: { timeoutMs?: number; names?: string[] } = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const names = opts.names ?? this.agents.map((a) => a.name);
    const deadline = performance.now() + timeoutMs;
    let missing = names;
    let problem = '';
    while (performance.now() < deadline) {
      try {
        const members = await this.api('/v1/agent/members');
        if (members.status === 200 && Array.isArray(members.body)) {
          const alive = new Set((members.body as { Name: string; Status: number }[]).filter((m) => m.Status === 1).map((m) => m.Name));
          missing = names.filter((name) => !alive.has(name));
          // Members are in serf; the catalog (anti-entropy, and the ACL token working) is what callers read.
          const nodes = await this.api('/v1/catalog/nodes');
          const inCatalog = new Set(Array.isArray(nodes.body) ? (nodes.body as { Node: string }[]).map((n) => n.Node) : []);
          const notInCatalog = names.filter((name) => !inCatalog.has(name));
          if (missing.length === 0 && notInCatalog.length === 0) return;
          problem = notInCatalog.length > 0 ? `; not in the catalog yet: ${notInCatalog.join(', ')} (${nodes.status})` : '';
        } else {
          problem = `; /v1/agent/members answered ${members.status}`;
        }
      } catch (error) {
        problem = `; ${String(error)}`;
      }
      await sleep(100);
    }
    throw new Error(`Consul cluster: members not alive within ${timeoutMs} ms: ${missing.join(', ') || '(none)'}${problem}`);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.agents.map((a) => a.stop('SIGKILL')));
    process.removeListener('exit', this.#onExit);
    await this.#dispatcher.close();
    if (process.env.FAROL_KEEP_CONSUL_LOGS) console.error(`consul cluster files kept in ${this.dir}`);
    else await rm(this.dir, { recursive: true, force: true });
  }
}

async function makeTls(dir: string, opts: NonNullable<StartConsulClusterOptions['https']>): Promise<ClusterTls & { certFile: string; keyFile: string }> {
  const ca = opts.ca ?? (await createCertificateAuthority({ commonName: 'Farol test Consul CA' }));
  const server = await issueCertificate(ca, {
    commonName: 'server.dc1.consul',
    usage: 'both',
    dnsNames: ['localhost', 'server.dc1.consul'],
    ipAddresses: ['127.0.0.1', '::1'],
  });
  const client = await issueCertificate(ca, { commonName: 'farol-test-client', usage: 'client', dnsNames: ['farol-test-client'] });
  const files = {
    caFile: join(dir, 'consul-ca.pem'),
    certFile: join(dir, 'consul-cert.pem'),
    keyFile: join(dir, 'consul-key.pem'),
    clientCertFile: join(dir, 'consul-client-cert.pem'),
    clientKeyFile: join(dir, 'consul-client-key.pem'),
  };
  await writeFile(files.caFile, ca.certPem);
  await writeFile(files.certFile, server.certPem);
  await writeFile(files.keyFile, server.keyPem, { mode: 0o600 });
  await writeFile(files.clientCertFile, client.certPem);
  await writeFile(files.clientKeyFile, client.keyPem, { mode: 0o600 });
  return {
    ca,
    ...files,
    env: { CONSUL_CACERT: files.caFile, CONSUL_CLIENT_CERT: files.clientCertFile, CONSUL_CLIENT_KEY: files.clientKeyFile },
  };
}

async function startOnce(binary: string, opts: StartConsulClusterOptions): Promise<Cluster> {
  const serverCount = opts.servers ?? 3;
  const clientCount = opts.clients ?? 2;
  if (serverCount < 1 || clientCount < 0 || clientCount > 26) throw new Error('a cluster needs 1+ servers and 0..26 clients');
  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  const dir = await mkdtemp(join(tmpdir(), 'farol-consul-cluster-'));
  const https = opts.https !== undefined;
  const tls = opts.https === undefined ? undefined : await makeTls(dir, opts.https);
  let caFile = tls?.caFile;
  if (opts.checksCaFile !== undefined) {
    // One ca_file for both: the agents' HTTPS API CA and the CA of the services they check.
    caFile = join(dir, 'consul-trusted-cas.pem');
    const bundle = [await readFile(opts.checksCaFile, 'utf8'), tls === undefined ? '' : tls.ca.certPem].join('\n');
    await writeFile(caFile, bundle);
  }
  const managementToken = opts.acl === undefined ? undefined : (opts.acl.managementToken ?? randomUUID());
  const dispatcher = new Agent({
    connect: tls === undefined ? {} : { ca: tls.ca.certPem, cert: await readFile(tls.clientCertFile), key: await readFile(tls.clientKeyFile) },
  });
  const cluster = new Cluster(dir, managementToken, tls === undefined ? undefined : { ca: tls.ca, caFile: tls.caFile, clientCertFile: tls.clientCertFile, clientKeyFile: tls.clientKeyFile, env: tls.env }, dispatcher);

  const probe = async (agent: ClusterAgentProcess): Promise<boolean> => {
    try {
      // /v1/status/leader needs no ACL; any answer means the HTTP API is up.
      return (await cluster.api('/v1/status/leader', agent)).status === 200;
    } catch {
      return false;
    }
  };
  const ports = await distinctPorts(3 * (serverCount + clientCount));
  const names = [
    ...Array.from({ length: serverCount }, (_, i) => ({ name: `server-${i + 1}`, role: 'server' as const })),
    ...Array.from({ length: clientCount }, (_, i) => ({ name: `client-${String.fromCharCode(97 + i)}`, role: 'client' as const })),
  ];
  for (const [i, { name, role }] of names.entries()) {
    const agentPorts = { http: ports[3 * i]!, server: ports[3 * i + 1]!, serfLan: ports[3 * i + 2]! };
    cluster.agents.push(new ClusterAgentProcess(name, role, agentPorts, binary, dir, https, probe));
  }
  const retryJoin = cluster.servers.map((s) => s.serfAddress);
  try {
    for (const agent of cluster.agents) {
      await mkdir(agent.dataDir, { recursive: true });
      const config = clusterAgentConfig({
        name: agent.name,
        role: agent.role,
        ports: agent.ports,
        dataDir: agent.dataDir,
        serverCount,
        retryJoin,
        https,
        ...(managementToken === undefined ? {} : { acl: { defaultPolicy: opts.acl?.defaultPolicy ?? 'deny', managementToken } }),
        ...(caFile === undefined && tls === undefined
          ? {}
          : { tlsFiles: { caFile, certFile: tls?.certFile, keyFile: tls?.keyFile, verifyIncoming: opts.https?.verifyIncoming ?? false } }),
        checksTls: opts.checksCaFile !== undefined,
      });
      await writeFile(agent.configFile, JSON.stringify(opts.extraConfig ? deepMerge(config, opts.extraConfig) : config, null, 2));
    }
    const started = performance.now();
    await Promise.all(cluster.agents.map((agent) => agent.start({}, timeoutMs)));
    const left = (): number => Math.max(1000, timeoutMs - (performance.now() - started));
    await cluster.waitForLeader({ timeoutMs: left() });
    await cluster.waitForMembers({ timeoutMs: left() });
    if (process.env.FAROL_CONSUL_DEBUG) console.error(`consul cluster ready in ${Math.round(performance.now() - started)} ms (${dir})`);
    return cluster;
  } catch (error) {
    const logs = await Promise.all(cluster.agents.map(async (a) => `--- ${a.name} (${a.running ? 'running' : 'not running'}):\n${await tail(a.logFile, 8)}`));
    await cluster.close();
    if (error instanceof PortClash) throw error;
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs.join('\n')}`, { cause: error });
  }
}

/**
 * Starts a Consul cluster on loopback and resolves once every running server agrees on a leader
 * and every agent is an alive member in the catalog. A port taken between choosing and binding
 * is retried with new ports.
 */
export async function startConsulCluster(opts: StartConsulClusterOptions = {}): Promise<ConsulCluster> {
  const found = findConsulBinary();
  if ('missing' in found) throw new Error(`no Consul binary: ${found.missing}`);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      return await startOnce(found.path, opts);
    } catch (error) {
      lastError = error;
      if (!(error instanceof PortClash)) throw error;
    }
  }
  throw lastError;
}
