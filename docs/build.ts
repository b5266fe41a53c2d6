/**
 * `npm run docs:build`: writes the generated parts of docs/ from the code they describe: the settings table of
 * docs/configuration.md (from services/common/config.ts) and docs/errors.md (from the error catalogue,
 * services/common/error-codes.ts). Deterministic and committed; tests fail when a document is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderErrorsDoc } from '../services/common/error-codes.ts';
import { renderConfigurationSection } from './src/configuration.ts';
import { replaceGenerated } from './src/markdown.ts';

const file = path.join(import.meta.dirname, 'configuration.md');
writeFileSync(file, replaceGenerated(readFileSync(file, 'utf8'), 'configuration', renderConfigurationSection()));
console.log('docs: wrote the settings of docs/configuration.md');
writeFileSync(path.join(import.meta.dirname, 'errors.md'), renderErrorsDoc());
console.log('docs: wrote docs/errors.md');
