//! leakhound-sampler (being written).
