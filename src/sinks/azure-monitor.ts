// Azure Monitor sink: records and alerts go to the on-disk spool first, then to the Logs Ingestion
// API through the real SDK (@azure/monitor-ingestion + @azure/identity), imported lazily so an agent
// without this sink never loads them. Every flush runs under our own deadline because the IMDS token
// request has none. Records leave the spool only when their upload succeeded; a failed batch stays
// for the next flush; a batch the service rejects as too large (413) or malformed (400) is bisected
// so one bad record cannot block the queue (a single rejected record is dropped and counted).
import type { TokenCredential } from '@azure/identity';
import type { LogsIngestionClient, LogsIngestionClientOptions } from '@azure/monitor-ingestion';
import { join } from 'node:path';
import { Spool, type SpoolEntry } from './spool.js';
import type { LogRecord } from './record.js';
import type { AzureMonitorSettings } from './settings.js';
import type { SinkDelivery, SinkLogger } from './types.js';

/** Test and demo hooks: SDK options (tlsOptions to trust an emulator, short retries), a credential. */
export interface AzureMonitorClientOptions {
  readonly clientOptions?: LogsIngestionClientOptions;
  /** Options for the managed identity / default credential (e.g. retryOptions). */
  readonly credentialOptions?: Record<string, unknown>;
  /** Use this credential instead of building one from the settings. */
  readonly credential?: TokenCredential;
}

export interface AzureMonitorSinkContext extends AzureMonitorClientOptions {
  readonly stateDir: string;
  readonly logger?: SinkLogger | undefined;
  /** The state an earlier process last recorded (status.json), shown until this one flushes. */
  readonly previous?: SinkDelivery | undefined;
}

export interface FlushOptions {
  readonly signal?: AbortSignal | undefined;
  /** Overrides the settings' deadline for this flush. */
  readonly timeoutMs?: number | undefined;
}

// The service takes 1 MB per call; the SDK's own chunking ignores JSON separators, so we batch
// ourselves with margin, counting the exact bytes of the JSON array.
const MAX_BATCH_JSON_BYTES = 900_000;
const MAX_FLUSH_RECORDS = 5000;

class DeadlineError extends Error {
  constructor(ms: number) { super(`no answer within ${ms} ms (deadline)`); this.name = 'DeadlineError'; }
}

interface Outcome { ok: boolean; status?: number | undefined; message: string }

export class AzureMonitorSink {
  readonly name = 'azureMonitor';
  readonly settings: AzureMonitorSettings;
  readonly spool: Spool;
  #ctx: AzureMonitorSinkContext;
  #client: LogsIngestionClient | undefined;
  #last: { status: SinkDelivery['status']; message: string; at?: string } = { status: 'queued', message: 'nothing sent yet' };
  #lastDeliveryAt: string | undefined;
  #flushing: Promise<SinkDelivery> | undefined;

  private constructor(settings: AzureMonitorSettings, spool: Spool, ctx: AzureMonitorSinkContext) {
    this.settings = settings;
    this.spool = spool;
    this.#ctx = ctx;
  }

  static async create(settings: AzureMonitorSettings, ctx: AzureMonitorSinkContext): Promise<AzureMonitorSink> {
    const spool = await Spool.open({ dir: join(ctx.stateDir, 'spool', 'azure-monitor'), maxRecords: settings.spool.maxRecords, maxBytes: settings.spool.maxBytes });
    const sink = new AzureMonitorSink(settings, spool, ctx);
    const prev = ctx.previous;
    if (prev && prev.name === sink.name && prev.status !== 'disabled') {
      sink.#last = { status: prev.status, message: prev.message };
      sink.#lastDeliveryAt = prev.lastDeliveryAt;
    } else if (spool.depth > 0) sink.#last = { status: 'queued', message: `${spool.depth} record(s) left from a previous run` };
    return sink;
  }

  /** Spools the run's record and alerts durably (fsynced before this resolves). */
  async enqueue(records: readonly LogRecord[], alerts: readonly LogRecord[]): Promise<void> {
    const items = [
      ...records.map((r) => ({ stream: this.settings.streamName, record: r, id: idOf(r) })),
      ...alerts.map((a) => ({ stream: this.settings.alertsStreamName, record: a, id: idOf(a) })),
    ];
    const { dropped } = await this.spool.append(items);
    if (dropped > 0) this.#ctx.logger?.warn('azure monitor spool full: oldest records dropped', { dropped, total: this.spool.dropped });
  }

  /** Uploads what is spooled (one flush at a time); resolves to the delivery state, never throws. */
  flush(opts: FlushOptions = {}): Promise<SinkDelivery> {
    this.#flushing ??= this.#flush(opts).finally(() => { this.#flushing = undefined; });
    return this.#flushing;
  }

