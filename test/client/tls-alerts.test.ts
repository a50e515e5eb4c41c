import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { TlsAlerts } from '../../src/client/tls-alerts.js';

/** The socket facts TlsAlerts reads, and the events it listens to. */
function fakeSocket(localPort: number, remotePort = 8443, remoteAddress = '127.0.0.1'): Socket & EventEmitter {
  return Object.assign(new EventEmitter(), { localPort, remotePort, remoteAddress, bytesRead: 0 }) as unknown as Socket & EventEmitter;
}

/** undici's UND_ERR_SOCKET for a connection, with the facts its `socket` field carries. */
function socketError(localPort: number, remotePort = 8443, remoteAddress = '127.0.0.1'): Error {
  return Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET', socket: { localPort, remotePort, remoteAddress } });
}

describe('TlsAlerts: what closed a connection, for the error undici gives about it', () => {
  it('hands out the TLS alert of the same connection once', () => {
    const alerts = new TlsAlerts();
    const socket = fakeSocket(50_001);
    alerts.watch(socket, false);
    const alert = Object.assign(new Error('tlsv1 alert unknown ca'), { code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' });
    socket.emit('error', alert);
    assert.equal(alerts.behind(socketError(50_001)), alert);
    assert.equal(alerts.behind(socketError(50_001)), undefined, 'once only');
  });

  it('files a close before any byte as closed-after-handshake only when a client certificate was presented', () => {
    const withCertificate = new TlsAlerts();
    const presented = fakeSocket(50_002);
    withCertificate.watch(presented, true);
    presented.emit('close');
    assert.equal((withCertificate.behind(socketError(50_002)) as NodeJS.ErrnoException | undefined)?.code, 'FAROL_CLOSED_AFTER_HANDSHAKE');

    const without = new TlsAlerts();
    const plain = fakeSocket(50_003);
    without.watch(plain, false);
    plain.emit('close');
    assert.equal(without.behind(socketError(50_003)), undefined);
  });

  it('never lends an alert to another connection: other remote port or address, or the same ports reused later', () => {
    let now = 0;
    const alerts = new TlsAlerts(10_000, () => now);
    for (const [local, error] of [
      [50_004, socketError(50_004, 9443)],
      [50_005, socketError(50_005, 8443, '127.0.0.2')],
    ] as const) {
      const socket = fakeSocket(local);
      alerts.watch(socket, true);
      socket.emit('close');
      assert.equal(alerts.behind(error), undefined);
    }
    const socket = fakeSocket(50_006);
    alerts.watch(socket, true);
    socket.emit('close');
    now = 10_001;
    assert.equal(alerts.behind(socketError(50_006)), undefined, 'too old to be about this error');
  });

  it('ignores errors that are not a socket close, and sockets whose facts are unknown', () => {
    const alerts = new TlsAlerts();
    assert.equal(alerts.behind(new Error('boom')), undefined);
    assert.equal(alerts.behind(null), undefined);
    assert.equal(alerts.behind(Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' })), undefined);
    const socket = fakeSocket(50_007);
    (socket as unknown as { remoteAddress: undefined }).remoteAddress = undefined;
    alerts.watch(socket, true);
    socket.emit('close');
    assert.equal(alerts.behind(socketError(50_007)), undefined);
  });
});
