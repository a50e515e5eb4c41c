/**
 * The original project's servidor.py, over Farol's public API: an HTTPS server with basic auth
 * that registers itself in Consul and deregisters on Ctrl-C.
 *
 *   npx farol certs init --service api && npx farol users add alice
 *   node --import tsx examples/server.ts
 */
import { createService, stopOnSignals } from '../src/index.js';

const service = await createService({
  name: process.env.SERVICE ?? 'api',
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
