//! Salesforce answers straight into Arrow: a REST query page's `records`
//! array goes to Arrow's JSON decoder as it came (no JSON objects are
//! built per record), and a Bulk API 2.0 CSV page to Arrow's CSV decoder
//! with the types of the object's describe. Both give the same batches for
//! the same records: an empty Bulk cell is null, as a JSON null is, and
//! datetimes (`2024-01-31T10:00:00.000+0000` or `...Z`) are instants in UTC.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::ConnectorError;

const SYSTEM: &str = "Salesforce";

/// Rows per decoded batch; more than a query page holds.
const DECODE_BATCH_ROWS: usize = 8192;

/// One page of a REST query, decoded.
#[derive(Debug)]
pub struct QueryPage {
    /// The page's records with the read schema (`None`: the page had none).
    pub batch: Option<RecordBatch>,
    /// `nextRecordsUrl`, when more pages follow.
    pub next_records_url: Option<String>,
    /// `totalSize` of the query.
    pub total_size: Option<u64>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "totalSize")]
    total_size: Option<u64>,
    #[serde(rename = "nextRecordsUrl")]
    next_records_url: Option<String>,
    #[serde(borrow)]
    records: Option<&'a RawValue>,
}

fn protocol(message: impl Into<String>) -> ConnectorError {
    ConnectorError::Protocol { system: SYSTEM, message: message.into() }
}

/// Decodes a REST `query` / `queryAll` answer into a batch of `schema`
/// (fields the records carry beyond it, such as `attributes`, are skipped;
/// fields they lack are null).
pub fn decode_query_page(body: &[u8], schema: &SchemaRef) -> Result<QueryPage, ConnectorError> {
    let envelope: Envelope<'_> =
        serde_json::from_slice(body).map_err(|e| protocol(format!("query response is not valid JSON: {e}")))?;
    let records = envelope.records.ok_or_else(|| protocol("query response has no records"))?;
    let mut decoder = arrow_json::ReaderBuilder::new(schema.clone())
        .with_batch_size(DECODE_BATCH_ROWS)
        .with_coerce_primitive(true)
        .with_flatten(true)
        .build_decoder()
        .map_err(|e| protocol(format!("cannot decode query records: {e}")))?;
    let mut rest = records.get().as_bytes();
    let mut batches = Vec::new();
    while !rest.is_empty() {
        let consumed = decoder.decode(rest).map_err(|e| protocol(format!("query records: {e}")))?;
        rest = &rest[consumed..];
        if let Some(batch) = decoder.flush().map_err(|e| protocol(format!("query records: {e}")))? {
            batches.push(batch);
        }
        if consumed == 0 && !rest.is_empty() {
            return Err(protocol("query records do not decode"));
        }
    }
    if let Some(batch) = decoder.flush().map_err(|e| protocol(format!("query records: {e}")))? {
        batches.push(batch);
    }
    let batch = match batches.len() {
        0 => None,
        1 => batches.pop(),
        _ => Some(
            arrow_select::concat::concat_batches(schema, &batches)
                .map_err(|e| protocol(format!("query records: {e}")))?,
        ),
    };
    Ok(QueryPage {
        batch: batch.filter(|b| b.num_rows() > 0),
        next_records_url: envelope.next_records_url,
        total_size: envelope.total_size,
    })
}

