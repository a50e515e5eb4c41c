/**
 * An answer the registry gives instead of a result: Consul's status, its text (bare text/plain)
 * and any headers (query metadata on some 400s). Handlers throw it; the router answers it.
 */
export class RegistryHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(body);
    this.name = 'RegistryHttpError';
  }
}
