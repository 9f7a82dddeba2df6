// Token signing keys: `--signing-key` is a PEM file (one or several private keys; the last is the
// newest) or a folder of PEM files (the most recently modified is the newest). The newest signs; all
// are published in the JWKS so tokens signed before a rotation still verify. A key file readable by
// group or others is refused: the service will not run on a key it cannot keep secret.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../base/errors.js';

export type TokenAlg = 'RS256' | 'PS256' | 'ES256';

export interface SigningKey {
  readonly kid: string;
  readonly alg: TokenAlg;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The public JWK (kty + parameters only). */
  readonly publicJwk: Readonly<Record<string, string>>;
  /** Where it came from, for messages (a path and position, never the key). */
  readonly source: string;
}

const MAX_KEY_FILE = 64 * 1024;
const MAX_KEYS = 16;
const PEM_BLOCK = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]*?-----END \1-----/g;

/** RFC 7638 JWK thumbprint (SHA-256, base64url): a kid every replica derives the same way. */
export function jwkThumbprint(jwk: Readonly<Record<string, string>>): string {
  const members = jwk.kty === 'EC' ? ['crv', 'kty', 'x', 'y'] : ['e', 'kty', 'n'];
  const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]])));
  return createHash('sha256').update(canonical).digest('base64url');
}

function algFor(key: KeyObject, source: string, rsaAlg: 'RS256' | 'PS256'): TokenAlg {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    if ((d.modulusLength ?? 0) < 2048) throw new InputError('E_SIGNING_KEY', `${source}: an RSA signing key needs at least 2048 bits`);
    return rsaAlg;
  }
  if (key.asymmetricKeyType === 'ec' && d.namedCurve === 'prime256v1') return 'ES256';
  throw new InputError(
    'E_SIGNING_KEY',
    `${source}: signing keys must be RSA (RS256/PS256) or EC P-256 (ES256), not ${key.asymmetricKeyType}${d.namedCurve ? ' ' + d.namedCurve : ''}`,
  );
}

async function checkedRead(file: string): Promise<{ text: string; mtimeMs: number }> {
  let st;
  try {
    st = await stat(file);
  } catch (e) {
    throw new InputError('E_SIGNING_KEY', `signing key ${file} is missing or unreadable`, { cause: e });
  }
  if (!st.isFile()) throw new InputError('E_SIGNING_KEY', `signing key ${file} is not a file`);
  if ((st.mode & 0o077) !== 0)
    throw new InputError(
      'E_SIGNING_KEY_MODE',
      `signing key ${file} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}: it must be 0600 (chmod 600 ${file})`,
    );
  if (st.size > MAX_KEY_FILE) throw new InputError('E_SIGNING_KEY', `signing key ${file} is too large (${st.size} bytes)`);
  return { text: await readFile(file, 'utf8'), mtimeMs: st.mtimeMs };
}

function parseKeys(text: string, file: string, rsaAlg: 'RS256' | 'PS256'): SigningKey[] {
  const blocks = text.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw new InputError('E_SIGNING_KEY', `${file} holds no PEM private key`);
  return blocks.map((pem, i) => {
    const source = blocks.length > 1 ? `${file} (key ${i + 1})` : file;
    if (pem.includes('ENCRYPTED'))
      throw new InputError('E_SIGNING_KEY', `${source}: encrypted keys are not supported (protect the file instead: mode 0600, a secret mount)`);
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(pem);
    } catch (e) {
      throw new InputError('E_SIGNING_KEY', `${source}: not a usable private key`, { cause: e });
    }
    const alg = algFor(privateKey, source, rsaAlg);
    const publicKey = createPublicKey(privateKey);
    const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
    const publicJwk: Record<string, string> = jwk.kty === 'EC' ? { kty: 'EC', crv: jwk.crv!, x: jwk.x!, y: jwk.y! } : { kty: 'RSA', n: jwk.n!, e: jwk.e! };
    return { kid: jwkThumbprint(publicJwk), alg, privateKey, publicKey, publicJwk, source };
  });
}

export interface KeySet {
  /** Oldest first; the last one signs. */
  readonly keys: readonly SigningKey[];
  readonly current: SigningKey;
}

/** Loads --signing-key (file or folder). RSA keys sign with `rsaAlg` (RS256 unless CVM_ATTEST_TOKEN_ALG=PS256). */
export async function loadSigningKeys(path: string, rsaAlg: 'RS256' | 'PS256' = 'RS256'): Promise<KeySet> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw new InputError('E_SIGNING_KEY', `--signing-key ${path} is missing or unreadable`, { cause: e });
  }
  let keys: SigningKey[] = [];
  if (st.isDirectory()) {
    const names = (await readdir(path)).filter((n) => n.endsWith('.pem') || n.endsWith('.key')).sort();
    const files: { keys: SigningKey[]; mtimeMs: number; name: string }[] = [];
    for (const n of names) {
      const { text, mtimeMs } = await checkedRead(join(path, n));
      files.push({ keys: parseKeys(text, join(path, n), rsaAlg), mtimeMs, name: n });
    }
    files.sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
    keys = files.flatMap((f) => f.keys);
  } else {
    const { text } = await checkedRead(path);
    keys = parseKeys(text, path, rsaAlg);
  }
  if (keys.length === 0) throw new InputError('E_SIGNING_KEY', `--signing-key ${path}: no *.pem or *.key file with a private key`);
  if (keys.length > MAX_KEYS) throw new InputError('E_SIGNING_KEY', `--signing-key ${path}: at most ${MAX_KEYS} keys`);
  // The same key twice (a copy left in the folder) is published once; its newest position counts.
  const seen = new Set<string>();
  const unique = keys
    .reverse()
    .filter((k) => (seen.has(k.kid) ? false : (seen.add(k.kid), true)))
    .reverse();
  return { keys: unique, current: unique[unique.length - 1]! };
}

/** Key material for the nonce HMAC: every replica with the same keys derives the same nonce key. */
export function nonceKeyMaterial(set: KeySet): Buffer {
  return Buffer.concat([...set.keys].sort((a, b) => a.kid.localeCompare(b.kid)).map((k) => k.privateKey.export({ format: 'der', type: 'pkcs8' }) as Buffer));
}
