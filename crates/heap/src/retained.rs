//! Retained sizes: a node's own size plus everything it dominates.
//!
//! Computed in one pass over the reverse postorder backwards (every node after the nodes it
//! dominates are done). Unreachable nodes retain nothing.

use crate::dominators::{Dominators, NONE};
use crate::graph::HeapGraph;

/// Retained size in bytes of every node (0 for unreachable ones).
pub fn compute(g: &HeapGraph, d: &Dominators) -> Vec<u64> {
    let mut retained = vec![0u64; g.node_count()];
    for &v in &d.rpo {
        retained[v as usize] = g.size(v);
    }
    for &v in d.rpo.iter().rev() {
        let p = d.idom[v as usize];
        if p != NONE {
            retained[p as usize] += retained[v as usize];
        }
    }
    retained
}
