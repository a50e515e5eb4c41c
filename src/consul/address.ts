import { FarolError } from '../errors.js';

/** Where one Consul agent listens, ready for an undici dispatcher. */
export interface ConsulEndpoint {
  scheme: 'http' | 'https';
  /** "http://127.0.0.1:8500"; for a unix socket "http://localhost". */
  origin: string;
  /** A reverse-proxy prefix ("/consul") put before every API path, or "". */
  pathPrefix: string;
  /** Set for "unix:///path/to/consul.sock". */
  socketPath?: string;
  /** The address as the user wrote it, for messages. */
  display: string;
}

export const DEFAULT_CONSUL_ADDRESS = '127.0.0.1:8500';

function invalid(address: string, why: string): FarolError {
  return new FarolError('CONFIG_INVALID', `Invalid Consul address "${address}": ${why}`, {
    hint: 'use host:port, http://host:port, https://host:port or unix:///path (e.g. CONSUL_HTTP_ADDR=127.0.0.1:8500)',
  });
}

/**
 * Parses an address the way Consul's Go client (api.NewClient) does: an optional
 * "http://", "https://" or "unix://" scheme (any other is refused), then host[:port];
 * for http(s) anything after the first "/" is a path prefix. Without a scheme the
 * address is plain HTTP; HTTPS must be asked for with "https://" (consulOptionsFromEnv
 * adds it for CONSUL_HTTP_SSL=true).
 */
export function parseConsulAddress(address: string): ConsulEndpoint {
  const display = address.trim();
  if (display.length === 0) throw invalid(address, 'it is empty');

  let scheme = 'http';
  let rest = display;
  const separator = display.indexOf('://');
  if (separator >= 0) {
    scheme = display.slice(0, separator).toLowerCase();
    rest = display.slice(separator + 3);
  }

  if (scheme === 'unix') {
    if (rest.length === 0) throw invalid(address, 'the socket path is missing');
    return { scheme: 'http', origin: 'http://localhost', pathPrefix: '', socketPath: rest, display };
  }
  if (scheme !== 'http' && scheme !== 'https') throw invalid(address, `unknown protocol scheme "${scheme}"`);

  const slash = rest.indexOf('/');
  const hostPort = slash >= 0 ? rest.slice(0, slash) : rest;
  const pathPrefix = slash >= 0 ? `/${rest.slice(slash + 1)}`.replace(/\/+$/, '') : '';
  if (hostPort.length === 0) throw invalid(address, 'the host is missing');
  if (/[\s?#@]/.test(hostPort)) throw invalid(address, 'the host contains a character not allowed there');

  let url: URL;
  try {
    url = new URL(`${scheme}://${hostPort}`);
  } catch {
    throw invalid(address, 'the host or port is not valid');
  }
  if (url.hostname.length === 0) throw invalid(address, 'the host is missing');
  if (hostPort.endsWith(':')) throw invalid(address, 'the port is empty');
  return { scheme, origin: url.origin, pathPrefix, display };
}
