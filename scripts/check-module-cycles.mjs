// Fails when first-level modules of a part of the crate import each other in a circle (`make lint`).
//   node scripts/check-module-cycles.mjs [--graph]
// For src/server (paths `crate::server::…`) and src/components (`crate::components::…`): every
// .rs file belongs to the first-level module it sits in; every path it names, in `use` trees and in
// code (`crate::server::x`, `super::x`, `self::x`, a child module's name), is resolved to the
// first-level module it reaches. An edge A -> B means a file of A names something of B. A circle
// (A -> B -> … -> A) is printed with, for each edge, a file and line that makes it, and the script
// exits 1. `--graph` prints every edge. Comments and string literals are not read.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const PARTS = [
  { dir: 'src/server', crate: ['server'] },
  { dir: 'src/components', crate: ['components'] },
];

/** Every .rs file under `dir`. */
function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return files(full);
    return name.endsWith('.rs') ? [full] : [];
  });
}

/** Source without comments, string and char literals (their text is not code). */
function code(text) {
  let out = '';
  for (let i = 0; i < text.length; ) {
    const rest = text.slice(i, i + 2);
    if (rest === '//') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (rest === '/*') {
      let depth = 0;
      do {
        if (text.slice(i, i + 2) === '/*') (depth++, (i += 2));
        else if (text.slice(i, i + 2) === '*/') (depth--, (i += 2));
        else i++;
      } while (depth > 0 && i < text.length);
    } else if (/^r#*"/.test(text.slice(i, i + 8)) && !/[A-Za-z0-9_]/.test(text[i - 1] ?? '')) {
      const hashes = text.slice(i + 1).match(/^#*/)[0];
      const end = text.indexOf(`"${hashes}`, i + 2 + hashes.length);
      out += ' '.repeat(Math.max(0, end + 1 + hashes.length - i)).replace(/ /g, (_, k) => (text[i + k] === '\n' ? '\n' : ' '));
      i = end < 0 ? text.length : end + 1 + hashes.length;
    } else if (text[i] === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1).replace(/[^\n]/g, ' ');
      i = j + 1;
    } else if (text[i] === "'" && /^'(\\.|[^\\'])'/.test(text.slice(i, i + 4)) ) {
      const m = text.slice(i).match(/^'(\\[^']*|[^\\'])'/);
      out += ' '.repeat(m[0].length);
      i += m[0].length;
    } else {
      out += text[i++];
    }
  }
  return out;
}

/** The paths a `use` tree names, each as a list of segments. */
function useTree(tree) {
  const paths = [];
  const walk = (prefix, s) => {
    s = s.trim();
    const brace = s.indexOf('{');
    if (brace < 0) {
      const segments = s.split(/\s+as\s+/)[0].split('::').map((x) => x.trim()).filter(Boolean);
      if (segments.length) paths.push([...prefix, ...segments]);
      return;
    }
    const head = s.slice(0, brace).split('::').map((x) => x.trim()).filter(Boolean);
    const inner = s.slice(brace + 1, s.lastIndexOf('}'));
    let depth = 0;
    let start = 0;
    for (let i = 0; i <= inner.length; i++) {
      const c = inner[i];
      if (c === '{') depth++;
      else if (c === '}') depth--;
      else if ((c === ',' && depth === 0) || i === inner.length) {
        const item = inner.slice(start, i);
        if (item.trim()) walk([...prefix, ...head], item);
        start = i + 1;
      }
    }
  };
  walk([], tree);
  return paths;
}

