// Single-instance lock for the worker: a Linux abstract-namespace unix socket. Binding it is atomic,
// only one process can hold a name, and the kernel releases it when the holder dies (even by
// SIGKILL), so there is no stale lock file to guess about and no native module is needed. The
// holder answers a connection with `{"pid":N,"seq":N}`, so a contender can tell a worker serving
// the same settings (give up at once) from one being replaced (wait for it to exit).
import { createServer, createConnection, type Server } from 'node:net';
import { createHash } from 'node:crypto';

export interface WorkerLock {
  readonly name: string;
  release(): Promise<void>;
}

export interface LockHolder { readonly pid: number; readonly seq: number }

/** One lock per installation: the agent's library folder + handler name (shared by all versions). */
export function workerLockName(libDir: string, handlerName: string): string {
  const h = createHash('sha256').update(`${libDir}\0${handlerName}`).digest('hex').slice(0, 24);
  return `\0cvm-attest-worker-${h}`;
}

function tryBind(name: string, info: LockHolder): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const srv = createServer((sock) => { sock.on('error', () => undefined); sock.end(JSON.stringify(info) + '\n'); });
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

/** Asks the current holder who it is; undefined when nobody answers within timeoutMs. */
export function queryLockHolder(name: string, timeoutMs = 500): Promise<LockHolder | undefined> {
  return new Promise((resolve) => {
    let buf = '';
    const sock = createConnection(name);
    const done = (v: LockHolder | undefined) => { clearTimeout(t); sock.destroy(); resolve(v); };
    const t = setTimeout(() => done(undefined), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('data', (c: string) => { buf += c; if (buf.length > 256) done(undefined); });
    sock.on('end', () => {
      try {
        const o = JSON.parse(buf) as Partial<LockHolder>;
        done(Number.isInteger(o.pid) && Number.isInteger(o.seq) ? (o as LockHolder) : undefined);
      } catch {
        done(undefined);
      }
    });
    sock.on('error', () => done(undefined));
  });
}

export interface AcquireOptions {
  /** Who we are (answered to contenders). */
  readonly self: LockHolder;
  /** Keep trying this long while a holder serving ANOTHER seq exits (it is being replaced). */
  readonly waitMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Takes the lock, or resolves undefined: at once when the holder serves the same seq, after waitMs
 * when a holder for another seq does not go away.
 */
export async function acquireWorkerLock(name: string, o: AcquireOptions): Promise<WorkerLock | undefined> {
  const deadline = Date.now() + (o.waitMs ?? 0);
  for (;;) {
    const srv = await tryBind(name, o.self);
    if (srv) return { name, release: () => new Promise<void>((r) => srv.close(() => r())) };
    const holder = await queryLockHolder(name);
    if (holder && holder.seq === o.self.seq && holder.pid !== o.self.pid) return undefined;
    if (Date.now() >= deadline || o.signal?.aborted) return undefined;
    await new Promise((r) => setTimeout(r, 100));
  }
}
