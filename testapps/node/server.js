// Leaky Node test service for `leakhound diff` (issue 7). Listens on 127.0.0.1 only.
//
// Per-request LEAK: every GET /work registers a config listener on a long-lived ConfigBus
// whose closure captures the request's RequestContext (with a ~2 KB payload). The listener is
// never removed, so one RequestContext per request stays alive forever.
//
// TRAPS (grow during warm-up, then stay flat — must never be reported as leaks):
//   * LruCache: bounded LRU of rendered pages, at most 64 entries (fills during the first load);
//   * CountryTable: a lookup table built lazily on first use (large, built once);
//   * RingBuffer: the last 128 request logs, overwritten in place.
//
// Endpoints: GET /work?id=N, GET /snapshot?path=FILE (writes a heap snapshot after a full GC),
// GET /quit. The port is printed as "listening 127.0.0.1:PORT" on stdout. LEAK=0 in the
// environment removes each listener when its request is done (the fixed service).
'use strict';
const http = require('http');
const v8 = require('v8');
const { EventEmitter } = require('events');

class ConfigBus extends EventEmitter {}
const configBus = new ConfigBus();
const LEAK = process.env.LEAK !== '0';
configBus.setMaxListeners(0);

class RequestContext {
  constructor(id) {
    this.id = id;
    this.started = Date.now();
    this.payload = 'req-' + id + '-' + 'x'.repeat(2048);
    this.headers = { accept: '*/*', id: String(id) };
  }
}

class LruCache {
  constructor(max) { this.max = max; this.map = new Map(); }
  get(k) {
    const v = this.map.get(k);
    if (v !== undefined) { this.map.delete(k); this.map.set(k, v); }
    return v;
  }
  set(k, v) {
    this.map.delete(k);
    this.map.set(k, v);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value);
  }
}

class CountryTable {
  constructor() {
    this.rows = [];
    for (let i = 0; i < 20000; i++) this.rows.push({ code: 'C' + i, name: 'Country number ' + i });
  }
  lookup(i) { return this.rows[i % this.rows.length]; }
}
let countryTable = null; // built lazily on first use

class RingBuffer {
  constructor(n) { this.items = new Array(n).fill(null); this.next = 0; }
  push(x) { this.items[this.next] = x; this.next = (this.next + 1) % this.items.length; }
}

const cache = new LruCache(64);
const ring = new RingBuffer(128);

function handleWork(id) {
  const ctx = new RequestContext(id);
  // LEAK: listener never removed; the closure captures ctx.
  const onConfig = function onConfig(cfg) { ctx.headers.cfg = cfg; };
  configBus.on('config', onConfig);
  if (!LEAK) configBus.removeListener('config', onConfig);
  if (countryTable === null) countryTable = new CountryTable();
  const country = countryTable.lookup(id);
  const key = 'page-' + (id % 1000);
  let page = cache.get(key);
  if (page === undefined) {
    page = { html: '<p>' + country.name + '</p>'.repeat(100), key };
    cache.set(key, page);
  }
  ring.push({ id, at: Date.now(), line: 'GET /work ' + id + ' '.repeat(200) });
  return page.html.length;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname === '/work') {
    const n = handleWork(Number(url.searchParams.get('id') || 0));
    res.end(String(n));
  } else if (url.pathname === '/snapshot') {
    const file = v8.writeHeapSnapshot(url.searchParams.get('path') || undefined);
    res.end(file);
  } else if (url.pathname === '/quit') {
    res.end('bye');
    server.close();
    process.exit(0);
  } else {
    res.statusCode = 404;
    res.end('not found');
  }
});
server.keepAliveTimeout = 10000; // longer than the pauses of `run --snapshots`
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log('listening 127.0.0.1:' + server.address().port);
});
