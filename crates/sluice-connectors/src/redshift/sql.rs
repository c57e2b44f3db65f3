//! SQL text for the Redshift/PostgreSQL destination: quoted names, the
//! column types a new table gets from a flow's Arrow schema, and record
//! batches as `COPY ... (FORMAT csv)` input.

use arrow_array::{Array, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, Schema};

use crate::ConnectorError;

/// A table named `schema.table` (or `table`, in `public`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    /// The schema.
    pub schema: String,
    /// The table.
    pub table: String,
}

impl TableName {
    /// Parses a destination's `object`; the parts are taken as written.
    pub fn parse(object: &str) -> Result<Self, String> {
        let parts: Vec<&str> = object.split('.').collect();
        let (schema, table) = match parts.as_slice() {
            [table] => ("public", *table),
            [schema, table] => (*schema, *table),
            _ => return Err(format!("'{object}' is not a table name (schema.table)")),
        };
        let strip = |part: &str| part.trim().trim_matches('"').to_string();
        let (schema, table) = (strip(schema), strip(table));
        if schema.is_empty() || table.is_empty() {
            return Err(format!("'{object}' is not a table name (schema.table)"));
        }
        Ok(Self { schema, table })
    }

    /// `"schema"."table"`.
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote(&self.schema), quote(&self.table))
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}

/// A quoted identifier.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The column type a new table gets for an Arrow type. Text is
/// `varchar(65535)` (Redshift's widest; PostgreSQL takes it too).
pub fn column_type(data_type: &DataType) -> String {
    match data_type {
        DataType::Boolean => "boolean".into(),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "smallint".into(),
        DataType::Int32 | DataType::UInt16 => "integer".into(),
        DataType::Int64 | DataType::UInt32 => "bigint".into(),
        DataType::UInt64 => "numeric(20,0)".into(),
        DataType::Float16 | DataType::Float32 => "real".into(),
        DataType::Float64 => "double precision".into(),
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) | DataType::Decimal128(p, s) => {
            format!("numeric({p},{s})")
        }
        DataType::Decimal256(p, s) => format!("numeric({},{s})", (*p).min(38)),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, None) => "timestamp".into(),
        DataType::Timestamp(_, Some(_)) => "timestamptz".into(),
        DataType::Time32(_) | DataType::Time64(_) => "time".into(),
        DataType::Binary | DataType::LargeBinary | DataType::FixedSizeBinary(_) | DataType::BinaryView => {
            "bytea".into()
        }
        _ => "varchar(65535)".into(),
    }
}

/// `CREATE TABLE` for a flow's output schema (no primary key: rows are
/// appended; create the table yourself with one to merge).
pub fn create_table(table: &TableName, schema: &Schema) -> String {
    let columns: Vec<String> =
        schema.fields().iter().map(|f| format!("{} {}", quote(f.name()), column_type(f.data_type()))).collect();
    format!("CREATE TABLE {} ({})", table.quoted(), columns.join(", "))
}

/// Renders batches as CSV rows for `COPY ... WITH (FORMAT csv)`: a null is
/// an empty unquoted field, every value is quoted (so an empty string stays
/// one), binary is `\x` hex.
pub struct CsvRows<'a> {
    formatters: Vec<ArrayFormatter<'a>>,
    binary: Vec<bool>,
    arrays: Vec<&'a dyn Array>,
}

impl<'a> CsvRows<'a> {
    /// Formatters for every column of `batch`.
    pub fn new(batch: &'a RecordBatch, options: &'a FormatOptions<'a>) -> Result<Self, ConnectorError> {
        let mut formatters = Vec::with_capacity(batch.num_columns());
        let mut binary = Vec::with_capacity(batch.num_columns());
        let mut arrays = Vec::with_capacity(batch.num_columns());
        for column in batch.columns() {
            let formatter = ArrayFormatter::try_new(column.as_ref(), options)
                .map_err(|e| ConnectorError::Invalid(format!("cannot write a {} value: {e}", column.data_type())))?;
            formatters.push(formatter);
            binary.push(matches!(
                column.data_type(),
                DataType::Binary | DataType::LargeBinary | DataType::FixedSizeBinary(_) | DataType::BinaryView
            ));
            arrays.push(column.as_ref());
        }
        Ok(Self { formatters, binary, arrays })
    }

