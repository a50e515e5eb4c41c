import { randomBytes } from 'node:crypto';
import { lstat, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Private keys: owner read/write only. */
export const KEY_FILE_MODE = 0o600;
/** Certificates are public. */
export const CERT_FILE_MODE = 0o644;

/**
 * Writes `data` to `path` through a temporary file in the same directory and a rename, so a reader
 * never sees a half-written file. The mode is set explicitly (not left to the umask), and the
 * temporary file already has it, so a key is never readable by others, not even for a moment.
 */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const temporaryPath = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporaryPath, 'wx', mode);
  try {
    try {
      await handle.chmod(mode);
      await handle.writeFile(data, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporaryPath, path);
  } catch (error) {
    await rm(temporaryPath, { force: true });
    throw error;
  }
}

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
