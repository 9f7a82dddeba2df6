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
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s.length > 0);
  } catch {
    return [];
  }
}

/** True when pid is alive, started at startTime, and runs `... handler worker ...`. */
export function isOurWorker(pid: number, startTime: number): boolean {
  if (procStartTime(pid) !== startTime) return false;
  const argv = procCmdline(pid);
  const i = argv.indexOf('handler');
  return i >= 0 && argv[i + 1] === 'worker';
}
