/**
 * What real Consul 1.15 answers for the registrations the scenarios make, recorded from the agent
 * and written out so both targets are held to the same text. Volatile values (node IDs and names,
 * Raft indexes) appear as '<string>' / '<number>' after `withoutVolatile`.
 */
export const SERVICE_NAME = 'web';

/** Registration body of the main scenario: address, port, tags, meta and a passing TTL check. */
export function webRegistration(id: string, tags: string[], status: 'passing' | 'critical' = 'passing'): Record<string, unknown> {
  return {
    ID: id,
    Name: SERVICE_NAME,
    Address: '127.0.0.1',
    Port: 8080,
    Tags: tags,
    Meta: { version: '1.2.3' },
    Check: { TTL: '30s', Status: status, Notes: 'renewed by the scenario' },
  };
}

const taggedAddresses = {
  lan_ipv4: { Address: '127.0.0.1', Port: 8080 },
  wan_ipv4: { Address: '127.0.0.1', Port: 8080 },
};

/** An entry of GET /v1/agent/services. */
export function expectedAgentService(id: string, tags: string[]): Record<string, unknown> {
  return {
    ID: id,
    Service: SERVICE_NAME,
    Tags: tags,
    Meta: { version: '1.2.3' },
    Port: 8080,
    Address: '127.0.0.1',
    TaggedAddresses: taggedAddresses,
    Weights: { Passing: 1, Warning: 1 },
    EnableTagOverride: false,
    Datacenter: 'dc1',
  };
}

/** A check of the scenario's service as GET /v1/agent/checks and the health endpoint show it (volatile fields masked). */
export function expectedCheck(check: { id: string; checkId: string; name: string; type: string; status: string; notes: string; output: string; tags: string[] }): Record<string, unknown> {
  return {
    Node: '<string>',
    CheckID: check.checkId,
    Name: check.name,
    Status: check.status,
    Notes: check.notes,
    Output: check.output,
    ServiceID: check.id,
    ServiceName: SERVICE_NAME,
    ServiceTags: check.tags,
    Type: check.type,
    Interval: '',
    Timeout: '',
    ExposedPort: 0,
    Definition: {},
    CreateIndex: '<number>',
    ModifyIndex: '<number>',
  };
}

/** The service's TTL check. */
export function expectedServiceCheck(id: string, tags: string[], status: string, output = ''): Record<string, unknown> {
  return expectedCheck({ id, checkId: `service:${id}`, name: `Service '${SERVICE_NAME}' check`, type: 'ttl', status, notes: 'renewed by the scenario', output, tags });
}

/** The Service object of a GET /v1/health/service entry (indexes masked). */
export function expectedHealthService(id: string, tags: string[]): Record<string, unknown> {
  return {
    ID: id,
    Service: SERVICE_NAME,
    Tags: tags,
    Address: '127.0.0.1',
    TaggedAddresses: taggedAddresses,
    Meta: { version: '1.2.3' },
    Port: 8080,
    Weights: { Passing: 1, Warning: 1 },
    EnableTagOverride: false,
    Proxy: { Mode: '', MeshGateway: {}, Expose: {} },
    Connect: {},
    PeerName: '',
    CreateIndex: '<number>',
    ModifyIndex: '<number>',
  };
}

/** The Node object of a health entry, as a shape: its own TaggedAddresses and Meta are agent-specific string maps. */
export const NODE_SHAPE = {
  Address: 'string',
  CreateIndex: 'number',
  Datacenter: 'string',
  ID: 'string',
  Meta: 'string map',
  ModifyIndex: 'number',
  Node: 'string',
  TaggedAddresses: 'string map',
};

/** An element of GET /v1/catalog/service/:name (node ID, node name and indexes masked; node maps as shapes). */
export function expectedCatalogService(id: string, tags: string[]): Record<string, unknown> {
  return {
    ID: '<string>',
    Node: '<string>',
    Address: '127.0.0.1',
    Datacenter: 'dc1',
    TaggedAddresses: 'string map',
    NodeMeta: 'string map',
    ServiceKind: '',
    ServiceID: id,
    ServiceName: SERVICE_NAME,
    ServiceTags: tags,
    ServiceAddress: '127.0.0.1',
    ServiceTaggedAddresses: taggedAddresses,
    ServiceWeights: { Passing: 1, Warning: 1 },
    ServiceMeta: { version: '1.2.3' },
    ServicePort: 8080,
    ServiceSocketPath: '',
    ServiceEnableTagOverride: false,
    ServiceProxy: { Mode: '', MeshGateway: {}, Expose: {} },
    ServiceConnect: {},
    CreateIndex: '<number>',
    ModifyIndex: '<number>',
  };
}

/** Consul's refusal texts, verbatim. */
export const TEXTS = {
  unknownServiceId: (id: string) => `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`,
  unknownCheckId: (id: string) => `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`,
  anonymousDenied: (service: string) =>
    `Permission denied: anonymous token lacks permission 'service:write' on "${service}". The anonymous token is used implicitly when a request does not specify a token.`,
  aclNotFound: 'ACL not found',
  decodeFailed: 'Request decode failed: ',
  missingName: 'Missing service name',
  invalidIndex: 'Invalid index',
  invalidWait: 'Invalid wait time',
  methodNotAllowed: (method: string) => `method ${method} not allowed`,
};
