// Azure Monitor sink: records and alerts go to the on-disk spool first, then to the Logs Ingestion
// API through the real SDK (@azure/monitor-ingestion + @azure/identity), imported lazily so an agent
// without this sink never loads them. Every flush runs under our own deadline because the IMDS token
// request has none. Records leave the spool only when their upload succeeded; a failed batch stays
// for the next flush. The service accepts or refuses each request whole (no per-record result; the
// SDK reports failures per chunk, and we send one chunk per call), so a refusal says nothing about a
// record until the record is sent alone: a record is dropped (counted, logged, shown) only when a
// request holding it alone gets 400 while other records of the same stream got through in the same
// flush. Anything else (400 for every request: DCR schema drift; 413 for one small record: a smaller
// limit on the path; 401/403/404) is request-level: the queue is kept and the status says `failed`
// with the service's message until a retry succeeds.
import type { TokenCredential } from '@azure/identity';
import type { LogsIngestionClient, LogsIngestionClientOptions } from '@azure/monitor-ingestion';
import { Spool, type SpoolEntry } from './spool.js';
import type { LogRecord } from './record.js';
import { AZURE_MONITOR_ALERT_SPOOL, SPOOL_FOLDERS, spoolDir } from './layout.js';
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
// Alerts wait in a queue of their own, so a long outage's records can never evict them.
const ALERT_SPOOL_MAX_RECORDS = 1000;
const ALERT_SPOOL_MAX_BYTES = 4 * 1024 * 1024;
// The service's documented request limit: a record whose own JSON is larger can never be accepted.
const SERVICE_MAX_BYTES = 1_000_000;
// Statuses that mean "this request was refused as sent" (as opposed to throttling, outages, auth).
const CONTENT_REFUSED = new Set([400, 413]);

