import type { Logger } from '../log/logger.js';
import type { FarolService } from './service.js';

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/**
 * Stops the service cleanly on SIGINT or SIGTERM, then calls onExit(0) (or onExit(1) if stopping
 * failed). A second signal while stopping calls onExit(1) at once, for an operator who will not wait.
 * Returns a function that removes the handlers.
 */
export function stopOnSignals(
  service: FarolService,
  opts: { logger?: Logger; onExit?: (code: number) => void } = {},
): () => void {
  const exitProcess = opts.onExit ?? ((code: number) => process.exit(code));
  let exited = false;
  const onExit = (code: number): void => {
    if (exited) return;
    exited = true;
    exitProcess(code);
  };
  let received = 0;
  const handler = (signal: NodeJS.Signals): void => {
    received += 1;
    if (received > 1) {
      opts.logger?.warn({ event: 'forced_exit', instance: service.instanceId, signal }, 'second signal: exiting without waiting');
      onExit(1);
      return;
    }
    opts.logger?.info({ event: 'signal', instance: service.instanceId, signal }, `received ${signal}: stopping`);
    service.stop({ reason: signal }).then(
      () => onExit(0),
      (error: unknown) => {
        opts.logger?.error({ event: 'stop_failed', instance: service.instanceId, error: (error as Error).message }, 'stop failed');
        onExit(1);
      },
    );
  };
  for (const signal of SIGNALS) process.on(signal, handler);
  return () => {
    for (const signal of SIGNALS) process.off(signal, handler);
  };
}

/**
 * Reloads the service (service.reload(): the users file) on SIGHUP, the usual "read your files
 * again" signal, and logs the outcome. Separate from stopOnSignals so a program that uses SIGHUP
 * for something else can leave it out; `farol serve` installs both. Returns a function that
 * removes the handler. While one reload runs, further signals wait for it and make one more.
 */
export function reloadOnSignal(
  service: Pick<FarolService, 'instanceId' | 'reload'>,
  opts: { logger?: Logger; signal?: NodeJS.Signals } = {},
): () => void {
  const signal = opts.signal ?? 'SIGHUP';
  let running: Promise<void> | undefined;
  let again = false;
  const reload = (): void => {
    opts.logger?.info({ event: 'signal', instance: service.instanceId, signal }, `received ${signal}: reloading`);
    const began = performance.now();
    running = service.reload().then(
      () => {
        opts.logger?.info({ event: 'reload_done', instance: service.instanceId, ms: Math.round(performance.now() - began) }, 'reload done');
      },
      (error: unknown) => {
        opts.logger?.error({ event: 'reload_failed', instance: service.instanceId, error: (error as Error).message }, 'reload failed');
      },
    ).finally(() => {
      running = undefined;
      if (again) {
        again = false;
        reload();
      }
    });
  };
  const handler = (): void => {
    if (running !== undefined) again = true;
    else reload();
  };
  process.on(signal, handler);
  return () => {
    process.off(signal, handler);
  };
}
