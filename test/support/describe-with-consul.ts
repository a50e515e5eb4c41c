import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { findConsulBinary, startConsulAgent } from './consul-agent.js';
import type { ConsulAgent, StartConsulAgentOptions } from './consul-agent.js';

export type AgentOptionsSource = StartConsulAgentOptions | (() => StartConsulAgentOptions | Promise<StartConsulAgentOptions>);

function warnLoudly(name: string, missing: string): void {
  const line = '!'.repeat(78);
  console.warn(
    `\n${line}\n!! SKIPPED "${name}": it needs a real Consul agent and none was found.\n!! Missing: ${missing}\n${line}\n`,
  );
}

/**
 * A suite that runs against one real Consul agent, started before its tests and stopped after.
 * Without a Consul binary the suite fails under CI=true, and elsewhere is skipped with a loud
 * message naming what to install. `agentOptions` (an extension of the contract) configures the
 * agent, e.g. ACLs or a CA for HTTPS checks; a function is called in `before`.
 */
export function describeWithConsul(
  name: string,
  fn: (getAgent: () => ConsulAgent) => void,
  agentOptions: AgentOptionsSource = {},
): void {
  const found = findConsulBinary();
  if ('missing' in found) {
    if (process.env.CI === 'true') {
      describe(name, () => {
        it('has a Consul binary to test against (required under CI=true)', () => {
          assert.fail(`no Consul binary for "${name}": ${found.missing}`);
        });
      });
    } else {
      warnLoudly(name, found.missing);
      describe(name, { skip: `no Consul binary: ${found.missing}` }, () => undefined);
    }
    return;
  }

  describe(name, () => {
    let agent: ConsulAgent | undefined;
    before(async () => {
      const options = typeof agentOptions === 'function' ? await agentOptions() : agentOptions;
      agent = await startConsulAgent(options);
    });
    after(async () => {
      await agent?.stop();
    });
    fn(() => {
      if (agent === undefined) throw new Error(`the Consul agent for "${name}" is not running (did before() fail?)`);
      return agent;
    });
  });
}
