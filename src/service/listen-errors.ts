import { FarolError, systemErrorCode } from '../errors.js';

/** Turns a failed listen into an error that says which address and what to do. */
export function listenError(error: unknown, bind: string, port: number): FarolError {
  const code = systemErrorCode(error);
  switch (code) {
    case 'EADDRINUSE':
      return new FarolError('PORT_IN_USE', `port ${port} on ${bind} is already in use`, {
        hint: 'stop the other process or pick another --port (0 picks a free one)',
        cause: error,
      });
    case 'EACCES':
      return new FarolError('LISTEN_FAILED', `not allowed to listen on port ${port} on ${bind} (EACCES)`, {
        hint: 'ports below 1024 need extra privileges: pick a higher --port (the default is 4443) or grant CAP_NET_BIND_SERVICE',
        cause: error,
      });
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new FarolError('LISTEN_FAILED', `cannot listen on ${bind}: not an address of this machine (${code})`, {
        hint: '--bind takes an address of this machine, e.g. 127.0.0.1, 0.0.0.0 or an interface address',
        cause: error,
      });
    default:
      return new FarolError('LISTEN_FAILED', `cannot listen on port ${port} on ${bind} (${code ?? (error as Error)?.message ?? String(error)})`, {
        hint: 'check --bind and --port',
        cause: error,
      });
  }
}
