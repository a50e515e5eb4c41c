/**
 * Raw HTTP for the conformance scenarios: they test the wire, not Farol's Consul client, so
 * requests are built by hand with undici and answers are read as status, headers and text.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { TargetContext } from './targets.js';

export interface WireResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  elapsedMs: number;
}

export interface WireRequest {
  method?: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** Sent as is (a string or bytes); use `json` for an object. */
  body?: string | Buffer;
  json?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** One request to the target; only loopback addresses are ever contacted. */
export async function send(target: TargetContext, path: string, req: WireRequest = {}): Promise<WireResponse> {
  const url = new URL(path, target.httpAddr);
  assert.equal(url.hostname, '127.0.0.1', 'conformance scenarios only talk to loopback');
  const body = req.json === undefined ? req.body : JSON.stringify(req.json);
  const started = performance.now();
  const response = await request(url, {
    method: req.method ?? (body === undefined ? 'GET' : 'PUT'),
    headers: req.headers ?? {},
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(req.timeoutMs ?? 15_000),
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text, elapsedMs: performance.now() - started };
}

export function header(response: WireResponse, name: string): string | undefined {
  const value = response.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** The parsed JSON body, after asserting a 200 whose body is JSON. */
export function okJson<T = unknown>(response: WireResponse, what: string): T {
  assert.equal(response.status, 200, `${what}: expected 200, got ${response.status} ${response.text}`);
  try {
    return JSON.parse(response.text) as T;
  } catch {
    assert.fail(`${what}: body is not JSON: ${response.text.slice(0, 200)}`);
  }
}

export async function getJson<T = unknown>(target: TargetContext, path: string, headers: Record<string, string> = {}): Promise<T> {
  return okJson<T>(await send(target, path, { headers }), `GET ${path}`);
}

/** PUT with a JSON body; asserts Consul's success answer for agent writes (200, empty body). */
export async function putOk(target: TargetContext, path: string, json?: unknown, headers: Record<string, string> = {}): Promise<void> {
  const response = await send(target, path, { method: 'PUT', ...(json === undefined ? {} : { json }), headers });
  assert.equal(response.status, 200, `PUT ${path}: expected 200, got ${response.status} ${response.text}`);
  assert.equal(response.text, '', `PUT ${path}: Consul answers an agent write with an empty body`);
}

/** X-Consul-Index as a number, after asserting it is a positive integer as Consul's rules require. */
export function consulIndex(response: WireResponse): number {
  const raw = header(response, 'x-consul-index');
  assert.ok(raw !== undefined, 'X-Consul-Index header is present');
  assert.match(raw, /^[1-9][0-9]*$/, `X-Consul-Index is a positive integer (got ${raw})`);
  return Number(raw);
}

/** Polls `probe` until it returns true or `timeoutMs` passes; returns whether it succeeded. */
export async function eventually(probe: () => Promise<boolean>, timeoutMs: number, stepMs = 100): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (performance.now() >= deadline) return false;
    await sleep(stepMs);
  }
}

/**
 * The JSON shape of a value: every object keeps its field names, every leaf becomes its JSON type
 * ('string', 'number', 'boolean', 'null'), an array becomes the list of its elements' distinct shapes.
 * Comparing shapes compares field names and types while ignoring IDs, indexes and node names.
 */
export function shapeOf(value: unknown): unknown {
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    const seen = new Map<string, unknown>();
    for (const element of value) {
      const shape = shapeOf(element);
      seen.set(JSON.stringify(shape), shape);
    }
    return [...seen.values()];
  }
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value as object).sort()) out[key] = shapeOf((value as Record<string, unknown>)[key]);
    return out;
  }
  return typeof value;
}

/** A copy of `value` with the named top-level fields replaced by their JSON type (IDs, indexes, node names). */
export function withoutVolatile<T extends Record<string, unknown>>(value: T, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...value };
  for (const field of fields) if (field in out) out[field] = `<${typeof out[field]}>`;
  return out;
}

export const INDEX_FIELDS = ['CreateIndex', 'ModifyIndex'] as const;

/** Replaces each named field that is an object of string values with 'string map' (agent-specific node maps). */
export function withStringMapsMasked(value: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...value };
  for (const field of fields) {
    const current = out[field];
    const isStringMap =
      typeof current === 'object' && current !== null && !Array.isArray(current) && Object.values(current).every((v) => typeof v === 'string');
    if (isStringMap) out[field] = 'string map';
  }
  return out;
}

/** Each field's JSON type ('string', 'number', …), with the named string-map fields as 'string map'. */
export function fieldTypes(value: Record<string, unknown>, stringMapFields: readonly string[] = []): Record<string, string> {
  const masked = withStringMapsMasked(value, stringMapFields);
  const out: Record<string, string> = {};
  for (const [key, field] of Object.entries(masked)) {
    out[key] = stringMapFields.includes(key) && field === 'string map' ? 'string map' : field === null ? 'null' : Array.isArray(field) ? 'array' : typeof field;
  }
  return out;
}
