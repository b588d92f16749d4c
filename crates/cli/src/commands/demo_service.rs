//! The demo's HTTP service (`leakhound demo-service`, hidden), a deliberately leaky backend.
//!
//! Both variants keep a bounded LRU cache of rendered items that fills during the first
//! seconds and then stays flat: a trap a naive "memory grows" check falls into. The `leaky`
//! variant also stores every request's session data in a map that is never pruned, and leaks a
//! UDP socket every [`SOCKET_LEAK_EVERY`] requests. The `fixed` variant prunes the map and
//! closes the socket. HTTP/1.1 with keep-alive, one thread per connection, 127.0.0.1 only.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::{Arc, Mutex};
use std::thread;

use anyhow::Context;

use crate::args::{DemoServiceArgs, DemoVariant};

/// Session data kept per request (and never freed by the leaky variant).
const SESSION_BYTES: usize = 8 * 1024;
/// Sessions the fixed variant keeps (the most recent ones).
const FIXED_SESSIONS_KEPT: usize = 64;
/// Every Nth request opens a socket; the leaky variant never closes it.
const SOCKET_LEAK_EVERY: u64 = 10;
/// LRU capacity: 1,000 items of 4 KiB, i.e. about 4 MiB once full.
const LRU_CAPACITY: usize = 1000;
const LRU_ITEM_BYTES: usize = 4 * 1024;
/// Distinct item keys requested; more than the capacity, so the cache evicts once full.
const ITEM_KEYS: u64 = 3000;

struct Lru {
    items: HashMap<u64, (Vec<u8>, u64)>,
    order: BTreeMap<u64, u64>,
    clock: u64,
}

impl Lru {
    fn get_or_render(&mut self, key: u64) -> usize {
        self.clock += 1;
        let clock = self.clock;
        if let Some((item, stamp)) = self.items.get_mut(&key) {
            self.order.remove(stamp);
            *stamp = clock;
            self.order.insert(clock, key);
            return item.len();
        }
        // Once full, the evicted item's buffer is reused for the new one: the cache's memory is
        // bounded by its capacity, not by how the allocator recycles freed blocks.
        let mut item = if self.items.len() >= LRU_CAPACITY {
            self.order
                .pop_first()
                .and_then(|(_, old)| self.items.remove(&old))
                .map(|(buf, _)| buf)
                .unwrap_or_default()
        } else {
            Vec::with_capacity(LRU_ITEM_BYTES)
        };
        item.clear();
        item.resize(LRU_ITEM_BYTES, (key % 251) as u8 + 1);
        let len = item.len();
        self.items.insert(key, (item, clock));
        self.order.insert(clock, key);
        len
    }
}

struct State {
    variant: DemoVariant,
    seq: u64,
    sessions: BTreeMap<u64, Vec<u8>>,
    leaked_sockets: Vec<UdpSocket>,
    cache: Lru,
}

impl State {
    fn handle(&mut self) -> String {
        self.seq += 1;
        let seq = self.seq;
        // Touch every byte so the pages are resident, as real session data would be. The fixed
        // variant keeps the last FIXED_SESSIONS_KEPT sessions and reuses the oldest one's buffer.
        let mut session = match self.variant {
            DemoVariant::Fixed if self.sessions.len() >= FIXED_SESSIONS_KEPT => self
                .sessions
                .pop_first()
                .map(|(_, buf)| buf)
                .unwrap_or_default(),
            _ => Vec::with_capacity(SESSION_BYTES),
        };
        session.clear();
        session.resize(SESSION_BYTES, (seq % 255) as u8 + 1);
        self.sessions.insert(seq, session);
        if seq.is_multiple_of(SOCKET_LEAK_EVERY)
            && let Ok(sock) = UdpSocket::bind("127.0.0.1:0")
            && self.variant == DemoVariant::Leaky
        {
            self.leaked_sockets.push(sock);
        }
        let item = self
            .cache
            .get_or_render(seq.wrapping_mul(2654435761) % ITEM_KEYS);
        format!(
            "{{\"request\":{seq},\"item_bytes\":{item},\"sessions\":{}}}\n",
            self.sessions.len()
        )
    }
}

pub(crate) fn run(args: &DemoServiceArgs) -> anyhow::Result<u8> {
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .with_context(|| format!("failed to listen on 127.0.0.1:{}", args.port))?;
    let addr = listener.local_addr()?;
    println!("listening on {addr} ({} variant)", args.variant.as_str());
    std::io::stdout().flush()?;
    let state = Arc::new(Mutex::new(State {
        variant: args.variant,
        seq: 0,
        sessions: BTreeMap::new(),
        leaked_sockets: Vec::new(),
        cache: Lru {
            items: HashMap::new(),
            order: BTreeMap::new(),
            clock: 0,
        },
    }));
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let state = Arc::clone(&state);
        thread::spawn(move || serve(conn, &state));
    }
    Ok(0)
}

/// Serve one keep-alive connection until the client closes it.
fn serve(conn: TcpStream, state: &Mutex<State>) {
    let _ = conn.set_nodelay(true);
    let Ok(mut writer) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    loop {
        // Request line and headers; only Content-Length matters to us.
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut content_length = 0usize;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let h = line.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                content_length = v.trim().parse().unwrap_or(0);
            }
        }
        if content_length > 0 {
            let mut body = vec![0u8; content_length];
            if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
                return;
            }
        }
        let body = match state.lock() {
            Ok(mut s) => s.handle(),
            Err(_) => return,
        };
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}