class DeadlineError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms (deadline)`);
    this.name = 'DeadlineError';
  }
}

interface Outcome {
  ok: boolean;
  status?: number | undefined;
  message: string;
}

/** What one stream's batches came to in a flush: how many were acked, records refused alone, the failure that stopped it. */
interface StreamResult {
  acked: number;
  /** A request of this stream succeeded in this flush: proof the DCR and stream take records. */
  accepted: boolean;
  /** Records refused alone (400) before or after that proof; dropped only with it. */
  suspects: { entry: SpoolEntry; why: Outcome }[];
  failure?: Outcome | undefined;
  /** The failure is this stream's own (request-level 4xx): other streams may still be sent. */
  streamOnly?: boolean;
}

export class AzureMonitorSink {
  readonly name = 'azureMonitor';
  readonly settings: AzureMonitorSettings;
  /** Records (and alerts spooled by versions before the alert queue). */
  readonly spool: Spool;
  /** Alerts: bounded on their own, never evicted by records. */
  readonly alertSpool: Spool;
  #ctx: AzureMonitorSinkContext;
  #client: LogsIngestionClient | undefined;
  #last: { status: SinkDelivery['status']; message: string; at?: string } = { status: 'queued', message: 'nothing sent yet' };
  #lastDeliveryAt: string | undefined;
  #flushing: Promise<SinkDelivery> | undefined;
  #lastDrop: { at: string; count: number; why: string } | undefined;

  private constructor(settings: AzureMonitorSettings, spool: Spool, alertSpool: Spool, ctx: AzureMonitorSinkContext) {
    this.settings = settings;
    this.spool = spool;
    this.alertSpool = alertSpool;
    this.#ctx = ctx;
  }

  static async create(settings: AzureMonitorSettings, ctx: AzureMonitorSinkContext): Promise<AzureMonitorSink> {
    const spool = await Spool.open({
      dir: spoolDir(ctx.stateDir, SPOOL_FOLDERS.azureMonitor),
      maxRecords: settings.spool.maxRecords,
      maxBytes: settings.spool.maxBytes,
    });
    const alertSpool = await Spool.open({
      dir: spoolDir(ctx.stateDir, AZURE_MONITOR_ALERT_SPOOL),
      maxRecords: ALERT_SPOOL_MAX_RECORDS,
      maxBytes: ALERT_SPOOL_MAX_BYTES,
    });
    const sink = new AzureMonitorSink(settings, spool, alertSpool, ctx);
    const prev = ctx.previous;
    if (prev && prev.name === sink.name && prev.status !== 'disabled') {
      sink.#last = { status: prev.status, message: prev.message };
      sink.#lastDeliveryAt = prev.lastDeliveryAt;
      if (typeof prev.lastDropAt === 'string')
        sink.#lastDrop = { at: prev.lastDropAt, count: 0, why: typeof prev.lastDropReason === 'string' ? prev.lastDropReason : '' };
    } else if (sink.#depth > 0) sink.#last = { status: 'queued', message: `${sink.#depth} record(s) and alert(s) left from a previous run` };
    return sink;
  }

  /** Spools the run's record and alerts durably (fsynced before this resolves), each kind in its own queue. */
  async enqueue(records: readonly LogRecord[], alerts: readonly LogRecord[]): Promise<void> {
    const spooled = async (spool: Spool, stream: string, rs: readonly LogRecord[], what: string): Promise<void> => {
      if (rs.length === 0) return;
      const { dropped } = await spool.append(rs.map((r) => ({ stream, record: r, id: idOf(r) })));
      if (dropped === 0) return;
      this.#lastDrop = {
        at: new Date().toISOString(),
        count: dropped,
        why: `${what} queue full (${spool.maxRecords} / ${spool.maxBytes} bytes): oldest dropped`,
      };
      this.#ctx.logger?.error(`azure monitor ${what} queue full: oldest dropped`, { dropped, total: spool.dropped });
    };
    await spooled(this.spool, this.settings.streamName, records, 'record');
    await spooled(this.alertSpool, this.settings.alertsStreamName, alerts, 'alert');
  }

  get #depth(): number {
    return this.spool.depth + this.alertSpool.depth;
  }

  /** Uploads what is spooled (one flush at a time); resolves to the delivery state, never throws. */
  flush(opts: FlushOptions = {}): Promise<SinkDelivery> {
    this.#flushing ??= this.#flush(opts).finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  state(): SinkDelivery {
    return {
      name: this.name,
      status:
        this.#depth > 0 && this.#last.status === 'delivered'
          ? 'queued'
          : this.#depth === 0 && this.#last.status === 'queued' && this.#lastDeliveryAt
            ? 'delivered'
            : this.#last.status,
      message: this.#last.message,
      queueDepth: this.#depth,
      ...(this.#lastDeliveryAt ? { lastDeliveryAt: this.#lastDeliveryAt } : {}),
      dropped: this.spool.dropped + this.alertSpool.dropped,
      ...(this.#lastDrop ? { lastDropAt: this.#lastDrop.at, lastDropReason: this.#lastDrop.why } : {}),
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
    const sent = { records: 0, alerts: 0 };
    let failure: Outcome | undefined;
    const dropped: { count: number; why?: string } = { count: 0 };
    try {
      // Alerts first: they are few and matter most.
      const entries = [...(await this.alertSpool.list(MAX_FLUSH_RECORDS)), ...(await this.spool.list(MAX_FLUSH_RECORDS))];
      if (entries.length === 0) {
        if (this.#last.status !== 'failed')
          this.#last = {
            status: this.#lastDeliveryAt ? 'delivered' : this.#last.status,
            message: this.#lastDeliveryAt ? 'all records delivered' : this.#last.message,
          };
        return this.state();
      }
      const client = await Promise.race([this.#getClient(), deadline]);
      // Records spooled under stream names the settings no longer use go to the current streams.
      const streamOf = (e: SpoolEntry): string =>
        e.stream === this.settings.streamName || e.stream === this.settings.alertsStreamName
          ? e.stream
          : 'SystemAlertId' in e.record
            ? this.settings.alertsStreamName
            : this.settings.streamName;
      for (const stream of [this.settings.alertsStreamName, this.settings.streamName]) {
        const group = entries.filter((e) => streamOf(e) === stream);
        const r: StreamResult = { acked: 0, accepted: false, suspects: [] };
        for (const batch of batches(group)) {
          await this.#send(client, stream, batch, ac.signal, deadline, r);
          if (r.failure) break;
        }
        if (stream === this.settings.alertsStreamName) sent.alerts += r.acked;
        else sent.records += r.acked;
        if (r.accepted && r.suspects.length > 0) {
          // Proven bad: refused alone while the stream took other records.
          const why = r.suspects[0]!.why.message;
          for (const x of r.suspects)
            this.#ctx.logger?.error('azure monitor refused a record sent alone while accepting others; dropped', {
              id: x.entry.id,
              stream,
              error: x.why.message,
            });
          for (const sp of [this.spool, this.alertSpool]) await sp.discard(r.suspects.map((x) => x.entry.id));
          dropped.count += r.suspects.length;
          dropped.why ??= why;
        } else if (r.suspects.length > 0) {
          r.failure ??= r.suspects[0]!.why;
          r.streamOnly ??= true;
        }
        if (r.failure) {
          failure ??= r.failure;
          if (!r.streamOnly) break;
        }
      }
    } catch (e) {
      failure = describe(e);
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
    const now = new Date().toISOString();
    const total = sent.records + sent.alerts;
    if (total > 0) this.#lastDeliveryAt = now;
    const did = total > 0 ? `${countText(sent)} delivered` : '';
    const drop = dropped.count > 0 ? `${dropped.count} dropped: ${dropped.why}` : '';
    if (dropped.count > 0) this.#lastDrop = { at: now, count: dropped.count, why: dropped.why ?? '' };
    if (failure) {
      const permanent = failure.status !== undefined && [400, 401, 403, 404, 413].includes(failure.status);
      this.#last = { status: permanent ? 'failed' : 'queued', message: [did, drop, `${this.#depth} waiting: ${failure.message}`].filter(Boolean).join('; ') };
      this.#ctx.logger?.warn('azure monitor upload failed; records stay spooled', { sent: total, waiting: this.#depth, error: failure.message });
    } else {
      this.#last =
        this.#depth === 0
          ? { status: 'delivered', message: [did || 'nothing to send', drop].filter(Boolean).join('; ') }
          : { status: 'queued', message: [did, drop, `${this.#depth} waiting for the next flush`].filter(Boolean).join('; ') };
    }
    return this.state();
  }

  /** Uploads one batch into `r`; a content refusal (400/413) goes to #bisect. */
  async #send(
    client: LogsIngestionClient,
    stream: string,
    batch: readonly SpoolEntry[],
    signal: AbortSignal,
    deadline: Promise<never>,
    r: StreamResult,
  ): Promise<void> {
    const out = await this.#upload(client, stream, batch, signal, deadline);
    if (out === undefined) {
      r.acked += batch.length;
      r.accepted = true;
      return;
    }
    if (isRefusal(out)) return this.#bisect(client, stream, batch, out, signal, deadline, r);
    r.failure = out;
    r.streamOnly = isStreamLevel(out);
  }

  /**
   * `batch` was refused with `out` (400 or 413). On 400 each half is tried once: a half that goes
   * through proves the stream works and the other half holds the bad record(s); when both halves are
   * refused and nothing of the stream got through in this flush, the refusal is request-level and
   * bisection stops (a few requests, not one per record). On 413 the first half is halved until a
   * piece fits; a single record under the service limit refused with 413 is request-level.
   */
  async #bisect(
    client: LogsIngestionClient,
    stream: string,
    batch: readonly SpoolEntry[],
    out: Outcome,
    signal: AbortSignal,
    deadline: Promise<never>,
    r: StreamResult,
  ): Promise<void> {
    if (batch.length === 1) {
      const size = Buffer.byteLength(JSON.stringify(batch[0]!.record));
      if (out.status === 400 || size > SERVICE_MAX_BYTES) r.suspects.push({ entry: batch[0]!, why: out });
      else {
        r.failure = { ...out, message: `${out.message} (for a single record of ${size} bytes: a limit on the path, not the record)` };
        r.streamOnly = true;
      }
      return;
    }
    const mid = Math.ceil(batch.length / 2);
    const halves = [batch.slice(0, mid), batch.slice(mid)];
    if (out.status === 413) {
      for (const h of halves) {
        await this.#send(client, stream, h, signal, deadline, r);
        if (r.failure) return;
      }
      return;
    }
    const refusedHalves: [readonly SpoolEntry[], Outcome][] = [];
    for (const h of halves) {
      const o = await this.#upload(client, stream, h, signal, deadline);
      if (o === undefined) {
        r.acked += h.length;
        r.accepted = true;
        continue;
      }
      if (!isRefusal(o)) {
        r.failure = o;
        r.streamOnly = isStreamLevel(o);
        return;
      }
      refusedHalves.push([h, o]);
    }
    if (refusedHalves.length === 2 && !r.accepted) {
      r.failure = out;
      r.streamOnly = true;
      return;
    }
    for (const [h, o] of refusedHalves) {
      await this.#bisect(client, stream, h, o, signal, deadline, r);
      if (r.failure) return;
    }
  }

  /** One upload, acked on success; resolves to the failure (undefined when accepted). */
  async #upload(
    client: LogsIngestionClient,
    stream: string,
    batch: readonly SpoolEntry[],
    signal: AbortSignal,
    deadline: Promise<never>,
  ): Promise<Outcome | undefined> {
    let cause: unknown;
    try {
      await Promise.race([
        client.upload(
          this.settings.dcrImmutableId,
          stream,
          batch.map((e) => e.record as Record<string, unknown>),
          {
            abortSignal: signal,
            maxConcurrency: 1,
            onError: (err) => {
              cause = err.cause;
            },
          },
        ),
        deadline,
      ]);
    } catch (e) {
      const out = describe(cause ?? e);
      return e instanceof DeadlineError || signal.aborted ? { ok: false, message: out.message } : out;
    }
    // Ids are UUIDs: acking both queues removes each entry from the one that holds it.
    for (const sp of [this.spool, this.alertSpool]) await sp.ack(batch.map((e) => e.id));
    return undefined;
  }

  async #getClient(): Promise<LogsIngestionClient> {
    if (this.#client) return this.#client;
    // The SDK reads the proxy variables from process.env.
    ensureImdsBypassesProxy(process.env);
    const [{ LogsIngestionClient: Client, KnownMonitorAudience }, credential] = await Promise.all([import('@azure/monitor-ingestion'), this.#credential()]);
    // The token audience of the endpoint's cloud (sovereign clouds refuse a public-cloud token).
    const audience = {
      AzurePublicCloud: KnownMonitorAudience.AzurePublicCloud,
      AzureUSGovernment: KnownMonitorAudience.AzureGovernment,
      AzureChinaCloud: KnownMonitorAudience.AzureChina,
    }[this.settings.cloud];
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

const isRefusal = (o: Outcome): boolean => o.status !== undefined && CONTENT_REFUSED.has(o.status);
// A 4xx other than timeout/throttling is about this stream's requests; the other stream may still go.
const isStreamLevel = (o: Outcome): boolean => o.status !== undefined && o.status >= 400 && o.status < 500 && o.status !== 408 && o.status !== 429;

/** "1 record and 2 alerts": records and alerts counted apart. */
function countText(n: { records: number; alerts: number }): string {
  const p = (k: number, w: string): string => `${k} ${w}${k === 1 ? '' : 's'}`;
  return [n.records > 0 ? p(n.records, 'record') : '', n.alerts > 0 ? p(n.alerts, 'alert') : ''].filter(Boolean).join(' and ');
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
    if (cur.length > 0 && size + n > MAX_BATCH_JSON_BYTES) {
      yield cur;
      cur = [];
      size = 2;
    }
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
  msg = msg
    .replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/g, 'Bearer [redacted]')
    .replace(/\s+/g, ' ')
    .slice(0, 300);
  const name = typeof err?.name === 'string' ? err.name : 'Error';
  if (name === 'CredentialUnavailableError' || name === 'AuthenticationError') return { ok: false, message: `managed identity token: ${msg}` };
  return { ok: false, status, message: `${status !== undefined ? `HTTP ${status} ` : ''}${code ? `${code}: ` : ''}${msg}` };
}

/** IMDS (169.254.169.254) must never go through an HTTP proxy the machine sets. */
export function ensureImdsBypassesProxy(env: NodeJS.ProcessEnv): void {
  const proxied = env.HTTPS_PROXY ?? env.https_proxy ?? env.HTTP_PROXY ?? env.http_proxy;
  if (!proxied) return;
  const current = env.NO_PROXY ?? env.no_proxy ?? '';
  if (
    current
      .split(',')
      .map((s) => s.trim())
      .includes('169.254.169.254')
  )
    return;
  const next = current ? `${current},169.254.169.254` : '169.254.169.254';
  env.NO_PROXY = next;
  if (env.no_proxy !== undefined) env.no_proxy = next;
}
