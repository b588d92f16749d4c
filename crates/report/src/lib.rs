//! leakhound-report (being written).
