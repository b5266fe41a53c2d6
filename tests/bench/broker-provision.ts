/**
 * The devices of `bench:broker` in the registry the `sus broker` node will open: `bench-<i>` with password
 * `secret-<i>`, in one department. Run in the bench's process before the node starts (the embedded PGlite takes one
 * process at a time), so the node's footprint holds nothing the bench needed to set up.
 */
import { hashToken, openRegistry } from '../../services/registry/index.ts';

export async function provisionBenchDevices(
  registryConfig: { DATABASE_URL?: string; SUS_DATA_DIR: string },
  devices: number,
): Promise<void> {
  const registry = await openRegistry({ ...registryConfig, SUS_DEAD_LETTER_RAW_BYTES: 1024 });
  try {
    await registry.ensureDepartment({ id: 'bench', name: 'Bench' });
    for (let start = 0; start < devices; start += 1000) {
      const ids = Array.from({ length: Math.min(1000, devices - start) }, (_, k) => start + k);
      const values = ids.map((_, k) => `($${k * 2 + 1}, $${k * 2 + 1}, 'bench', 'bench', $${k * 2 + 2})`).join(', ');
      await registry.db.query(
        `INSERT INTO devices (id, name, department_id, type, secret_hash) VALUES ${values}`,
        ids.flatMap((i) => [`bench-${i}`, hashToken(`secret-${i}`)]),
      );
    }
  } finally {
    await registry.close();
  }
}
