import type { Logger } from '../log/logger.js';
import { createEventOwner, type EventOwner, type EventOwnerKind } from './channels.js';
import { subscribeLogger } from './log-subscriber.js';

/** How a component is told where its events go: the owner it is part of, or a logger of its own. */
export interface ComponentEventOptions {
  /** Publish under this owner (a client or service that made the component): its logger writes the lines. */
  events?: EventOwner;
  /** A component made on its own: its lines go to this logger (ignored when `events` is given). */
  logger?: Logger;
}

export interface ComponentEvents {
  readonly owner: EventOwner;
  /** Removes the logger subscription the component made for itself, if any. Idempotent. */
  close(): void;
}

/**
 * The owner a component publishes under. Made by a client or a service, it publishes under theirs;
 * made on its own with a logger, it gets an owner of its own and subscribes that logger to it
 * (the behaviour of the `logger` option before events existed).
 */
export function componentEvents(kind: EventOwnerKind, id: string, opts: ComponentEventOptions): ComponentEvents {
  if (opts.events !== undefined) return { owner: opts.events, close: () => undefined };
  const owner = createEventOwner(kind, id);
  const detach = opts.logger === undefined ? () => undefined : subscribeLogger(opts.logger, { owner });
  return { owner, close: detach };
}
