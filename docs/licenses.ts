/**
 * `npm run licenses`: writes THIRD-PARTY-NOTICES.md (the runtime dependencies and their licences) and fails when a
 * dependency's licence is not on the allow list. tests/docs fails when the file is stale.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { isAllowed, renderNotices, runtimeDependencies } from './src/licenses.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const deps = runtimeDependencies(ROOT);
writeFileSync(path.join(ROOT, 'THIRD-PARTY-NOTICES.md'), renderNotices(deps));
const refused = deps.filter((d) => !isAllowed(d.license));
for (const d of refused) console.error(`licenses: ${d.name}@${d.version} is ${d.license}, not on the allow list`);
console.log(`licenses: wrote THIRD-PARTY-NOTICES.md (${deps.length} runtime packages)`);
process.exitCode = refused.length > 0 ? 1 : 0;
