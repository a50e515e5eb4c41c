/**
 * Consul's JSON shapes for the registry's state, field for field as Consul 1.15.4 writes them
 * (compared with a real agent: agent/services uses `Meta: {}`, the health endpoint `Meta: null`
 * and omits a zero Port, catalog/service uses `ServiceMeta: {}`...).
 */
import { isIP } from 'node:net';
import type { Catalog, CheckState, ServiceState } from './catalog.js';

type Json = Record<string, unknown>;

function taggedServiceAddresses(address: string, port: number): Json | undefined {
  if (address === '') return undefined;
  // Consul adds lan/wan addresses for an IP service address (not for a host name).
  const family = isIP(address);
  if (family === 4) return { lan_ipv4: { Address: address, Port: port }, wan_ipv4: { Address: address, Port: port } };
  if (family === 6) return { lan_ipv6: { Address: address, Port: port }, wan_ipv6: { Address: address, Port: port } };
  return undefined;
}

/** One value of GET /v1/agent/services. */
export function agentServiceView(service: ServiceState, datacenter: string): Json {
  return {
    ID: service.id,
    Service: service.name,
    Tags: service.tags,
    Meta: service.meta,
    Port: service.port,
    Address: service.address,
    TaggedAddresses: taggedServiceAddresses(service.address, service.port),
    Weights: service.weights,
    EnableTagOverride: service.enableTagOverride,
    Datacenter: datacenter,
  };
}

/** A check as agent/checks (`agent`) or the health endpoints (`catalog`) show it. */
export function checkView(check: CheckState, nodeName: string, serviceTags: string[], view: 'agent' | 'catalog'): Json {
  return {
    Node: nodeName,
    CheckID: check.checkId,
    Name: check.name,
    Status: check.status,
    Notes: check.notes,
    Output: view === 'agent' ? check.output : check.syncedOutput,
    ServiceID: check.serviceId,
    ServiceName: check.serviceName,
    ServiceTags: serviceTags,
    Type: check.checkId === 'serfHealth' ? '' : check.type,
    Interval: check.interval,
    Timeout: check.timeout,
    ExposedPort: 0,
    Definition: {},
    CreateIndex: view === 'agent' ? 0 : check.createIndex,
    ModifyIndex: view === 'agent' ? 0 : check.modifyIndex,
  };
}

/** A node as catalog/nodes lists it and the health and catalog entries embed it. */
export function nodeView(catalog: Catalog): Json {
  const { node } = catalog;
  return {
    ID: node.id,
    Node: node.name,
    Address: node.address,
    Datacenter: node.datacenter,
    TaggedAddresses: { lan: node.address, lan_ipv4: node.address, wan: node.address, wan_ipv4: node.address },
    Meta: { 'consul-network-segment': '' },
    CreateIndex: catalog.nodeIndexes().createIndex,
    ModifyIndex: catalog.nodeIndexes().modifyIndex,
  };
}

/** JSON.stringify drops undefined members, which gives Go's omitempty without reshaping objects. */
function healthServiceView(service: ServiceState): Json {
  return {
    ID: service.id,
    Service: service.name,
    Tags: service.tags,
    Address: service.address,
    TaggedAddresses: taggedServiceAddresses(service.address, service.port),
    // The health endpoint writes an empty Meta as null and omits a zero Port.
    Meta: Object.keys(service.meta).length === 0 ? null : service.meta,
    Port: service.port === 0 ? undefined : service.port,
    Weights: service.weights,
    EnableTagOverride: service.enableTagOverride,
    Proxy: { Mode: '', MeshGateway: {}, Expose: {} },
    Connect: {},
    PeerName: '',
    CreateIndex: service.createIndex,
    ModifyIndex: service.modifyIndex,
  };
}

function hasTags(service: ServiceState, tags: string[]): boolean {
  const own = service.tags.map((t) => t.toLowerCase());
  return tags.every((tag) => own.includes(tag.toLowerCase()));
}

export interface HealthQuery {
  passing?: boolean;
  tags?: string[];
  /** ?filter=: whether an entry (as Consul writes it) is kept. */
  keep?: (entry: Json) => boolean;
}