  state(): SinkDelivery {
    return {
      name: this.name,
      status: this.spool.depth > 0 && this.#last.status === 'delivered' ? 'queued'
        : this.spool.depth === 0 && this.#last.status === 'queued' && this.#lastDeliveryAt ? 'delivered' : this.#last.status,
      message: this.#last.message,
      queueDepth: this.spool.depth,
      ...(this.#lastDeliveryAt ? { lastDeliveryAt: this.#lastDeliveryAt } : {}),
      dropped: this.spool.dropped,
    };
  }

  async #flush(opts: FlushOptions): Promise<SinkDelivery> {
    const timeoutMs = opts.timeoutMs ?? this.settings.timeoutMs;
    const ac = new AbortController();
    const onAbort = (): void => ac.abort(opts.signal?.reason);
    if (opts.signal?.aborted) ac.abort(opts.signal.reason);
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // A request past the deadline may never settle (the IMDS token request has no timeout), and the
        // SDK's bearer policy makes every later upload of a client wait for its pending token refresh:
        // the next flush starts with a fresh client and credential.
        this.#client = undefined;
        const e = new DeadlineError(timeoutMs);
        reject(e);
        ac.abort(e);
      }, timeoutMs);
      ac.signal.addEventListener('abort', () => reject(ac.signal.reason instanceof Error ? ac.signal.reason : new DeadlineError(timeoutMs)), { once: true });
    });
    deadline.catch(() => undefined);
    let sent = 0;
    let failure: Outcome | undefined;
    try {
      const entries = await this.spool.list(MAX_FLUSH_RECORDS);
      if (entries.length === 0) {
        if (this.#last.status !== 'failed') this.#last = { status: this.#lastDeliveryAt ? 'delivered' : this.#last.status, message: this.#lastDeliveryAt ? 'all records delivered' : this.#last.message };
        return this.state();
      }
      const client = await Promise.race([this.#getClient(), deadline]);
      // Records spooled under stream names the settings no longer use go to the current streams.
      const streamOf = (e: SpoolEntry): string => (e.stream === this.settings.streamName || e.stream === this.settings.alertsStreamName ? e.stream
        : 'SystemAlertId' in e.record ? this.settings.alertsStreamName : this.settings.streamName);
      for (const stream of [this.settings.streamName, this.settings.alertsStreamName]) {
        const group = entries.filter((e) => streamOf(e) === stream);
        for (const batch of batches(group)) {
          const r = await this.#send(client, stream, batch, ac.signal, deadline);
          sent += r.acked;
          if (r.failure) { failure = r.failure; break; }
        }
        if (failure) break;
      }
    } catch (e) {
      failure = describe(e);
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
    const now = new Date().toISOString();
    if (sent > 0) this.#lastDeliveryAt = now;
    if (failure) {
      const permanent = failure.status !== undefined && [400, 401, 403, 404].includes(failure.status);
      this.#last = { status: permanent ? 'failed' : 'queued', message: `${sent > 0 ? `${sent} sent; ` : ''}${this.spool.depth} waiting: ${failure.message}` };
      this.#ctx.logger?.warn('azure monitor upload failed; records stay spooled', { sent, waiting: this.spool.depth, error: failure.message });
    } else {
      this.#last = this.spool.depth === 0
        ? { status: 'delivered', message: `${sent} record(s) delivered` }
        : { status: 'queued', message: `${sent} sent; ${this.spool.depth} waiting for the next flush` };
    }
    return this.state();
  }

  /** Uploads one batch; bisects on 413/400. Acks what was accepted. */
  async #send(client: LogsIngestionClient, stream: string, batch: readonly SpoolEntry[], signal: AbortSignal, deadline: Promise<never>): Promise<{ acked: number; failure?: Outcome }> {
    const logs = batch.map((e) => e.record as Record<string, unknown>);
    let cause: unknown;
    try {
      await Promise.race([
        client.upload(this.settings.dcrImmutableId, stream, logs, { abortSignal: signal, maxConcurrency: 1, onError: (err) => { cause = err.cause; } }),
        deadline,
      ]);
      await this.spool.ack(batch.map((e) => e.id));
      return { acked: batch.length };
    } catch (e) {
      const out = describe(cause ?? e);
      if ((out.status === 413 || out.status === 400) && !(e instanceof DeadlineError) && !signal.aborted) {
        if (batch.length === 1) {
          this.#ctx.logger?.error('azure monitor rejected a record; dropped', { id: batch[0]!.id, error: out.message });
          await this.spool.discard([batch[0]!.id]);
          return { acked: 0 };
        }
        const mid = Math.ceil(batch.length / 2);
        const a = await this.#send(client, stream, batch.slice(0, mid), signal, deadline);
        if (a.failure) return a;
        const b = await this.#send(client, stream, batch.slice(mid), signal, deadline);
        return { acked: a.acked + b.acked, ...(b.failure ? { failure: b.failure } : {}) };
      }
      return { acked: 0, failure: out };
    }
  }

  async #getClient(): Promise<LogsIngestionClient> {
    if (this.#client) return this.#client;
    // The SDK reads the proxy variables from process.env.
    ensureImdsBypassesProxy(process.env);
    const [{ LogsIngestionClient: Client, KnownMonitorAudience }, credential] = await Promise.all([import('@azure/monitor-ingestion'), this.#credential()]);
    // The token audience of the endpoint's cloud (sovereign clouds refuse a public-cloud token).
    const audience = { AzurePublicCloud: KnownMonitorAudience.AzurePublicCloud, AzureUSGovernment: KnownMonitorAudience.AzureGovernment, AzureChinaCloud: KnownMonitorAudience.AzureChina }[this.settings.cloud];
    this.#client = new Client(this.settings.endpoint, credential, { audience, ...this.#ctx.clientOptions });
    return this.#client;
  }

  async #credential(): Promise<TokenCredential> {
    if (this.#ctx.credential) return this.#ctx.credential;
    const id = await import('@azure/identity');
    const extra = this.#ctx.credentialOptions ?? {};
    const who = this.settings.identity;
    if (this.settings.credential === 'default') {
      if (who?.resourceId) return new id.DefaultAzureCredential({ ...extra, managedIdentityResourceId: who.resourceId });
      return new id.DefaultAzureCredential({ ...extra, ...(who?.clientId ? { managedIdentityClientId: who.clientId } : {}) });
    }
    if (who?.clientId) return new id.ManagedIdentityCredential({ ...extra, clientId: who.clientId });
    if (who?.resourceId) return new id.ManagedIdentityCredential({ ...extra, resourceId: who.resourceId });
    if (who?.objectId) return new id.ManagedIdentityCredential({ ...extra, objectId: who.objectId });
    return new id.ManagedIdentityCredential({ ...extra });
  }
}

function idOf(r: LogRecord): string | undefined {
  const v = r.RecordId ?? r.SystemAlertId;
  return typeof v === 'string' ? v : undefined;
}

function* batches(entries: readonly SpoolEntry[]): Generator<SpoolEntry[]> {
  let cur: SpoolEntry[] = [];
  let size = 2;
  for (const e of entries) {
    const n = Buffer.byteLength(JSON.stringify(e.record)) + 1;
    if (cur.length > 0 && size + n > MAX_BATCH_JSON_BYTES) { yield cur; cur = []; size = 2; }
    cur.push(e);
    size += n;
  }
  if (cur.length > 0) yield cur;
}

/** One line for status and logs: HTTP status + service error code, never a token. */
function describe(e: unknown): Outcome {
  if (e instanceof DeadlineError) return { ok: false, message: e.message };
  const err = e as { statusCode?: unknown; code?: unknown; message?: unknown; name?: unknown; errors?: { cause?: unknown }[] };
  if (Array.isArray(err?.errors) && err.errors[0]?.cause) return describe(err.errors[0].cause);
  const status = typeof err?.statusCode === 'number' ? err.statusCode : undefined;
  const code = typeof err?.code === 'string' ? err.code : undefined;
  let msg = typeof err?.message === 'string' ? err.message : String(e);
  msg = msg.replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/g, 'Bearer [redacted]').replace(/\s+/g, ' ').slice(0, 300);
  const name = typeof err?.name === 'string' ? err.name : 'Error';
  if (name === 'CredentialUnavailableError' || name === 'AuthenticationError') return { ok: false, message: `managed identity token: ${msg}` };
  return { ok: false, status, message: `${status !== undefined ? `HTTP ${status} ` : ''}${code ? `${code}: ` : ''}${msg}` };
}

/** IMDS (169.254.169.254) must never go through an HTTP proxy the machine sets. */
export function ensureImdsBypassesProxy(env: NodeJS.ProcessEnv): void {
  const proxied = env.HTTPS_PROXY ?? env.https_proxy ?? env.HTTP_PROXY ?? env.http_proxy;
  if (!proxied) return;
  const current = env.NO_PROXY ?? env.no_proxy ?? '';
  if (current.split(',').map((s) => s.trim()).includes('169.254.169.254')) return;
  const next = current ? `${current},169.254.169.254` : '169.254.169.254';
  env.NO_PROXY = next;
  if (env.no_proxy !== undefined) env.no_proxy = next;
}
