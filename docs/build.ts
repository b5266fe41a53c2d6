/**
 * `npm run docs:build`: writes the generated parts of docs/ from the code they describe (today the settings table
 * of docs/configuration.md, from services/common/config.ts). Deterministic and committed; tests/docs fails when a
 * document is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderConfigurationSection } from './src/configuration.ts';
import { replaceGenerated } from './src/markdown.ts';

const file = path.join(import.meta.dirname, 'configuration.md');
writeFileSync(file, replaceGenerated(readFileSync(file, 'utf8'), 'configuration', renderConfigurationSection()));
console.log('docs: wrote the settings of docs/configuration.md');
