#!/usr/bin/env node
// Entry point of the natsrpc CLI: the compiled JavaScript in dist/, no TypeScript loader.
// A clone builds dist/ when `npm install` runs the "prepare" script (or with `npm run build`).
import { existsSync } from 'node:fs';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('natsrpc: dist/ is missing; run "npm run build" in the natsrpc folder first\n');
  process.exit(1);
}
await import(main.href);
