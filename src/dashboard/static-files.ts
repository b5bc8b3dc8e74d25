/**
 * The page's files, shipped in the package next to this module (`static/`, copied to the same
 * place under dist/ by the build) and read once at start: nothing is fetched at run time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export interface StaticFile {
  body: Buffer;
  type: string;
}

/** Every servable file of `dir` by name (`index.html`, `app.js`...). */
export function loadStaticFiles(dir = STATIC_DIR): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type !== undefined) files.set(name, { body: readFileSync(join(dir, name)), type });
  }
  if (!files.has('index.html')) throw new Error(`dashboard assets missing: no index.html in ${dir}`);
  return files;
}
