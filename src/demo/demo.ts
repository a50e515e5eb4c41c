import { randomBytes } from 'node:crypto';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { addUser, basicCredentials } from '../auth/index.js';
import { createClient, type CallResult } from '../client/index.js';
import { ConsulClient, type ConsulClientOptions } from '../consul/index.js';
import { FarolError } from '../errors.js';
import { createLogger, type Logger } from '../log/logger.js';
import { CERT_FILE_NAMES, initCertificates } from '../pki/index.js';
import { createService, type FarolService } from '../service/index.js';

export interface DemoOptions {
  consul: ConsulClientOptions;
  /** Where certificates and the users file live; created when missing. */
  dir: string;
  service: string;
  instances: number;
  calls: number;
  serverLogFile: string;
  clientLogFile: string;
  /** Progress lines for a person (never secrets except the one-time password line). */
  print: (line: string) => void;
}

export interface DemoSystem {
  consulAddress: string;
  user: string;
  password: string;
  instances: FarolService[];
  /** One round of calls through discovery; resolves with each call's result. */
  callRound(): Promise<CallResult[]>;
  stop(): Promise<void>;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function waitUntilPassing(consul: ConsulClient, service: string, ids: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { entries } = await consul.health.service(service, { passing: true });
    const passing = new Set(entries.map((entry) => entry.Service.ID));
    if (ids.every((id) => passing.has(id))) return;
    if (Date.now() > deadline) {
      throw new FarolError('NO_HEALTHY_INSTANCE', `the demo instances did not pass their health checks within ${timeoutMs / 1000} s`, {
        hint: 'look at the checks in Consul (/v1/agent/checks) and at logs/server-log.txt',
      });
    }
    await sleep(200);
  }
}

/**
 * The whole original system in one process: certificates, a demo user, N instances of one
 * service registered in Consul, and a client that finds them and calls them. Instances use
 * TTL heartbeat checks, so it works with any Consul agent, including one that does not trust
 * the demo CA for HTTPS checks.
 */
export async function startDemo(options: DemoOptions): Promise<DemoSystem> {
  const consul = new ConsulClient(options.consul);
  const instances: FarolService[] = [];
  let serverLogger: Logger | undefined;
  const stopInstances = async (): Promise<void> => {
    await Promise.allSettled(instances.map((instance) => instance.stop({ reason: 'demo stopping' })));
  };
  try {
    const leader = await consul.status.leader();
    options.print(`consul: ${consul.address} (leader ${leader || 'unknown'})`);

    const certsDir = join(options.dir, 'certs');
    const caFile = join(certsDir, CERT_FILE_NAMES.ca);
    if (!(await exists(caFile))) {
      await initCertificates({ dir: certsDir, services: [options.service] });
      options.print(`certificates: created in ${certsDir}`);
    } else {
      options.print(`certificates: using ${certsDir}`);
    }

    const usersFile = join(options.dir, 'users.txt');
    const user = 'demo';
    const password = randomBytes(12).toString('base64url');
    await addUser(usersFile, user, password);
    options.print(`user: ${user}, password: ${password} (new each run; shown once, never logged)`);

    serverLogger = createLogger({ name: 'server', file: options.serverLogFile });
    for (let i = 0; i < options.instances; i += 1) {
      const instance = await createService({
        name: options.service,
        port: 0,
        tls: { certFile: join(certsDir, CERT_FILE_NAMES.cert), keyFile: join(certsDir, CERT_FILE_NAMES.key) },
        usersFile,
        consul,
        tags: ['farol-demo'],
        check: { kind: 'ttl', ttl: '10s', deregisterCriticalAfter: '1m' },
        logger: serverLogger,
      });
      await instance.start();
      instances.push(instance);
      options.print(`instance: ${instance.instanceId} at ${instance.url}`);
    }
    await waitUntilPassing(consul, options.service, instances.map((instance) => instance.instanceId), 15_000);
    options.print(`consul: ${instances.length} instances of ${options.service} passing`);

    const client = createClient({
      consul,
      tls: { ca: { file: caFile } },
      credentials: basicCredentials(user, password),
      // The demo's point is to show every instance answering; peak-EWMA would favour the fastest.
      balancer: 'round-robin',
      logger: createLogger({ name: 'client', file: options.clientLogFile }),
    });

    return {
      consulAddress: consul.address,
      user,
      password,
      instances,
      async callRound() {
        const results: CallResult[] = [];
        for (let i = 0; i < options.calls; i += 1) results.push(await client.call(options.service, { path: '/' }));
        return results;
      },
      async stop() {
        await client.close();
        await stopInstances();
        await consul.close();
      },
    };
  } catch (error) {
    await stopInstances();
    await consul.close();
    throw error;
  }
}
