export { channels, subscribe, createEventOwner, eventError, CREDENTIAL_HEADERS } from './channels.js';
export type * from './channels.js';
export { subscribeLogger, subscribeLines, type LogSubscriberOptions } from './log-subscriber.js';
export { componentEvents, type ComponentEventOptions, type ComponentEvents } from './owner.js';
