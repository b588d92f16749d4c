//! What `/proc` says about a process before `capture` signals or attaches to it: which program
//! it runs, whether it is alive, and which process holds the listening TCP socket that a
//! connection to `127.0.0.1:PORT` would reach.
//!
//! Linux only; plain `std::fs` reads, so an unreadable entry (another user's process) is treated
//! as unknown, never as an error. Not for sampling memory or descriptors over time (that is
//! `leakhound-sampler`).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// The program a process runs, as far as this user can see it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Program {
    /// `/proc/PID/exe` (without the kernel's ` (deleted)` suffix); `None` when unreadable.
    pub(crate) exe: Option<PathBuf>,
    /// `/proc/PID/comm` (at most 15 bytes; Node changes it with `process.title`).
    pub(crate) comm: String,
    /// `/proc/PID/cmdline`, split at NULs.
    pub(crate) argv: Vec<String>,
}

impl Program {
    pub(crate) fn read(pid: u32) -> Program {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
            .ok()
            .map(
                |p| match p.to_str().and_then(|s| s.strip_suffix(" (deleted)")) {
                    Some(s) => PathBuf::from(s),
                    None => p,
                },
            );
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| c.trim_end().to_owned())
            .unwrap_or_default();
        Program {
            exe,
            comm,
            argv: nul_separated(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()),
        }
    }

    /// The name that tells what the process runs: the executable's file name when it can be
    /// read (it cannot be changed by the program), else `comm`, else `argv[0]`'s file name.
    pub(crate) fn name(&self) -> String {
        if let Some(n) = self.exe.as_deref().and_then(file_name) {
            return n;
        }
        if !self.comm.is_empty() {
            return self.comm.clone();
        }
        self.argv
            .first()
            .and_then(|a| file_name(Path::new(a)))
            .unwrap_or_default()
    }

    /// For messages: the command line (shortened), or the name when it is empty.
    pub(crate) fn describe(&self) -> String {
        /// Long enough for `node /path/to/server.js --flag`, short enough for one line.
        const MAX_CHARS: usize = 80;
        // The program by its file name (`node`, not `/usr/bin/node`): the script matters more.
        // A title with spaces (`npm start`) is kept whole.
        let argv0 = self.argv.first().map(|a| {
            if a.contains(' ') {
                a.clone()
            } else {
                file_name(Path::new(a)).unwrap_or_else(|| a.clone())
            }
        });
        let line = argv0
            .into_iter()
            .chain(self.argv.iter().skip(1).cloned())
            .collect::<Vec<_>>()
            .join(" ");
        let line = line.trim();
        if line.is_empty() {
            let name = self.name();
            return if name.is_empty() {
                "unknown program".into()
            } else {
                name
            };
        }
        if line.chars().count() > MAX_CHARS {
            let cut: String = line.chars().take(MAX_CHARS - 1).collect();
            format!("{cut}…")
        } else {
            line.to_owned()
        }
    }
}

fn file_name(p: &Path) -> Option<String> {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
}

pub(crate) fn nul_separated(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// `node`, `nodejs`, or either with a version (`node20`, `node-20`, `nodejs18`, `node20.11.1`),
/// as distributions and version managers install them.
pub(crate) fn is_node_name(name: &str) -> bool {
    let Some(rest) = name
        .strip_prefix("nodejs")
        .or_else(|| name.strip_prefix("node"))
    else {
        return false;
    };
    let version = rest
        .strip_prefix('-')
        .or_else(|| rest.strip_prefix('_'))
        .unwrap_or(rest);
    rest.is_empty()
        || (version.starts_with(|c: char| c.is_ascii_digit())
            && version.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// Node's package managers and runners (`npm start`, `npx`, `yarn`, `pnpm`): Node processes
/// that start the service as a child rather than being it. Recognised by the title they give
/// themselves (`npm start`) or the script node runs (`node /usr/bin/npm start`).
pub(crate) fn node_launcher(program: &Program) -> Option<&'static str> {
    const LAUNCHERS: [(&str, &str); 8] = [
        ("npm", "npm"),
        ("npm-cli.js", "npm"),
        ("npx", "npx"),
        ("npx-cli.js", "npx"),
        ("yarn", "yarn"),
        ("yarn.js", "yarn"),
        ("pnpm", "pnpm"),
        ("pnpm.cjs", "pnpm"),
    ];
    let first_word = |a: &str| {
        let word = a.split_whitespace().next().unwrap_or("");
        file_name(Path::new(word)).unwrap_or_default()
    };
    let names = [
        program.argv.first().map(|a| first_word(a)),
        program.argv.get(1).map(|a| first_word(a)),
        Some(first_word(&program.comm)),
    ];
    names.into_iter().flatten().find_map(|n| {
        LAUNCHERS
            .iter()
            .find(|(file, _)| *file == n)
            .map(|(_, tool)| *tool)
    })
}

/// The descendants of `pid` (children first), from the parent PIDs in `/proc/*/stat`.
pub(crate) fn descendants(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut parent_of: Vec<(u32, u32)> = dir
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            // `pid (comm) state ppid …`
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((p, ppid))
        })
        .collect();
    parent_of.sort_unstable();
    let mut out = Vec::new();
    let mut next = 0;
    let mut frontier = vec![pid];
    while next < frontier.len() {
        let p = frontier[next];
        next += 1;
        for &(child, _) in parent_of.iter().filter(|(_, pp)| *pp == p) {
            if !frontier.contains(&child) {
                frontier.push(child);
                out.push(child);
            }
        }
    }
    out
}