/// Decodes one CSV page of a Bulk API 2.0 query job (its header row
/// first, in the query's field order) into a batch of `schema`.
pub fn decode_bulk_page(csv: &[u8], schema: &SchemaRef) -> Result<Option<RecordBatch>, ConnectorError> {
    let mut decoder = arrow_csv::ReaderBuilder::new(schema.clone())
        .with_header(true)
        .with_header_validation(true)
        .with_batch_size(DECODE_BATCH_ROWS)
        .build_decoder();
    let mut rest = csv;
    let mut batches = Vec::new();
    loop {
        let consumed = decoder.decode(rest).map_err(|e| protocol(format!("bulk query CSV: {e}")))?;
        rest = &rest[consumed..];
        if decoder.capacity() == 0 || rest.is_empty() {
            if rest.is_empty() {
                // An empty chunk ends the input (completes a last line without a break).
                decoder.decode(&[]).map_err(|e| protocol(format!("bulk query CSV: {e}")))?;
            }
            if let Some(batch) = decoder.flush().map_err(|e| protocol(format!("bulk query CSV: {e}")))? {
                batches.push(batch);
            }
            if rest.is_empty() {
                break;
            }
        } else if consumed == 0 {
            return Err(protocol("bulk query CSV does not decode"));
        }
    }
    Ok(match batches.len() {
        0 => None,
        1 => batches.pop(),
        _ => Some(
            arrow_select::concat::concat_batches(schema, &batches)
                .map_err(|e| protocol(format!("bulk query CSV: {e}")))?,
        ),
    }
    .filter(|b| b.num_rows() > 0))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Array, BooleanArray, Float64Array, Int64Array, StringArray, TimestampMillisecondArray};
    use arrow_schema::{DataType, Field, Schema, TimeUnit};

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("Id", DataType::Utf8, true),
            Field::new("Paid", DataType::Boolean, true),
            Field::new("Seats", DataType::Int64, true),
            Field::new("Revenue", DataType::Float64, true),
            Field::new("CreatedDate", DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())), true),
        ]))
    }

    #[test]
    fn a_rest_page_decodes_with_its_paging_fields() {
        let body = br#"{"totalSize":3,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01g-2000",
            "records":[
              {"attributes":{"type":"Account","url":"/x/001A"},"Id":"001A","Paid":true,"Seats":12,"Revenue":1.5,"CreatedDate":"2024-01-31T10:00:00.000+0000"},
              {"attributes":{"type":"Account"},"Id":"001B","Paid":null,"Seats":null,"Revenue":null,"CreatedDate":null},
              {"Id":"001C","Extra":{"nested":[1,2]},"Paid":false,"Seats":3,"Revenue":2,"CreatedDate":"2024-01-31T10:00:00Z"}
            ]}"#;
        let page = decode_query_page(body, &schema()).unwrap();
        assert_eq!(page.total_size, Some(3));
        assert_eq!(page.next_records_url.as_deref(), Some("/services/data/v62.0/query/01g-2000"));
        let batch = page.batch.unwrap();
        assert_eq!(batch.num_rows(), 3);
        let ids = batch.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(ids.iter().collect::<Vec<_>>(), [Some("001A"), Some("001B"), Some("001C")]);
        let paid = batch.column(1).as_any().downcast_ref::<BooleanArray>().unwrap();
        assert!(paid.value(0) && paid.is_null(1) && !paid.value(2));
        let seats = batch.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(seats.iter().collect::<Vec<_>>(), [Some(12), None, Some(3)]);
        let revenue = batch.column(3).as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(revenue.iter().collect::<Vec<_>>(), [Some(1.5), None, Some(2.0)]);
        let created = batch.column(4).as_any().downcast_ref::<TimestampMillisecondArray>().unwrap();
        assert_eq!(created.value(0), 1_706_695_200_000);
        assert_eq!(created.value(0), created.value(2), "+0000 and Z are the same instant");
    }

    #[test]
    fn an_empty_last_page_and_broken_answers() {
        let page = decode_query_page(br#"{"totalSize":0,"done":true,"records":[]}"#, &schema()).unwrap();
        assert!(page.batch.is_none() && page.next_records_url.is_none());
        assert!(matches!(decode_query_page(b"<html>", &schema()), Err(ConnectorError::Protocol { .. })));
        assert!(decode_query_page(br#"{"done":true}"#, &schema()).is_err());
    }

    #[test]
    fn bulk_csv_gives_the_batches_rest_gives() {
        let csv = "Id,Paid,Seats,Revenue,CreatedDate\n001A,true,12,1.5,2024-01-31T10:00:00.000Z\n001B,,,,\n001C,false,3,2,2024-01-31T10:00:00.000+0000\n";
        let bulk = decode_bulk_page(csv.as_bytes(), &schema()).unwrap().unwrap();
        let body = br#"{"totalSize":3,"done":true,"records":[
              {"Id":"001A","Paid":true,"Seats":12,"Revenue":1.5,"CreatedDate":"2024-01-31T10:00:00.000+0000"},
              {"Id":"001B","Paid":null,"Seats":null,"Revenue":null,"CreatedDate":null},
              {"Id":"001C","Paid":false,"Seats":3,"Revenue":2,"CreatedDate":"2024-01-31T10:00:00Z"}]}"#;
        let rest = decode_query_page(body, &schema()).unwrap().batch.unwrap();
        assert_eq!(bulk, rest);
        assert!(decode_bulk_page(b"Id,Paid,Seats,Revenue,CreatedDate\n", &schema()).unwrap().is_none());
        let error = decode_bulk_page(b"Id,Paid,Seats,Revenue,CreatedDate\n001,maybe,1,1,\n", &schema()).unwrap_err();
        assert!(error.to_string().contains("bulk query CSV"), "{error}");
    }
}
