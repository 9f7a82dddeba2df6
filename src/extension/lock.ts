// Single-instance lock for the worker: a Linux abstract-namespace unix socket. Binding it is atomic,
// only one process can hold a name, and the kernel releases it when the holder dies (even by
// SIGKILL), so there is no stale lock file to guess about and no native module is needed.
import { createServer, type Server } from 'node:net';
import { createHash } from 'node:crypto';

export interface WorkerLock {
  readonly name: string;
  release(): Promise<void>;
}

/** One lock per installation: the agent's library folder + handler name (shared by all versions). */
export function workerLockName(libDir: string, handlerName: string): string {
  const h = createHash('sha256').update(`${libDir}\0${handlerName}`).digest('hex').slice(0, 24);
  return `\0cvm-attest-worker-${h}`;
}

function tryBind(name: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const srv = createServer((sock) => sock.end(`${process.pid}\n`));
    srv.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') resolve(undefined);
      else reject(e);
    });
    srv.listen(name, () => {
      srv.unref(); // the lock alone must not keep the worker alive
      resolve(srv);
    });
  });
}

/**
 * Tries to take the lock, retrying until waitMs has passed (a worker being replaced may still be
 * exiting). Resolves undefined when another live process holds it.
 */
export async function acquireWorkerLock(name: string, waitMs = 0, signal?: AbortSignal): Promise<WorkerLock | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const srv = await tryBind(name);
    if (srv) {
      return { name, release: () => new Promise<void>((r) => srv.close(() => r())) };
    }
    if (Date.now() >= deadline || signal?.aborted) return undefined;
    await new Promise((r) => setTimeout(r, 100));
  }
}
