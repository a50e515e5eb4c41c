/**
 * Request bodies decoded as Consul decodes them (Go encoding/json with unknown fields refused,
 * field names matched case-insensitively, snake_case aliases accepted), with Consul's 400 texts:
 * "Request decode failed: ...", "Missing service name", "Invalid check: ...".
 * Pure: takes the body text, returns definitions or a RegistryHttpError.
 */
import type { HealthStatus } from '../consul/types.js';
import type { CheckDefinition, CheckType, ServiceDefinition } from './catalog.js';
import { formatGoDuration, goDurationFromFloat, goDurationMs, parseGoDuration, tryParseGoDuration } from '../consul-wire/duration.js';

export class RegistryHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(body);
    this.name = 'RegistryHttpError';
  }
}

const decodeFailed = (reason: string): RegistryHttpError => new RegistryHttpError(400, `Request decode failed: ${reason}`);

type GoKind = 'string' | 'int' | 'bool' | 'strings' | 'map' | 'object' | 'objects' | 'duration' | 'any';

const SERVICE_FIELDS: Record<string, [string, GoKind]> = {
  kind: ['Kind', 'string'],
  id: ['ID', 'string'],
  name: ['Name', 'string'],
  tags: ['Tags', 'strings'],
  address: ['Address', 'string'],
  taggedaddresses: ['TaggedAddresses', 'any'],
  meta: ['Meta', 'map'],
  port: ['Port', 'int'],
  socketpath: ['SocketPath', 'string'],
  weights: ['Weights', 'any'],
  enabletagoverride: ['EnableTagOverride', 'bool'],
  check: ['Check', 'object'],
  checks: ['Checks', 'objects'],
  proxy: ['Proxy', 'any'],
  connect: ['Connect', 'any'],
  namespace: ['Namespace', 'string'],
  partition: ['Partition', 'string'],
};

const CHECK_FIELDS: Record<string, [string, GoKind]> = {
  checkid: ['CheckID', 'string'],
  id: ['CheckID', 'string'],
  name: ['Name', 'string'],
  status: ['Status', 'string'],
  notes: ['Notes', 'string'],
  scriptargs: ['ScriptArgs', 'strings'],
  args: ['ScriptArgs', 'strings'],
  http: ['HTTP', 'string'],
  header: ['Header', 'any'],
  method: ['Method', 'string'],
  body: ['Body', 'string'],
  tcp: ['TCP', 'string'],
  udp: ['UDP', 'string'],
  interval: ['Interval', 'duration'],
  timeout: ['Timeout', 'duration'],
  ttl: ['TTL', 'duration'],
  tlsservername: ['TLSServerName', 'string'],
  tlsskipverify: ['TLSSkipVerify', 'bool'],
  grpc: ['GRPC', 'string'],
  grpcusetls: ['GRPCUseTLS', 'bool'],
  h2ping: ['H2PING', 'string'],
  h2pingusetls: ['H2PingUseTLS', 'bool'],
  aliasnode: ['AliasNode', 'string'],
  aliasservice: ['AliasService', 'string'],
  dockercontainerid: ['DockerContainerID', 'string'],
  shell: ['Shell', 'string'],
  successbeforepassing: ['SuccessBeforePassing', 'int'],
  failuresbeforewarning: ['FailuresBeforeWarning', 'int'],
  failuresbeforecritical: ['FailuresBeforeCritical', 'int'],
  outputmaxsize: ['OutputMaxSize', 'int'],
  deregistercriticalserviceafter: ['DeregisterCriticalServiceAfter', 'duration'],
};

const UPDATE_FIELDS: Record<string, [string, GoKind]> = {
  status: ['Status', 'string'],
  output: ['Output', 'string'],
};

function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return 'object';
  return typeof value;
}

/** Consul decodes a service through an alias struct, which shows in Go's error texts. */
const SERVICE_GO_VALUE =
  'struct { EnableTagOverrideSnake bool "json:\\"enable_tag_override\\""; TaggedAddressesSnake map[string]structs.ServiceAddress "json:\\"tagged_addresses\\""; *structs.Alias }';

function typeMismatch(value: unknown, field: string, goType: string): RegistryHttpError {
  return decodeFailed(`json: cannot unmarshal ${jsonKind(value)} into Go struct field .Alias.${field} of type ${goType}`);
}

const GO_TYPES: Record<GoKind, string> = {
  string: 'string',
  int: 'int',
  bool: 'bool',
  strings: '[]string',
  map: 'map[string]string',
  object: 'structs.CheckType',
  objects: 'structs.CheckTypes',
  duration: 'time.Duration',
  any: 'interface {}',
};

