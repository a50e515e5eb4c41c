import { lstat } from 'node:fs/promises';

/** Private keys: owner read/write only. */
export const KEY_FILE_MODE = 0o600;
/** Certificates are public. */
export const CERT_FILE_MODE = 0o644;

export { writeFileAtomic } from '../files/write-atomic.js';

/** The subset of `paths` where something exists (a file, a directory, even a dangling symlink). */
export async function existingPaths(paths: string[]): Promise<string[]> {
  const checks = await Promise.all(
    paths.map(async (path) => {
      try {
        await lstat(path);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw error;
      }
    }),
  );
  return paths.filter((_, index) => checks[index]);
}
