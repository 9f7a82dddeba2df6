// A fixed pool of worker threads for verification and signing, so one process uses every core and
// the HTTP front stays responsive. Bounded queue (overload is a 503, never unbounded memory), a
// deadline per task (a stuck worker is replaced), and a crashed worker fails only its own task.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ServiceError } from './errors.js';
import type { AttestRequest } from './request.js';
import type { AttestOutcome, VerifierConfig } from './verification.js';

type Reply = { id: number; ok: true; outcome: AttestOutcome } | { id: number; ok: false; code: string; message: string; evidence: boolean };
interface Task {
  id: number;
  request: AttestRequest;
  resolve(o: AttestOutcome): void;
  reject(e: Error): void;
  timer?: NodeJS.Timeout;
}
interface Slot {
  worker: Worker;
  task?: Task;
}

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
    this.#url = workerUrl();
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
    const slot: Slot = { worker };
    worker.on('message', (r: Reply) => {
      const t = slot.task;
      if (!t || t.id !== r.id) return;
      this.#finish(slot);
      if (r.ok) t.resolve(r.outcome);
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
    const t = slot.task;
    this.#onEvent('verification worker replaced', { reason: e.message });
    if (t) {
      clearTimeout(t.timer);
      t.reject(new ServiceError('E_INTERNAL', 'internal error during verification', 500, { cause: e }));
    }
    this.#slots.splice(i, 1);
    void slot.worker.terminate();
    if (!this.#closed) {
      const fresh = this.#spawn();
      this.#slots.push(fresh);
      this.#pump(fresh);
    }
  }

  #finish(slot: Slot): void {
    clearTimeout(slot.task?.timer);
    slot.task = undefined;
    this.#pump(slot);
  }

  #pump(slot: Slot): void {
    if (slot.task || this.#queue.length === 0) return;
    const t = this.#queue.shift()!;
    slot.task = t;
    t.timer = setTimeout(() => this.#replace(slot, new Error(`verification took longer than ${this.#timeoutMs} ms`)), this.#timeoutMs);
    slot.worker.postMessage({ id: t.id, request: t.request });
  }

  run(request: AttestRequest): Promise<AttestOutcome> {
    if (this.#closed) return Promise.reject(new ServiceError('E_SHUTTING_DOWN', 'the verifier is shutting down', 503));
    if (this.#queue.length >= this.#maxQueue) return Promise.reject(new ServiceError('E_OVERLOADED', 'the verifier is overloaded: retry later', 503));
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#next++, request, resolve, reject });
      const idle = this.#slots.find((s) => !s.task);
      if (idle) this.#pump(idle);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#queue.splice(0)) t.reject(new ServiceError('E_SHUTTING_DOWN', 'the verifier is shutting down', 503));
    for (const s of this.#slots) {
      clearTimeout(s.task?.timer);
      s.task?.reject(new ServiceError('E_SHUTTING_DOWN', 'the verifier is shutting down', 503));
      s.task = undefined;
    }
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }
}
