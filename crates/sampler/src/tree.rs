//! Which processes belong to the watched tree, decided afresh at every sample.
//!
//! Input is one [`Node`] per process found in `/proc` (PID, parent PID, process group, start
//! time, exited or not). A process belongs to the tree when it is the root, when it was in the
//! tree at an earlier sample (it stays followed after being reparented to init or a subreaper,
//! until it exits), when its parent belongs to the tree, or when it is in the root's process
//! group (the root leads it: `run` starts its target in a group of its own) and started after
//! the root. Processes are identified by (PID, start time), so a PID reused by an unrelated
//! process is not mistaken for a followed one.
//!
//! Zombies are kept as links (their children are still the tree's) but are not reported: they
//! have exited and hold no memory. A grandchild whose parent exited *before* any sample saw it is
//! found by its process group (`sh -c 'server & exit 0'`: the server is reparented to init before
//! the first sample); one that left the group as well (`setsid`, a daemon) cannot be
//! attributed to the tree: nothing in `/proc` records the old link.
//!
//! No I/O here; the sampler feeds the nodes, which keeps this logic unit-testable.

use std::collections::HashMap;

/// A process as seen by one scan of `/proc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Node {
    pub(crate) pid: u32,
    pub(crate) ppid: u32,
    /// Process group (`/proc/PID/stat` field 5).
    pub(crate) pgrp: u32,
    /// Start time in clock ticks after boot (`/proc/PID/stat` field 22).
    pub(crate) starttime: u64,
    /// Zombie or dead: a link in the tree but not a live member.
    pub(crate) exited: bool,
}

/// Membership of one node during [`Tree::update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Unknown,
    Visiting,
    In,
    Out,
}

/// The tree's identity and memory across samples.
#[derive(Debug)]
pub(crate) struct Tree {
    root_pid: u32,
    root_start: u64,
    /// No other process holds the root's PID (see [`Tree::in_root_group`]); set per update.
    group_ours: bool,
    /// Processes seen in the tree at the previous sample: PID -> start time.
    followed: HashMap<u32, u64>,
    // Scratch space reused between samples.
    index: HashMap<u32, usize>,
    marks: Vec<Mark>,
    children: Vec<Vec<usize>>,
    stack: Vec<usize>,
}

impl Tree {
    /// A tree rooted at the process (`root_pid`, `root_start`).
    pub(crate) fn new(root_pid: u32, root_start: u64) -> Tree {
        Tree {
            root_pid,
            root_start,
            group_ours: true,
            followed: HashMap::new(),
            index: HashMap::new(),
            marks: Vec::new(),
            children: Vec::new(),
            stack: Vec::new(),
        }
    }

    fn is_root(&self, n: &Node) -> bool {
        n.pid == self.root_pid && n.starttime == self.root_start
    }

    fn was_followed(&self, n: &Node) -> bool {
        self.followed.get(&n.pid) == Some(&n.starttime)
    }

    /// In the group the root leads, and started after it: only the root's own descendants can
    /// have created it (a group's members come from its members, within one session). Not when
    /// the root's PID now belongs to another process: the kernel hands out no PID still used as
    /// a group's ID, so the group of that number is the new process's.
    fn in_root_group(&self, n: &Node) -> bool {
        self.group_ours && n.pgrp == self.root_pid && n.starttime >= self.root_start
    }

    /// Whether `n` was found in the tree by the last [`Tree::update`] (zombies included).
    pub(crate) fn is_member(&self, n: &Node) -> bool {
        self.was_followed(n)
    }

    /// Whether a process with this PID is the root or was in the tree at the last update (its
    /// start time still has to be checked).
    pub(crate) fn may_follow(&self, pid: u32) -> bool {
        pid == self.root_pid || self.followed.contains_key(&pid)
    }

    /// Whether the last [`Tree::update`] had a node with this PID.
    pub(crate) fn has_node(&self, pid: u32) -> bool {
        self.index.contains_key(&pid)
    }

