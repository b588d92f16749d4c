// Generator of large V8 heap snapshots for bench/heap-bench.sh (issue 7).
//
// Builds ITEMS small live objects (a Catalog of Item objects, each with a unique string and a
// small tags array), then writes three snapshots with a per-"request" leak in between:
// LEAK Session objects (each holding a 1 KB string) are pushed onto a SessionStore that is
// never pruned. Usage: node heap-gen.js OUTDIR [ITEMS] [LEAK]
'use strict';
const v8 = require('v8');
const path = require('path');
const out = process.argv[2] || '.';
const ITEMS = Number(process.argv[3] || 1500000);
const LEAK = Number(process.argv[4] || 20000);

class Item {
  constructor(i) { this.id = i; this.name = 'item-' + i; this.tags = [i & 7, i & 15]; }
}
class Catalog { constructor() { this.items = []; } }
class Session { constructor(i) { this.id = i; this.blob = ('s' + i).padEnd(1024, '.'); } }
class SessionStore { constructor() { this.sessions = []; } }

const catalog = new Catalog();
globalThis.catalog = catalog; // keep it a root (a dead local is not scanned by the GC)
for (let i = 0; i < ITEMS; i++) catalog.items.push(new Item(i));
const store = new SessionStore();
globalThis.store = store;
let next = 0;
for (let s = 1; s <= 3; s++) {
  for (let k = 0; k < LEAK; k++) store.sessions.push(new Session(next++));
  const f = v8.writeHeapSnapshot(path.join(out, 's' + s + '.heapsnapshot'));
  console.log(f);
}
