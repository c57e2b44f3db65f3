//! Consumed capacity as DynamoDB reports it when a request asks
//! (`ReturnConsumedCapacity` TOTAL or INDEXES): a read costs one unit per
//! 4 KB read (half for an eventually consistent read), a write one unit per
//! 1 KB of the larger of the item before and after, a transaction twice.
//! Sluice enforces no throughput; the figures are what a table on AWS would
//! have been charged.

use sluice_model::dynamodb as wire;

/// Read units of reading `bytes` (at least one 4 KB block).
pub(crate) fn read_units(bytes: usize, consistent: bool) -> f64 {
    let blocks = bytes.div_ceil(4096).max(1) as f64;
    if consistent {
        blocks
    } else {
        blocks / 2.0
    }
}

/// Write units of writing an item of `bytes` (at least one 1 KB block).
pub(crate) fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

/// Whether reads or writes were consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Read,
    Write,
}

/// The `ConsumedCapacity` of `units` on `table`, if the request asked for it.
pub(crate) fn report(
    table: &str,
    units: f64,
    kind: Kind,
    asked: Option<wire::ReturnConsumedCapacity>,
) -> Option<wire::ConsumedCapacity> {
    match kind {
        Kind::Read => report_both(table, units, 0.0, asked),
        Kind::Write => report_both(table, 0.0, units, asked),
    }
}

/// The `ConsumedCapacity` of reads and writes on `table`, if asked for.
pub(crate) fn report_both(
    table: &str,
    read: f64,
    write: f64,
    asked: Option<wire::ReturnConsumedCapacity>,
) -> Option<wire::ConsumedCapacity> {
    let asked = asked.map(|a| a.as_str()).unwrap_or("NONE");
    if asked == "NONE" {
        return None;
    }
    let read = (read > 0.0).then_some(read);
    let write = (write > 0.0).then_some(write);
    let total = read.unwrap_or(0.0) + write.unwrap_or(0.0);
    Some(wire::ConsumedCapacity {
        table_name: Some(table.to_string()),
        capacity_units: Some(total),
        read_capacity_units: read,
        write_capacity_units: write,
        table: (asked == "INDEXES").then_some(wire::Capacity {
            read_capacity_units: read,
            write_capacity_units: write,
            capacity_units: Some(total),
        }),
        ..Default::default()
    })
}

/// Read and write units per table of a multi-item request, in table order.
#[derive(Debug, Default)]
pub(crate) struct PerTable(std::collections::BTreeMap<String, (f64, f64)>);

impl PerTable {
    /// Counts `read` and `write` units on `table`.
    pub fn add(&mut self, table: &str, read: f64, write: f64) {
        let entry = self.0.entry(table.to_string()).or_default();
        entry.0 += read;
        entry.1 += write;
    }

    /// The request's `ConsumedCapacity` list, if it asked for one.
    pub fn report(&self, asked: Option<wire::ReturnConsumedCapacity>) -> Option<Vec<wire::ConsumedCapacity>> {
        let list: Vec<_> = self.0.iter().filter_map(|(t, (r, w))| report_both(t, *r, *w, asked)).collect();
        (!list.is_empty()).then_some(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_up_by_block() {
        assert_eq!(read_units(0, false), 0.5);
        assert_eq!(read_units(4096, true), 1.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(write_units(1), 1.0);
        assert_eq!(write_units(2049), 3.0);
        assert!(report("t", 1.0, Kind::Write, None).is_none());
        let indexes = report("t", 2.0, Kind::Read, Some(wire::ReturnConsumedCapacity::Indexes)).unwrap();
        assert_eq!(indexes.table.unwrap().capacity_units, Some(2.0));
        assert_eq!(indexes.read_capacity_units, Some(2.0));
    }
}
