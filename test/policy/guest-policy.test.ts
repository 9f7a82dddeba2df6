// The guest policy keys: parsing (bad values are one clear error naming the key) and the rules.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy } from '../../src/policy/policy.js';
import { evaluateGuestPolicy } from '../../src/policy/guest.js';

const H = 'ab'.repeat(32);

describe('guest policy keys', () => {
  it('parses allowedPcrs, requireSecureBoot, allowedBootApplicationDigests, allowedKernelCmdlines, requireAkCertificate (hex lowercased)', () => {
    const p = parsePolicy({
      allowedPcrs: { 7: [H.toUpperCase()], '23': [H] },
      requireSecureBoot: true,
      allowedBootApplicationDigests: [H.toUpperCase()],
      allowedKernelCmdlines: ['ro quiet'],
      requireAkCertificate: true,
    });
    assert.deepEqual(p.allowedPcrs, { 7: [H], 23: [H] });
    assert.deepEqual(p.allowedBootApplicationDigests, [H]);
    assert.equal(p.requireSecureBoot, true);
    assert.equal(p.requireAkCertificate, true);
    assert.equal(parsePolicy({}).requireSecureBoot, false);
  });

  it('refuses bad values with the key named', () => {
    for (const [bad, re] of [
      [{ allowedPcrs: { 24: [H] } }, /allowedPcrs: "24"/],
      [{ allowedPcrs: { x: [H] } }, /allowedPcrs: "x"/],
      [{ allowedPcrs: { 7: [] } }, /allowedPcrs\.7/],
      [{ allowedPcrs: { 7: ['abc'] } }, /allowedPcrs\.7/],
      [{ allowedPcrs: {} }, /allowedPcrs must be/],
      [{ allowedPcrs: [H] }, /allowedPcrs must be/],
      [{ allowedBootApplicationDigests: ['xyz'] }, /allowedBootApplicationDigests/],
      [{ allowedKernelCmdlines: [] }, /allowedKernelCmdlines/],
      [{ allowedKernelCmdlines: ['x'.repeat(4097)] }, /allowedKernelCmdlines/],
      [{ requireSecureBoot: 'yes' }, /requireSecureBoot/],
      [{ requireAkCertificate: 1 }, /requireAkCertificate/],
    ] as const)
      assert.throws(() => parsePolicy(bad), re);
  });

  it('rules fail closed when the data is missing or not proven', () => {
    const p = parsePolicy({
      allowedPcrs: { 7: [H] },
      requireSecureBoot: true,
      allowedBootApplicationDigests: [H],
      allowedKernelCmdlines: ['ro'],
      requireAkCertificate: true,
    });
    const none = evaluateGuestPolicy(p, { akCertificate: 'skip' });
    assert.deepEqual(
      none.map((c) => [c.id, c.status]),
      [
        ['policy.ak-certificate', 'fail'],
        ['policy.pcrs', 'fail'],
        ['policy.secure-boot', 'fail'],
        ['policy.boot-applications', 'fail'],
        ['policy.kernel-cmdline', 'fail'],
      ],
    );
    const boot = { secureBoot: true, secureBootVariables: {}, bootApplications: [H], kernelCmdline: 'ro', inconsistencies: [] };
    const all = evaluateGuestPolicy(p, { akCertificate: 'pass', attestedPcrs: { 7: H }, boot });
    assert.ok(
      all.every((c) => c.status === 'pass'),
      JSON.stringify(all),
    );
    const other = evaluateGuestPolicy(p, {
      akCertificate: 'fail',
      attestedPcrs: { 7: 'cd'.repeat(32) },
      boot: { ...boot, secureBoot: false, bootApplications: [H, 'ef'.repeat(32)], kernelCmdline: 'rw' },
    });
    assert.ok(
      other.every((c) => c.status === 'fail'),
      JSON.stringify(other),
    );
  });
});

describe('PCRs to quote for a policy', () => {
  it('0-7, plus allowedPcrs and 8-9 for the kernel command line', async () => {
    const { pcrsForPolicy } = await import('../../src/policy/guest.js');
    assert.deepEqual(pcrsForPolicy(undefined), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(pcrsForPolicy(parsePolicy({ allowedPcrs: { 14: [H] }, allowedKernelCmdlines: ['ro'] })), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14]);
  });
});