function checkKind(value: unknown, kind: GoKind, field: string): void {
  if (value === null) return; // Go leaves the zero value for null
  const bad = () => typeMismatch(value, field, GO_TYPES[kind]);
  switch (kind) {
    case 'string':
      if (typeof value !== 'string') throw bad();
      return;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw bad();
      return;
    case 'bool':
      if (typeof value !== 'boolean') throw bad();
      return;
    case 'strings':
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw bad();
      return;
    case 'map':
      if (jsonKind(value) !== 'object' || Object.values(value as object).some((v) => typeof v !== 'string')) throw bad();
      return;
    case 'object':
      if (jsonKind(value) !== 'object') throw bad();
      return;
    case 'objects':
      if (!Array.isArray(value)) throw bad();
      return;
    case 'duration':
      if (typeof value === 'string') {
        const parsed = tryParseGoDuration(value);
        if ('error' in parsed) throw decodeFailed(parsed.error.message);
        return;
      }
      if (typeof value !== 'number') throw bad();
      return;
    case 'any':
      return;
  }
}

/** Maps keys to canonical field names, refusing unknown ones as Go's DisallowUnknownFields does. */
function normalise(raw: unknown, fields: Record<string, [string, GoKind]>, goType: string): Record<string, unknown> {
  if (raw === null) return {}; // Go leaves the zero value for null
  if (jsonKind(raw) !== 'object') {
    throw decodeFailed(`json: cannot unmarshal ${jsonKind(raw)} into Go value of type ${goType}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const field = fields[key.toLowerCase().replace(/_/g, '')];
    if (!field) throw decodeFailed(`json: unknown field ${JSON.stringify(key)}`);
    checkKind(value, field[1], field[0]);
    if (value !== null) out[field[0]] = value;
  }
  return out;
}

function parseJson(text: string): unknown {
  if (text.trim() === '') throw decodeFailed('EOF');
  try {
    return JSON.parse(text);
  } catch {
    throw decodeFailed(goSyntaxError(text));
  }
}

/**
 * Go's encoding/json syntax error for the first offending character. Covers the common
 * cases (a bad key, a bad value, a missing comma or colon, truncated input).
 */
export function goSyntaxError(text: string): string {
  const stack: ('{' | '[')[] = [];
  let expect: 'value' | 'key-or-end' | 'key' | 'colon' | 'comma-or-end' = 'value';
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    const bad = (context: string) => `invalid character ${quoteChar(c)} ${context}`;
    switch (expect) {
      case 'key-or-end':
      case 'key':
        if (c === '}' && expect === 'key-or-end') {
          stack.pop();
          expect = 'comma-or-end';
          break;
        }
        if (c !== '"') return bad('looking for beginning of object key string');
        i = skipString(text, i);
        if (i < 0) return 'unexpected EOF';
        expect = 'colon';
        break;
      case 'colon':
        if (c !== ':') return bad('after object key');
        expect = 'value';
        break;
      case 'comma-or-end': {
        const top = stack[stack.length - 1];
        if (top === undefined) return bad('after top-level value');
        if (c === ',') expect = top === '{' ? 'key' : 'value';
        else if ((c === '}' && top === '{') || (c === ']' && top === '[')) stack.pop();
        else return bad(top === '{' ? 'after object key:value pair' : 'after array element');
        break;
      }
      case 'value': {
        if (c === '{') {
          stack.push('{');
          expect = 'key-or-end';
        } else if (c === '[') {
          stack.push('[');
          expect = 'value';
          const next = text.slice(i + 1).trimStart();
          if (next.startsWith(']')) {
            i = text.indexOf(']', i + 1);
            stack.pop();
            expect = 'comma-or-end';
          }
        } else if (c === '"') {
          i = skipString(text, i);
          if (i < 0) return 'unexpected EOF';
          expect = 'comma-or-end';
        } else {
          const literal = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
          if (!literal) return bad('looking for beginning of value');
          i += literal[0].length - 1;
          expect = 'comma-or-end';
        }
        break;
      }
    }
  }
  return 'unexpected EOF';
}

/** Go's encoding/json quoteChar. */
function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return `'"'`;
  return `'${JSON.stringify(c).slice(1, -1)}'`;
}

/** Index of the closing quote of the string starting at `start`, or -1. */
function skipString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i += 1) {
    if (text[i] === '\\') i += 1;
    else if (text[i] === '"') return i;
  }
  return -1;
}

/** A duration field as Consul's CheckType.UnmarshalJSON reads it: a Go duration string, or a number of nanoseconds. */
function durationNs(value: unknown): bigint {
  if (value === undefined) return 0n;
  if (typeof value === 'number') return goDurationFromFloat(value);
  return parseGoDuration(value as string); // checkKind has refused what Go refuses
}

// Milliseconds can exceed 2^31-1 (an Interval of 720h): the check runner's timers chain them.
function durationMs(value: unknown): number {
  return goDurationMs(durationNs(value));
}

function durationText(value: unknown): string {
  if (value === undefined) return '';
  return formatGoDuration(durationNs(value));
}

const MIN_INTERVAL_MS = 1000;
const DEFAULT_TIMEOUT_MS = 10_000;
const MIN_DEREGISTER_AFTER_MS = 60_000;

export interface DecodeOptions {
  /** Consul's check_deregister_interval_min (1m); lowered only by tests and dev setups. */
  minDeregisterAfterMs?: number;
}

export interface Registration {
  service: ServiceDefinition;
  checks: CheckDefinition[];
}

function validateCheck(check: Record<string, unknown>, serviceId: string, serviceName: string, position: number, count: number, opts: DecodeOptions): CheckDefinition {
  const intervalMs = durationMs(check.Interval);
  const ttlMs = durationMs(check.TTL);
  const isInterval = ['ScriptArgs', 'HTTP', 'TCP', 'UDP', 'GRPC', 'H2PING'].some((k) => check[k] !== undefined && check[k] !== '');
  const isAlias = Boolean(check.AliasNode) || Boolean(check.AliasService);
  const invalid = (reason: string) => new RegistryHttpError(400, `Invalid check: ${reason}`);
  if (intervalMs > 0 && ttlMs > 0) throw invalid('Interval and TTL cannot both be specified');
  if (isInterval && intervalMs <= 0) throw invalid('Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks');
  if (isInterval && isAlias) throw invalid('Interval cannot be set for Alias checks');
  if (isAlias && ttlMs > 0) throw invalid('TTL must be not be set for Alias checks');
  if (!isInterval && !isAlias && ttlMs <= 0) throw invalid('TTL must be > 0 for TTL checks');
  if (((check.FailuresBeforeWarning as number) ?? 0) > ((check.FailuresBeforeCritical as number) ?? 0)) {
    throw invalid("FailuresBeforeWarning can't be higher than FailuresBeforeCritical");
  }
  let type: CheckType;
  if (check.HTTP) type = 'http';
  else if (check.TCP) type = 'tcp';
  else if (!isInterval && !isAlias) type = 'ttl';
  else throw invalid('this dev registry runs only HTTP, TCP and TTL checks');
  if (check.TLSSkipVerify === true) throw invalid('this dev registry always verifies TLS; TLSSkipVerify is not supported');

  const status = (check.Status as string | undefined) || 'critical';
  if (!['passing', 'warning', 'critical'].includes(status)) {
    throw new RegistryHttpError(400, "Status for checks must 'passing', 'warning', 'critical'");
  }
  const baseId = `service:${serviceId}`;
  const checkId = (check.CheckID as string | undefined) || (count > 1 ? `${baseId}:${position + 1}` : baseId);
  const deregisterMs = durationMs(check.DeregisterCriticalServiceAfter);
  const timeoutMs = durationMs(check.Timeout);
  const def: CheckDefinition = {
    checkId,
    name: (check.Name as string | undefined) || `Service '${serviceName}' check`,
    type,
    status: status as HealthStatus,
    notes: (check.Notes as string | undefined) ?? '',
    interval: durationText(check.Interval),
    timeout: durationText(check.Timeout),
    intervalMs: intervalMs > 0 ? Math.max(intervalMs, MIN_INTERVAL_MS) : 0,
    timeoutMs: timeoutMs > 0 ? timeoutMs : DEFAULT_TIMEOUT_MS,
    ttlMs,
    deregisterCriticalAfterMs: deregisterMs > 0 ? Math.max(deregisterMs, opts.minDeregisterAfterMs ?? MIN_DEREGISTER_AFTER_MS) : 0,
  };
  if (type === 'http') {
    def.http = check.HTTP as string;
    def.method = (check.Method as string | undefined) || 'GET';
    if (check.Header !== undefined) def.header = check.Header as Record<string, string[]>;
    if (check.Body !== undefined) def.body = check.Body as string;
    if (check.TLSServerName) def.tlsServerName = check.TLSServerName as string;
  }
  if (type === 'tcp') def.tcp = check.TCP as string;
  const successBefore = (check.SuccessBeforePassing as number | undefined) ?? 0;
  const failuresCritical = (check.FailuresBeforeCritical as number | undefined) ?? 0;
  const failuresWarning = (check.FailuresBeforeWarning as number | undefined) || failuresCritical;
  if (successBefore > 0) def.successBeforePassing = successBefore;
  if (failuresCritical > 0) def.failuresBeforeCritical = failuresCritical;
  if (failuresWarning > 0) def.failuresBeforeWarning = failuresWarning;
  return def;
}

const ANY_ADDRESSES = new Set(['0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0']);

const META_KEY = /^[a-zA-Z0-9_-]+$/;

/** structs.validateMetadata, with Consul's texts. */
function validateMeta(meta: Record<string, string>): void {
  const fail = (reason: string) => new RegistryHttpError(400, `Invalid Service Meta: ${reason}`);
  if (Object.keys(meta).length > 64) throw fail('Node metadata cannot contain more than 64 key/value pairs');
  for (const [key, value] of Object.entries(meta)) {
    const pair = (reason: string) => fail(`Couldn't load metadata pair ('${key}', '${value}'): ${reason}`);
    if (key === '') throw pair('Key cannot be blank');
    if (!META_KEY.test(key)) throw pair('Key contains invalid characters');
    if (key.length > 128) throw pair('Key is too long (limit: 128 characters)');
    if (key.startsWith('consul-')) throw pair("Key prefix 'consul-' is reserved for internal use");
    if (value.length > 512) throw pair('Value is too long (limit: 512 characters)');
  }
}

function validateWeights(weights: { Passing?: number; Warning?: number }): { Passing: number; Warning: number } {
  const out = { Passing: weights.Passing ?? 0, Warning: weights.Warning ?? 0 };
  const fail = (reason: string) => new RegistryHttpError(400, `Invalid Weights: ${reason}`);
  if (out.Passing < 1) throw fail('Passing must be greater than 0');
  if (out.Warning < 0) throw fail('Warning must be greater or equal than 0');
  if (out.Passing > 65535 || out.Warning > 65535) throw fail('DNS Weight must be between 0 and 65535');
  return out;
}

/**
 * PUT /v1/agent/service/register, first half: the JSON decode, the name and the address.
 * Consul resolves the ACL token after this and before `validate()` runs.
 */
export interface DecodedRegistration {
  name: string;
  /** The rest of Consul's validation: weights, meta, checks. */
  validate(): Registration;
}

export function decodeRegistrationBody(text: string, opts: DecodeOptions = {}): DecodedRegistration {
  const body = normalise(parseJson(text), SERVICE_FIELDS, SERVICE_GO_VALUE);
  const rawChecks: unknown[] = [];
  if (body.Check !== undefined) rawChecks.push(body.Check);
  if (Array.isArray(body.Checks)) rawChecks.push(...(body.Checks as unknown[]));
  // Go decodes every check (unknown fields, durations) before the handler validates anything.
  const checks = rawChecks.map((raw) => normalise(raw, CHECK_FIELDS, 'structs.CheckType')).filter((c) => Object.keys(c).length > 0);
  const name = (body.Name as string | undefined) ?? '';
  if (name === '') throw new RegistryHttpError(400, 'Missing service name');
  const address = (body.Address as string | undefined) ?? '';
  if (ANY_ADDRESSES.has(address)) throw new RegistryHttpError(400, 'Invalid service address');
  const id = (body.ID as string | undefined) || name;
  return {
    name,
    validate() {
      const weights = body.Weights === undefined ? { Passing: 1, Warning: 1 } : validateWeights(body.Weights as { Passing?: number; Warning?: number });
      const meta = (body.Meta as Record<string, string> | undefined) ?? {};
      validateMeta(meta);
      const service: ServiceDefinition = {
        id,
        name,
        tags: (body.Tags as string[] | undefined) ?? [],
        address,
        port: (body.Port as number | undefined) ?? 0,
        meta,
        weights,
        enableTagOverride: (body.EnableTagOverride as boolean | undefined) ?? false,
      };
      return { service, checks: checks.map((check, i) => validateCheck(check, id, name, i, checks.length, opts)) };
    },
  };
}

/** Both halves of decodeRegistrationBody, for callers without ACLs in between. */
export function decodeRegistration(text: string, opts: DecodeOptions = {}): Registration {
  return decodeRegistrationBody(text, opts).validate();
}

/** PUT /v1/agent/check/update/:id */
export function decodeCheckUpdate(text: string): { status: 'passing' | 'warning' | 'critical'; output: string } {
  const body = normalise(parseJson(text), UPDATE_FIELDS, 'agent.checkUpdate');
  const status = (body.Status as string | undefined) ?? '';
  if (status !== 'passing' && status !== 'warning' && status !== 'critical') {
    throw new RegistryHttpError(400, `Invalid check status: '${status}'`);
  }
  return { status, output: (body.Output as string | undefined) ?? '' };
}
