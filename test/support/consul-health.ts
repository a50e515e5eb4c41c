import assert from 'node:assert/strict';
import type { ConsulAgent } from './consul-agent.js';

/** A health entry as Consul's /v1/health/service answers it, read raw: the tests' independent oracle. */
export interface RawHealthEntry {
  Service: { ID: string; Service: string; Address: string; Port: number; Tags: string[] | null; Meta: Record<string, string> | null };
  Checks: { CheckID: string; ServiceID: string; Status: string; Output: string }[];
}

export async function rawHealth(agent: ConsulAgent, service: string, passingOnly: boolean): Promise<RawHealthEntry[]> {
  const response = await fetch(`${agent.httpAddr}/v1/health/service/${service}${passingOnly ? '?passing' : ''}`);
  assert.equal(response.status, 200);
  return (await response.json()) as RawHealthEntry[];
}

/** Polls `probe` until it returns a value, failing the test after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
