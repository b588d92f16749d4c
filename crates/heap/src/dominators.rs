//! Immediate dominators of the heap graph, rooted at node 0, over strong edges only.
//!
//! Algorithm: Cooper, Harvey & Kennedy, "A Simple, Fast Dominance Algorithm" (2001): iterate
//! `idom(b) = intersect(processed preds)` in reverse postorder until nothing changes. On heap
//! graphs (mostly tree-like) it converges in a few passes. Unreachable nodes get [`NONE`].

use crate::graph::HeapGraph;

/// Marker for "no dominator" (the root and unreachable nodes).
pub const NONE: u32 = u32::MAX;

/// Result: immediate dominator per node, and the reverse postorder of reachable nodes.
#[derive(Debug)]
pub struct Dominators {
    /// Immediate dominator of each node ([`NONE`] for the root and unreachable nodes).
    pub idom: Vec<u32>,
    /// Reachable nodes in reverse postorder (the root first; a dominator precedes its nodes).
    pub rpo: Vec<u32>,
}

impl Dominators {
    /// Whether node `n` is reachable from the root over strong edges.
    pub fn reachable(&self, n: u32) -> bool {
        n == 0 || self.idom[n as usize] != NONE
    }
}

/// Computes dominators; see the module docs.
pub fn compute(g: &HeapGraph) -> Dominators {
    let n = g.node_count();
    // Postorder by iterative DFS.
    let mut po_num = vec![NONE; n];
    let mut order: Vec<u32> = Vec::with_capacity(n);
    let mut visited = vec![false; n];
    let mut stack: Vec<(u32, usize)> = Vec::new();
    if n > 0 {
        visited[0] = true;
        stack.push((0, g.edges(0).start));
    }
    while let Some(top) = stack.last_mut() {
        let (v, ref mut next) = *top;
        let end = g.edges(v).end;
        let mut pushed = false;
        while *next < end {
            let e = *next;
            *next += 1;
            if !g.is_strong(e) {
                continue;
            }
            let t = g.edge_to[e];
            if !visited[t as usize] {
                visited[t as usize] = true;
                stack.push((t, g.edges(t).start));
                pushed = true;
                break;
            }
        }
        if !pushed {
            po_num[v as usize] = order.len() as u32;
            order.push(v);
            stack.pop();
        }
    }
    // Predecessors (strong edges between reachable nodes), in CSR form.
    let mut pred_start = vec![0u32; n + 1];
    for v in 0..n as u32 {
        if !visited[v as usize] {
            continue;
        }
        for e in g.edges(v) {
            if g.is_strong(e) {
                pred_start[g.edge_to[e] as usize + 1] += 1;
            }
        }
    }
    for i in 0..n {
        pred_start[i + 1] += pred_start[i];
    }
    let mut fill = pred_start.clone();
    let mut preds = vec![0u32; pred_start[n] as usize];
    for v in 0..n as u32 {
        if !visited[v as usize] {
            continue;
        }
        for e in g.edges(v) {
            if g.is_strong(e) {
                let t = g.edge_to[e] as usize;
                preds[fill[t] as usize] = v;
                fill[t] += 1;
            }
        }
    }
    drop(fill);
    drop(visited);
    let rpo: Vec<u32> = order.iter().rev().copied().collect();
    drop(order);
    // idom stored as postorder numbers while iterating.
    let mut idom_po = vec![NONE; n];
    if n > 0 {
        idom_po[0] = po_num[0];
    }
    let mut changed = true;
    while changed {
        changed = false;
        for &b in rpo.iter().skip(1) {
            let mut new_idom = NONE;
            for &p in &preds[pred_start[b as usize] as usize..pred_start[b as usize + 1] as usize] {
                if idom_po[p as usize] == NONE {
                    continue;
                }
                let pp = po_num[p as usize];
                new_idom = if new_idom == NONE {
                    pp
                } else {
                    intersect(&idom_po, &rpo, n, pp, new_idom)
                };
            }
            if new_idom != idom_po[b as usize] {
                idom_po[b as usize] = new_idom;
                changed = true;
            }
        }
    }
    // Convert postorder numbers back to node indices.
    let total = rpo.len();
    let node_of_po = |po: u32| rpo[total - 1 - po as usize];
    let mut idom = vec![NONE; n];
    for &b in rpo.iter().skip(1) {
        let d = idom_po[b as usize];
        if d != NONE {
            idom[b as usize] = node_of_po(d);
        }
    }
    Dominators { idom, rpo }
}

fn intersect(idom_po: &[u32], rpo: &[u32], _n: usize, mut a: u32, mut b: u32) -> u32 {
    let total = rpo.len();
    let node_of_po = |po: u32| rpo[total - 1 - po as usize] as usize;
    while a != b {
        while a < b {
            a = idom_po[node_of_po(a)];
        }
        while b < a {
            b = idom_po[node_of_po(b)];
        }
    }
    a
}
