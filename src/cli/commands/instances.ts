import type { Command } from 'commander';
import { ConsulClient, consulOptionsFromEnv, watchHealthService, type ServiceEntry } from '../../consul/index.js';
import { FarolError, isFarolError } from '../../errors.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { optionWithDescribedDefault } from '../help.js';
import { formatChange, formatVerdictTable, instanceVerdicts, verdictChanges, type InstanceVerdict } from '../instance-verdicts.js';
import { action, type CliContext } from '../run.js';

interface InstancesFlags {
  consul?: string;
  json?: boolean;
  watch?: boolean;
}

export function registerInstancesCommand(program: Command, ctx: CliContext): void {
  program
    .command('instances')
    .description("what Consul reports for SERVICE's instances, and what a Farol client does with each: calls it (every check passing) or skips it (a warning or critical check, node or service maintenance)")
    .argument('<service>', 'Consul service name')
    .addOption(optionWithDescribedDefault('--consul <address>', 'Consul agent address', '$CONSUL_HTTP_ADDR, else 127.0.0.1:8500'))
    .option('--json', 'print one JSON object (with --watch: the first list, then one JSON line per change)')
    .option('--watch', 'after the list, print one line per change (an instance appearing, changing health, leaving) until SIGINT/SIGTERM')
    .action(action(ctx, (service: string, flags: InstancesFlags) => runInstances(service, flags, ctx)));
}

/** The CLI's words for a Consul that cannot be reached: flags first. */
function withCliHint(error: unknown): unknown {
  if (!isFarolError(error, 'CONSUL_UNREACHABLE')) return error;
  return new FarolError(error.code, error.message, {
    hint: 'start a Consul agent (or `farol registry`), or point --consul or CONSUL_HTTP_ADDR at one',
    cause: error,
  });
}

async function knownServices(consul: ConsulClient): Promise<string[]> {
  try {
    return Object.keys((await consul.catalog.services()).services).filter((name) => name !== 'consul').sort();
  } catch {
    return [];
  }
}

async function runInstances(service: string, flags: InstancesFlags, ctx: CliContext): Promise<ExitCodeValue> {
  const consul = new ConsulClient({ ...consulOptionsFromEnv(ctx.io.env), ...(flags.consul !== undefined ? { address: flags.consul } : {}) });
  try {
    if (flags.watch) return await watchInstances(service, consul, flags, ctx);
    const { entries } = await consul.health.service(service).catch((error: unknown) => {
      throw withCliHint(error);
    });
    if (entries.length === 0) {
      const known = await knownServices(consul);
      throw new FarolError('NO_HEALTHY_INSTANCE', `no instance of service '${service}' is registered in Consul at ${consul.address}`, {
        hint: known.length > 0
          ? `registered services: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', …' : ''}`
          : `start one with farol serve --service ${service}`,
      });
    }
    print(service, instanceVerdicts(entries), flags, ctx);
    return ExitCode.OK;
  } finally {
    await consul.close();
  }
}

function print(service: string, verdicts: InstanceVerdict[], flags: InstancesFlags, ctx: CliContext): void {
  if (flags.json) ctx.io.stdout(`${JSON.stringify({ service, instances: verdicts })}\n`);
  else ctx.io.stdout(formatVerdictTable(service, verdicts));
}

/** Resolves on the first SIGINT or SIGTERM (handlers removed then). */
function untilSignal(): { stopped: Promise<void>; remove(): void } {
  let stop = (): void => undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = () => {
      remove();
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  const remove = (): void => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
  return { stopped, remove };
}

async function watchInstances(service: string, consul: ConsulClient, flags: InstancesFlags, ctx: CliContext): Promise<ExitCodeValue> {
  const signals = untilSignal();
  let shown: InstanceVerdict[] | undefined;
  let failing = false;
  const show = (entries: ServiceEntry[]): void => {
    const verdicts = instanceVerdicts(entries);
    if (shown === undefined) {
      print(service, verdicts, flags, ctx);
      if (!flags.json && verdicts.length === 0) ctx.io.stdout(`no instance of '${service}' is registered yet; watching\n`);
    } else {
      for (const change of verdictChanges(shown, verdicts)) {
        const at = new Date().toISOString();
        ctx.io.stdout(flags.json ? `${JSON.stringify({ at, ...change })}\n` : `${at} ${formatChange(change)}\n`);
      }
    }
    shown = verdicts;
  };
  const watch = watchHealthService(consul, service, {
    onUpdate: (entries) => show(entries),
    onResponse: () => {
      if (!failing) return;
      failing = false;
      if (!flags.json) ctx.io.stderr(`${new Date().toISOString()} Consul answers again\n`);
    },
    onError: (error) => {
      if (failing || shown === undefined) return;
      failing = true;
      if (!flags.json) ctx.io.stderr(`${new Date().toISOString()} ${error.message}; showing the last list until it answers\n`);
    },
  });
  try {
    // A Consul that cannot be asked at the start is an error, not a silent wait.
    await Promise.race([watch.firstResult, signals.stopped]);
    await signals.stopped;
    return ExitCode.OK;
  } catch (error) {
    throw withCliHint(error);
  } finally {
    signals.remove();
    watch.stop();
  }
}
