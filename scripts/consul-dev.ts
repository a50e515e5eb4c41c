// `npm run consul`: runs the real Consul agent that `npm test` builds (tools/consul), in dev mode
// on 127.0.0.1:8500 (or FAROL_CONSUL_PORT), in the foreground until Ctrl-C. Its HTTPS health
// checks trust the CA in FAROL_CONSUL_CA_FILE when that is set.
import { startConsulAgent } from '../test/support/consul-agent.js';
import { ensureConsulBinary } from './ensure-consul.js';

if (!ensureConsulBinary()) process.exit(1);

const port = Number(process.env.FAROL_CONSUL_PORT ?? 8500);
const caFile = process.env.FAROL_CONSUL_CA_FILE;
try {
  const agent = await startConsulAgent({ httpPort: port, ...(caFile ? { caFile } : {}) });
  console.log(`consul: dev agent at ${agent.httpAddr} (CONSUL_HTTP_ADDR=${agent.address}); Ctrl-C stops it`);
  // The agent's process handle is unref'd (tests must exit by themselves), so hold the loop open.
  const keepAlive = setInterval(() => undefined, 60_000);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(keepAlive);
  await agent.stop();
} catch (error) {
  console.error(`farol: Consul did not start on 127.0.0.1:${port}: ${(error as Error).message.split('\n')[0]}`);
  console.error('hint: is another agent already there? set FAROL_CONSUL_PORT to use another port');
  process.exitCode = 1;
}
