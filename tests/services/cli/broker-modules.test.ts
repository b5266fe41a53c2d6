import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../..');

/** The npm packages a fresh node holds after importing `module` (CommonJS packages land in require's cache). */
async function packagesLoadedBy(module: string): Promise<string[]> {
  const script = `
    const { default: Module } = await import('node:module');
    await import(${JSON.stringify(path.join(ROOT, module))});
    const names = new Set();
    for (const file of Object.keys(Module._cache)) {
      const m = /node_modules\\/((@[^/]+\\/)?[^/]+)/.exec(file);
      if (m) names.add(m[1]);
    }
    console.log(JSON.stringify([...names].sort()));`;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    { cwd: ROOT },
  );
  return JSON.parse(stdout.trim()) as string[];
}

describe('a sus broker node loads what it runs', () => {
  it('the composition root loads no API module (Fastify, Swagger UI, the QR-code renderer) until an API part starts', async () => {
    const loaded = await packagesLoadedBy('services/cli/platform.ts');
    expect(loaded).toContain('mqtt-packet');
    const apiOnly = ['fastify', '@fastify/swagger', '@fastify/swagger-ui', '@fastify/static', 'qrcode', 'pngjs'];
    expect(loaded.filter((p) => apiOnly.includes(p))).toStrictEqual([]);
  }, 60_000);
});
