// Needs `npx farol certs init --service orders && npx farol users add alice`, and Consul on $CONSUL_HTTP_ADDR or 127.0.0.1:8500 trusting certs/ca.pem (`npx farol registry --ca certs/ca.pem`).
/**
 * An existing fastify app, `orders`, migrated to Farol. It now requires credentials on every
 * route, answers GET /health, registers in Consul once it listens, and drains on SIGTERM. The
 * README's diff ("Your fastify app, as a Farol service") is every line the migration added or
 * changed; a test keeps the two the same.
 *
 *   node --import tsx examples/fastify-app.ts
 *
 * Inside this repository tsconfig.json maps 'farol' to src/; in your own project it is the
 * installed package.
 */
import { readFileSync } from 'node:fs';
import fastify from 'fastify';
import { farolPlugin, isFarolError, stopOnSignals } from 'farol';

const key = readFileSync('certs/key.pem', 'utf8');
const cert = readFileSync('certs/cert.pem', 'utf8');
const app = fastify({ https: { key, cert } });
await app.register(farolPlugin, {
  service: { name: 'orders' },
  auth: { usersFile: 'users.txt' },     // every route now requires credentials (or jwt, clientCertificates...)
  certificate: cert,                     // Consul's HTTPS check verifies it
  register: { keepTrying: false },       // no Consul at start: fail (by default: serve, register once it answers)
});

const orders = [{ id: 1, item: 'coffee beans', quantity: 2 }];
app.get('/v1/orders', async () => ({ orders }));

await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 8443) });
await app.farol.started().catch((error: unknown) => {   // registered in Consul, or why not
  if (!isFarolError(error)) throw error;
  console.error(`orders: ${error.message}${error.hint ? `\nhint: ${error.hint}` : ''}`);
  process.exit(1);
});
console.log(`orders: serving as ${app.farol.instanceId} at ${app.listeningOrigin}`);
stopOnSignals(app.farol);   // SIGTERM: out of Consul's passing set, wait, stop accepting, finish in-flight, deregister
