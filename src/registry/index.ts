export { startRegistry, DEFAULT_REGISTRY_BIND, DEFAULT_REGISTRY_PORT, MAX_BODY_BYTES, type RegistryOptions, type RunningRegistry } from './server.js';
export { Catalog, type CheckDefinition, type CheckState, type ServiceDefinition, type ServiceState, type NodeIdentity } from './catalog.js';
export { RegistryApi, type ApiRequest, type ApiResponse, type RegistryApiOptions } from './router.js';
export { IndexWaiters, parseBlockingParams, blockingTimeoutMs, headerIndex, DEFAULT_WAIT_MS, MAX_WAIT_MS, type Timers } from './blocking.js';
export { CheckRunner, ttlExpiredOutput, type Probe, type ProbeResult } from './checks.js';
export { aclDecision, presentedToken, type AclDecision } from './acl.js';
export { decodeRegistration, decodeCheckUpdate, RegistryHttpError } from './decode.js';
