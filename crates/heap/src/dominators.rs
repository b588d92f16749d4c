//! Immediate dominators of the heap graph, rooted at node 0 (the graph holds strong edges only).
//!
//! Algorithm: Cooper, Harvey & Kennedy, "A Simple, Fast Dominance Algorithm" (2001): iterate
//! `idom(b) = intersect(processed preds)` in reverse postorder until nothing changes. On heap
//! graphs (mostly tree-like) it converges in a few passes. Unreachable nodes get [`NONE`].

use crate::graph::{BitVec, HeapGraph};

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
///
/// Memory beyond the graph: four `u32` per node (postorder numbers, reverse postorder,
/// predecessor offsets, immediate dominators), one `u32` per edge (predecessors) and a bit per
/// node; the predecessor lists are freed before returning.
pub fn compute(g: &HeapGraph) -> Dominators {
    let n = g.node_count();
    if n == 0 {
        return Dominators {
            idom: Vec::new(),
            rpo: Vec::new(),
        };
    }
    // Postorder by iterative DFS; `rpo` collects the postorder and is reversed below.
    let mut po_num = vec![NONE; n];
    let mut rpo: Vec<u32> = Vec::with_capacity(n);
    let mut visited = BitVec::zeros(n);
    let mut stack: Vec<(u32, u32)> = Vec::new();
    visited.set(0);
    stack.push((0, g.first_edge[0]));
    while let Some(top) = stack.last_mut() {
        let (v, ref mut next) = *top;
        let end = g.first_edge[v as usize + 1];
        let mut pushed = None;
        while *next < end {
            let t = g.edge_to[*next as usize];
            *next += 1;
            if visited.set(t as usize) {
                pushed = Some(t);
                break;
            }
        }
        match pushed {
            Some(t) => stack.push((t, g.first_edge[t as usize])),
            None => {
                po_num[v as usize] = rpo.len() as u32;
                rpo.push(v);
                stack.pop();
            }
        }
    }
    drop(stack);
    rpo.reverse();
    // Predecessors (edges between reachable nodes), in CSR form. `pred_start[t + 1]` counts
    // first; after the prefix sum, filling uses `pred_start[t]` as the cursor of `t`, which
    // leaves it at the start of `t + 1`; shifting right by one restores the starts.
    let mut pred_start = vec![0u32; n + 1];
    for &v in &rpo {
        for e in g.edges(v) {
            pred_start[g.edge_to[e] as usize + 1] += 1;
        }
    }
    for i in 0..n {
        pred_start[i + 1] += pred_start[i];
    }
    let mut preds = vec![0u32; pred_start[n] as usize];
    for &v in &rpo {
        for e in g.edges(v) {
            let t = g.edge_to[e] as usize;
            preds[pred_start[t] as usize] = v;
            pred_start[t] += 1;
        }
    }
    for i in (1..=n).rev() {
        pred_start[i] = pred_start[i - 1];
    }
    pred_start[0] = 0;
    drop(visited);
    // idom stored as postorder numbers while iterating.
    let mut idom = vec![NONE; n];
    idom[0] = po_num[0];
    let mut changed = true;
    while changed {
        changed = false;
        for &b in rpo.iter().skip(1) {
            let mut new_idom = NONE;
            for &p in &preds[pred_start[b as usize] as usize..pred_start[b as usize + 1] as usize] {
                if idom[p as usize] == NONE {
                    continue;
                }
                let pp = po_num[p as usize];
                new_idom = if new_idom == NONE {
                    pp
                } else {
                    intersect(&idom, &rpo, pp, new_idom)
                };
            }
            if new_idom != idom[b as usize] {
                idom[b as usize] = new_idom;
                changed = true;
            }
        }
    }
    drop(preds);
    drop(pred_start);
    drop(po_num);
    // Convert postorder numbers back to node indices, in place.
    let total = rpo.len();
    idom[0] = NONE;
    for &b in rpo.iter().skip(1) {
        let d = idom[b as usize];
        if d != NONE {
            idom[b as usize] = rpo[total - 1 - d as usize];
        }
    }
    Dominators { idom, rpo }
}

fn intersect(idom_po: &[u32], rpo: &[u32], mut a: u32, mut b: u32) -> u32 {
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
