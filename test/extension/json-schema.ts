// A small JSON Schema validator for the keywords our schemas use (type, properties, required,
// additionalProperties, enum, const, minimum/maximum, minLength/maxLength, pattern, items, minItems,
// maxItems, minProperties, uniqueItems, $ref to a sibling file or #/$defs, allOf/anyOf/oneOf, not, if/then).
// Unknown keywords (description, default, format, examples...) are annotations and ignored.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

type Schema = boolean | Record<string, unknown>;

export interface Validator { validate(file: string, value: unknown): string[] }

export function schemaValidator(dir: string): Validator {
  const docs = new Map<string, Schema>();
  const load = (file: string): Schema => {
    let d = docs.get(file);
    if (d === undefined) {
      d = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Schema;
      docs.set(file, d);
    }
    return d;
  };
  const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' && Number.isInteger(v) ? 'integer' : typeof v);
  const resolve = (ref: string, file: string): { schema: Schema; file: string } => {
    const [f, frag] = ref.split('#') as [string, string | undefined];
    const target = f ? (f.split('/').pop() as string) : file;
    let s: unknown = load(target);
    for (const part of (frag ?? '').split('/').filter(Boolean)) s = (s as Record<string, unknown>)[decodeURIComponent(part)];
    if (s === undefined) throw new Error(`unresolved $ref ${ref} in ${file}`);
    return { schema: s as Schema, file: target };
  };
  const check = (schema: Schema, v: unknown, path: string, file: string, errs: string[]): void => {
    if (schema === true) return;
    if (schema === false) { errs.push(`${path}: not allowed`); return; }
    const s = schema;
    if (typeof s['$ref'] === 'string') { const r = resolve(s['$ref'], file); check(r.schema, v, path, r.file, errs); }
    const t = s['type'];
    if (t !== undefined) {
      const types = Array.isArray(t) ? t : [t];
      const actual = typeOf(v);
      if (!types.some((x) => x === actual || (x === 'number' && actual === 'integer'))) { errs.push(`${path}: expected ${types.join('|')}, got ${actual}`); return; }
    }
    if (Array.isArray(s['enum']) && !s['enum'].some((e) => JSON.stringify(e) === JSON.stringify(v))) errs.push(`${path}: not one of ${JSON.stringify(s['enum'])}`);
    if ('const' in s && JSON.stringify(s['const']) !== JSON.stringify(v)) errs.push(`${path}: must be ${JSON.stringify(s['const'])}`);
    if (typeof v === 'number') {
      if (typeof s['minimum'] === 'number' && v < s['minimum']) errs.push(`${path}: < ${s['minimum']}`);
      if (typeof s['maximum'] === 'number' && v > s['maximum']) errs.push(`${path}: > ${s['maximum']}`);
    }
    if (typeof v === 'string') {
      if (typeof s['minLength'] === 'number' && v.length < s['minLength']) errs.push(`${path}: too short`);
      if (typeof s['maxLength'] === 'number' && v.length > s['maxLength']) errs.push(`${path}: too long`);
      if (typeof s['pattern'] === 'string' && !new RegExp(s['pattern'], 'u').test(v)) errs.push(`${path}: does not match ${s['pattern']}`);
    }
    if (Array.isArray(v)) {
      if (typeof s['minItems'] === 'number' && v.length < s['minItems']) errs.push(`${path}: too few items`);
      if (typeof s['maxItems'] === 'number' && v.length > s['maxItems']) errs.push(`${path}: too many items`);
      if (s['uniqueItems'] === true && new Set(v.map((x) => JSON.stringify(x))).size !== v.length) errs.push(`${path}: duplicate items`);
      if (s['items'] !== undefined) v.forEach((x, i) => check(s['items'] as Schema, x, `${path}[${i}]`, file, errs));
    }
    if (typeOf(v) === 'object') {
      const o = v as Record<string, unknown>;
      const props = (s['properties'] ?? {}) as Record<string, Schema>;
      for (const r of (s['required'] ?? []) as string[]) if (!(r in o)) errs.push(`${path}: missing ${r}`);
      if (typeof s['minProperties'] === 'number' && Object.keys(o).length < s['minProperties']) errs.push(`${path}: too few properties`);
      for (const [k, x] of Object.entries(o)) {
        if (k in props) check(props[k] as Schema, x, `${path}.${k}`, file, errs);
        else if (s['additionalProperties'] !== undefined) check(s['additionalProperties'] as Schema, x, `${path}.${k}`, file, errs);
      }
    }
    if (Array.isArray(s['allOf'])) for (const sub of s['allOf'] as Schema[]) check(sub, v, path, file, errs);
    const count = (subs: Schema[]) => subs.filter((sub) => { const e: string[] = []; check(sub, v, path, file, e); return e.length === 0; }).length;
    if (Array.isArray(s['anyOf']) && count(s['anyOf'] as Schema[]) === 0) errs.push(`${path}: matches none of anyOf`);
    if (Array.isArray(s['oneOf']) && count(s['oneOf'] as Schema[]) !== 1) errs.push(`${path}: must match exactly one of oneOf`);
    if (s['not'] !== undefined && count([s['not'] as Schema]) === 1) errs.push(`${path}: matches not`);
    if (s['if'] !== undefined && count([s['if'] as Schema]) === 1 && s['then'] !== undefined) check(s['then'] as Schema, v, path, file, errs);
  };
  return {
    validate(file, value) {
      const errs: string[] = [];
      check(load(file), value, '$', file, errs);
      return errs;
    },
  };
}
