// Needs `npx farol certs init --service greeter && npx farol users add alice`, and Consul on $CONSUL_HTTP_ADDR or 127.0.0.1:8500 trusting certs/ca.pem (`npx farol registry --ca certs/ca.pem`).
/**
 * The original project's servidor.py over Farol's public API: an HTTPS service with basic auth,
 * `greeter`, that registers itself in Consul and drains and deregisters on Ctrl-C or SIGTERM.
 *
 *   node --import tsx examples/server.ts
 *
 * Inside this repository tsconfig.json maps 'farol' to src/; in your own project it is the
 * installed package.
 */
import { createService, isFarolError, stopOnSignals } from 'farol';

try {
  const service = await createService({
    name: process.env.SERVICE ?? 'greeter',
    port: Number(process.env.PORT ?? 4443),
    tls: { certFile: 'certs/cert.pem', keyFile: 'certs/key.pem' },
    usersFile: process.env.FAROL_USERS_FILE ?? 'users.txt',
    // The library writes no log unless asked: the original project's file ('-' would be stdout).
    logFile: process.env.FAROL_LOG_FILE ?? 'logs/server-log.txt',
    routes: (app) => {
      app.get('/hello', async (request) => ({ message: `olá, ${request.principal?.id ?? 'anonymous'}` }));
    },
  });
  await service.start();
  console.log(`serving ${service.name} as ${service.instanceId} at ${service.url}`);
  stopOnSignals(service, { onExit: (code) => process.exit(code) });
} catch (error) {
  if (!isFarolError(error)) throw error;
  console.error(`server: ${error.message}${error.hint ? `\nhint: ${error.hint}` : ''}`);
  process.exitCode = 1;
}
