// Drops Leptos' async hydration from a bundle that never hydrates asynchronously: the customer's
// window hydrates with `leptos::mount::hydrate_from` and the staff panel with `hydrate_body`, both
// synchronous (no lazy routes, no islands), but every erased view (AnyView) stores a pointer to
// its type's `hydrate_async`, so the linker keeps the async hydration code of every view tree
// although nothing calls it (13 KiB brotli of the window's bundle, 17 KiB of the panel's). Run on
// wasm-bindgen's output, before wasm-opt, which then removes what only the dropped functions
// reached:
//   node scripts/drop-async-hydration.mjs <module.wasm>
// A dropped function's body becomes a trap (`unreachable`), as rustwasm's wasm-snip does (whose
// parser predates the features rustc's modules use today). Functions are found by their names
// (the module's `name` section, which wasm-bindgen keeps), and a name is not enough: LLVM merges
// identical functions and keeps one name, so a function named after `hydrate_async` may also be
// code the synchronous hydration runs (tachys' `prep` helpers are). A function is dropped only when
//   - its own path is inside a `hydrate_async` (not, say, drop glue of a type named after one),
//   - every function that calls it directly is dropped too,
//   - and, if it can be called indirectly (it is in the function table), it is either the pointer
//     AnyView stores (`<T as IntoAny>::into_any::hydrate_async`, which builds its own boxed future)
//     or the poll function of an `async` body (it calls `panic_const_async_*_resumed` with its own
//     source location, so it cannot have been merged with code from anywhere else).
// Refuses a bundle that links in what starts async hydration (lazy mounting, lazy routes,
// islands), and fails when nothing is dropped, so a change in Leptos cannot silently undo the
// saving.
import { readFile, writeFile } from 'node:fs/promises';

const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/drop-async-hydration.mjs <module.wasm>');
  process.exit(2);
}
const wasm = await readFile(file);

const INSIDE_HYDRATE_ASYNC = /hydrate_async(::\{\{closure\}\}|::[A-Za-z_][A-Za-z0-9_]*)*::h[0-9a-f]{16}$/;
const STORED_BY_ANY_VIEW = /^<T as tachys::view::any_view::IntoAny>::into_any::hydrate_async::h[0-9a-f]{16}$/;
const ASYNC_RESUMED = /::panic_const::panic_const_async_(fn|block)_resumed$/;

// --- reading -------------------------------------------------------------------------------
let at = 0;
const u32 = () => {
  let [value, shift] = [0, 0];
  for (;;) {
    const byte = wasm[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return value;
  }
};
// Skips a signed LEB128 (an immediate whose value does not matter here).
const skipSigned = () => {
  for (;;) if (wasm[at++] < 0x80) return;
};
const text = () => {
  const length = u32();
  at += length;
  return wasm.toString('utf8', at - length, at);
};
const encodeU32 = (value) => {
  const bytes = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    bytes.push(byte);
  } while (value > 0);
  return Buffer.from(bytes);
};

const sections = [];
for (at = 8; at < wasm.length; ) {
  const header = at;
  const id = wasm[at++];
  const size = u32();
  sections.push({ id, header, start: at, end: at + size });
  at += size;
}
const section = (id) => sections.find((s) => s.id === id);

// Imported functions come first in the function index space.
let imported = 0;
if (section(2)) {
  at = section(2).start;
  for (let count = u32(); count > 0; count--) {
    text();
    text();
    const kind = wasm[at++];
    if (kind === 0) {
      u32();
      imported++;
    } else if (kind === 1 || kind === 2) {
      if (kind === 1) at++; // the table's element type
      const flags = wasm[at++];
      u32();
      if (flags & 1) u32();
    } else if (kind === 3) {
      at += 2;
    } else {
      throw new Error(`import kind ${kind} not understood`);
    }
  }
}

const names = new Map();
for (const custom of sections.filter((s) => s.id === 0)) {
  at = custom.start;
  if (text() !== 'name') continue;
  while (at < custom.end) {
    const sub = wasm[at++];
    const end = u32() + at;
    if (sub === 1) {
      for (let count = u32(); count > 0; count--) {
        const index = u32();
        names.set(index, text());
      }
    }
    at = end;
  }
}
if (names.size === 0) throw new Error(`${file} has no function names (name section)`);

// Functions callable indirectly: the table's elements, and any `ref.func`; exports are kept.
const escaping = new Set();
// A constant expression (an offset, a global's value), up to its `end`.
const constant = () => {
  const op = wasm[at++];
  if (op === 0x41 || op === 0x42) skipSigned();
  else if (op === 0x43) at += 4;
  else if (op === 0x44) at += 8;
  else if (op === 0x23) u32();
  else if (op === 0xd0) at++;
  else if (op === 0xd2) escaping.add(u32());
  else throw new Error(`constant expression 0x${op.toString(16)} not understood`);
  if (wasm[at++] !== 0x0b) throw new Error('constant expression not understood');
};
if (section(8)) throw new Error(`${file} has a start function, which this script does not follow`);
if (section(6)) {
  at = section(6).start;
  for (let count = u32(); count > 0; count--) {
    at += 2; // value type, mutability
    constant();
  }
}
if (section(9)) {
  at = section(9).start;
  for (let count = u32(); count > 0; count--) {
    const flags = u32();
    if (flags !== 0) throw new Error(`element segment kind ${flags} not understood`);
    constant(); // the offset
    for (let n = u32(); n > 0; n--) escaping.add(u32());
  }
  if (at !== section(9).end) throw new Error('the element section was misread');
}
if (section(7)) {
  at = section(7).start;
  for (let count = u32(); count > 0; count--) {
    text();
    const kind = wasm[at++];
    const index = u32();
    if (kind === 0) escaping.add(index);
  }
}

