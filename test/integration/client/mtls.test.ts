// A client certificate from another CA, against a real instance that requires mutual TLS: the
// service refused the certificate, which is not the same as an instance that cannot be reached.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, type FarolClient } from '../../../src/client/index.js';
import { ConsulClient } from '../../../src/consul/index.js';
import { isFarolError } from '../../../src/errors.js';
import { createCertificateAuthority, issueCertificate } from '../../../src/pki/index.js';
import { describeWithConsul } from '../../support/describe-with-consul.js';
import {
  answerWithInstance,
  createTestPki,
  registerInstance,
  startHttpsServer,
  uniqueServiceName,
  waitForHealth,
  type RegisteredInstance,
  type TestPki,
  type TestServer,
} from '../../client/fixtures.js';

describeWithConsul('client certificate refused by an instance requiring mutual TLS', (getAgent) => {
  let pki: TestPki;
  let consul: ConsulClient;
  let server: TestServer;
  let instance: RegisteredInstance;
  const service = uniqueServiceName('ledger');
  const clients: FarolClient[] = [];

  before(async () => {
    pki = await createTestPki();
    consul = new ConsulClient({ address: getAgent().address });
    server = await startHttpsServer(pki.server, answerWithInstance('mutual'), { requireClientCertificate: { ca: pki.ca.certPem } });
    instance = await registerInstance(consul, { service, id: `${service}-1`, port: server.port, status: 'passing' });
    await waitForHealth(consul, service, { registered: 1, passing: 1 });
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await instance.deregister().catch(() => undefined);
    await server.close();
    await consul.close();
  });

  it('says the service refused the client certificate, with a hint, for call() and for fetch', async () => {
    const otherCa = await createCertificateAuthority({ commonName: 'Some other CA' });
    const stranger = await issueCertificate(otherCa, { commonName: 'stranger', usage: 'client' });
    const client = createClient({
      consul,
      tls: { ca: { pem: pki.ca.certPem }, clientCertificate: { certPem: stranger.certPem, keyPem: stranger.keyPem } },
      retry: { retries: 0 },
    });
    clients.push(client);

    const error = await client.call(service).then(
      () => assert.fail('expected a refusal'),
      (caught: unknown) => caught,
    );
    assert.ok(isFarolError(error, 'AUTH_REJECTED'), String(error));
    assert.match(error.message, /^the service refused the client certificate: /);
    assert.doesNotMatch(error.message, /could not reach/);
    assert.match(error.hint ?? '', /client certificate issued by the CA the service trusts/);

    const viaFetch = await fetch(`https://${service}.service.consul/`, { dispatcher: client.dispatcher } as object as RequestInit).then(
      () => assert.fail('expected a refusal'),
      (caught: unknown) => (caught as Error).cause,
    );
    assert.ok(isFarolError(viaFetch, 'AUTH_REJECTED'), String(viaFetch));
    assert.equal(server.requests.length, 0, 'no request reached the handler');
  });

  it('still reaches the instance with a certificate from the CA it trusts', async () => {
    const member = await issueCertificate(pki.ca, { commonName: 'member', usage: 'client' });
    const client = createClient({ consul, tls: { ca: { pem: pki.ca.certPem }, clientCertificate: { certPem: member.certPem, keyPem: member.keyPem } } });
    clients.push(client);
    const result = await client.call(service);
    assert.equal(result.status, 200);
    assert.equal(server.requests.at(-1)?.clientCertificateCn, 'member');
  });
});
