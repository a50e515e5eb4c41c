/**
 * A real Consul agent (`consul agent -dev`) for tests: loopback only, DNS and every port it
 * does not need disabled, the rest on free ports chosen here, in-memory state.
 *
 * Consul 1.15 turns a port of 0 into -1 ("disabled") for every port (agent/config/builder.go,
 * portVal), so there is no "ephemeral" port in Consul's config: the HTTP, server RPC and Serf
 * LAN ports are picked here by binding 127.0.0.1:0 and releasing the port; a clash is retried.
 */
import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TOOLS_DIR = join(REPO_ROOT, 'tools', 'consul');

export const INSTALL_HINT = 'Go 1.21+; then `npm test` builds Consul via scripts/build-consul.sh (or set CONSUL_BIN to a consul binary)';

/** The Consul version tools/consul builds, read from its go.mod ("1.15.4"). */
export function expectedConsulVersion(): string | undefined {
  try {
    const goMod = readFileSync(join(TOOLS_DIR, 'go.mod'), 'utf8');
    return /^\s*github\.com\/hashicorp\/consul\s+v(\S+)/m.exec(goMod)?.[1];
  } catch {
    return undefined;
  }
}

/** Where scripts/build-consul.sh puts the binary; undefined if go.sum or a cache root is missing. */
export function cachedConsulBinaryPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  let goSum: Buffer;
  try {
    goSum = readFileSync(join(TOOLS_DIR, 'go.sum'));
  } catch {
    return undefined;
  }
  const home = env.HOME ?? homedir();
  let root: string;
  if (env.FAROL_CACHE_DIR) root = env.FAROL_CACHE_DIR;
  else if (env.XDG_CACHE_HOME) root = join(env.XDG_CACHE_HOME, 'farol');
  else if (home) root = join(home, '.cache', 'farol');
  else return undefined;
  if (!isAbsolute(root)) root = resolve(root);
  const key = createHash('sha256').update(goSum).digest('hex').slice(0, 16);
  return join(root, 'consul', key, 'consul');
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function consulOnPath(env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'consul');
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** CONSUL_BIN, else the build cache, else a `consul` on PATH of the version tools/consul pins. */
export function findConsulBinary(env: NodeJS.ProcessEnv = process.env): { path: string } | { missing: string } {
  const version = expectedConsulVersion();
  const wanted = `Consul v${version ?? '(version of tools/consul/go.mod)'}`;
  if (env.CONSUL_BIN) {
    return isExecutable(env.CONSUL_BIN)
      ? { path: env.CONSUL_BIN }
      : { missing: `${wanted}: CONSUL_BIN=${env.CONSUL_BIN} is not an executable file; unset it, or install ${INSTALL_HINT}` };
  }
  const cached = cachedConsulBinaryPath(env);
  if (cached !== undefined && isExecutable(cached)) return { path: cached };
  const onPath = consulOnPath(env);
  if (onPath !== undefined && version !== undefined) {
    try {
      const output = execFileSync(onPath, ['version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
      if (output.split('\n')[0]?.trim() === `Consul v${version}`) return { path: onPath };
      return { missing: `${wanted} (the consul on PATH, ${onPath}, is "${output.split('\n')[0]?.trim()}"); install ${INSTALL_HINT}` };
    } catch {
      // an unusable consul on PATH is the same as none
    }
  }
  return { missing: `${wanted}; install ${INSTALL_HINT}` };
}

export interface StartConsulAgentOptions {
  /** The agent trusts this CA for HTTPS health checks, with verification on. */
  caFile?: string;
  /** ACLs on, default policy deny, and this token as the initial management (and agent) token. */
  aclToken?: string;
  /** Also serve the HTTP API over TLS with this certificate, on a free port (see ConsulAgent.httpsAddress). */
  https?: { certFile: string; keyFile: string };
  /** Merged (deeply) over the generated agent configuration. */
  extraConfig?: Record<string, unknown>;
  /** How long to wait for a leader. Default 30 s. */
  startTimeoutMs?: number;
  /** A fixed HTTP port (e.g. 8500 for `npm run consul`); by default a free one is picked. */
  httpPort?: number;
}

export interface ConsulAgent {
  /** http://127.0.0.1:PORT */
  httpAddr: string;
  /** 127.0.0.1:PORT */
  address: string;
  /** 127.0.0.1:PORT of the HTTPS API when started with `https`. */
  httpsAddress?: string;
  /** The agent's node name (useful for TLSServerName reasoning and catalog queries). */
  nodeName: string;
  /** SIGINT, wait for exit (SIGKILL after 10 s), remove the run's temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Send `signal` (default SIGKILL), wait for exit, remove the run's temp dir. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Start again on the same ports (state is in memory, so it comes back empty). */
  start(): Promise<void>;
}

export const CONSUL_NODE_NAME = 'farol-test-agent';

interface AgentPorts {
  http: number;
  server: number;
  serfLan: number;
  https?: number;
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

/** The JSON config file the agent reads (besides -dev and the loopback flags). */
export function agentConfig(ports: AgentPorts, opts: StartConsulAgentOptions): Record<string, unknown> {
  const config: Record<string, unknown> = {
    node_name: CONSUL_NODE_NAME,
    disable_update_check: true,
    log_level: 'INFO',
    ports: {
      http: ports.http,
      server: ports.server,
      serf_lan: ports.serfLan,
      dns: -1,
      https: ports.https ?? -1,
      grpc: -1,
      grpc_tls: -1,
      serf_wan: -1,
    },
  };
  const tls: Record<string, unknown> = {};
  if (opts.caFile !== undefined) {
    // Consul 1.15: HTTP(S) checks use the agent's TLS settings (this CA, verification on)
    // only with enable_agent_tls_for_checks (tlsutil.OutgoingTLSConfigForCheck).
    tls.defaults = { ca_file: opts.caFile };
    config.enable_agent_tls_for_checks = true;
  }
  if (opts.https !== undefined) tls.https = { cert_file: opts.https.certFile, key_file: opts.https.keyFile };
  if (Object.keys(tls).length > 0) config.tls = tls;
  if (opts.aclToken !== undefined) {
    config.acl = {
      enabled: true,
      default_policy: 'deny',
      down_policy: 'extend-cache',
      // The agent token lets the agent sync its own node and services under default-deny.
      tokens: { initial_management: opts.aclToken, agent: opts.aclToken },
    };
  }
  return opts.extraConfig ? deepMerge(config, opts.extraConfig) : config;
}

/** A TCP port on 127.0.0.1 that was free a moment ago; with `udpToo`, free for UDP as well (Serf uses both). */
export async function freePort(udpToo: boolean): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const port = await new Promise<number>((resolvePort, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
      });
    });
    if (!udpToo) return port;
    const udpFree = await new Promise<boolean>((resolveFree) => {
      const socket = createSocket('udp4');
      socket.once('error', () => {
        socket.close();
        resolveFree(false);
      });
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolveFree(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('could not find a free TCP+UDP port on 127.0.0.1');
}

async function freePorts(withHttps: boolean, httpPort?: number): Promise<AgentPorts> {
  const chosen = new Set<number>();
  const pick = async (udpToo: boolean): Promise<number> => {
    for (;;) {
      const port = await freePort(udpToo);
      if (!chosen.has(port)) {
        chosen.add(port);
        return port;
      }
    }
  };
  const ports: AgentPorts = { http: httpPort ?? (await pick(false)), server: await pick(false), serfLan: await pick(true) };
  if (withHttps) ports.https = await pick(false);
  return ports;
}

async function tail(file: string, lines = 40): Promise<string> {
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

async function getJson(url: string, token: string | undefined): Promise<{ status: number; body: unknown }> {
  const response = await request(url, {
    headers: token === undefined ? {} : { 'x-consul-token': token },
    signal: AbortSignal.timeout(2000),
  });
  const text = await response.body.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.statusCode, body };
}

class StartupError extends Error {
  constructor(
    message: string,
    readonly portClash: boolean,
  ) {
    super(message);
  }
}

class DevAgent implements ConsulAgent {
  readonly httpAddr: string;
  readonly address: string;
  readonly httpsAddress: string | undefined;
  readonly nodeName = CONSUL_NODE_NAME;
  readonly #binary: string;
  readonly #ports: AgentPorts;
  readonly #opts: StartConsulAgentOptions;
  #child: ChildProcess | undefined;
  #dir: string | undefined;
  #killOnExit: (() => void) | undefined;

  constructor(binary: string, ports: AgentPorts, opts: StartConsulAgentOptions) {
    this.#binary = binary;
    this.#ports = ports;
    this.#opts = opts;
    this.address = `127.0.0.1:${ports.http}`;
    this.httpAddr = `http://${this.address}`;
    this.httpsAddress = ports.https === undefined ? undefined : `127.0.0.1:${ports.https}`;
  }

  async start(): Promise<void> {
    if (this.#child) throw new Error(`the Consul agent at ${this.address} is already running`);
    const dir = await mkdtemp(join(tmpdir(), 'farol-consul-'));
    this.#dir = dir;
    const configDir = join(dir, 'config');
    const logFile = join(dir, 'agent.log');
    await mkdir(configDir);
    await writeFile(join(configDir, 'farol.json'), JSON.stringify(agentConfig(this.#ports, this.#opts), null, 2));
    const log = await open(logFile, 'a');
    const args = ['agent', '-dev', '-bind', '127.0.0.1', '-client', '127.0.0.1', '-advertise', '127.0.0.1', '-config-dir', configDir];
    const started = performance.now();
    let child: ChildProcess;
    try {
      child = spawn(this.#binary, args, { stdio: ['ignore', log.fd, log.fd] });
    } finally {
      await log.close();
    }
    this.#child = child;
    const killOnExit = (): void => {
      child.kill('SIGKILL');
    };
    this.#killOnExit = killOnExit;
    process.once('exit', killOnExit);
    child.unref();

    try {
      await this.#waitReady(child, logFile);
    } catch (error) {
      await this.kill('SIGKILL');
      throw error;
    }
    if (process.env.FAROL_CONSUL_DEBUG) {
      console.error(`consul agent ${this.address} ready in ${Math.round(performance.now() - started)} ms (${this.#binary} ${args.join(' ')})`);
    }
  }

  async #waitReady(child: ChildProcess, logFile: string): Promise<void> {
    const deadline = performance.now() + (this.#opts.startTimeoutMs ?? 30_000);
    const token = this.#opts.aclToken;
    let lastProblem = 'no answer yet';
    while (performance.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const logTail = await tail(logFile);
        throw new StartupError(
          `consul agent exited during startup (code ${child.exitCode ?? child.signalCode}); log tail:\n${logTail}`,
          /address already in use/i.test(logTail),
        );
      }
      try {
        const leader = await getJson(`${this.httpAddr}/v1/status/leader`, undefined);
        if (leader.status === 200 && typeof leader.body === 'string' && leader.body !== '') {
          // The node is in the catalog once anti-entropy has run; with ACLs this also proves the token works.
          const node = await getJson(`${this.httpAddr}/v1/catalog/node/${CONSUL_NODE_NAME}`, token);
          if (node.status === 200 && isPlainObject(node.body)) return;
          lastProblem = `leader ${leader.body}, node not in the catalog yet (${node.status})`;
        } else {
          lastProblem = `no leader yet (${leader.status})`;
        }
      } catch (error) {
        lastProblem = String(error);
      }
      await sleep(50);
    }
    throw new StartupError(
      `consul agent at ${this.address} was not ready within ${this.#opts.startTimeoutMs ?? 30_000} ms (${lastProblem}); log tail:\n${await tail(logFile)}`,
      false,
    );
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited(child);
      clearTimeout(timer);
    }
    await this.#cleanUp();
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      await exited(child);
    }
    await this.#cleanUp();
  }

  async #cleanUp(): Promise<void> {
    if (this.#killOnExit) process.removeListener('exit', this.#killOnExit);
    this.#killOnExit = undefined;
    this.#child = undefined;
    const dir = this.#dir;
    this.#dir = undefined;
    if (dir !== undefined && !process.env.FAROL_KEEP_CONSUL_LOGS) await rm(dir, { recursive: true, force: true });
    else if (dir !== undefined) console.error(`consul agent files kept in ${dir}`);
  }
}

/** Starts `consul agent -dev` on loopback and resolves once it has a leader and has synced its node. */
export async function startConsulAgent(opts: StartConsulAgentOptions = {}): Promise<ConsulAgent> {
  const found = findConsulBinary();
  if ('missing' in found) throw new Error(`no Consul binary: ${found.missing}`);
  if (opts.caFile !== undefined && !existsSync(opts.caFile)) throw new Error(`caFile ${opts.caFile} does not exist`);
  let lastError: unknown;
  for (let attempt = 0; attempt < 4; attempt += 1) {
    const agent = new DevAgent(found.path, await freePorts(opts.https !== undefined, opts.httpPort), opts);
    try {
      await agent.start();
      return agent;
    } catch (error) {
      lastError = error;
      if (!(error instanceof StartupError && error.portClash)) throw error;
    }
  }
  throw lastError;
}