// Each defined function's body and the functions it calls directly.
const bodies = [];
const calls = new Map();
const VALUE_TYPES = new Set([0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f]);
// unreachable, nop, else, end, return, drop, select, the numeric instructions (sign extension
// included) and ref.is_null; any instruction not read above or here stops the script.
const NO_IMMEDIATES = (op) =>
  [0x00, 0x01, 0x05, 0x0b, 0x0f, 0x1a, 0x1b, 0xd1].includes(op) || (op >= 0x45 && op <= 0xc4);
at = section(10).start;
for (let count = u32(), index = imported; count > 0; count--, index++) {
  const header = at;
  const size = u32();
  const start = at;
  const end = at + size;
  bodies.push({ index, header, start, end });
  const callees = new Set();
  for (let locals = u32(); locals > 0; locals--) {
    u32();
    at++;
  }
  while (at < end) {
    const op = wasm[at++];
    if (op === 0x02 || op === 0x03 || op === 0x04) {
      if (wasm[at] === 0x40 || VALUE_TYPES.has(wasm[at])) at++;
      else skipSigned();
    } else if (op === 0x0c || op === 0x0d) u32();
    else if (op === 0x0e) {
      for (let n = u32() + 1; n > 0; n--) u32();
    } else if (op === 0x10 || op === 0x12) callees.add(u32());
    else if (op === 0x11 || op === 0x13) {
      u32();
      u32();
    } else if (op === 0x1c) {
      for (let n = u32(); n > 0; n--) at++;
    } else if (op >= 0x20 && op <= 0x26) u32();
    else if (op >= 0x28 && op <= 0x3e) {
      u32();
      u32();
    } else if (op === 0x3f || op === 0x40) at++;
    else if (op === 0x41 || op === 0x42) skipSigned();
    else if (op === 0x43) at += 4;
    else if (op === 0x44) at += 8;
    else if (op === 0xd0) at++;
    else if (op === 0xd2) escaping.add(u32());
    else if (op === 0xfc) {
      const sub = u32();
      if (sub === 8) {
        u32();
        at++;
      } else if (sub === 10) at += 2;
      else if (sub === 11) at++;
      else if (sub === 9 || sub === 13 || (sub >= 15 && sub <= 17)) u32();
      else if (sub === 12 || sub === 14) {
        u32();
        u32();
      } else if (sub > 7) throw new Error(`instruction 0xfc ${sub} not understood`);
    } else if (!NO_IMMEDIATES(op)) {
      throw new Error(`instruction 0x${op.toString(16)} not understood`);
    }
  }
  if (at !== end) throw new Error(`function ${index} was misread`);
  calls.set(index, callees);
}

// --- choosing ------------------------------------------------------------------------------
const nameOf = (index) => names.get(index) ?? '';
// What starts async hydration (leptos's lazy mounting, lazy routes, islands) is linked in only if
// the bundle uses it: then this script must not run on it.
const STARTS_ASYNC_HYDRATION = /leptos::mount::(hydrate_lazy|hydrate_from_async)|LazyRoute|hydrate_islands/;
const starter = [...names.values()].find((name) => STARTS_ASYNC_HYDRATION.test(name));
if (starter) throw new Error(`${file} hydrates asynchronously (it has ${starter}): nothing can be dropped`);
const resumesCheck = new Set([...names].filter(([, name]) => ASYNC_RESUMED.test(name)).map(([index]) => index));
const dropped = new Set();
for (const { index } of bodies) {
  const name = nameOf(index);
  if (!INSIDE_HYDRATE_ASYNC.test(name)) continue;
  if (escaping.has(index)) {
    const isPoll = [...calls.get(index)].some((callee) => resumesCheck.has(callee));
    if (!STORED_BY_ANY_VIEW.test(name) && !isPoll) continue;
  }
  dropped.add(index);
}
const callers = new Map();
for (const [caller, callees] of calls) {
  for (const callee of callees) {
    if (!callers.has(callee)) callers.set(callee, []);
    callers.get(callee).push(caller);
  }
}
for (let changed = true; changed; ) {
  changed = false;
  for (const index of dropped) {
    if ((callers.get(index) ?? []).some((caller) => !dropped.has(caller))) {
      dropped.delete(index);
      changed = true;
    }
  }
}
if (dropped.size === 0) throw new Error(`no async hydration found in ${file}: has Leptos changed?`);

// --- writing -------------------------------------------------------------------------------
const trap = Buffer.from([0x03, 0x00, 0x00, 0x0b]); // size 3: no locals, unreachable, end
const code = section(10);
const parts = [encodeU32(bodies.length)];
for (const { index, header, end } of bodies) parts.push(dropped.has(index) ? trap : wasm.subarray(header, end));
const contents = Buffer.concat(parts);
await writeFile(
  file,
  Buffer.concat([
    wasm.subarray(0, code.header),
    Buffer.from([10]),
    encodeU32(contents.length),
    contents,
    wasm.subarray(code.end),
  ]),
);
const bytes = bodies.filter((b) => dropped.has(b.index)).reduce((sum, b) => sum + b.end - b.start, 0);
console.error(`[drop-async-hydration] ${file}: ${dropped.size} functions (${bytes} bytes) now trap`);
