// The event-log check: the TCG event log is believed only as far as it replays to PCR values a
// verified quote covers. A quoted PCR the log does not reproduce fails the check (the log is not this
// boot's, or was edited); events in PCRs the quote does not cover prove nothing and are left out of
// the boot state. Platform-independent: it needs the attested PCRs, not the hardware report.
import { createHash } from 'node:crypto';
import { ParseError } from '../base/errors.js';
import { deriveBootState, type BootState } from '../tpm/boot-state.js';
import { parseEventLog, replayEventLog } from '../tpm/event-log.js';
import type { CheckResult } from '../result/result.js';
import { deepFreeze } from '../base/freeze.js';

export interface EventLogOutcome {
  readonly check: CheckResult;
  /** Only when the log replays to the quoted PCRs. */
  readonly boot?: BootState;
  /** The quoted PCRs the log reproduced (its derived state rests on these). */
  readonly replayedPcrs?: readonly number[];
  readonly events?: number;
}

const base = { id: 'event-log', group: 'event-log' } as const;
const ZERO = '0'.repeat(64);

// Outcomes by (log digest, quoted PCRs): within one boot the log and the PCRs do not change, so the
// worker's every run would otherwise parse and replay the same bytes. Bounded; outcomes are frozen.
const outcomes = new Map<string, EventLogOutcome>();
const MAX_CACHED = 16;

export function checkEventLog(log: Uint8Array | undefined, attestedPcrs: Readonly<Record<number, string>> | undefined, cache = true): EventLogOutcome {
  if (log === undefined) return { check: { id: base.id, group: base.group, status: 'skip', reason: 'no TCG event log given' } };
  if (!cache) return evaluate(log, attestedPcrs);
  const key = `${createHash('sha256').update(log).digest('hex')}:${JSON.stringify(attestedPcrs ?? null)}`;
  let out = outcomes.get(key);
  if (!out) {
    out = deepFreeze(evaluate(log, attestedPcrs));
    if (outcomes.size >= MAX_CACHED) outcomes.clear();
    outcomes.set(key, out);
  }
  return out;
}

function evaluate(log: Uint8Array, attestedPcrs: Readonly<Record<number, string>> | undefined): EventLogOutcome {
  let parsed;
  let replay;
  try {
    parsed = parseEventLog(log);
    replay = replayEventLog(parsed);
  } catch (e) {
    return {
      check: { id: base.id, group: base.group, status: 'fail', reason: `the event log is unusable: ${e instanceof ParseError ? e.message : 'malformed'}` },
    };
  }
  const events = parsed.events.length;
  if (!attestedPcrs || Object.keys(attestedPcrs).length === 0) {
    return {
      check: {
        id: base.id,
        group: base.group,
        status: 'warn',
        reason: `event log of ${events} events not checked: no verified quote with PCR values to replay it against, so nothing in it is trusted`,
      },
      events,
    };
  }
  // Firmware PCRs 0-7 are all in a firmware log; a quoted higher PCR the log never extends (IMA in 10,
  // systemd-stub in 11+) is measured by the running OS and left out.
  const quoted = Object.keys(attestedPcrs)
    .map(Number)
    .filter((i) => i <= 7 || replay.pcrs[i] !== '')
    .sort((a, b) => a - b);
  if (quoted.length === 0)
    return {
      check: { id: base.id, group: base.group, status: 'warn', reason: `the quote covers no PCR this event log extends: nothing in it is trusted` },
      events,
    };
  const mismatch = quoted.filter((i) => {
    const want = attestedPcrs[i]!.toLowerCase();
    const got = replay.pcrs[i] || (i === 0 && parsed.startupLocality ? `${'0'.repeat(62)}${parsed.startupLocality.toString(16).padStart(2, '0')}` : ZERO);
    return got !== want;
  });
  if (mismatch.length)
    return {
      check: {
        id: base.id,
        group: base.group,
        status: 'fail',
        reason: `the event log does not replay to the quoted PCR${mismatch.length > 1 ? 's' : ''} ${mismatch.join(',')}: it is not this boot's log, or it was altered`,
      },
      events,
    };
  const trusted = new Set(quoted);
  const boot = deriveBootState(parsed, trusted);
  if (boot.inconsistencies.length)
    return {
      check: { id: base.id, group: base.group, status: 'fail', reason: `the event log replays, but ${boot.inconsistencies.join('; ')}: its data was altered` },
      events,
    };
  const outside = [...new Set(parsed.events.filter((e) => e.type !== 3 && !trusted.has(e.pcr)).map((e) => e.pcr))].sort((a, b) => a - b);
  const sb = boot.secureBoot === undefined ? 'Secure Boot state not measured' : `Secure Boot ${boot.secureBoot ? 'on' : 'OFF'}`;
  const note = outside.length ? `; events in PCR ${outside.join(',')} are not quoted and not used` : '';
  return {
    check: {
      id: base.id,
      group: base.group,
      status: 'pass',
      reason: `${events} events replay to quoted PCRs ${quoted.join(',')}; ${sb}; ${boot.bootApplications.length} boot application(s)${boot.kernelCmdline !== undefined ? '; kernel command line measured' : ''}${note}`,
    },
    boot,
    replayedPcrs: quoted,
    events,
  };
}
