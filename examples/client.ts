// Needs examples/server.ts running (see its first line), and alice's password in FAROL_PASSWORD.
/**
 * The original project's cliente.py over Farol's public API: asks Consul where `greeter` is,
 * calls it over verified HTTPS with basic auth, and prints the answer.
 *
 *   FAROL_PASSWORD=... node --import tsx examples/client.ts
 *
 * Inside this repository tsconfig.json maps 'farol' to src/; in your own project it is the
 * installed package.
 */
import { basicCredentials, createClient, isFarolError } from 'farol';

let client: ReturnType<typeof createClient> | undefined;
try {
  client = createClient({
    tls: { ca: { file: process.env.FAROL_CA ?? 'certs/ca.pem' } },
    credentials: basicCredentials(process.env.FAROL_USER ?? 'alice', process.env.FAROL_PASSWORD ?? ''),
    logFile: process.env.FAROL_LOG_FILE ?? 'logs/client-log.txt',
  });
  const response = await client.call(process.env.SERVICE ?? 'greeter', { path: '/hello' });
  console.log(`${response.status} from ${response.instance.id}: ${response.body}`);
  process.exitCode = response.status === 200 ? 0 : 1;
} catch (error) {
  if (!isFarolError(error)) throw error;
  console.error(`client: ${error.message}${error.hint ? `\nhint: ${error.hint}` : ''}`);
  process.exitCode = 1;
} finally {
  await client?.close();
}
