/** The line of docs/options.md that describes one option (test/options.test.ts keeps them in step). */
import type { OptionSpec } from '../src/options/resolve.js';

export const OPTIONS_DOC_HEADER = '| option | environment | flag | default | values |\n|---|---|---|---|---|\n';

export function optionDocRow(spec: OptionSpec): string {
  const env = spec.env === null ? '(code only)' : `\`${spec.env}\``;
  const flag = spec.flag === undefined ? '' : `\`--${spec.flag}\``;
  let values: string;
  let dflt: string;
  if (spec.kind === 'number') {
    values = `${spec.integer ? 'integer' : 'number'} ${spec.min}..${spec.max} (${spec.unit})`;
    dflt = spec.default === undefined ? '—' : String(spec.default);
  } else if (spec.kind === 'choice') {
    values = spec.choices.map((c) => `\`${c}\``).join(', ');
    dflt = `\`${spec.default}\``;
  } else if (spec.kind === 'boolean') {
    values = '`true`/`false` (env also `1`/`0`)';
    dflt = String(spec.default);
  } else {
    values = 'string';
    dflt = spec.default === undefined ? '—' : `\`${spec.default}\``;
  }
  return `| \`${spec.name}\` | ${env} | ${flag} | ${dflt} | ${values} |`;
}
