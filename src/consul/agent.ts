import type { ConsulHttp } from './http.js';
import { isUnknownServiceError } from './status-error.js';
import type { AgentCheck, AgentService, AgentServiceRegistration, CheckUpdateStatus } from './types.js';

/** The local agent's endpoints (Go: api.Agent). */
export class AgentApi {
  readonly #http: ConsulHttp;

  constructor(http: ConsulHttp) {
    this.#http = http;
  }

  /** PUT /v1/agent/service/register. replaceExistingChecks drops checks the registration no longer lists. */
  async registerService(reg: AgentServiceRegistration, opts: { replaceExistingChecks?: boolean } = {}): Promise<void> {
    await this.#http.write({
      path: '/v1/agent/service/register',
      params: opts.replaceExistingChecks ? { 'replace-existing-checks': 'true' } : {},
      body: reg,
    });
  }

  /** PUT /v1/agent/service/deregister/:service_id */
  async deregisterService(serviceId: string): Promise<void> {
    await this.#http.write({ path: `/v1/agent/service/deregister/${encodeURIComponent(serviceId)}` });
  }

  /** GET /v1/agent/services: the services registered with this agent, by service ID. */
  async services(): Promise<Record<string, AgentService>> {
    return (await this.#http.read<Record<string, AgentService>>({ path: '/v1/agent/services' })).value;
  }

  /**
   * GET /v1/agent/service/:service_id: the agent's own record of one service, or undefined when
   * the agent does not know that ID (Consul answers 404 "unknown service ID: <id>"). A cheap,
   * local read: the agent answers from its own state without asking the servers.
   */
  async service(serviceId: string): Promise<AgentService | undefined> {
    try {
      return (await this.#http.read<AgentService>({ path: `/v1/agent/service/${encodeURIComponent(serviceId)}` })).value;
    } catch (error) {
      if (isUnknownServiceError(error)) return undefined;
      throw error;
    }
  }

  /**
   * PUT /v1/agent/service/maintenance/:service_id?enable=true&reason=...: adds the critical
   * `_service_maintenance:<id>` check, so the instance leaves every `?passing` answer at once.
   * Enabling twice keeps the first reason. Consul answers 404 for an unknown service ID.
   */
  async enableServiceMaintenance(serviceId: string, reason = ''): Promise<void> {
    await this.#http.write({
      path: `/v1/agent/service/maintenance/${encodeURIComponent(serviceId)}`,
      params: { enable: 'true', ...(reason === '' ? {} : { reason }) },
    });
  }

  /** PUT /v1/agent/service/maintenance/:service_id?enable=false: removes the maintenance check (a no-op if none). */
  async disableServiceMaintenance(serviceId: string): Promise<void> {
    await this.#http.write({ path: `/v1/agent/service/maintenance/${encodeURIComponent(serviceId)}`, params: { enable: 'false' } });
  }

  /** GET /v1/agent/checks: the checks registered with this agent, by check ID. */
  async checks(): Promise<Record<string, AgentCheck>> {
    return (await this.#http.read<Record<string, AgentCheck>>({ path: '/v1/agent/checks' })).value;
  }

  /** PUT /v1/agent/check/update/:check_id, the TTL update Go's Agent.UpdateTTL sends. */
  async updateTTL(checkId: string, status: CheckUpdateStatus, output = ''): Promise<void> {
    await this.#http.write({
      path: `/v1/agent/check/update/${encodeURIComponent(checkId)}`,
      body: { Status: status, Output: output },
    });
  }
}
