/**
 * Resolves with the first record (of a list a test keeps appending to) that satisfies `predicate`,
 * or rejects after `timeoutMs`, saying what was seen when `seen` is given.
 */
export function firstRecorded<T>(records: readonly T[], predicate: (record: T) => boolean, timeoutMs: number, seen?: () => string): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const poll = setInterval(() => {
      const found = records.find(predicate);
      if (found !== undefined) {
        clearInterval(poll);
        resolve(found);
      } else if (performance.now() - started > timeoutMs) {
        clearInterval(poll);
        reject(new Error(`no matching update within ${timeoutMs} ms${seen ? `; saw ${seen()}` : ''}`));
      }
    }, 10);
  });
}
