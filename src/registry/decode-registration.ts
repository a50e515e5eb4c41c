/**
 * PUT /v1/agent/service/register bodies decoded as Consul decodes them, with its 400 texts
 * ("Request decode failed: ...", "Missing service name", "Invalid Service Meta: ...").
 * Pure: takes the body text, returns definitions or a RegistryHttpError.
 */
import type { CheckDefinition, ServiceDefinition } from './catalog.js';
import { CHECK_FIELDS, validateCheck, type DecodeOptions } from './decode-check.js';
import { normalise, parseJson, type GoFields } from './decode-json.js';
import { RegistryHttpError } from './http-error.js';

const SERVICE_FIELDS: GoFields = {
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

/** Consul decodes a service through an alias struct, which shows in Go's error texts. */
const SERVICE_GO_VALUE =
  'struct { EnableTagOverrideSnake bool "json:\\"enable_tag_override\\""; TaggedAddressesSnake map[string]structs.ServiceAddress "json:\\"tagged_addresses\\""; *structs.Alias }';

export interface Registration {
  service: ServiceDefinition;
  checks: CheckDefinition[];
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
