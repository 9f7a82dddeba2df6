// Alerts to the local syslog daemon as RFC 5424 messages with a CEF payload: the shape Microsoft
// Sentinel's CommonSecurityLog ingests through the Azure Monitor agent (which reads what rsyslog or
// syslog-ng receive). The local daemon listens on /dev/log, a unix DATAGRAM socket, and Node.js has
// no unix datagram sockets; rather than a native addon we hand each message to `logger` (util-linux
// / bsdutils, present on every Debian, Ubuntu, RHEL, SUSE and Azure Linux image), which writes RFC
// 5424 to the socket and exits non-zero when the socket refuses it. When the daemon listens on the
// network instead (rsyslog imudp/imtcp on loopback), we send the same RFC 5424 line ourselves
// (TCP with RFC 6587 octet counting). Alerts wait in a spool of their own until the daemon took them.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { alertRecord, securityAlertFrom, type AlertSeverity, type SecurityAlert } from './alert-catalogue.js';
import type { SyslogFacility, SyslogSettings } from './settings.js';
import { SYSLOG_FACILITIES } from './settings.js';
import { Spool } from './spool.js';

import type { SinkDelivery, SinkLogger } from './types.js';
import { SPOOL_FOLDERS, spoolDir } from './layout.js';

// util-linux's logger at its fixed path when present (the worker runs as root: not found through PATH).
const DEFAULT_LOGGER = existsSync('/usr/bin/logger') ? '/usr/bin/logger' : 'logger';

const CEF_SEVERITY: Record<AlertSeverity, number> = { High: 8, Medium: 5, Low: 3, Informational: 1 };
// syslog severities: 2 crit, 4 warning, 5 notice, 6 info
const SYSLOG_SEVERITY: Record<AlertSeverity, { n: number; name: string }> = {
  High: { n: 2, name: 'crit' },
  Medium: { n: 4, name: 'warning' },
  Low: { n: 5, name: 'notice' },
  Informational: { n: 6, name: 'info' },
};
const FACILITY_CODE: Record<SyslogFacility, number> = Object.fromEntries(
  SYSLOG_FACILITIES.map((f) => [
    f,
    ({ kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11 } as Record<string, number>)[f] ??
      16 + Number(f.slice(5)),
  ]),
) as Record<SyslogFacility, number>;

