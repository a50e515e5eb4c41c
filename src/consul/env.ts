import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FarolError } from '../errors.js';
import type { ConsulClientOptions, ConsulTlsOptions } from './options.js';

/** Go's strconv.ParseBool, which Consul's CLI uses for its boolean variables. */
export function parseGoBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

function envBool(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = parseGoBool(raw);
  if (value === undefined) {
    throw new FarolError('CONFIG_INVALID', `${name} must be true or false, not "${raw}"`, {
      hint: `set ${name}=true or ${name}=false, or unset it`,
    });
  }
  return value;
}

function nonEmpty(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** Go's api.SetupTLSConfig drops a port from the server name. */
function stripPort(serverName: string): string {
  const colon = serverName.lastIndexOf(':');
  if (colon > serverName.lastIndexOf(']')) serverName = serverName.slice(0, colon);
  return serverName.replace(/^\[(.*)\]$/, '$1');
}

/** CONSUL_HTTP_SSL=true turns a scheme-less or http:// address into https://, as in api.NewClient. */
function withScheme(address: string, ssl: boolean): string {
  if (!ssl) return address;
  if (address.startsWith('http://')) return `https://${address.slice('http://'.length)}`;
  if (address.includes('://')) return address;
  return `https://${address}`;
}

function readTokenFile(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new FarolError('CONFIG_INVALID', `CONSUL_HTTP_TOKEN_FILE cannot be read: ${path}`, {
      hint: 'point CONSUL_HTTP_TOKEN_FILE at a readable file holding the ACL token, or unset it',
      cause: error,
    });
  }
}

/** All PEM certificates of a CA directory, concatenated (CONSUL_CAPATH, as go-rootcerts reads it). */
function readCaDirectory(dir: string): string {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => readFileSync(join(dir, entry.name), 'utf8'))
      .filter((text) => text.includes('-----BEGIN CERTIFICATE-----'))
      .join('\n');
  } catch (error) {
    throw new FarolError('CONFIG_INVALID', `CONSUL_CAPATH cannot be read: ${dir}`, {
      hint: 'point CONSUL_CAPATH at a directory of PEM CA certificates, or use CONSUL_CACERT',
      cause: error,
    });
  }
}

/** What a command line gives over the environment (Consul's -http-addr; flag > environment). */
export interface ConsulFlags {
  /** Replaces CONSUL_HTTP_ADDR; CONSUL_HTTP_SSL=true still makes a scheme-less or http:// address https://, as in Consul's CLI. */
  address?: string | string[] | undefined;
}

/**
 * Client options from Consul's own environment variables, read as Consul's CLI reads them
 * (api.DefaultConfig + api.NewClient): CONSUL_HTTP_ADDR (may carry a scheme),
 * CONSUL_HTTP_SSL, CONSUL_HTTP_TOKEN_FILE (wins over CONSUL_HTTP_TOKEN), CONSUL_HTTP_TOKEN,
 * CONSUL_CACERT (wins over CONSUL_CAPATH), CONSUL_CAPATH, CONSUL_CLIENT_CERT,
 * CONSUL_CLIENT_KEY, CONSUL_TLS_SERVER_NAME. Farol never skips TLS verification, so
 * CONSUL_HTTP_SSL_VERIFY=false is refused rather than silently ignored.
 */
export function consulOptionsFromEnv(env: NodeJS.ProcessEnv = process.env, flags: ConsulFlags = {}): ConsulClientOptions {
  const options: ConsulClientOptions = {};

  const ssl = envBool(env, 'CONSUL_HTTP_SSL') ?? false;
  const flagAddress = flags.address === undefined || flags.address === '' || (Array.isArray(flags.address) && flags.address.length === 0) ? undefined : flags.address;
  const address = nonEmpty(env, 'CONSUL_HTTP_ADDR');
  if (flagAddress !== undefined) options.address = Array.isArray(flagAddress) ? flagAddress.map((one) => withScheme(one, ssl)) : withScheme(flagAddress, ssl);
  else if (address !== undefined) options.address = withScheme(address, ssl);
  else if (ssl) options.address = withScheme('127.0.0.1:8500', true);

  if (envBool(env, 'CONSUL_HTTP_SSL_VERIFY') === false) {
    throw new FarolError('CONFIG_INVALID', 'CONSUL_HTTP_SSL_VERIFY=false is not supported: Farol always verifies TLS', {
      hint: "unset CONSUL_HTTP_SSL_VERIFY and set CONSUL_CACERT to the CA that signed Consul's certificate",
    });
  }

  const tokenFile = nonEmpty(env, 'CONSUL_HTTP_TOKEN_FILE');
  const token = tokenFile !== undefined ? readTokenFile(tokenFile) : nonEmpty(env, 'CONSUL_HTTP_TOKEN');
  if (token !== undefined && token !== '') options.token = token;

  const tls: ConsulTlsOptions = {};
  const caFile = nonEmpty(env, 'CONSUL_CACERT');
  const caPath = nonEmpty(env, 'CONSUL_CAPATH');
  if (caFile !== undefined) tls.ca = { file: caFile };
  else if (caPath !== undefined) tls.ca = { pem: readCaDirectory(caPath) };
  const certFile = nonEmpty(env, 'CONSUL_CLIENT_CERT');
  const keyFile = nonEmpty(env, 'CONSUL_CLIENT_KEY');
  if (certFile !== undefined && keyFile !== undefined) tls.clientCertificate = { certFile, keyFile };
  // One without the other is reported when the client connects, naming both variables.
  else if (certFile !== undefined) tls.certFile = certFile;
  else if (keyFile !== undefined) tls.keyFile = keyFile;
  const serverName = nonEmpty(env, 'CONSUL_TLS_SERVER_NAME');
  if (serverName !== undefined) tls.serverName = stripPort(serverName);
  if (Object.keys(tls).length > 0) options.tls = tls;

  return options;
}
