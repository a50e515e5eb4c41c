import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { watchFiles, type FileWatch } from '../../src/files/watch-files.js';

/** Resolves once `count()` reaches `atLeast`, or fails after `withinMs`. */
async function eventually(count: () => number, atLeast: number, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (count() < atLeast) {
    if (Date.now() > deadline) assert.fail(`expected ${atLeast} change notices within ${withinMs} ms, got ${count()}`);
    await sleep(10);
  }
}

describe('watchFiles: noticing that files may have changed', () => {
  let dir: string;
  let file: string;
  const watches: FileWatch[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'farol-watch-'));
    file = join(dir, 'users.txt');
    await writeFile(file, 'one\n');
  });

  afterEach(async () => {
    for (const watch of watches.splice(0)) watch.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function watch(opts: Partial<Parameters<typeof watchFiles>[2]> = {}): Promise<{ watch: FileWatch; notices: () => number }> {
    let notices = 0;
    const watch = await watchFiles([file], () => (notices += 1), { debounceMs: 20, pollIntervalMs: 50, ...opts });
    watches.push(watch);
    return { watch, notices: () => notices };
  }

  it('notices a file replaced by a rename, as editors and farol write it', async () => {
    const { watch: w, notices } = await watch({ pollIntervalMs: 60_000 });
    await writeFile(join(dir, '.users.tmp'), 'two\n');
    await rename(join(dir, '.users.tmp'), file);
    await eventually(notices, 1, 2000);
    await w.mark();
    // The folder watch still hears the next rename (a watch on the file itself would be deaf now).
    await writeFile(join(dir, '.users.tmp'), 'three\n');
    await rename(join(dir, '.users.tmp'), file);
    await eventually(notices, 2, 2000);
  });

  it('notices through the stat poll alone when fs.watch is off, and keeps noticing until the consumer marks', async () => {
    const { watch: w, notices } = await watch({ fsWatch: false });
    await sleep(150);
    assert.equal(notices(), 0, 'nothing changed: no notice');
    await writeFile(file, 'changed in place\n');
    await eventually(notices, 2, 2000);
    await w.mark();
    await sleep(100);
    const settled = notices();
    await sleep(200);
    assert.equal(notices(), settled, 'marked: the poll has nothing more to say');
  });

  it('coalesces the writes of one save into one notice', async () => {
    const { notices } = await watch({ debounceMs: 100, pollIntervalMs: 60_000 });
    for (let i = 0; i < 5; i += 1) await writeFile(file, `version ${i}\n`);
    await eventually(notices, 1, 2000);
    await sleep(150);
    assert.equal(notices(), 1);
  });

  it('notices a deleted file and one created again', async () => {
    const { watch: w, notices } = await watch({ fsWatch: false });
    await rm(file);
    await eventually(notices, 1, 2000);
    await w.mark();
    const before = notices();
    await writeFile(file, 'back\n');
    await eventually(notices, before + 1, 2000);
  });

  it('says when a folder cannot be watched, and the poll carries on alone', async () => {
    const missing = join(dir, 'not-there', 'cert.pem');
    const unavailable: string[] = [];
    let notices = 0;
    const w = await watchFiles([missing], () => (notices += 1), {
      debounceMs: 10,
      pollIntervalMs: 30,
      onWatchUnavailable: (folder) => unavailable.push(folder),
    });
    watches.push(w);
    assert.deepEqual(unavailable, [join(dir, 'not-there')]);
    await mkdir(join(dir, 'not-there'));
    await writeFile(missing, 'now here\n');
    await eventually(() => notices, 1, 2000);
  });

  it('close() stops every notice', async () => {
    const { watch: w, notices } = await watch();
    w.close();
    await writeFile(file, 'after close\n');
    await sleep(200);
    assert.equal(notices(), 0);
  });
});
