import { channels, createEventOwner, type EventOwner } from '../events/channels.js';
import { componentEvents, type ComponentEvents } from '../events/owner.js';
import type { Logger } from '../log/logger.js';
import type { FarolService } from './service.js';

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/**
 * Where the signal events go: the logger given writes them (an owner of their own, so a logger
 * also subscribed to the service writes each line once); without one, the service's owner.
 */
function signalEvents(service: { readonly instanceId: string; readonly owner?: EventOwner }, logger: Logger | undefined): ComponentEvents {
  if (logger !== undefined) return componentEvents('service', service.instanceId, { logger });
  return { owner: service.owner ?? createEventOwner('service', service.instanceId), close: () => undefined };
}

function facts(service: { readonly name?: string; readonly instanceId: string }, owner: EventOwner) {
  return { owner, service: service.name ?? service.instanceId, instance: service.instanceId };
}

/**
 * Stops the service (a FarolService, or `app.farol` of an app with the plugin) cleanly on SIGINT or SIGTERM, then calls onExit(0) (or onExit(1) if stopping
 * failed). A second signal while stopping calls onExit(1) at once, for an operator who will not wait.
 * Returns a function that removes the handlers.
 */
export function stopOnSignals(
  service: Pick<FarolService, 'instanceId' | 'stop'> & { readonly owner?: EventOwner; readonly name?: string },
  opts: { logger?: Logger; onExit?: (code: number) => void } = {},
): () => void {
  const exitProcess = opts.onExit ?? ((code: number) => process.exit(code));
  const events = signalEvents(service, opts.logger);
  const about = facts(service, events.owner);
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
      if (channels.serviceSignal.hasSubscribers) channels.serviceSignal.publish({ ...about, signal, action: 'forced_exit' });
      onExit(1);
      return;
    }
    if (channels.serviceSignal.hasSubscribers) channels.serviceSignal.publish({ ...about, signal, action: 'stop' });
    service.stop({ reason: signal }).then(
      () => onExit(0),
      (error: unknown) => {
        if (channels.serviceWarning.hasSubscribers) {
          channels.serviceWarning.publish({ ...about, warning: 'stop_failed', message: 'stop failed', error: (error as Error).message });
        }
        onExit(1);
      },
    );
  };
  for (const signal of SIGNALS) process.on(signal, handler);
  return () => {
    for (const signal of SIGNALS) process.off(signal, handler);
    events.close();
  };
}

/**
 * Reloads the service (service.reload(): the users file) on SIGHUP, the usual "read your files
 * again" signal, and logs the outcome. Separate from stopOnSignals so a program that uses SIGHUP
 * for something else can leave it out; `farol serve` installs both. Returns a function that
 * removes the handler. While one reload runs, further signals wait for it and make one more.
 */
export function reloadOnSignal(
  service: Pick<FarolService, 'instanceId' | 'reload'> & { readonly owner?: EventOwner; readonly name?: string },
  opts: { logger?: Logger; signal?: NodeJS.Signals } = {},
): () => void {
  const signal = opts.signal ?? 'SIGHUP';
  const events = signalEvents(service, opts.logger);
  const about = facts(service, events.owner);
  let running: Promise<void> | undefined;
  let again = false;
  const reload = (): void => {
    if (channels.serviceSignal.hasSubscribers) channels.serviceSignal.publish({ ...about, signal, action: 'reload' });
    const began = performance.now();
    running = service.reload().then(
      () => {
        if (channels.serviceReloaded.hasSubscribers) channels.serviceReloaded.publish({ ...about, ms: Math.round(performance.now() - began) });
      },
      (error: unknown) => {
        if (channels.serviceWarning.hasSubscribers) {
          channels.serviceWarning.publish({ ...about, warning: 'reload_failed', message: 'reload failed', error: (error as Error).message });
        }
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
    events.close();
  };
}
