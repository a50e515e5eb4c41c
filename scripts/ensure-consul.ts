import { spawnSync } from 'node:child_process';

/**
 * Makes sure CONSUL_BIN names a real Consul binary, building it with scripts/build-consul.sh
 * (once; cached) when it does not. Returns false, having said why on stderr, when it cannot.
 */
export function ensureConsulBinary(): boolean {
  if (process.env.CONSUL_BIN) return true;
  const build = spawnSync('bash', ['scripts/build-consul.sh'], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (build.status !== 0) {
    console.error('farol: could not build Consul (scripts/build-consul.sh); install Go 1.21+ or set CONSUL_BIN');
    return false;
  }
  process.env.CONSUL_BIN = build.stdout.toString().trim();
  return true;
}
