#!/usr/bin/env bash
# infra/build.sh — what `npm run build` runs: compiles the platform (services/, devices/simulator, from
# services/cli/main.ts) to JavaScript in dist/ with tsc (tsconfig.build.json), links the files it reads at run time
# (catalogue, migrations, device profiles, the console) beside the output, and stamps the build. bin/sus.mjs runs
# dist/ while the stamp is newer than every source file, else the TypeScript through tsx: the compiled node holds
# ~58 MB less (no tsx loader thread and transform cache), which a broker node at 10,000 devices needs (issue 17).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

rm -rf dist
node_modules/.bin/tsc -p tsconfig.build.json
# Data read through import.meta.url-relative paths: linked, not copied, so they cannot go stale.
ln -s ../../../services/common/catalogue dist/services/common/catalogue
ln -s ../../../services/registry/migrations dist/services/registry/migrations
ln -s ../../devices/profiles dist/devices/profiles
ln -s ../console dist/console
touch dist/BUILT
printf '[build] dist/ ready: bin/sus.mjs runs it until a source file is newer\n' >&2
