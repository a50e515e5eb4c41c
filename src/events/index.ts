export { channels, subscribe, createEventOwner, eventError, CREDENTIAL_HEADERS } from './channels.js';
export type * from './channels.js';