    /// Decide membership for `nodes` (one scan of `/proc`) and write the indices of the live
    /// members into `out`: the root first (when alive), then depth-first with children in PID
    /// order, then followed processes that now hang elsewhere (reparented), each with its subtree.
    pub(crate) fn update(&mut self, nodes: &[Node], out: &mut Vec<usize>) {
        out.clear();
        self.index.clear();
        self.index
            .extend(nodes.iter().enumerate().map(|(i, n)| (n.pid, i)));
        self.marks.clear();
        self.marks.resize(nodes.len(), Mark::Unknown);
        self.group_ours = !nodes
            .iter()
            .any(|n| n.pid == self.root_pid && n.starttime != self.root_start);

        for i in 0..nodes.len() {
            self.decide(nodes, i);
        }

        // Remember every member, zombies included, for the next sample; exited processes drop
        // out because they are no longer in `nodes`.
        self.followed.clear();
        for (n, m) in nodes.iter().zip(&self.marks) {
            if *m == Mark::In {
                self.followed.insert(n.pid, n.starttime);
            }
        }

        // Children lists among members, and the tops of the member forest.
        if self.children.len() < nodes.len() {
            self.children.resize_with(nodes.len(), Vec::new);
        }
        for c in &mut self.children[..nodes.len()] {
            c.clear();
        }
        let mut tops = Vec::new();
        for i in 0..nodes.len() {
            if self.marks[i] != Mark::In {
                continue;
            }
            match self.member_parent(nodes, i) {
                Some(p) => self.children[p].push(i),
                None => tops.push(i),
            }
        }
        // Root first, then the others by PID.
        tops.sort_by_key(|&i| (!self.is_root(&nodes[i]), nodes[i].pid));
        for c in &mut self.children[..nodes.len()] {
            c.sort_by_key(|&i| nodes[i].pid);
        }

        // Depth-first, pre-order.
        for &top in tops.iter().rev() {
            self.stack.push(top);
        }
        let mut walk = Vec::with_capacity(nodes.len());
        while let Some(i) = self.stack.pop() {
            walk.push(i);
            for &c in self.children[i].iter().rev() {
                self.stack.push(c);
            }
        }
        out.extend(walk.into_iter().filter(|&i| !nodes[i].exited));
    }

    /// The index of `i`'s parent when that parent is a member (and not `i` itself).
    fn member_parent(&self, nodes: &[Node], i: usize) -> Option<usize> {
        let n = &nodes[i];
        if self.is_root(n) {
            return None;
        }
        let &p = self.index.get(&n.ppid)?;
        (p != i && self.marks[p] == Mark::In).then_some(p)
    }

