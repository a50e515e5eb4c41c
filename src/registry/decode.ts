/**
 * The decoders by job, for importers that predate the split: http-error.ts (the error answer),
 * decode-json.ts (Go's encoding/json as Consul uses it), decode-registration.ts (service
 * registration bodies), decode-check.ts (check definitions and updates), decode-query.ts (query
 * parameters). New code imports those modules directly.
 */
export { RegistryHttpError } from './http-error.js';
export { goSyntaxError } from './decode-json.js';
export { decodeCheckUpdate, type DecodeOptions } from './decode-check.js';
export { decodeRegistration, decodeRegistrationBody, type DecodedRegistration, type Registration } from './decode-registration.js';
