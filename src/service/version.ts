import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * Farol's own version, registered in Consul as service meta. Found by walking up from this file
 * because the relative path to package.json differs between the sources and the built dist/.
 */
export function farolVersion(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth += 1) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'farol' && typeof pkg.version === 'string') {
        cached = pkg.version;
        return cached;
      }
    } catch {
      // no package.json at this level: keep walking up
    }
    dir = dirname(dir);
  }
  cached = 'unknown';
  return cached;
}
