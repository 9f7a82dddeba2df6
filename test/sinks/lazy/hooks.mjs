// Module resolve hook for the lazy-load test: records every resolved specifier in a file.
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (process.env.LAZY_LOG) appendFileSync(process.env.LAZY_LOG, `${r.url}\n`);
  return r;
}