function check({ dir, crate }) {
  const top = new Set(
    readdirSync(dir)
      .filter((name) => name !== 'mod.rs')
      .map((name) => name.replace(/\.rs$/, '')),
  );
  const edges = new Map(); // "a b" -> "file:line"
  for (const file of files(dir)) {
    const rel = path.relative(dir, file).replace(/\.rs$/, '').split(path.sep);
    if (rel.length === 1 && rel[0] === 'mod') continue;
    const modulePath = rel[rel.length - 1] === 'mod' ? rel.slice(0, -1) : rel;
    const owner = modulePath[0];
    const text = code(readFileSync(file, 'utf8'));
    const lineOf = (index) => text.slice(0, index).split('\n').length;
    /** The first-level module a path reaches, if it is one of this part's. */
    const reach = (segments) => {
      let at;
      let rest = segments;
      if (rest[0] === 'crate') {
        if (rest.slice(1, 1 + crate.length).join('::') !== crate.join('::')) return null;
        at = [];
        rest = rest.slice(1 + crate.length);
      } else if (rest[0] === 'super' || rest[0] === 'self') {
        at = [...modulePath];
        while (rest[0] === 'super' || rest[0] === 'self') {
          if (rest[0] === 'super') at.pop();
          rest = rest.slice(1);
        }
      } else {
        // A name of the file's own module tree (a child module), not an outside crate.
        at = [...modulePath];
      }
      const full = [...at, ...rest];
      return full.length > 0 && top.has(full[0]) ? full[0] : null;
    };
    const add = (target, index) => {
      if (target && target !== owner && !edges.has(`${owner} ${target}`)) {
        edges.set(`${owner} ${target}`, `${file}:${lineOf(index)}`);
      }
    };
    // `use` trees (and `pub use`, `pub(crate) use`).
    for (const m of text.matchAll(/\buse\s+([^;]+);/g)) {
      for (const segments of useTree(m[1])) {
        // A bare first segment is a child module only when the file declares it (`mod x;`).
        if (!['crate', 'super', 'self'].includes(segments[0])) {
          const declared = new RegExp(`\\bmod\\s+${segments[0]}\\b`).test(text);
          if (!declared) continue;
        }
        add(reach(segments), m.index);
      }
    }
    // Paths written in code.
    for (const m of text.matchAll(/\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
      add(reach(m[1].split('::')), m.index);
    }
  }
  return { top: [...top].sort(), edges };
}

/** Circles in the graph: each strongly connected component of more than one module, with a cycle through it. */
function circles(nodes, edges) {
  const next = (a) => nodes.filter((b) => edges.has(`${a} ${b}`));
  let index = 0;
  const stack = [];
  const on = new Set();
  const idx = new Map();
  const low = new Map();
  const found = [];
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of next(v)) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component);
    }
  };
  for (const v of nodes) if (!idx.has(v)) strong(v);
  // One cycle through each component: a shortest way from its first module back to it.
  return found.map((component) => ({ component, cycle: cycleThrough(component) }));

  function cycleThrough(component) {
    const start = component.sort()[0];
    const inside = new Set(component);
    const from = new Map([[start, null]]);
    const queue = [start];
    while (queue.length) {
      const a = queue.shift();
      for (const b of next(a).filter((b) => inside.has(b))) {
        if (b === start) {
          const cycle = [start];
          for (let at = a; at !== start; at = from.get(at)) cycle.splice(1, 0, at);
          return [...cycle, start];
        }
        if (!from.has(b)) (from.set(b, a), queue.push(b));
      }
    }
    return component;
  }
}

let failed = false;
for (const part of PARTS) {
  const { top, edges } = check(part);
  if (process.argv.includes('--graph')) {
    for (const [edge, where] of edges) console.log(`${part.dir}: ${edge.replace(' ', ' -> ')}   (${where})`);
  }
  for (const { component, cycle } of circles(top, edges)) {
    failed = true;
    console.error(`${part.dir}: modules import each other in a circle: ${cycle.join(' -> ')}`);
    if (component.length + 1 > cycle.length) console.error(`  (all of ${component.sort().join(', ')} reach each other)`);
    for (let i = 0; i + 1 < cycle.length; i++) {
      console.error(`  ${cycle[i]} -> ${cycle[i + 1]}: ${edges.get(`${cycle[i]} ${cycle[i + 1]}`)}`);
    }
  }
}
if (!failed) console.log('module dependencies point one way in src/server and src/components');
process.exit(failed ? 1 : 0);
