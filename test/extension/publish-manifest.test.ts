// `npm run package` writes the publishing manifest (ExtensionImage) next to the zip: the handler's
// namespace and type, the version, Linux, the media link given, elements in the required order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, HANDLER } from './agent-harness.js';
// @ts-expect-error a plain .mjs script without types
import { publishManifest } from '../../scripts/publish-manifest.mjs';

const ORDER = [
  'ProviderNameSpace',
  'Type',
  'Version',
  'Label',
  'HostingResources',
  'MediaLink',
  'Description',
  'IsInternalExtension',
  'Eula',
  'PrivacyUri',
  'HomepageUri',
  'IsJsonExtension',
  'CompanyName',
  'SupportedOS',
  'Regions',
];
const elements = (xml: string): [string, string][] => [...xml.matchAll(/^ {2}<([A-Za-z]+)>([^<]*)<\/\1>$/gm)].map((m) => [m[1]!, m[2]!]);

test('npm run package writes <zip>.manifest.xml: namespace, type, version, Linux, media link, regions, in order', () => {
  const out = mkdtempSync(join(tmpdir(), 'cvm-pkg-'));
  try {
    const r = spawnSync(
      process.execPath,
      [
        join(root, 'scripts/package.mjs'),
        '--version',
        '0.1.7',
        '--out',
        out,
        '--media-link',
        'https://store.example/cvm.zip?sv=1&sig=x',
        '--regions',
        'West Europe;East US',
      ],
      { cwd: root, encoding: 'utf8', timeout: 180_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const zip = r.stdout.trim().split('\n').pop()!;
    assert.ok(zip.endsWith(`${HANDLER}-0.1.7.zip`) && existsSync(zip));
    const xml = readFileSync(zip.replace(/\.zip$/, '.manifest.xml'), 'utf8');
    assert.match(xml, /^<\?xml version="1.0" encoding="utf-8"\?>\n<ExtensionImage xmlns="http:\/\/schemas.microsoft.com\/windowsazure"/);
    const els = elements(xml);
    assert.deepEqual(
      els.map(([k]) => k),
      ORDER,
    );
    const v = Object.fromEntries(els);
    assert.equal(`${v['ProviderNameSpace']}.${v['Type']}`, HANDLER);
    assert.equal(v['Version'], '0.1.7');
    assert.equal(v['SupportedOS'], 'Linux');
    assert.equal(v['IsJsonExtension'], 'true');
    assert.equal(v['IsInternalExtension'], 'true', 'private until made public');
    assert.equal(v['MediaLink'], 'https://store.example/cvm.zip?sv=1&amp;sig=x');
    assert.equal(v['Regions'], 'West Europe;East US');
    assert.ok(v['Label']!.length > 0 && v['Description']!.length > 0);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('values are XML-escaped; no Regions element without regions; bad names refused', () => {
  const base = {
    namespace: 'A.B',
    type: 'C',
    version: '1.0.0',
    label: '<x> & "y"',
    description: 'd',
    eula: 'e',
    privacyUri: 'p',
    homepageUri: 'h',
    companyName: 'c',
  };
  const xml = publishManifest(base) as string;
  assert.match(xml, /<Label>&lt;x&gt; &amp; &quot;y&quot;<\/Label>/);
  assert.ok(!xml.includes('<Regions>'));
  assert.throws(() => publishManifest({ ...base, version: '1.0' }), /version/);
  assert.throws(() => publishManifest({ ...base, type: 'C-D' }), /type/);
});
