#!/usr/bin/env node
// Entry point of the natsrpc CLI. TypeScript sources (ours and the worker modules users pass to
// `natsrpc worker`) are loaded through tsx, so no build step stands between a clone and a run.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
