/**
 * Consul's JSON wire shapes, shared by both sides of the wire: Farol's Consul client
 * (src/consul/) reads them, the embedded registry (src/registry/) writes them.
 * Named exactly as Consul's Go `api` package serialises them
 * (github.com/hashicorp/consul/api: agent.go, health.go, catalog.go). A field tagged
 * `json:",omitempty"` in Go is optional here; every other response field is always present.
 * Only the fields Farol uses or may reasonably need are typed; Consul sends more.
 */

/** "passing" | "warning" | "critical" (plus "maintenance" for maintenance-mode checks). */
export type HealthStatus = 'passing' | 'warning' | 'critical' | 'maintenance';

export interface AgentWeights {
  Passing: number;
  Warning: number;
}

export interface ServiceAddress {
  Address: string;
  Port: number;
}

/**
 * Body of `PUT /v1/agent/service/register`. `Args` of the Go struct is `ScriptArgs` on the wire.
 * Durations are Go duration strings ("10s", "1m30s").
 */
export interface AgentServiceCheck {
  CheckID?: string;
  Name?: string;
  ScriptArgs?: string[];
  Interval?: string;
  Timeout?: string;
  TTL?: string;
  HTTP?: string;
  Header?: Record<string, string[]>;
  Method?: string;
  Body?: string;
  TCP?: string;
  UDP?: string;
  /** Initial status; Consul starts TTL checks as "critical" unless told otherwise. */
  Status?: HealthStatus;
  Notes?: string;
  /** Name the agent verifies the check target's certificate against (see report on enable_agent_tls_for_checks). */
  TLSServerName?: string;
  /** Farol never sets this to true; it is typed only because Consul's API has it. */
  TLSSkipVerify?: boolean;
  GRPC?: string;
  GRPCUseTLS?: boolean;
  H2PING?: string;
  H2PingUseTLS?: boolean;
  AliasNode?: string;
  AliasService?: string;
  SuccessBeforePassing?: number;
  FailuresBeforeWarning?: number;
  FailuresBeforeCritical?: number;
  DeregisterCriticalServiceAfter?: string;
}

export interface AgentServiceRegistration {
  Kind?: string;
  ID?: string;
  Name: string;
  Tags?: string[];
  Port?: number;
  Address?: string;
  SocketPath?: string;
  TaggedAddresses?: Record<string, ServiceAddress>;
  EnableTagOverride?: boolean;
  Meta?: Record<string, string>;
  Weights?: AgentWeights;
  Check?: AgentServiceCheck;
  Checks?: AgentServiceCheck[];
  Namespace?: string;
  Partition?: string;
}

/** A service as `GET /v1/agent/services` and the health endpoints return it. */
export interface AgentService {
  Kind?: string;
  ID: string;
  Service: string;
  Tags: string[] | null;
  Meta: Record<string, string> | null;
  Port: number;
  Address: string;
  SocketPath?: string;
  TaggedAddresses?: Record<string, ServiceAddress>;
  Weights: AgentWeights;
  EnableTagOverride: boolean;
  CreateIndex?: number;
  ModifyIndex?: number;
  ContentHash?: string;
  PeerName?: string;
  Namespace?: string;
  Partition?: string;
  Datacenter?: string;
}

/**
 * How a check runs, as the health endpoints report it. Consul 1.15 serialises the
 * durations as Go duration strings ("10s").
 */
export interface HealthCheckDefinition {
  HTTP?: string;
  Header?: Record<string, string[]> | null;
  Method?: string;
  Body?: string;
  TLSServerName?: string;
  TLSSkipVerify?: boolean;
  TCP?: string;
  UDP?: string;
  GRPC?: string;
  GRPCUseTLS?: boolean;
  Interval?: string;
  Timeout?: string;
  DeregisterCriticalServiceAfter?: string;
}

/** A check as `GET /v1/agent/checks` returns it. */
export interface AgentCheck {
  Node: string;
  CheckID: string;
  Name: string;
  Status: HealthStatus;
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  Type: string;
  /** Consul 1.15 also reports the check's interval and timeout here ("" for TTL checks). */
  Interval?: string;
  Timeout?: string;
  ExposedPort: number;
  Definition: HealthCheckDefinition;
  Namespace?: string;
  Partition?: string;
}

/** A check as the health endpoints return it. */
export interface HealthCheck {
  Node: string;
  CheckID: string;
  Name: string;
  Status: HealthStatus;
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[] | null;
  Type: string;
  Interval?: string;
  Timeout?: string;
  ExposedPort: number;
  PeerName?: string;
  Namespace?: string;
  Partition?: string;
  Definition: HealthCheckDefinition;
  CreateIndex: number;
  ModifyIndex: number;
}

export interface Node {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  TaggedAddresses: Record<string, string> | null;
  Meta: Record<string, string> | null;
  CreateIndex: number;
  ModifyIndex: number;
  Partition?: string;
  PeerName?: string;
}

/** One element of `GET /v1/health/service/:service`. */
export interface ServiceEntry {
  Node: Node;
  Service: AgentService;
  Checks: HealthCheck[];
}

/** One element of `GET /v1/catalog/service/:service`. */
export interface CatalogService {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  TaggedAddresses: Record<string, string> | null;
  NodeMeta: Record<string, string> | null;
  ServiceID: string;
  ServiceName: string;
  ServiceAddress: string;
  ServiceTaggedAddresses?: Record<string, ServiceAddress>;
  ServiceTags: string[] | null;
  ServiceMeta: Record<string, string> | null;
  ServicePort: number;
  ServiceWeights: AgentWeights;
  ServiceEnableTagOverride: boolean;
  CreateIndex: number;
  ModifyIndex: number;
  Namespace?: string;
  Partition?: string;
}

export type CheckUpdateStatus = 'passing' | 'warning' | 'critical';
