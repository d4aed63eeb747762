// Weighs what a shop's visitor downloads, compressed as the server sends it (brotli), and fails
// when a budget is passed: a size check, not a timing. Run after `scripts/build-site.sh`.
//   node scripts/check-sizes.mjs [site-root]
// - embed.js: what a host page loads before the window is first opened (goal and budget 5 KiB).
// - the window's bundle (WASM + JS + CSS, every page but the staff panel's): the goal is
//   250 KiB; the budget is the size it has now, so it can only shrink.
// - the staff panel's bundle (its own WASM, JS and CSS) is reported, with no budget.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';

const KIB = 1024;
const BUDGETS = {
  embed: { budget: 5 * KIB, goal: 5 * KIB },
  bundle: { budget: 242 * KIB, goal: 250 * KIB },
};

const root = process.argv[2] || 'target/site';
const brotli = (data) =>
  zlib.brotliCompressSync(data, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length },
  }).length;

const embed = await readFile(path.join(root, 'embed.js'));
const pkg = path.join(root, 'pkg');
const files = (await readdir(pkg)).filter((f) => /\.(wasm|js|css)$/.test(f));
// [brotli, raw] bytes of some of the files.
const weigh = async (names) => {
  let [compressed, raw] = [0, 0];
  for (const file of names) {
    const data = await readFile(path.join(pkg, file));
    raw += data.length;
    compressed += brotli(data);
  }
  return [compressed, raw];
};
const assets = files.filter((f) => !f.includes('_panel'));
const panelAssets = files.filter((f) => f.includes('_panel'));
const [bundle, raw] = await weigh(assets);
const [panel, panelRaw] = await weigh(panelAssets);

const kib = (n) => `${(n / KIB).toFixed(1)} KiB`;
const rows = [
  ['embed.js before the window opens', brotli(embed), embed.length, BUDGETS.embed],
  [`the window's bundle (${assets.join(', ')})`, bundle, raw, BUDGETS.bundle],
];
let failed = false;
for (const [what, size, rawSize, { budget, goal }] of rows) {
  const over = size > budget;
  failed ||= over;
  console.log(
    `${over ? 'OVER ' : 'ok   '} ${what}: ${kib(size)} brotli (${kib(rawSize)} raw); budget ${kib(budget)}, goal ${kib(goal)}`,
  );
}
console.log(`     the staff panel's bundle (${panelAssets.join(', ')}): ${kib(panel)} brotli (${kib(panelRaw)} raw); no budget`);
if (!panelAssets.some((f) => f.endsWith('.wasm'))) {
  console.error("The staff panel's bundle is missing.");
  failed = true;
}
if (failed) {
  console.error('A download passed its budget (see above).');
  process.exit(1);
}
