/** /v1/agent/: this agent's services and checks (register, deregister, maintenance, TTL updates, reads). */
import { createHash } from 'node:crypto';
import { arch, availableParallelism, platform } from 'node:os';
import type { CheckUpdateStatus } from '../../consul-wire/types.js';
import { anonymousDenied } from '../acl.js';
import { blockingTimeoutMs, parseBlockingParams } from '../blocking.js';
import { decodeCheckUpdate } from '../decode-check.js';
import { parseBool } from '../decode-query.js';
import { decodeRegistrationBody } from '../decode-registration.js';
import { RegistryHttpError } from '../http-error.js';
import { readFilter } from '../query-params.js';
import { agentSelfView, agentServiceView, checkView, memberView } from '../views.js';
import type { ApiResponse, EndpointContext, ParsedRequest, Route } from './route.js';

export function agentRoutes(ctx: EndpointContext): Route[] {
  const { catalog } = ctx;

  const register = (req: ParsedRequest): ApiResponse => {
    const decoded = decodeRegistrationBody(req.body, ctx.decodeOptions);
    ctx.rejectUnknownToken(req);
    const { service, checks } = decoded.validate();
    ctx.acl(req, 'write', 'service:write', service.name);
    const replace = req.query.has('replace-existing-checks') && parseBool(req.query.get('replace-existing-checks') || 'true') !== false;
    catalog.registerService(service, checks, { replaceExistingChecks: replace });
    // Consul restarts a service's checks (TTL timers included) on every registration, even an identical one.
    ctx.runner?.syncService(service.id);
    return ctx.empty();
  };

  const deregister = (req: ParsedRequest): ApiResponse => {
    ctx.rejectUnknownToken(req);
    const service = catalog.getService(req.rest);
    if (!service) {
      throw new RegistryHttpError(404, `Unknown service ID ${JSON.stringify(req.rest)}. Ensure that the service ID is passed, not the service name.`);
    }
    ctx.acl(req, 'write', 'service:write', service.name);
    catalog.deregisterService(service.id);
    return ctx.empty();
  };

  /**
   * PUT /v1/agent/service/maintenance/:id?enable=true|false&reason=... (Consul's
   * AgentServiceMaintenance): the parameters are checked before the token, the service after it.
   */
  const serviceMaintenance = (req: ParsedRequest): ApiResponse => {
    if (req.rest === '') throw new RegistryHttpError(400, 'Missing service ID');
    if (!req.query.has('enable')) throw new RegistryHttpError(400, 'Missing value for enable');
    const raw = req.query.get('enable') ?? '';
    const enable = parseBool(raw);
    if (enable === undefined) throw new RegistryHttpError(400, `Invalid value for enable: ${JSON.stringify(raw)}`);
    ctx.rejectUnknownToken(req);
    const service = catalog.getService(req.rest);
    if (!service) {
      throw new RegistryHttpError(404, `Unknown service ID ${JSON.stringify(req.rest)}. Ensure that the service ID is passed, not the service name.`);
    }
    ctx.acl(req, 'write', 'service:write', service.name);
    if (enable) catalog.enableServiceMaintenance(service.id, req.query.get('reason') ?? '');
    else catalog.disableServiceMaintenance(service.id);
    return ctx.empty();
  };

  /**
   * GET /v1/agent/service/:id (Consul's AgentService): the agent's record of one service with a
   * ContentHash (also sent as X-Consul-ContentHash); `?hash=` blocks until the record's hash
   * differs from it, for `wait` (default 5m, at most 10m, plus jitter).
   */
  const agentService = async (req: ParsedRequest): Promise<ApiResponse> => {
    const params = parseBlockingParams(req.query);
    ctx.rejectUnknownToken(req);
    const id = req.rest;
    const current = (): { hash: string; view: Record<string, unknown> } | undefined => {
      const service = catalog.getService(id);
      if (!service) return undefined;
      const { Datacenter, ...view } = agentServiceView(service, catalog.node.datacenter);
      const hash = contentHash(view);
      return { hash, view: { ...view, ContentHash: hash, Datacenter } };
    };
    const hash = req.query.get('hash') ?? '';
    if (hash !== '') {
      const timeout = blockingTimeoutMs(params.waitMs, ctx.random);
      // IndexWaiters wakes when the index rises above 1: here, when the hash is no longer the one given.
      await ctx.waiters.wait(() => ((current()?.hash ?? '') === hash ? 1 : 2), 1, timeout, req.signal);
    }
    const found = current();
    if (!found) throw new RegistryHttpError(404, `unknown service ID: ${id}`);
    const service = catalog.getService(id)!;
    if (ctx.acl(req, 'read').outcome === 'filter') throw new RegistryHttpError(403, anonymousDenied('service:read', service.name));
    return ctx.json(200, found.view, { 'x-consul-contenthash': found.hash });
  };

  const agentServices = (req: ParsedRequest): ApiResponse => {
    const filtered = ctx.acl(req, 'read').outcome === 'filter';
    const filter = readFilter(req.query, 'agent/services');
    const out: Record<string, unknown> = {};
    if (!filtered) {
      for (const s of catalog.listServices()) {
        const view = agentServiceView(s, catalog.node.datacenter);
        if (filter.keep(view)) out[s.id] = view;
      }
    }
    return ctx.json(200, out);
  };

  const agentChecks = (req: ParsedRequest): ApiResponse => {
    const filtered = ctx.acl(req, 'read').outcome === 'filter';
    const filter = readFilter(req.query, 'agent/checks');
    const out: Record<string, unknown> = {};
    if (!filtered) {
      for (const c of catalog.listChecks()) {
        const view = checkView(c, catalog.node.name, catalog.getService(c.serviceId)?.tags ?? [], 'agent');
        if (filter.keep(view)) out[c.checkId] = view;
      }
    }
    return ctx.json(200, out);
  };

  const setCheck = (req: ParsedRequest, status: CheckUpdateStatus, output: string): ApiResponse => {
    ctx.rejectUnknownToken(req);
    const check = catalog.getCheck(req.rest);
    if (!check) {
      throw new RegistryHttpError(404, `Unknown check ID ${JSON.stringify(req.rest)}. Ensure that the check ID is passed, not the check name.`);
    }
    ctx.acl(req, 'write', 'service:write', check.serviceName);
    if (check.type !== 'ttl') {
      throw new RegistryHttpError(500, `CheckID ${JSON.stringify(req.rest)} does not have associated TTL`);
    }
    catalog.updateCheck(check.checkId, status, output);
    ctx.runner?.ttlUpdated(check.checkId);
    return ctx.empty();
  };

  const checkStatus = (status: CheckUpdateStatus) => (req: ParsedRequest): ApiResponse => setCheck(req, status, req.query.get('note') ?? '');

  const checkUpdate = (req: ParsedRequest): ApiResponse => {
    const update = decodeCheckUpdate(req.body);
    return setCheck(req, update.status, update.output);
  };

  const agent = () => ({ serverAddress: ctx.serverAddress, aclsEnabled: ctx.token !== undefined });

  /** GET /v1/agent/self: needs agent:read, so the anonymous token is refused rather than filtered. */
  const self = (req: ParsedRequest): ApiResponse => {
    if (ctx.acl(req, 'read').outcome === 'filter') throw new RegistryHttpError(403, anonymousDenied('agent:read', catalog.node.name));
    const runtime = { arch: arch(), platform: platform(), cpus: availableParallelism(), version: `node${process.versions.node}` };
    return ctx.json(200, agentSelfView(catalog, agent(), runtime));
  };

  /**
   * GET /v1/agent/members: the LAN pool, this one node (node:read, so the anonymous token sees none).
   * `?wan` lists the WAN pool, which a dev agent answers with null; segments are Enterprise-only.
   */
  const members = (req: ParsedRequest): ApiResponse => {
    // Consul reads ?wan by presence alone (?wan=0 is the WAN pool too); `consul members` sends ?segment=_all.
    const segment = req.query.get('segment') ?? '';
    const wan = req.query.has('wan');
    if (wan && segment !== '') throw new RegistryHttpError(400, 'Cannot provide a segment with wan=true');
    const filtered = ctx.acl(req, 'read').outcome === 'filter';
    if (wan) return ctx.json(200, null);
    if (segment !== '' && segment !== '_all') throw new RegistryHttpError(500, 'Network segments are not supported in this version of Consul');
    return ctx.json(200, filtered ? [] : [memberView(catalog, agent())]);
  };

  return [
    { prefix: '/v1/agent/self', exact: true, method: 'GET', handler: self },
    { prefix: '/v1/agent/members', exact: true, method: 'GET', handler: members },
    { prefix: '/v1/agent/service/register', exact: true, method: 'PUT', handler: register },
    { prefix: '/v1/agent/service/deregister/', exact: false, method: 'PUT', handler: deregister },
    { prefix: '/v1/agent/service/maintenance/', exact: false, method: 'PUT', handler: serviceMaintenance },
    { prefix: '/v1/agent/service/', exact: false, method: 'GET', handler: agentService },
    { prefix: '/v1/agent/services', exact: true, method: 'GET', handler: agentServices },
    { prefix: '/v1/agent/checks', exact: true, method: 'GET', handler: agentChecks },
    { prefix: '/v1/agent/check/pass/', exact: false, method: 'PUT', handler: checkStatus('passing') },
    { prefix: '/v1/agent/check/warn/', exact: false, method: 'PUT', handler: checkStatus('warning') },
    { prefix: '/v1/agent/check/fail/', exact: false, method: 'PUT', handler: checkStatus('critical') },
    { prefix: '/v1/agent/check/update/', exact: false, method: 'PUT', handler: checkUpdate },
  ];
}

/**
 * A hex digest of an agent service record. Consul hashes the Go struct (hashstructure) and
 * prints the uint64 with %x, so only the form matches: up to 16 hex digits, no leading zeros.
 */
function contentHash(view: Record<string, unknown>): string {
  const digest = createHash('sha256').update(JSON.stringify(view)).digest('hex').slice(0, 16);
  return BigInt(`0x${digest}`).toString(16);
}
