import { setImmediate as nextIoTurn } from 'node:timers/promises';

/**
 * Waits until the event loop has handled pending I/O. A loop that sends its next request as soon
 * as the previous answer's body is read runs before undici marks that connection free again, so
 * undici's Pool (no connection limit) opens a new connection for every such request: measured,
 * N watches held 2N connections to the agent, the extra ones idle until keep-alive expired.
 * One turn later the pool reuses the connection.
 */
export async function afterPendingIo(): Promise<void> {
  await nextIoTurn();
}