// Control characters (C0, DEL, C1), line/paragraph separators, bidi overrides and BOM: a terminal or
// a SIEM viewer would act on them (ESC sequences redraw a screen, BEL rings, bidi reorders text).
const CONTROLS = /[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;
/** Each control character as the visible text `\xHH` / `\uHHHH`, its backslash escaped as CEF wants. */
export const showControls = (s: string): string =>
  s.replace(CONTROLS, (c) => {
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\\\x${n.toString(16).padStart(2, '0')}` : `\\\\u${n.toString(16).padStart(4, '0')}`;
  });
const escHeader = (s: string): string =>
  showControls(
    s
      .replace(/\\/g, '\\\\')
      .replace(/\|/g, '\\|')
      .replace(/[\r\n]+/g, ' '),
  );
const escExt = (s: string): string => showControls(s.replace(/\\/g, '\\\\').replace(/=/g, '\\=').replace(/\r/g, '\\r').replace(/\n/g, '\\n'));

/** CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|Extension, one line. */
export function formatCef(a: SecurityAlert, agentVersion = '0'): string {
  const ext: [string, string | number | undefined][] = [
    ['rt', Date.parse(a.EndTime)],
    ['start', Date.parse(a.StartTime)],
    ['end', Date.parse(a.EndTime)],
    ['externalId', a.SystemAlertId],
    ['cat', a.AlertType],
    ['dvchost', a.CompromisedEntity],
    ['msg', a.Description.slice(0, 1000)],
    ['cs1Label', 'VmId'],
    ['cs1', a.VmId],
    ['cs2Label', 'ResourceId'],
    ['cs2', a.ResourceId],
    ['cs3Label', 'RecordId'],
    ['cs3', a.RecordId],
    ['cs4Label', 'SubscriptionId'],
    ['cs4', a.SubscriptionId],
    ['cs5Label', 'RemediationSteps'],
    ['cs5', a.RemediationSteps.join(' ').slice(0, 800)],
    ['cs6Label', 'ExtendedProperties'],
    ['cs6', boundedJson(a.ExtendedProperties, 1200)],
  ];
  const extension = ext
    .filter(([, v]) => v !== undefined && v !== '' && !(typeof v === 'number' && !Number.isFinite(v)))
    .map(([k, v]) => `${k}=${escExt(String(v))}`)
    .join(' ');
  return `CEF:0|cvm-attest|cvm-attest|${escHeader(agentVersion)}|${escHeader(a.AlertType)}|${escHeader(a.AlertName)}|${CEF_SEVERITY[a.AlertSeverity]}|${extension}`;
}

/** JSON of `v`, or, when longer than `max`, JSON of as many top-level keys as fit plus `"truncated":true`. */
function boundedJson(v: Readonly<Record<string, unknown>>, max: number): string {
  const full = JSON.stringify(v);
  if (full.length <= max) return full;
  const out: Record<string, unknown> = { truncated: true };
  for (const [k, x] of Object.entries(v)) {
    const next = { ...out, [k]: x };
    if (JSON.stringify(next).length <= max) Object.assign(out, { [k]: x });
  }
  return JSON.stringify(out);
}

// RFC 5424 receivers take at least 4 KiB; the CEF fields above are cut so a line stays below it.
export const MAX_MESSAGE_BYTES = 4096;

/** `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG` (RFC 5424, no structured data). */
export function formatRfc5424(a: SecurityAlert, s: Pick<SyslogSettings, 'facility' | 'appName'>, agentVersion?: string, host = hostname()): string {
  const pri = FACILITY_CODE[s.facility] * 8 + SYSLOG_SEVERITY[a.AlertSeverity].n;
  const field = (x: string, max: number): string => x.replace(/[^!-~]/g, '').slice(0, max) || '-';
  return `<${pri}>1 ${new Date(Date.parse(a.TimeGenerated) || Date.now()).toISOString()} ${field(host, 255)} ${field(s.appName, 48)} ${process.pid} ${field(a.AlertType, 32)} - ${formatCef(a, agentVersion)}`;
}

export interface SyslogSinkContext {
  readonly stateDir: string;
  readonly logger?: SinkLogger | undefined;
  readonly agentVersion?: string | undefined;
  /** The `logger` executable (default: `logger` from util-linux, found on PATH, else /usr/bin/logger). */
  readonly loggerPath?: string;
  /** Per-message deadline (default 5 s). */
  readonly timeoutMs?: number;
  /** The state an earlier process last recorded (status.json). */
  readonly previous?: SinkDelivery | undefined;
}

export class SyslogSink {
  readonly name = 'syslog';
  readonly settings: SyslogSettings;
  readonly spool: Spool;
  #ctx: SyslogSinkContext;
  #last: { status: SinkDelivery['status']; message: string } = { status: 'delivered', message: 'no alerts yet' };
  #lastDeliveryAt: string | undefined;
  #lastDrop: { at: string; why: string } | undefined;

  private constructor(settings: SyslogSettings, spool: Spool, ctx: SyslogSinkContext) {
    this.settings = settings;
    this.spool = spool;
    this.#ctx = ctx;
  }

  static async create(settings: SyslogSettings, ctx: SyslogSinkContext): Promise<SyslogSink> {
    const spool = await Spool.open({ dir: spoolDir(ctx.stateDir, SPOOL_FOLDERS.syslog), maxRecords: 1000, maxBytes: 4 * 1024 * 1024 });
    const sink = new SyslogSink(settings, spool, ctx);
    const prev = ctx.previous;
    if (prev && prev.name === sink.name && prev.status !== 'disabled') {
      sink.#last = { status: prev.status, message: prev.message };
      sink.#lastDeliveryAt = prev.lastDeliveryAt;
      if (typeof prev.lastDropAt === 'string')
        sink.#lastDrop = { at: prev.lastDropAt, why: typeof prev.lastDropReason === 'string' ? prev.lastDropReason : '' };
    }
    return sink;
  }

  async enqueue(alerts: readonly SecurityAlert[]): Promise<void> {
    const { dropped } = await this.spool.append(alerts.map((a) => ({ stream: 'syslog', id: a.SystemAlertId, record: alertRecord(a) })));
    if (dropped > 0) {
      this.#lastDrop = { at: new Date().toISOString(), why: `spool full (${this.spool.maxRecords} alerts): oldest dropped` };
      this.#ctx.logger?.error('syslog spool full: oldest alerts dropped', { dropped, total: this.spool.dropped });
    }
  }

  /** Sends what is spooled, oldest first; stops at the first failure (the daemon is down). Never throws. */
  async flush(): Promise<SinkDelivery> {
    let sent = 0;
    try {
      for (const e of await this.spool.list(200)) {
        const alert = securityAlertFrom(e.record);
        if (!alert) throw new Error(`spooled alert ${e.id} is malformed`); // stays queued, as any failed send
        await this.#send(alert);
        await this.spool.ack([e.id]);
        sent++;
      }
      if (sent > 0) this.#lastDeliveryAt = new Date().toISOString();
      this.#last = { status: 'delivered', message: sent > 0 ? `${sent} alert(s) sent to syslog` : this.#last.message };
    } catch (e) {
      if (sent > 0) this.#lastDeliveryAt = new Date().toISOString();
      const msg = e instanceof Error ? e.message : String(e);
      this.#last = { status: 'queued', message: `${this.spool.depth} alert(s) waiting: ${msg}`.slice(0, 400) };
      this.#ctx.logger?.warn('syslog delivery failed; alerts stay spooled', { error: msg, waiting: this.spool.depth });
    }
    return this.state();
  }

  state(): SinkDelivery {
    const status = this.spool.depth > 0 && this.#last.status === 'delivered' ? 'queued' : this.#last.status;
    return {
      name: this.name,
      status,
      message: this.#last.message,
      queueDepth: this.spool.depth,
      ...(this.#lastDeliveryAt ? { lastDeliveryAt: this.#lastDeliveryAt } : {}),
      dropped: this.spool.dropped,
      ...(this.#lastDrop ? { lastDropAt: this.#lastDrop.at, lastDropReason: this.#lastDrop.why } : {}),
    };
  }

  #send(a: SecurityAlert): Promise<void> {
    const t = this.settings.target;
    const timeoutMs = this.#ctx.timeoutMs ?? 5000;
    if (!t) return this.#sendWithLogger(a, timeoutMs);
    const line = formatRfc5424(a, this.settings, this.#ctx.agentVersion);
    return t.protocol === 'udp' ? sendUdp(line, t.host, t.port) : sendTcp(line, t.host, t.port, timeoutMs);
  }

  #sendWithLogger(a: SecurityAlert, timeoutMs: number): Promise<void> {
    const args = [
      `--socket=${this.settings.socket}`,
      '--udp',
      '--rfc5424',
      '--socket-errors=on',
      '-p',
      `${this.settings.facility}.${SYSLOG_SEVERITY[a.AlertSeverity].name}`,
      '-t',
      this.settings.appName,
      `--id=${process.pid}`,
      `--msgid=${a.AlertType.slice(0, 32)}`,
      `--size=${MAX_MESSAGE_BYTES}`,
      '--',
      formatCef(a, this.#ctx.agentVersion),
    ];
    return new Promise<void>((resolve, reject) => {
      const child = spawn(this.#ctx.loggerPath ?? DEFAULT_LOGGER, args, {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
      });
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        if (err.length < 500) err += d.toString();
      });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`logger gave no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`cannot run logger (util-linux): ${e.message}`));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`logger could not write to ${this.settings.socket} (exit ${code}): ${err.trim().replace(/\s+/g, ' ')}`));
      });
    });
  }
}

function sendUdp(line: string, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    sock.send(Buffer.from(line), port, host, (err) => {
      sock.close();
      if (err) reject(err);
      else resolve();
    });
  });
}

function sendTcp(line: string, host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(line);
    const sock = connect({ host, port });
    sock.setTimeout(timeoutMs, () => {
      sock.destroy();
      reject(new Error(`syslog ${host}:${port}: no answer within ${timeoutMs} ms`));
    });
    sock.on('error', (e) => reject(new Error(`syslog ${host}:${port}: ${e.message}`)));
    sock.on('connect', () => sock.end(Buffer.concat([Buffer.from(`${body.length} `), body]), () => resolve()));
  });
}
