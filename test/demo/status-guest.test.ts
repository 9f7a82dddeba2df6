// `cvm-attest status`: the guest summary line built from the extension's substatus checks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

describe('status: the guest line', () => {
  it('summarises fresh-by, the AK certificate and the event log from the substatus checks', async () => {
    const { guestSummary } = await import('../../src/cli/commands/status.js');
    const c = (id: string, status: string, reason: string) => ({ group: id, id, status, reason });
    assert.equal(
      guestSummary([
        c('freshness', 'pass', 'fresh by report+quote: x'),
        c('ak-certificate', 'skip', 'none'),
        c('event-log', 'pass', '82 events replay ...; Secure Boot on; 3 boot application(s)'),
      ]),
      'fresh by report+quote; AK certificate absent; event log replays, Secure Boot on',
    );
    assert.equal(
      guestSummary(
        [c('freshness', 'evidence replayed from a capture: fresh by quote: y', 'warn')].map((x) => ({
          ...x,
          status: 'warn',
          reason: 'evidence replayed from a capture: fresh by quote: y',
        })),
      ),
      'fresh by quote',
    );
    assert.equal(guestSummary([c('freshness', 'fail', 'not fresh: z'), c('event-log', 'fail', 'does not replay')]), 'freshness fail; event log fail');
    assert.equal(guestSummary([]), undefined);
  });
});
