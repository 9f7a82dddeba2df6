// Process identity from /proc: a recorded pid is only signalled when it is still OUR worker (same
// start time, our command line), never an unrelated process that reused the pid.
import { readFileSync } from 'node:fs';

export function procStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may hold spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); starttime is field 22.
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
    const v = Number(rest[19]);
    return Number.isInteger(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

export function procCmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .filter((s) => s.length > 0);
  } catch {
    return [];
  }
}

/** Effective uid of pid (from /proc/<pid>/status), or undefined when it cannot be read. */
export function procEffectiveUid(pid: number): number | undefined {
  try {
    const m = /^Uid:\s+\d+\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when pid is alive, started at startTime, and runs `... handler worker ...`. With `uid`, it
 * must also run as that user: the worker lock is an abstract socket any local user can bind, and
 * anyone can put `handler worker` in a command line, so a pid a lock holder claims proves nothing
 * unless it runs as the handler's own (root) user.
 */
export function isOurWorker(pid: number, startTime: number, uid?: number): boolean {
  if (procStartTime(pid) !== startTime) return false;
  if (uid !== undefined && procEffectiveUid(pid) !== uid) return false;
  const argv = procCmdline(pid);
  const i = argv.indexOf('handler');
  return i >= 0 && argv[i + 1] === 'worker';
}
