// Needs examples/fastify-app.ts running (see its first line), and alice's password in FAROL_PASSWORD.
/**
 * Code that already calls services with `fetch`, calling `orders` through Farol: the client is an
 * undici Dispatcher, so a host `orders.service.consul` means a passing instance of `orders` found
 * in Consul, called over verified TLS with alice's credentials (retries on another instance,
 * outlier ejection and the balancer included).
 *
 *   FAROL_PASSWORD=... node --import tsx examples/fetch-client.ts
 *
 * Inside this repository tsconfig.json maps 'farol' to src/; in your own project it is the
 * installed package.
 */
import { fetch, setGlobalDispatcher } from 'undici';   // or Node's global fetch: see docs/client.md
import { basicCredentials, channels, createClient, isFarolError, subscribe } from 'farol';

const client = createClient({
  tls: { ca: { file: 'certs/ca.pem' } },   // Consul: CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN...
  credentials: basicCredentials('alice', process.env.FAROL_PASSWORD ?? ''),
});

// Which instance answered: every try is published on a diagnostics channel.
let answeredBy = 'no instance';
subscribe(channels.clientTryEnd, (event) => (answeredBy = event.instance.id));

try {
  const response = await fetch('https://orders.service.consul/v1/orders', { dispatcher: client.dispatcher });
  console.log(`${response.status} from ${answeredBy}: ${await response.text()}`);

  // Or make every fetch Consul-aware at once, Node's global one too (other hosts: a plain undici Agent):
  setGlobalDispatcher(client.dispatcher);
  const again = await fetch('https://orders.service.consul/v1/orders');
  console.log(`${again.status} from ${answeredBy}: ${await again.text()}`);
  process.exitCode = response.ok && again.ok ? 0 : 1;
} catch (error) {
  // fetch wraps the FarolError that says what went wrong in its TypeError('fetch failed').
  const cause = error instanceof Error && isFarolError(error.cause) ? error.cause : error;
  if (!isFarolError(cause)) throw error;
  console.error(`fetch-client: ${cause.message}\nhint: ${cause.hint}`);
  process.exitCode = 1;
} finally {
  await client.close();
}
