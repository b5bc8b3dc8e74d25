/**
 * Importing the module a user names to `natsrpc worker`: exactly that file, and a TypeScript file
 * only through a loader chosen here, because the compiled CLI itself runs as plain JavaScript.
 *
 * For a .ts/.mts/.cts module the order is:
 * 1. tsx, when the worker's own project can resolve it: it runs all of TypeScript (enums,
 *    parameter properties, path aliases from the project's tsconfig), as the project's own tooling
 *    would, and the project chose its version;
 * 2. Node's own type stripping, when the running Node has it switched on
 *    (`process.features.typescript`: Node 22.18+ and 23.6+ by default): nothing to install, but it
 *    only erases types (no enums, no parameter properties) and expects `.ts` in relative imports;
 * 3. otherwise an error that says what to install.
 * natsrpc's own test runs (from its .ts sources, under tsx) already have a loader.
 */
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const TYPESCRIPT_FILE = /\.[mc]?ts$/;

/**
 * `import()` issued from JavaScript, not from this TypeScript file: under tsx, an import of
 * `svc.js` from a .ts module is answered with `svc.ts` when both exist, and the named file must win.
 */
const IMPORT_FROM_JS = 'data:text/javascript,export default (url) => import(url)';
async function importExact(url: string): Promise<unknown> {
  const js = (await import(IMPORT_FROM_JS)) as { default: (url: string) => Promise<unknown> };
  return js.default(url);
}

/** Why a TypeScript worker module cannot be loaded, with what to do about it. */
export class NoTypeScriptLoaderError extends Error {
  constructor(file: string) {
    super(
      `${file} is TypeScript, and this Node.js (${process.version}) cannot run it by itself. Either install tsx in your ` +
        `project (npm install --save-dev tsx), run Node.js 22.18 or newer (it strips types itself), ` +
        `or compile the worker to JavaScript and run the .js file.`,
    );
    this.name = 'NoTypeScriptLoaderError';
  }
}

/** Registers a loader for `path` when it is TypeScript and this process cannot yet run it. */
async function prepareTypeScript(path: string): Promise<void> {
  if (import.meta.url.endsWith('.ts')) return; // natsrpc's own sources: a loader is running us
  let tsx: string | null = null;
  try {
    tsx = createRequire(path).resolve('tsx/esm'); // what `node --import tsx/esm` loads: importing it registers tsx
  } catch {
    // not installed where the worker lives
  }
  if (tsx !== null) {
    await import(pathToFileURL(tsx).href);
    return;
  }
  if ((process.features as { typescript?: unknown }).typescript) return;
  throw new NoTypeScriptLoaderError(path);
}

/** Imports the worker module at `file` (relative to the working directory) and returns its namespace. */
export async function importWorkerModule(file: string): Promise<{ default?: unknown }> {
  const path = resolve(file);
  if (TYPESCRIPT_FILE.test(path)) await prepareTypeScript(path);
  return (await importExact(pathToFileURL(path).href)) as { default?: unknown };
}
