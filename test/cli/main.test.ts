import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import { buildProgram, main } from '../../src/cli/main.js';
import type { CliContext } from '../../src/cli/run.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { commandPath } from '../../src/cli/usage-error.js';
import { runFarol } from '../support/cli.js';

async function farol(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'farol', ...args], {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    stdin: Readable.from([]),
    env: { CONSUL_HTTP_ADDR: '127.0.0.1:1' },
    isTTY: false,
  });
  return { code, stdout, stderr };
}

/** Exactly `farol: <one line>` then `hint: <one line>`, nothing else (no stack, no usage dump). */
function assertOneErrorFormat(stderr: string, message: RegExp, hint: RegExp): void {
  const lines = stderr.split('\n');
  assert.equal(lines.length, 3, `two lines and a newline, got:\n${stderr}`);
  assert.match(lines[0]!, /^farol: /);
  assert.match(lines[0]!.slice('farol: '.length), message);
  assert.match(lines[1]!, /^hint: /);
  assert.match(lines[1]!.slice('hint: '.length), hint);
  assert.equal(lines[2], '');
}

describe('farol --version', () => {
  it("prints package.json's version and exits 0, with -V too", async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const run = await farol(flag);
      assert.deepEqual(run, { code: ExitCode.OK, stdout: `${version}\n`, stderr: '' });
    }
  });
});

describe('one format for every error: `farol: <message>` then `hint: <hint>`, non-zero exit', () => {
  it('an unknown option, with commander\'s suggestion in the hint', async () => {
    const run = await farol('call', 'api', '--balancr', 'random');
    assert.equal(run.code, ExitCode.USAGE);
    assert.equal(run.stdout, '');
    assertOneErrorFormat(run.stderr, /^unknown option '--balancr'$/, /^did you mean --balancer\? farol call --help lists the flags$/);
  });

  it('an unknown command', async () => {
    const run = await farol('instnaces', 'api');
    assert.equal(run.code, ExitCode.USAGE);
    assertOneErrorFormat(run.stderr, /^unknown command 'instnaces'$/, /^did you mean instances\? farol --help lists the commands$/);
  });

  it('a missing argument, and too many, with the usage in the hint', async () => {
    const missing = await farol('instances');
    assert.equal(missing.code, ExitCode.USAGE);
    assertOneErrorFormat(missing.stderr, /^missing required argument 'service'$/, /^usage: farol instances \[options\] <service>$/);
    const tooMany = await farol('users', 'remove', 'a', 'b');
    assert.equal(tooMany.code, ExitCode.USAGE);
    assertOneErrorFormat(tooMany.stderr, /^too many arguments for 'remove'\. Expected 1 argument but got 2$/, /^usage: farol users remove \[options\] <name>$/);
  });

  it('a flag without its value, a required flag left out, a value its parser refuses', async () => {
    const noValue = await farol('serve', '--service');
    assertOneErrorFormat(noValue.stderr, /^option '--service <name>' argument missing$/, /^farol serve --help describes every flag$/);
    const notGiven = await farol('serve');
    assertOneErrorFormat(notGiven.stderr, /^required option '--service <name>' not specified$/, /farol serve --help/);
    const refused = await farol('certs', 'init', '--days', 'soon');
    assert.equal(refused.code, ExitCode.USAGE);
    assertOneErrorFormat(refused.stderr, /^option '--days <n>' argument 'soon' is invalid: expected a whole number of days from 1 to 36500$/, /farol certs init --help/);
  });

  it('a command group without its command prints the group\'s help, then the error', async () => {
    const run = await farol('users');
    assert.equal(run.code, ExitCode.USAGE);
    assert.match(run.stderr, /^Usage: farol users/);
    assert.match(run.stderr, /\n\nfarol: 'users' needs a command\nhint: farol users --help lists the commands\n$/);
  });

  it('a FarolError from a command (Consul down) prints the same two lines and its own exit code', async () => {
    const run = await farol('instances', 'api');
    assert.equal(run.code, ExitCode.CONSUL);
    assertOneErrorFormat(run.stderr, /^Consul is not reachable at 127\.0\.0\.1:1 \(ECONNREFUSED\)$/, /--consul/);
  });

  it('--debug adds the stack trace after the two lines, for commander\'s errors too', async () => {
    const run = await farol('--debug', 'call', 'api', '--nope');
    assert.equal(run.code, ExitCode.USAGE);
    const [first, second, ...stack] = run.stderr.split('\n');
    assert.equal(first, "farol: unknown option '--nope'");
    assert.match(second!, /^hint: /);
    assert.match(stack.join('\n'), /^FarolError: unknown option '--nope'\n\s+at /);
  });

  it('the real process: an unknown option exits 2 with the two lines on stderr', async () => {
    const run = await runFarol(['certs', 'show', '--jsn']);
    assert.equal(run.code, ExitCode.USAGE);
    assert.equal(run.stdout, '');
    assertOneErrorFormat(run.stderr, /^unknown option '--jsn'$/, /^did you mean --json\? farol certs show --help lists the flags$/);
  });
});

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

describe('--help writes every default one way: commander\'s `(default: …)` at the end of the line', () => {
  const ctx: CliContext = {
    io: { stdout: () => undefined, stderr: () => undefined, stdin: Readable.from([]), env: {}, isTTY: false },
    debug: () => false,
    setExitCode: () => undefined,
  };
  const program = buildProgram(ctx);
  const commands = allCommands(program);

  it('walks every command (each one below has its help checked)', () => {
    assert.deepEqual(
      commands.map(commandPath).sort(),
      [
        'farol', 'farol call', 'farol certs', 'farol certs init', 'farol certs issue', 'farol certs renew', 'farol certs show',
        'farol demo', 'farol instances', 'farol registry', 'farol serve', 'farol users', 'farol users add', 'farol users list', 'farol users remove',
      ],
    );
  });

  for (const command of commands) {
    it(`${commandPath(command)} --help`, () => {
      const texts = [
        command.description(),
        ...command.options.map((o) => o.description),
        ...command.registeredArguments.map((a) => a.description),
      ];
      for (const text of texts) assert.doesNotMatch(text, /default/i, `hand-written default in ${commandPath(command)}: "${text}"`);

      const help = command.helpInformation().replace(/\s+/g, ' ');
      for (const match of help.matchAll(/default/gi)) {
        assert.match(help.slice(match.index - 1), /^\(default: [^()]+(\([^()]*\)[^()]*)*\)/, `a default not in commander's form in ${commandPath(command)} --help near "${help.slice(match.index - 40, match.index + 40)}"`);
      }
      assert.doesNotMatch(help, /\(default: \[\]\)/, 'a repeatable flag given no times has no default to show');
      const helper = command.createHelp();
      for (const option of command.options) {
        const hasDefault = (option.defaultValue !== undefined && !(Array.isArray(option.defaultValue) && option.defaultValue.length === 0)) || option.defaultValueDescription !== undefined;
        if (!hasDefault || option.isBoolean()) continue;
        assert.match(helper.optionDescription(option), /\(default: [^()]+\)$/, `${option.flags} has a default its help line does not end with`);
      }
    });
  }
});