    /// Mark node `i` (and its undecided ancestors) In or Out.
    fn decide(&mut self, nodes: &[Node], i: usize) {
        // Walk up until a decided node, a self-deciding node (root, followed, no parent) or a
        // cycle; then mark the whole path with the answer.
        let mut path = std::mem::take(&mut self.stack);
        path.clear();
        let mut cur = i;
        let answer = loop {
            match self.marks[cur] {
                Mark::In => break Mark::In,
                Mark::Out => break Mark::Out,
                // A ppid cycle cannot happen in a consistent snapshot; PID reuse between reads
                // could fake one. Treat it as not connected to the root.
                Mark::Visiting => break Mark::Out,
                Mark::Unknown => {}
            }
            let n = &nodes[cur];
            if self.is_root(n) || self.was_followed(n) || self.in_root_group(n) {
                self.marks[cur] = Mark::In;
                break Mark::In;
            }
            self.marks[cur] = Mark::Visiting;
            path.push(cur);
            match self.index.get(&n.ppid) {
                Some(&p) if n.ppid != 0 => cur = p,
                _ => break Mark::Out,
            }
        };
        for &p in &path {
            self.marks[p] = answer;
        }
        path.clear();
        self.stack = path;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(pid: u32, ppid: u32, starttime: u64) -> Node {
        Node {
            pid,
            ppid,
            pgrp: pid,
            starttime,
            exited: false,
        }
    }

    #[test]
    fn a_grandchild_orphaned_before_any_sample_is_found_by_its_group() {
        // `sh -c 'server & exit 0'` run in a group of its own (pgid 10): by the first sample
        // the shell is gone and the server hangs under init.
        let mut t = Tree::new(10, 100);
        let server = Node {
            pgrp: 10,
            ..node(12, 1, 101)
        };
        // Another process in a group of the same number but older than the root is not ours
        // (the root's PID was reused), nor is one of another group.
        let old = Node {
            pgrp: 10,
            ..node(13, 1, 50)
        };
        let other = node(14, 1, 102);
        assert_eq!(pids(&mut t, &[server, old, other]), vec![12]);
    }

    fn pids(tree: &mut Tree, nodes: &[Node]) -> Vec<u32> {
        let mut out = Vec::new();
        tree.update(nodes, &mut out);
        out.iter().map(|&i| nodes[i].pid).collect()
    }

    #[test]
    fn root_and_descendants_depth_first() {
        let mut t = Tree::new(10, 100);
        let nodes = [
            node(1, 0, 1),
            node(10, 1, 100),
            node(11, 10, 101),
            node(12, 11, 102),
            node(13, 10, 103),
            node(20, 1, 104),
            node(21, 20, 105),
        ];
        assert_eq!(pids(&mut t, &nodes), vec![10, 11, 12, 13]);
    }

    #[test]
    fn order_of_nodes_in_the_scan_does_not_matter() {
        let mut t = Tree::new(10, 100);
        let nodes = [
            node(12, 11, 102),
            node(13, 10, 103),
            node(11, 10, 101),
            node(10, 1, 100),
            node(1, 0, 1),
        ];
        assert_eq!(pids(&mut t, &nodes), vec![10, 11, 12, 13]);
    }

    #[test]
    fn reparented_process_stays_followed_until_it_exits() {
        let mut t = Tree::new(10, 100);
        let first = [
            node(1, 0, 1),
            node(10, 1, 100),
            node(11, 10, 101),
            node(12, 11, 102),
        ];
        assert_eq!(pids(&mut t, &first), vec![10, 11, 12]);
        // 11 exits; 12 is reparented to init.
        let second = [
            node(1, 0, 1),
            node(10, 1, 100),
            node(12, 1, 102),
            node(30, 12, 110),
        ];
        assert_eq!(pids(&mut t, &second), vec![10, 12, 30]);
        // Still followed at the next sample, with its new child.
        assert_eq!(pids(&mut t, &second), vec![10, 12, 30]);
        // 12 exits.
        let third = [node(1, 0, 1), node(10, 1, 100)];
        assert_eq!(pids(&mut t, &third), vec![10]);
    }

    #[test]
    fn reused_pid_is_not_followed() {
        let mut t = Tree::new(10, 100);
        let first = [node(1, 0, 1), node(10, 1, 100), node(11, 10, 101)];
        assert_eq!(pids(&mut t, &first), vec![10, 11]);
        // 11 exited and its PID went to an unrelated process with a later start time.
        let second = [node(1, 0, 1), node(10, 1, 100), node(11, 1, 500)];
        assert_eq!(pids(&mut t, &second), vec![10]);
    }

    #[test]
    fn a_new_process_with_the_root_pid_is_not_the_root() {
        let mut t = Tree::new(10, 100);
        let nodes = [node(1, 0, 1), node(10, 1, 900), node(11, 10, 901)];
        assert!(pids(&mut t, &nodes).is_empty());
    }

    #[test]
    fn zombies_link_but_are_not_reported() {
        let mut t = Tree::new(10, 100);
        let mut z = node(11, 10, 101);
        z.exited = true;
        let nodes = [node(1, 0, 1), node(10, 1, 100), z, node(12, 11, 102)];
        assert_eq!(pids(&mut t, &nodes), vec![10, 12]);
    }

    #[test]
    fn exited_root_leaves_followed_descendants() {
        let mut t = Tree::new(10, 100);
        let first = [
            node(1, 0, 1),
            node(10, 1, 100),
            node(11, 10, 101),
            node(12, 10, 102),
        ];
        assert_eq!(pids(&mut t, &first), vec![10, 11, 12]);
        let second = [node(1, 0, 1), node(12, 1, 102), node(11, 1, 101)];
        assert_eq!(pids(&mut t, &second), vec![11, 12]);
        assert!(pids(&mut t, &[node(1, 0, 1)]).is_empty());
    }

    #[test]
    fn ppid_cycle_does_not_hang() {
        let mut t = Tree::new(10, 100);
        let nodes = [node(10, 1, 100), node(20, 21, 5), node(21, 20, 6)];
        assert_eq!(pids(&mut t, &nodes), vec![10]);
    }
}
