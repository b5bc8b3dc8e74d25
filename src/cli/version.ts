/**
 * The package's version, read from its package.json: the first one named "natsrpc" above this
 * file, so it is found from the sources (src/cli) and from the build (dist/cli) alike.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageVersion(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'natsrpc' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json here, or not readable: look further up
    }
    if (dirname(dir) === dir) throw new Error(`no package.json of natsrpc above ${from}`);
  }
}
