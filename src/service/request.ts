// POST /v1/attest bodies: parsed as JSON and validated against extension/attest-request.schema.json
// (the published contract) with Ajv, so the document and the code cannot drift apart.
import { readFileSync } from 'node:fs';
import { ServiceError } from './errors.js';

export interface AttestRequest {
  readonly nonce: string;
  readonly evidence: {
    readonly hclReport?: string;
    readonly vcek?: string;
    readonly chain?: string;
    readonly quote?: { readonly message: string; readonly signature: string; readonly pcrs?: readonly string[] };
    readonly tdQuote?: string;
    readonly collateral?: Readonly<Record<string, string>>;
    readonly akCertificate?: string;
    readonly eventLog?: string;
    readonly instance?: Readonly<Record<string, unknown>>;
  };
}

export const REQUEST_SCHEMA_URL = new URL('../../extension/attest-request.schema.json', import.meta.url);

export type RequestValidator = (body: Buffer) => AttestRequest;

export async function requestValidator(schemaUrl: URL = REQUEST_SCHEMA_URL): Promise<RequestValidator> {
  // Ajv is CommonJS: under the bundler its exports arrive on `default`.
  const m = (await import('ajv/dist/2020.js')) as unknown as {
    Ajv2020?: typeof import('ajv/dist/2020.js').Ajv2020;
    default?: { Ajv2020: typeof import('ajv/dist/2020.js').Ajv2020 };
  };
  const Ajv2020 = m.Ajv2020 ?? m.default!.Ajv2020;
  const schema = JSON.parse(readFileSync(schemaUrl, 'utf8')) as object;
  // unicode: false: maxLength counts UTF-16 units (String#length) instead of walking every code point of
  // ~10 KB of base64 per request; for the ASCII the schema allows both counts are the same, and for
  // anything else the cap only gets stricter.
  // Ajv 8 calls `unicode` deprecated and says so on the console; that one notice is dropped, and any
  // other warning about this fixed schema is a build defect: start-up fails rather than print it.
  const logger = {
    log: (): void => {},
    warn: (m: unknown): void => {
      if (!String(m).startsWith('DEPRECATED: option unicode.')) throw new Error(`attest-request.schema.json: ${String(m)}`);
    },
    error: (m: unknown): void => {
      throw new Error(`attest-request.schema.json: ${String(m)}`);
    },
  };
  const ajv = new Ajv2020({ allErrors: false, strict: true, strictRequired: false, allowUnionTypes: true, unicode: false, logger });
  const validate = ajv.compile(schema);
  return (body) => {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new ServiceError('E_REQUEST_JSON', 'the request body is not valid JSON', 400);
    }
    if (!validate(json)) {
      const e = validate.errors?.[0];
      // The path and rule only: never echo the submitted value.
      throw new ServiceError(
        'E_REQUEST_SCHEMA',
        `request does not match attest-request.schema.json: ${e?.instancePath || '/'} ${e?.message ?? 'is invalid'}`.slice(0, 300),
        400,
      );
    }
    return json as AttestRequest;
  };
}