/// Whether `pid` runs a JVM: the executable is `java`, the JVM library is mapped (custom
/// launchers embed it), or the JVM's performance-data file `/tmp/hsperfdata_USER/PID` exists.
pub(crate) fn is_jvm(pid: u32, program: &Program) -> bool {
    if program.name() == "java" {
        return true;
    }
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    if maps.lines().any(|l| l.ends_with("/libjvm.so")) {
        return true;
    }
    std::fs::read_dir("/tmp").is_ok_and(|dirs| {
        dirs.filter_map(Result::ok)
            .filter(|d| d.file_name().to_string_lossy().starts_with("hsperfdata_"))
            .any(|d| d.path().join(pid.to_string()).exists())
    })
}

/// Whether `pid` is a live process (not gone, not a zombie waiting to be reaped).
pub fn is_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) S …`: comm may hold spaces and parentheses, the state follows the last ')'.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        .is_some_and(|state| state != 'Z' && state != 'X')
}

/// A listening TCP socket from `/proc/net/tcp` or `/proc/net/tcp6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Listener {
    pub(crate) addr: IpAddr,
    pub(crate) port: u16,
    pub(crate) inode: u64,
}

/// `st` of a socket in the LISTEN state (`TCP_LISTEN` in the kernel's `tcp_states.h`).
const TCP_LISTEN: &str = "0A";

/// The listening sockets in one `/proc/net/tcp{,6}` table. Addresses are printed as the
/// in-memory words of the (network-order) address in hex, so the bytes come back with
/// `to_ne_bytes`; the port is printed in host order.
pub(crate) fn parse_net_tcp(text: &str) -> Vec<Listener> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != TCP_LISTEN {
                return None;
            }
            let (addr, port) = f[1].split_once(':')?;
            let port = u16::from_str_radix(port, 16).ok()?;
            let words = (0..addr.len() / 8)
                .map(|i| u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok())
                .collect::<Option<Vec<u32>>>()?;
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
            let addr = match bytes.len() {
                4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?)),
                16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?)),
                _ => return None,
            };
            let inode = f[9].parse().ok()?;
            Some(Listener { addr, port, inode })
        })
        .collect()
}

/// Every listening TCP socket of this network namespace (the one leakhound connects from).
pub(crate) fn listeners() -> std::io::Result<Vec<Listener>> {
    let mut all = parse_net_tcp(&std::fs::read_to_string("/proc/net/tcp")?);
    // tcp6 is missing when IPv6 is disabled.
    if let Ok(t) = std::fs::read_to_string("/proc/net/tcp6") {
        all.extend(parse_net_tcp(&t));
    }
    Ok(all)
}

/// The listeners a connection to `127.0.0.1:port` reaches: the kernel prefers a socket bound
/// to 127.0.0.1 itself, then one bound to 0.0.0.0, then a dual-stack `::`; only the most
/// specific kind present is returned (several only with `SO_REUSEPORT`, or `::` next to
/// `0.0.0.0`).
pub(crate) fn loopback_listeners(all: &[Listener], port: u16) -> Vec<Listener> {
    let rank = |l: &Listener| match l.addr {
        IpAddr::V4(a) if a == Ipv4Addr::LOCALHOST => Some(0),
        IpAddr::V6(a) if a.to_ipv4_mapped() == Some(Ipv4Addr::LOCALHOST) => Some(0),
        IpAddr::V4(a) if a.is_unspecified() => Some(1),
        IpAddr::V6(a) if a.is_unspecified() => Some(2),
        _ => None,
    };
    let on_port: Vec<(u8, Listener)> = all
        .iter()
        .filter(|l| l.port == port)
        .filter_map(|l| rank(l).map(|r| (r, *l)))
        .collect();
    let Some(best) = on_port.iter().map(|(r, _)| *r).min() else {
        return Vec::new();
    };
    on_port
        .into_iter()
        .filter(|(r, _)| *r == best)
        .map(|(_, l)| l)
        .collect()
}