/** One health/service entry as an object (what ?filter= reads). */
function healthEntry(catalog: Catalog, service: ServiceState, checks: CheckState[], serf: CheckState): Json {
  return {
    Node: nodeView(catalog),
    Service: healthServiceView(service),
    Checks: [serf, ...checks].map((c) => checkView(c, catalog.node.name, c === serf ? [] : service.tags, 'catalog')),
  };
}

/** A JSON array already serialised the way Consul's dev agent prints it (4-space indent, trailing newline). */
export class RenderedJson {
  constructor(readonly bytes: Buffer) {}

  get text(): string {
    return this.bytes.toString('utf8');
  }
}

const OPEN = Buffer.from('[\n');
const SEPARATOR = Buffer.from(',\n');
const CLOSE = Buffer.from('\n]\n');
const EMPTY = Buffer.from('[]\n');

/** Each instance's rendered health entry, reused until the service or one of its checks changes. */
const renderedEntries = new WeakMap<ServiceState, { version: string; bytes: Buffer }>();

function renderEntry(catalog: Catalog, service: ServiceState, checks: CheckState[], serf: CheckState): Buffer {
  const version = checks.map((c) => `${c.checkId}:${c.modifyIndex}`).join(',');
  const cached = renderedEntries.get(service);
  if (cached && cached.version === version) return cached.bytes;
  const entry = healthEntry(catalog, service, checks, serf);
  const bytes = Buffer.from(`    ${JSON.stringify(entry, null, 4).replace(/\n/g, '\n    ')}`);
  renderedEntries.set(service, { version, bytes });
  return bytes;
}

/** GET /v1/health/service/:name. `passing` drops an entry if any of its checks (node or service) is not passing. */
export function healthServiceBody(catalog: Catalog, name: string, query: HealthQuery = {}): RenderedJson {
  const tags = query.tags ?? [];
  const serf = catalog.serfCheck();
  const parts: Buffer[] = [];
  for (const { service, checks } of catalog.instancesOf(name)) {
    if (!hasTags(service, tags)) continue;
    if (query.passing && (serf.status !== 'passing' || checks.some((c) => c.status !== 'passing'))) continue;
    if (query.keep && !query.keep(healthEntry(catalog, service, checks, serf))) continue;
    parts.push(parts.length === 0 ? OPEN : SEPARATOR, renderEntry(catalog, service, checks, serf));
  }
  parts.push(parts.length === 0 ? EMPTY : CLOSE);
  return new RenderedJson(Buffer.concat(parts));
}

/** The same entries as objects (for tests and library callers). */
export function healthServiceEntries(catalog: Catalog, name: string, query: HealthQuery = {}): Json[] {
  return JSON.parse(healthServiceBody(catalog, name, query).text) as Json[];
}

/** GET /v1/catalog/service/:name */
export function catalogServiceEntries(catalog: Catalog, name: string, tags: string[] = []): Json[] {
  const node = nodeView(catalog);
  return catalog
    .instancesOf(name)
    .filter(({ service }) => hasTags(service, tags))
    .map(({ service }) => {
      return {
        ID: node.ID,
        Node: node.Node,
        Address: node.Address,
        Datacenter: node.Datacenter,
        TaggedAddresses: node.TaggedAddresses,
        NodeMeta: node.Meta,
        ServiceKind: '',
        ServiceID: service.id,
        ServiceName: service.name,
        ServiceTags: service.tags,
        ServiceAddress: service.address,
        ServiceTaggedAddresses: taggedServiceAddresses(service.address, service.port),
        ServiceWeights: service.weights,
        ServiceMeta: service.meta,
        ServicePort: service.port,
        ServiceSocketPath: '',
        ServiceEnableTagOverride: service.enableTagOverride,
        ServiceProxy: { Mode: '', MeshGateway: {}, Expose: {} },
        ServiceConnect: {},
        CreateIndex: service.createIndex,
        ModifyIndex: service.modifyIndex,
      };
    });
}

/** GET /v1/catalog/node/:node: the node and its services by ID (the health endpoint's service shape). */
export function nodeServicesView(catalog: Catalog): Json {
  const services: Json = {};
  for (const { service } of catalog.instancesOf('consul')) services[service.id] = healthServiceView(service);
  for (const service of catalog.listServices()) services[service.id] = healthServiceView(service);
  return { Node: nodeView(catalog), Services: services };
}

