// A fixed pool of worker threads for verification and signing, so one process uses every core and
// the HTTP front stays responsive. Bounded queue (overload is a 503, never unbounded memory), a
// deadline per task (a stuck worker is replaced), and a crashed worker fails only the task it was on.
// Each worker holds up to IN_FLIGHT tasks, so the next one is already in its message queue when it
// finishes one: with one at a time a worker waited for the busy main thread half of the time under load.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ServiceError } from './errors.js';
import type { AttestRequest } from './request.js';
import type { AttestAnswer, VerifierConfig } from './verification.js';

type Reply = { id: number; ok: true; answer: AttestAnswer } | { id: number; ok: false; code: string; message: string; evidence: boolean };
interface Task {
  id: number;
  request: AttestRequest;
  resolve(a: AttestAnswer): void;
  reject(e: Error): void;
  timer?: NodeJS.Timeout;
}
interface Slot {
  worker: Worker;
  readonly tasks: Map<number, Task>;
}

const IN_FLIGHT = 2;

/** The worker script: the bundle's entry next to this chunk, or tsc's output. */
function workerUrl(): URL {
  for (const name of ['./verify-worker.mjs', './verify-worker.js', './service/verify-worker.js']) {
    const u = new URL(name, import.meta.url);
    if (existsSync(fileURLToPath(u))) return u;
  }
  throw new ServiceError('E_INTERNAL', 'the verification worker script is missing from this build', 500);
}

export interface PoolOptions {
  readonly size?: number;
  readonly maxQueue?: number;
  readonly taskTimeoutMs?: number;
  readonly onEvent?: (msg: string, meta: object) => void;
  /** The worker script (default: the verification worker of this build); tests give their own. */
  readonly workerUrl?: URL;
}

export class VerificationPool {
  readonly size: number;
  readonly #config: VerifierConfig;
  readonly #url: URL;
  readonly #slots: Slot[] = [];
  readonly #queue: Task[] = [];
  readonly #maxQueue: number;
  readonly #timeoutMs: number;
  readonly #onEvent: (msg: string, meta: object) => void;
  #next = 1;
  #closed = false;

  constructor(config: VerifierConfig, o: PoolOptions = {}) {
    this.#config = config;
    this.#url = o.workerUrl ?? workerUrl();
    this.size = Math.max(1, o.size ?? availableParallelism());
    this.#maxQueue = o.maxQueue ?? 256;
    this.#timeoutMs = o.taskTimeoutMs ?? 15_000;
    this.#onEvent = o.onEvent ?? (() => {});
    for (let i = 0; i < this.size; i++) this.#slots.push(this.#spawn());
  }

  get queued(): number {
    return this.#queue.length;
  }

  #spawn(): Slot {
    const worker = new Worker(this.#url, { workerData: this.#config, resourceLimits: { maxOldGenerationSizeMb: 128 } });
    const slot: Slot = { worker, tasks: new Map() };
    worker.on('message', (r: Reply) => {
      const t = slot.tasks.get(r.id);
      if (!t) return;
      this.#finish(slot, t);
      if (r.ok) t.resolve(r.answer);
      else
        t.reject(
          new ServiceError(
            r.evidence ? 'E_REQUEST_EVIDENCE' : 'E_INTERNAL',
            r.evidence ? r.message : 'internal error during verification',
            r.evidence ? 400 : 500,
          ),
        );
    });
    worker.on('error', (e) => this.#replace(slot, e));
    worker.on('exit', (code) => {
      if (!this.#closed && this.#slots.includes(slot)) this.#replace(slot, new Error(`worker exited with code ${code}`));
    });
    return slot;
  }

  #replace(slot: Slot, e: Error): void {
    const i = this.#slots.indexOf(slot);
    if (i < 0 || this.#closed) return;
    this.#onEvent('verification worker replaced', { reason: e.message });
    // A worker runs its tasks in the order given: the oldest is the one it was on. Only that one
    // fails; the others had not started and go back to the front of the queue.
    const [running, ...waiting] = [...slot.tasks.values()].sort((a, b) => a.id - b.id);
    for (const t of slot.tasks.values()) clearTimeout(t.timer);
    slot.tasks.clear();
    running?.reject(new ServiceError('E_INTERNAL', 'internal error during verification', 500, { cause: e }));
    this.#queue.unshift(...waiting);
    this.#slots.splice(i, 1);
    void slot.worker.terminate();
    if (!this.#closed) {
      const fresh = this.#spawn();
      this.#slots.push(fresh);
      this.#pump(fresh);
    }
  }

  #finish(slot: Slot, t: Task): void {
    clearTimeout(t.timer);
    slot.tasks.delete(t.id);
    this.#pump(slot);
  }

  #pump(slot: Slot): void {
    while (slot.tasks.size < IN_FLIGHT && this.#queue.length > 0) {
      const t = this.#queue.shift()!;
      slot.tasks.set(t.id, t);
      // The deadline counts from the hand-over; a task queued behind another in the worker gets its time too.
      t.timer = setTimeout(() => this.#replace(slot, new Error(`verification took longer than ${this.#timeoutMs} ms`)), this.#timeoutMs * slot.tasks.size);
      slot.worker.postMessage({ id: t.id, request: t.request });
    }
  }

  run(request: AttestRequest): Promise<AttestAnswer> {
    if (this.#closed) return Promise.reject(new ServiceError('E_SHUTTING_DOWN', 'the verifier is shutting down', 503));
    if (this.#queue.length >= this.#maxQueue) return Promise.reject(new ServiceError('E_OVERLOADED', 'the verifier is overloaded: retry later', 503));
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#next++, request, resolve, reject });
      // The least busy worker takes it (an idle one first).
      let best: Slot | undefined;
      for (const s of this.#slots) if (s.tasks.size < IN_FLIGHT && (!best || s.tasks.size < best.tasks.size)) best = s;
      if (best) this.#pump(best);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#queue.splice(0)) t.reject(new ServiceError('E_SHUTTING_DOWN', 'the verifier is shutting down', 503));
    for (const s of this.#slots) {
      for (const t of s.tasks.values()) {
        clearTimeout(t.timer);
        t.reject(new ServiceError('E_SHUTTING_DOWN', 'the verifier is shutting down', 503));
      }
      s.tasks.clear();
    }
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }
}
