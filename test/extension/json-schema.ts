// JSON Schema validation of our published schemas (extension/*.schema.json, draft 2020-12) with Ajv,
// a full implementation of the specification: strict mode also rejects a schema that uses an unknown
// keyword or contradicts itself, so the schemas users' editors load are checked as well as the values.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';

export interface Validator {
  validate(file: string, value: unknown): string[];
}

/** Loads every `*.schema.json` of `dir`; `$ref`s between them resolve by file name (their `$id`). */
export function schemaValidator(dir: string): Validator {
  const ajv = new Ajv2020({
    allErrors: true,
    strict: true,
    strictRequired: false /* oneOf: [{required: [a]}, {required: [b]}] is intended */,
    allowUnionTypes: true,
  });
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.schema.json'))) {
    const schema = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { $id?: string };
    if (schema.$id !== file) throw new Error(`${file}: $id must be "${file}" so that sibling $refs resolve`);
    ajv.addSchema(schema);
  }
  return {
    validate(file, value) {
      const check = ajv.getSchema(file);
      if (!check) throw new Error(`no schema ${file}`);
      return check(value) ? [] : (check.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
    },
  };
}
