import { InvalidArgumentError, type Command } from 'commander';
import { optionWithDescribedDefault } from '../help.js';
import { consulOptionsFromEnv } from '../../consul/index.js';
import { FarolError, isFarolError } from '../../errors.js';
import { startDemo } from '../../demo/demo.js';
import { createLogger } from '../../log/logger.js';
import { startRegistry, type RunningRegistry } from '../../registry/index.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { action, type CliContext } from '../run.js';

interface DemoFlags {
  once?: boolean;
  instances: number;
  calls: number;
  dir: string;
  service: string;
  consul?: string;
  /** One file (or '-': stdout) for every line; default the three files of the original project. */
  logFile?: string;
}

function count(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 50) throw new InvalidArgumentError('expected a whole number from 1 to 50');
  return n;
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/**
 * With no Consul named (no --consul, no CONSUL_HTTP_ADDR) the demo runs the embedded registry,
 * on 8500 when it is free and on any free port otherwise.
 */
async function embeddedRegistry(print: (line: string) => void, logFile: string): Promise<RunningRegistry> {
  const logger = createLogger({ name: 'registry', file: logFile });
  try {
    return await startRegistry({ port: 8500, logger });
  } catch (error) {
    if (!isFarolError(error, 'PORT_IN_USE')) throw error;
    const registry = await startRegistry({ port: 0, logger });
    print(`registry: port 8500 is taken, so the embedded registry uses ${registry.address} instead`);
    return registry;
  }
}

async function demo(flags: DemoFlags, ctx: CliContext): Promise<ExitCodeValue> {
  const print = (line: string): void => ctx.io.stdout(`${line}\n`);
  const consulNamed = flags.consul !== undefined || Boolean(ctx.io.env.CONSUL_HTTP_ADDR);
  const registryLog = flags.logFile ?? 'logs/registry-log.txt';
  const registry = consulNamed ? undefined : await embeddedRegistry(print, registryLog);
  if (registry) {
    print(`registry: embedded Consul-compatible registry at ${registry.httpAddr} (${registryLog === '-' ? 'log on stdout' : registryLog})`);
    print(`registry: web UI at ${registry.httpAddr}/ui/`);
  }
  try {
    return await runDemo(flags, ctx, print, registry);
  } finally {
    await registry?.close();
  }
}

async function runDemo(flags: DemoFlags, ctx: CliContext, print: (line: string) => void, registry: RunningRegistry | undefined): Promise<ExitCodeValue> {
  const fromEnv = consulOptionsFromEnv(ctx.io.env);
  const address = registry?.address ?? flags.consul;
  const consul = { ...fromEnv, ...(address !== undefined ? { address } : {}) };
  const system = await startDemo({
    consul,
    dir: flags.dir,
    service: flags.service,
    instances: flags.instances,
    calls: flags.calls,
    serverLogFile: flags.logFile ?? 'logs/server-log.txt',
    clientLogFile: flags.logFile ?? 'logs/client-log.txt',
    print,
  }).catch((error: unknown) => {
    if (isFarolError(error, 'CONSUL_UNREACHABLE')) {
      throw new FarolError(error.code, error.message, {
        cause: error,
        hint: 'start the Consul agent named by --consul / CONSUL_HTTP_ADDR, or unset CONSUL_HTTP_ADDR to use the embedded registry',
      });
    }
    throw error;
  });
  try {
    const results = await system.callRound();
    results.forEach((result, i) => {
      print(`call ${i + 1}: ${result.status} from ${result.instance.id} (${result.instance.address}:${result.instance.port}) in ${Math.round(result.latencyMs)} ms`);
    });
    const failed = results.filter((result) => result.status !== 200).length;
    if (flags.logFile === undefined) print('logs: logs/server-log.txt, logs/client-log.txt');
    else if (flags.logFile !== '-') print(`log: ${flags.logFile}`);
    if (!flags.once) {
      print('running; press Ctrl-C to deregister everything and stop');
      await waitForSignal();
    }
    return failed === 0 ? ExitCode.OK : ExitCode.REQUEST_FAILED;
  } finally {
    await system.stop();
    print('stopped: every instance deregistered');
  }
}

export function registerDemoCommand(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('run the whole system: certificates, a demo user, several instances registered in Consul, a client calling them')
    .option('--once', 'exit after one round of calls')
    .option('--instances <n>', 'instances to start', count, 3)
    .option('--calls <n>', 'calls in the round', count, 6)
    .option('--service <name>', 'service name to register', 'farol-demo')
    .option('--dir <dir>', 'folder for the demo certificates and users file', '.farol/demo')
    .addOption(optionWithDescribedDefault('--consul <address>', 'Consul agent address', '$CONSUL_HTTP_ADDR, else the embedded registry on 127.0.0.1:8500'))
    .addOption(optionWithDescribedDefault('--log-file <file>', "one log file for the registry, the servers and the client ('-': stdout)", 'logs/{registry,server,client}-log.txt'))
    .action(action(ctx, (flags: DemoFlags) => demo(flags, ctx)));
}