/** Checks as health/checks, health/state and health/node list them (the catalog's view, with ServiceTags). */
export function catalogCheckViews(catalog: Catalog, checks: CheckState[]): Json[] {
  return checks.map((c) => checkView(c, catalog.node.name, catalog.getService(c.serviceId)?.tags ?? [], 'catalog'));
}

/** The Consul version whose API the registry speaks, as agent/self and agent/members report it. */
export const CONSUL_API_VERSION = '1.15.4';
/** Consul's default serf LAN port, which agent/members reports (the registry runs no gossip). */
export const SERF_LAN_PORT = 8301;

export interface AgentIdentity {
  /** "127.0.0.1:8300": the server RPC address status/leader reports. */
  serverAddress: string;
  aclsEnabled: boolean;
}

/** One member of the LAN pool as GET /v1/agent/members and agent/self's Member show it: this node, alive. */
export function memberView(catalog: Catalog, agent: AgentIdentity): Json {
  const { node } = catalog;
  const serverPort = agent.serverAddress.slice(agent.serverAddress.lastIndexOf(':') + 1);
  return {
    Name: node.name,
    Addr: node.address,
    Port: SERF_LAN_PORT,
    Tags: {
      acls: agent.aclsEnabled ? '1' : '0',
      build: `${CONSUL_API_VERSION}:farol`,
      dc: node.datacenter,
      ft_fs: '1',
      ft_si: '1',
      id: node.id,
      port: serverPort,
      raft_vsn: '3',
      role: 'consul',
      segment: '',
      vsn: '2',
      vsn_max: '3',
      vsn_min: '2',
    },
    Status: 1,
    ProtocolMin: 1,
    ProtocolMax: 5,
    ProtocolCur: 2,
    DelegateMin: 2,
    DelegateMax: 5,
    DelegateCur: 4,
  };
}

/** Go's runtime.GOARCH for Node's process.arch. */
function goArch(arch: string): string {
  return ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm' } as Record<string, string>)[arch] ?? arch;
}

/**
 * GET /v1/agent/self: Config, DebugConfig (a few fields), Coord, Member, Stats (what `consul info`
 * prints) and Meta, as a Consul 1.15.4 dev server shows them.
 */
export function agentSelfView(catalog: Catalog, agent: AgentIdentity, runtime: { arch: string; platform: string; cpus: number; version: string }): Json {
  const { node } = catalog;
  const checks = catalog.listChecks();
  const index = String(catalog.currentIndex());
  return {
    Config: {
      Datacenter: node.datacenter,
      PrimaryDatacenter: node.datacenter,
      NodeName: node.name,
      NodeID: node.id,
      Revision: 'farol',
      Server: true,
      Version: CONSUL_API_VERSION,
      BuildDate: '2023-06-23T23:14:17Z',
    },
    DebugConfig: {
      ACLsEnabled: agent.aclsEnabled,
      AdvertiseAddrLAN: node.address,
      Datacenter: node.datacenter,
      DevMode: true,
      NodeID: node.id,
      NodeName: node.name,
      PrimaryDatacenter: node.datacenter,
      ServerMode: true,
      Version: CONSUL_API_VERSION,
    },
    Coord: { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 0.00001 },
    Member: memberView(catalog, agent),
    Stats: {
      agent: {
        check_monitors: '0',
        check_ttls: String(checks.filter((c) => c.type === 'ttl').length),
        checks: String(checks.length),
        services: String(catalog.listServices().length),
      },
      build: { prerelease: '', revision: 'farol', version: CONSUL_API_VERSION, version_metadata: '' },
      consul: {
        acl: agent.aclsEnabled ? 'enabled' : 'disabled',
        bootstrap: 'false',
        known_datacenters: '1',
        leader: 'true',
        leader_addr: agent.serverAddress,
        server: 'true',
      },
      raft: {
        applied_index: index,
        commit_index: index,
        fsm_pending: '0',
        last_contact: '0',
        last_log_index: index,
        last_log_term: '1',
        num_peers: '0',
        state: 'Leader',
        term: '1',
      },
      runtime: {
        arch: goArch(runtime.arch),
        cpu_count: String(runtime.cpus),
        goroutines: '0',
        max_procs: String(runtime.cpus),
        os: runtime.platform,
        version: runtime.version,
      },
      serf_lan: { encrypted: 'false', failed: '0', left: '0', members: '1' },
    },
    Meta: { 'consul-network-segment': '' },
  };
}
