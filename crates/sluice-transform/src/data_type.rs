//! AppFlow / Salesforce data type names (as used in `SOURCE_DATA_TYPE`,
//! `DESTINATION_DATA_TYPE` and `DATA_TYPE`) and the Arrow types they become.

use std::sync::Arc;

use arrow_schema::{DataType, TimeUnit};

/// The time zone of every `datetime` column: Salesforce and AppFlow carry
/// instants in UTC. Written as an offset, which Arrow parses without a time
/// zone database.
pub const UTC: &str = "+00:00";

/// The Arrow type of AppFlow's `datetime`: milliseconds since the epoch, UTC.
pub fn datetime_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some(Arc::from(UTC)))
}

/// Maps an AppFlow or Salesforce type name (case-insensitive) to the Arrow
/// type Sluice uses for it; `None` when the name is not known.
///
/// | names | Arrow type |
/// |---|---|
/// | string, id, reference, textarea, picklist, multipicklist, email, phone, url, combobox, encryptedstring, text, varchar, char, anytype, base64, address, location | Utf8 |
/// | boolean, bool | Boolean |
/// | int, integer, long, bigint | Int64 |
/// | double, currency, percent, number, decimal, float | Float64 |
/// | date | Date32 |
/// | datetime, timestamp | Timestamp(ms, "+00:00") |
/// | time | Time32(ms) |
pub fn arrow_type_for(name: &str) -> Option<DataType> {
    let lower = name.trim().to_ascii_lowercase();
    let data_type = match lower.as_str() {
        "string" | "id" | "reference" | "textarea" | "picklist" | "multipicklist" | "email" | "phone" | "url"
        | "combobox" | "encryptedstring" | "text" | "varchar" | "char" | "anytype" | "base64" | "address"
        | "location" => DataType::Utf8,
        "boolean" | "bool" => DataType::Boolean,
        "int" | "integer" | "long" | "bigint" => DataType::Int64,
        "double" | "currency" | "percent" | "number" | "decimal" | "float" => DataType::Float64,
        "date" => DataType::Date32,
        "datetime" | "timestamp" => datetime_type(),
        "time" => DataType::Time32(TimeUnit::Millisecond),
        _ => return None,
    };
    Some(data_type)
}

/// True for the integer Arrow types.
pub(crate) fn is_integer(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

/// True for the types whose values compare as instants or days.
pub(crate) fn is_temporal(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64)
}

/// True for the string Arrow types.
pub(crate) fn is_string(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_every_documented_name() {
        for name in ["string", "id", "reference", "picklist", "email", "textarea", "anyType", "STRING"] {
            assert_eq!(arrow_type_for(name), Some(DataType::Utf8), "{name}");
        }
        for name in ["boolean", "bool"] {
            assert_eq!(arrow_type_for(name), Some(DataType::Boolean), "{name}");
        }
        for name in ["int", "integer", "long", "bigint"] {
            assert_eq!(arrow_type_for(name), Some(DataType::Int64), "{name}");
        }
        for name in ["double", "currency", "percent", "number", "decimal", "float"] {
            assert_eq!(arrow_type_for(name), Some(DataType::Float64), "{name}");
        }
        assert_eq!(arrow_type_for("date"), Some(DataType::Date32));
        assert_eq!(arrow_type_for("datetime"), Some(datetime_type()));
        assert_eq!(arrow_type_for("Timestamp"), Some(datetime_type()));
        assert_eq!(arrow_type_for("time"), Some(DataType::Time32(TimeUnit::Millisecond)));
        assert_eq!(arrow_type_for("geolocation-3d"), None);
        assert_eq!(arrow_type_for(""), None);
    }
}
