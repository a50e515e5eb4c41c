/**
 * The original project's cliente.py, over Farol's public API: asks Consul where the service is,
 * calls it over verified HTTPS with basic auth, and prints the answer.
 *
 *   FAROL_PASSWORD=... node --import tsx examples/client.ts
 */
import { basicCredentials, createClient, isFarolError } from '../src/index.js';

const client = createClient({
  ca: { caFile: process.env.FAROL_CA ?? 'certs/ca.pem' },
  credentials: basicCredentials(process.env.FAROL_USER ?? 'alice', process.env.FAROL_PASSWORD ?? ''),
  logFile: process.env.FAROL_LOG_FILE ?? 'logs/client-log.txt',
});
try {
  const response = await client.call(process.env.SERVICE ?? 'api', { path: '/hello' });
  console.log(`${response.status} from ${response.instance.id}: ${response.body}`);
  process.exitCode = response.status === 200 ? 0 : 1;
} catch (error) {
  if (!isFarolError(error)) throw error;
  console.error(`${error.message}\nhint: ${error.hint ?? ''}`);
  process.exitCode = 1;
} finally {
  await client.close();
}