    /// Appends row `row` (with its line end) to `out`.
    pub fn write_row(&self, row: usize, out: &mut Vec<u8>) {
        use std::io::Write;
        for (c, formatter) in self.formatters.iter().enumerate() {
            if c > 0 {
                out.push(b',');
            }
            if self.arrays[c].is_null(row) {
                continue;
            }
            out.push(b'"');
            if self.binary[c] {
                out.extend_from_slice(b"\\x");
            }
            let start = out.len();
            let _ = write!(out, "{}", formatter.value(row));
            if out[start..].contains(&b'"') {
                let escaped = String::from_utf8_lossy(&out[start..]).replace('"', "\"\"");
                out.truncate(start);
                out.extend_from_slice(escaped.as_bytes());
            }
            out.push(b'"');
        }
        out.push(b'\n');
    }

    /// Row `row` as text cells (a null is empty), for error files.
    pub fn cells(&self, row: usize) -> Vec<String> {
        self.formatters
            .iter()
            .enumerate()
            .map(|(c, f)| if self.arrays[c].is_null(row) { String::new() } else { f.value(row).to_string() })
            .collect()
    }
}

/// How values are rendered for COPY (timestamps in RFC 3339).
pub fn format_options() -> FormatOptions<'static> {
    FormatOptions::default().with_null("")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{BinaryArray, BooleanArray, Float64Array, Int64Array, StringArray, TimestampMillisecondArray};
    use arrow_schema::{Field, TimeUnit};

    use super::*;

    #[test]
    fn table_names() {
        assert_eq!(TableName::parse("accounts").unwrap().quoted(), "\"public\".\"accounts\"");
        assert_eq!(TableName::parse("crm.Accounts").unwrap().quoted(), "\"crm\".\"Accounts\"");
        assert_eq!(TableName::parse("\"we\"\"ird\".t").unwrap().quoted(), "\"we\"\"\"\"ird\".\"t\"");
        assert!(TableName::parse("a.b.c").is_err());
        assert!(TableName::parse(".t").is_err());
    }

    #[test]
    fn new_tables_get_a_column_per_field() {
        let schema = Schema::new(vec![
            Field::new("Id", DataType::Utf8, true),
            Field::new("Amount", DataType::Float64, true),
            Field::new("Closed", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), true),
        ]);
        assert_eq!(
            create_table(&TableName::parse("crm.deals").unwrap(), &schema),
            "CREATE TABLE \"crm\".\"deals\" (\"Id\" varchar(65535), \"Amount\" double precision, \"Closed\" timestamptz)"
        );
    }

    #[test]
    fn csv_rows_keep_nulls_empty_strings_quotes_and_bytes_apart() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
            Field::new("f", DataType::Float64, true),
            Field::new("b", DataType::Boolean, true),
            Field::new("t", DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())), true),
            Field::new("x", DataType::Binary, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("say \"hi\", ok"), Some(""), None])),
                Arc::new(Int64Array::from(vec![Some(1), None, Some(-3)])),
                Arc::new(Float64Array::from(vec![Some(1.5), Some(0.0), None])),
                Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
                Arc::new(
                    TimestampMillisecondArray::from(vec![Some(1_796_284_800_000), None, None]).with_timezone("+00:00"),
                ),
                Arc::new(BinaryArray::from(vec![Some(&b"\x01\xff"[..]), None, None])),
            ],
        )
        .unwrap();
        let options = format_options();
        let rows = CsvRows::new(&batch, &options).unwrap();
        let mut out = Vec::new();
        for row in 0..3 {
            rows.write_row(row, &mut out);
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"say \"\"hi\"\", ok\",\"1\",\"1.5\",\"true\",\"2026-12-03T08:00:00Z\",\"\\x01ff\"\n\
             \"\",,\"0.0\",\"false\",,\n\
             ,\"-3\",,,,\n"
        );
        assert_eq!(rows.cells(1), vec!["", "", "0.0", "false", "", ""]);
    }
}