/// The socket inodes among `/proc/PID/fd/*` (links `socket:[INODE]`); empty when unreadable.
pub(crate) fn socket_inodes(pid: u32) -> HashSet<u64> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| socket_inode(&l))
        .collect()
}

fn socket_inode(link: &Path) -> Option<u64> {
    link.to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The lowest PID that has socket `inode` open (a listening socket inherited over `fork` is
/// open in several), if this user can see it.
pub(crate) fn socket_owner(inode: u64) -> Option<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids.into_iter()
        .find(|&pid| socket_inodes(pid).contains(&inode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names() {
        for n in [
            "node",
            "nodejs",
            "node20",
            "node-20",
            "node_18",
            "nodejs18",
            "node20.11.1",
        ] {
            assert!(is_node_name(n), "{n}");
        }
        for n in [
            "", "nodemon", "node-red", "nodex", "sleep", "java", "node-", "deno", "bun",
        ] {
            assert!(!is_node_name(n), "{n}");
        }
    }

    #[test]
    fn node_launchers() {
        let prog = |argv: &[&str], comm: &str| Program {
            exe: Some(PathBuf::from("/usr/bin/node")),
            comm: comm.into(),
            argv: argv.iter().map(|a| a.to_string()).collect(),
        };
        assert_eq!(
            node_launcher(&prog(&["npm start"], "npm start")),
            Some("npm")
        );
        assert_eq!(
            node_launcher(&prog(&["node", "/usr/bin/npm", "start"], "node")),
            Some("npm")
        );
        assert_eq!(
            node_launcher(&prog(
                &["node", "/x/node_modules/npm/bin/npx-cli.js"],
                "node"
            )),
            Some("npx")
        );
        assert_eq!(node_launcher(&prog(&["node", "server.js"], "node")), None);
        assert_eq!(node_launcher(&prog(&["node", "npm-ls.js"], "node")), None);
    }

    #[test]
    fn net_tcp_tables_are_parsed() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1595 1 000000008c1feca9 100 0 0 10 0\n\
   1: 0100007F:A033 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3098635 1 000000006810daaf 100 0 0 10 0\n\
   2: 0100007F:A033 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 3098700 1 000000006810daaf 100 0 0 10 0\n";
        let l = parse_net_tcp(v4);
        // Byte order as printed on a little-endian machine (where these tests run).
        if cfg!(target_endian = "little") {
            assert_eq!(
                l,
                vec![
                    Listener {
                        addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                        port: 2024,
                        inode: 1595
                    },
                    Listener {
                        addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
                        port: 41011,
                        inode: 3098635
                    },
                ]
            );
        }
        let v6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000000000000000000000000000:2406 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 42 1 0000000000000000 100 0 0 10 0\n\
   1: 0000000000000000FFFF00000100007F:2407 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 43 1 0000000000000000 100 0 0 10 0\n";
        let l = parse_net_tcp(v6);
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].addr, IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        assert_eq!(l[0].port, 9222);
        if cfg!(target_endian = "little") {
            assert_eq!(
                l[1].addr,
                IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()),
                "{l:?}"
            );
        }
    }

    #[test]
    fn the_most_specific_listener_wins() {
        let l = |addr: IpAddr, inode| Listener {
            addr,
            port: 9229,
            inode,
        };
        let all = [
            l(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 1),
            l(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 2),
            l(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 3),
        ];
        assert_eq!(loopback_listeners(&all, 9229), vec![all[1]]);
        assert_eq!(loopback_listeners(&all[..1], 9229), vec![all[0]]);
        assert!(loopback_listeners(&all[2..], 9229).is_empty());
        assert!(loopback_listeners(&all, 9230).is_empty());
        let with_lo = [all[0], all[1], l(IpAddr::V4(Ipv4Addr::LOCALHOST), 4)];
        assert_eq!(loopback_listeners(&with_lo, 9229), vec![with_lo[2]]);
    }

    #[test]
    fn this_process_is_alive_and_its_listener_is_found() {
        let me = std::process::id();
        assert!(is_alive(me));
        assert!(!is_alive(u32::MAX));
        let sock = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
        let port = sock.local_addr().expect("bound").port();
        let found = loopback_listeners(&listeners().expect("/proc/net/tcp"), port);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(socket_inodes(me).contains(&found[0].inode));
        assert_eq!(socket_owner(found[0].inode), Some(me));
        let prog = Program::read(me);
        assert!(prog.exe.is_some());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep");
        let found = descendants(me).contains(&child.id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(found);
        assert!(!is_jvm(me, &prog));
        assert!(!is_node_name(&prog.name()));
    }
}
