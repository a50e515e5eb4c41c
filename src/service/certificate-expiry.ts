import { channels, type EventOwner } from '../events/channels.js';
import { expiryWarning, msUntilNextExpiryCheck, type ExpiryThreshold } from '../pki/expiry.js';
import type { ServerTlsState, TlsProvider } from '../pki/tls-provider.js';
import { nodeTimers, setLongTimeout, type BaseTimers, type LongTimer } from '../timers/long-timeout.js';

export interface CertificateExpiryOptions {
  /** The wall clock certificates are judged by. Default: new Date(). */
  now?: () => Date;
  /** The timers the next check is scheduled on (a manual clock in tests). */
  timers?: BaseTimers;
}

export interface CertificateExpiryWatch {
  close(): void;
}

/**
 * Publishes the served certificate's expiry (farol:certificate:expiry) at once, after each
 * rotation and whenever a threshold is crossed; the logger writes a warning 30 and 7 days before the served certificate expires, and an error once it has,
 * each once per certificate: a rotated certificate (the provider's change) starts over. The first
 * check runs at once, so a service started 20 days before expiry says so in its first lines.
 */
export function watchCertificateExpiry(
  tls: TlsProvider<ServerTlsState>,
  who: { owner: EventOwner; instance: string },
  opts: CertificateExpiryOptions = {},
): CertificateExpiryWatch {
  const now = opts.now ?? (() => new Date());
  const timers = opts.timers ?? nodeTimers;
  let warned: ExpiryThreshold | undefined;
  let timer: LongTimer | undefined;
  let closed = false;

  const check = (): void => {
    timer = undefined;
    if (closed) return;
    const { certificate } = tls.current().keyPair;
    const notAfter = new Date(certificate.validTo);
    const at = now();
    const warning = expiryWarning(notAfter, at, warned);
    if (warning !== undefined) warned = warning.threshold;
    if (channels.certificateExpiry.hasSubscribers) {
      channels.certificateExpiry.publish({
        owner: who.owner,
        instance: who.instance,
        notAfter: notAfter.toISOString(),
        serial: certificate.serialNumber,
        warning: warning === undefined
          ? undefined
          : { threshold: warning.threshold, daysLeft: warning.daysLeft, level: warning.level === 'error' ? 'error' : 'warn', message: warning.message },
      });
    }
    const waitMs = msUntilNextExpiryCheck(notAfter, at, warned);
    if (waitMs !== undefined) timer = setLongTimeout(check, waitMs, { timers, unref: true });
  };

  const unsubscribe = tls.onChange(() => {
    warned = undefined;
    timer?.cancel();
    check();
  });
  check();

  return {
    close() {
      closed = true;
      unsubscribe();
      timer?.cancel();
      timer = undefined;
    },
  };
}
