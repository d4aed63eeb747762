// Writes .br (quality 11) and .gz (level 9) beside the built site's assets, so the server sends
// them as they are instead of compressing on every request. Run after `scripts/build-site.sh`.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';

const dir = process.argv[2] || 'target/site/pkg';
const files = (await readdir(dir)).filter((f) => /\.(wasm|js|css)$/.test(f));
for (const file of files) {
  const full = path.join(dir, file);
  const data = await readFile(full);
  const br = zlib.brotliCompressSync(data, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length },
  });
  const gz = zlib.gzipSync(data, { level: 9 });
  await writeFile(`${full}.br`, br);
  await writeFile(`${full}.gz`, gz);
  console.log(`${file}: ${data.length} bytes, brotli ${br.length}, gzip ${gz.length}`);
}
