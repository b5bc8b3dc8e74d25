/**
 * Rewrites the table of docs/options.md from the options table (src/options/table.ts):
 *   node --import tsx scripts/options-doc.ts
 * test/options.test.ts fails when the two disagree.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ALL_OPTIONS } from '../src/options/table.js';
import { optionDocRow, OPTIONS_DOC_HEADER } from '../test/options-doc-row.js';

const file = new URL('../docs/options.md', import.meta.url);
const text = readFileSync(file, 'utf8');
const intro = text.slice(0, text.indexOf(OPTIONS_DOC_HEADER));
writeFileSync(file, `${intro}${OPTIONS_DOC_HEADER}${ALL_OPTIONS.map(optionDocRow).join('\n')}\n`);
