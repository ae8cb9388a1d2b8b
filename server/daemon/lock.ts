/**
 * One server per data directory. The lock file is created exclusively (O_EXCL) with our pid; a lock left by a
 * dead process is taken over. A live owner means refusal with a message that says what to do.
 */
import { promises as fsp } from 'node:fs';
import { processAlive } from '../../protocol/node';

export class LockHeld extends Error {
  constructor(
    readonly pid: number,
    dataDir: string,
  ) {
    super(
      `another crew-server (pid ${pid}) is already serving ${dataDir}; use it (crew server status) or stop it first (crew server stop)`,
    );
  }
}

export async function acquireLock(lockFile: string, dataDir: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await fsp.open(lockFile, 'wx', 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      return async () => {
        const owner = await fsp.readFile(lockFile, 'utf8').catch(() => '');
        if (owner.trim() === String(process.pid)) await fsp.rm(lockFile, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number((await fsp.readFile(lockFile, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid))
        throw new LockHeld(pid, dataDir);
      // Stale (owner gone, or an empty file from a crash between create and write): take it over.
      await fsp.rm(lockFile, { force: true });
    }
  }
  throw new Error(`could not take the lock ${lockFile}`);
}
