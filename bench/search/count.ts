/**
 * Dry run of the dataset generator, without a server: `node bench/search/count.ts [patients]`
 * prints what `run.ts` would load (resources by type, Bundles, match counts, generation speed),
 * to size BENCH_PATIENTS or check a change to the distributions.
 */
import { DatasetGenerator } from './generator.ts';

const patients = Number(process.argv[2] ?? process.env.BENCH_PATIENTS ?? 20_000);
const seed = Number(process.env.BENCH_SEED ?? 1);
const generator = new DatasetGenerator(
  { patients, seed, heavyPatients: 3, samplePatients: 200, bundleEntries: 300 },
  { organization: 'Organization/o', doctors: ['Practitioner/d1', 'Practitioner/d2'], nurses: ['Practitioner/n1'] },
);
const started = performance.now();
let bytes = 0;
let maxEntries = 0;
for (const bundle of generator.bundles()) {
  bytes += bundle.body.length;
  maxEntries = Math.max(maxEntries, bundle.entries);
}
const seconds = (performance.now() - started) / 1000;
const { samples, stats } = generator;
process.stdout.write(`${JSON.stringify({ ...stats, samples: samples.length, heavy: samples.filter((s) => s.heavy).map((s) => s.resources) }, null, 1)}\n`);
process.stdout.write(`${stats.resources.toLocaleString('en-US')} resources in ${stats.bundles} Bundles (max ${maxEntries} entries), ${(bytes / 2 ** 20).toFixed(0)} MiB JSON, generated in ${seconds.toFixed(1)} s; per patient ${(stats.resources / stats.patients).toFixed(1)}\n`);
