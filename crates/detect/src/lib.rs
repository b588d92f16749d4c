//! leakhound-detect (being written).
