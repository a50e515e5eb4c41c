/**
 * Check definitions as Consul's agent reads them (structs.CheckType in a registration): Go
 * duration fields (a string or nanoseconds), Consul's minimums and defaults, its "Invalid check"
 * texts; and the body of PUT /v1/agent/check/update/:id. Pure.
 */
import { formatGoDuration, goDurationFromFloat, goDurationMs, parseGoDuration } from '../consul-wire/duration.js';
import type { CheckUpdateStatus, HealthStatus } from '../consul-wire/types.js';
import type { CheckDefinition, CheckType } from './catalog.js';
import { normalise, parseJson, type GoFields } from './decode-json.js';
import { RegistryHttpError } from './http-error.js';

export const CHECK_FIELDS: GoFields = {
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

const UPDATE_FIELDS: GoFields = {
  status: ['Status', 'string'],
  output: ['Output', 'string'],
};

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

/**
 * One check of a registration (already decoded by `normalise` with CHECK_FIELDS), validated as
 * Consul validates it; `position`/`count` name it service:<id> or service:<id>:<n>.
 */
export function validateCheck(check: Record<string, unknown>, serviceId: string, serviceName: string, position: number, count: number, opts: DecodeOptions): CheckDefinition {
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

/** PUT /v1/agent/check/update/:id */
export function decodeCheckUpdate(text: string): { status: CheckUpdateStatus; output: string } {
  const body = normalise(parseJson(text), UPDATE_FIELDS, 'agent.checkUpdate');
  const status = (body.Status as string | undefined) ?? '';
  if (status !== 'passing' && status !== 'warning' && status !== 'critical') {
    throw new RegistryHttpError(400, `Invalid check status: '${status}'`);
  }
  return { status, output: (body.Output as string | undefined) ?? '' };
}
