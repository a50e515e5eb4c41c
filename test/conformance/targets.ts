/**
 * The two registries the conformance scenarios run against: the real Consul dev agent (the truth)
 * and the embedded registry. A scenario file declares its tests once with `forEachTarget`, which
 * gives every target its own `describe` ("consul › …", "embedded › …") and its own fresh server.
 */
import { after, before, describe } from 'node:test';
import { findConsulBinary, startConsulAgent } from '../support/consul-agent.js';
import { describeWithConsul } from '../support/describe-with-consul.js';
import { startRegistry } from '../../src/registry/index.js';

export interface TargetStartOptions {
  /** CA the registry trusts for HTTPS health checks (verification on). */
  caFile?: string;
  /** ACLs on with this token as the only one that may read or write. */
  token?: string;
}

export interface StartedTarget {
  /** http://127.0.0.1:PORT */
  httpAddr: string;
  /** 127.0.0.1:PORT */
  address: string;
  stop(): Promise<void>;
}

export interface RegistryTarget {
  name: 'consul' | 'embedded';
  start(opts: TargetStartOptions): Promise<StartedTarget>;
}

export const consulTarget: RegistryTarget = {
  name: 'consul',
  async start(opts) {
    const agent = await startConsulAgent({
      ...(opts.caFile === undefined ? {} : { caFile: opts.caFile }),
      ...(opts.token === undefined ? {} : { aclToken: opts.token }),
    });
    return { httpAddr: agent.httpAddr, address: agent.address, stop: () => agent.stop() };
  },
};

export const embeddedTarget: RegistryTarget = {
  name: 'embedded',
  async start(opts) {
    const registry = await startRegistry({
      port: 0,
      bind: '127.0.0.1',
      ...(opts.caFile === undefined ? {} : { caFile: opts.caFile }),
      ...(opts.token === undefined ? {} : { token: opts.token }),
    });
    return { httpAddr: registry.httpAddr, address: registry.address, stop: () => registry.close() };
  },
};

export const targets: readonly RegistryTarget[] = [consulTarget, embeddedTarget];

export interface ForEachTargetOptions extends TargetStartOptions {
  /** Run the targets' suites side by side (for long, mostly-waiting scenarios such as reaping). */
  concurrent?: boolean;
}

/** What a scenario sees of its target: its name and the running server. */
export interface TargetContext {
  readonly name: RegistryTarget['name'];
  readonly httpAddr: string;
  readonly address: string;
}

function declareTargetSuite(
  target: RegistryTarget,
  title: string,
  body: (getTarget: () => TargetContext) => void,
  opts: ForEachTargetOptions,
): void {
  const suiteName = `${target.name} › ${title}`;
  if (target.name === 'consul' && 'missing' in findConsulBinary()) {
    // Fails under CI=true, is skipped loudly elsewhere: the semantics of describeWithConsul.
    describeWithConsul(suiteName, () => undefined);
    return;
  }
  // Scenarios within a target run in order (they build on each other), even when the targets run side by side.
  describe(suiteName, { concurrency: 1 }, () => {
    let started: StartedTarget | undefined;
    before(async () => {
      started = await target.start({
        ...(opts.caFile === undefined ? {} : { caFile: opts.caFile }),
        ...(opts.token === undefined ? {} : { token: opts.token }),
      });
    });
    after(async () => {
      await started?.stop();
    });
    body(() => {
      if (started === undefined) throw new Error(`the ${target.name} registry for "${title}" is not running (did before() fail?)`);
      return { name: target.name, httpAddr: started.httpAddr, address: started.address };
    });
  });
}

/** Declares the same scenarios once per target, each against its own freshly started registry. */
export function forEachTarget(
  title: string,
  body: (getTarget: () => TargetContext) => void,
  opts: ForEachTargetOptions = {},
): void {
  if (opts.concurrent) {
    describe(title, { concurrency: true }, () => {
      for (const target of targets) declareTargetSuite(target, title, body, opts);
    });
    return;
  }
  for (const target of targets) declareTargetSuite(target, title, body, opts);
}
