//! The DynamoDB Streams API: ListStreams, DescribeStream, GetShardIterator
//! and GetRecords. Each stream has one shard holding its records in commit
//! order; a shard iterator is a position (the sequence number read last)
//! that expires after 15 minutes, as DynamoDB's do.

use base64::Engine;
use sluice_model::dynamodbstreams as wire;
use sluice_model::wire::EpochSeconds;
use sluice_store::tables::StreamRow;

use crate::error::{TablesError, TablesResult};
use crate::records::{sequence_number, with_sequence_number};
use crate::service::{now_ms, TableService};

/// How long a shard iterator may be used.
const ITERATOR_LIFETIME_MS: i64 = 15 * 60 * 1000;
/// How long records are kept (24 hours).
pub const RETENTION_MS: i64 = 24 * 60 * 60 * 1000;
/// Most records of one GetRecords.
const MAX_RECORDS: i32 = 1000;

const ITERATOR_CODEC: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A stream record as a consumer receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerRecord {
    /// Its sequence number.
    pub seq: i64,
    /// When its change committed (ms).
    pub created_at_ms: i64,
    /// The record (Lambda's and Pipes' event shape).
    pub event: serde_json::Value,
}

/// A decoded shard iterator.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ShardIterator {
    stream_arn: String,
    /// The sequence number read last: records after it come next.
    after: i64,
    issued_ms: i64,
}

impl ShardIterator {
    fn encode(&self) -> String {
        ITERATOR_CODEC.encode(format!("v1|{}|{}|{}", self.after, self.issued_ms, self.stream_arn))
    }

    fn decode(text: &str) -> TablesResult<Self> {
        let invalid = || TablesError::validation("Invalid ShardIterator");
        let bytes = ITERATOR_CODEC.decode(text).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = text.splitn(4, '|');
        if parts.next() != Some("v1") {
            return Err(invalid());
        }
        let after = parts.next().and_then(|p| p.parse().ok()).ok_or_else(invalid)?;
        let issued_ms = parts.next().and_then(|p| p.parse().ok()).ok_or_else(invalid)?;
        let stream_arn = parts.next().filter(|a| !a.is_empty()).ok_or_else(invalid)?.to_string();
        Ok(Self { stream_arn, after, issued_ms })
    }
}

/// The one shard of a stream.
pub fn shard_id(stream: &StreamRow) -> String {
    format!("shardId-{:020}-{:08x}", stream.created_at_ms, crate::schema::hash_point(stream.stream_label.as_bytes()))
}

fn view_type(text: &str) -> Option<wire::StreamViewType> {
    wire::StreamViewType::ALL.iter().copied().find(|v| v.as_str() == text)
}

fn parse_sequence(text: Option<&str>) -> TablesResult<i64> {
    text.and_then(|t| t.parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .ok_or_else(|| TablesError::validation(format!("Invalid SequenceNumber: {}", text.unwrap_or("null"))))
}

impl TableService {
    async fn stream(&self, account_id: &str, arn: &str) -> TablesResult<StreamRow> {
        match self.store.get_stream(arn).await? {
            Some(stream) if stream.account_id == account_id => Ok(stream),
            _ => Err(TablesError::ResourceNotFound(format!("Requested resource not found: Stream: {arn} not found"))),
        }
    }

    /// ListStreams: the account's streams (of one table), newest first.
    pub async fn list_streams(
        &self,
        account_id: &str,
        input: &wire::ListStreamsInput,
    ) -> TablesResult<wire::ListStreamsOutput> {
        let limit = input.limit.unwrap_or(100).clamp(1, 100) as usize;
        let mut streams = self.store.list_streams(account_id, input.table_name.as_deref()).await?;
        if let Some(start) = &input.exclusive_start_stream_arn {
            let position = streams.iter().position(|s| s.stream_arn == *start).map(|p| p + 1).unwrap_or(0);
            streams.drain(..position);
        }
        let more = streams.len() > limit;
        streams.truncate(limit);
        Ok(wire::ListStreamsOutput {
            last_evaluated_stream_arn: more.then(|| streams.last().map(|s| s.stream_arn.clone())).flatten(),
            streams: Some(
                streams
                    .into_iter()
                    .map(|s| wire::Stream {
                        stream_arn: Some(s.stream_arn),
                        table_name: Some(s.table_name),
                        stream_label: Some(s.stream_label),
                    })
                    .collect(),
            ),
        })
    }

    /// DescribeStream.
    pub async fn describe_stream(
        &self,
        account_id: &str,
        input: &wire::DescribeStreamInput,
    ) -> TablesResult<wire::DescribeStreamOutput> {
        let stream = self.stream(account_id, &input.stream_arn).await?;
        let table = self.find_table(account_id, &stream.table_name).await?.filter(|t| t.id() == stream.table_id);
        let key_schema = table.map(|t| {
            let mut elements = vec![wire::KeySchemaElement {
                attribute_name: t.schema.key.hash.name.clone(),
                key_type: wire::KeyType::Hash,
            }];
            if let Some(range) = &t.schema.key.range {
                elements.push(wire::KeySchemaElement {
                    attribute_name: range.name.clone(),
                    key_type: wire::KeyType::Range,
                });
            }
            elements
        });
        let ending = match stream.disabled_at_ms {
            Some(_) => Some(sequence_number(self.store.last_sequence(&stream.table_id).await?.max(stream.first_seq))),
            None => None,
        };
        let shard = wire::Shard {
            shard_id: Some(shard_id(&stream)),
            sequence_number_range: Some(wire::SequenceNumberRange {
                starting_sequence_number: Some(sequence_number(stream.first_seq + 1)),
                ending_sequence_number: ending,
            }),
            parent_shard_id: None,
        };
        let listed = input.exclusive_start_shard_id.as_deref() != shard.shard_id.as_deref();
        Ok(wire::DescribeStreamOutput {
            stream_description: Some(wire::StreamDescription {
                stream_arn: Some(stream.stream_arn.clone()),
                stream_label: Some(stream.stream_label.clone()),
                stream_status: Some(if stream.disabled_at_ms.is_some() {
                    wire::StreamStatus::Disabled
                } else {
                    wire::StreamStatus::Enabled
                }),
                stream_view_type: view_type(&stream.view_type),
                creation_request_date_time: Some(EpochSeconds::from_millis(stream.created_at_ms)),
                table_name: Some(stream.table_name.clone()),
                key_schema,
                shards: Some(if listed { vec![shard] } else { Vec::new() }),
                last_evaluated_shard_id: None,
            }),
        })
    }

    /// GetShardIterator.
    pub async fn get_shard_iterator(
        &self,
        account_id: &str,
        input: &wire::GetShardIteratorInput,
    ) -> TablesResult<wire::GetShardIteratorOutput> {
        let stream = self.stream(account_id, &input.stream_arn).await?;
        if input.shard_id != shard_id(&stream) {
            return Err(TablesError::ResourceNotFound(format!(
                "Requested resource not found: Shard does not exist: {}",
                input.shard_id
            )));
        }
        let after = match input.shard_iterator_type {
            wire::ShardIteratorType::TrimHorizon => stream.first_seq,
            wire::ShardIteratorType::Latest => self.store.last_sequence(&stream.table_id).await?.max(stream.first_seq),
            wire::ShardIteratorType::AtSequenceNumber => parse_sequence(input.sequence_number.as_deref())? - 1,
            wire::ShardIteratorType::AfterSequenceNumber => parse_sequence(input.sequence_number.as_deref())?,
            other => {
                return Err(TablesError::validation(format!(
                    "1 validation error detected: Value '{}' at 'shardIteratorType' failed to satisfy constraint: \
                     Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, \
                     TRIM_HORIZON]",
                    other.as_str()
                )))
            }
        };
        if input.sequence_number.is_some()
            && matches!(
                input.shard_iterator_type,
                wire::ShardIteratorType::TrimHorizon | wire::ShardIteratorType::Latest
            )
        {
            return Err(TablesError::validation(
                "Invalid Request: SequenceNumber is only valid for AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER",
            ));
        }
        if after < stream.first_seq {
            return Err(TablesError::TrimmedDataAccess(format!(
                "The requested sequence number {} is before the start of the shard",
                input.sequence_number.as_deref().unwrap_or_default()
            )));
        }
        let iterator = ShardIterator { stream_arn: stream.stream_arn, after, issued_ms: now_ms() };
        Ok(wire::GetShardIteratorOutput { shard_iterator: Some(iterator.encode()) })
    }

    /// GetRecords: the records after the iterator's position, and the
    /// iterator to continue with (none once a disabled stream is read out).
    pub async fn get_records(
        &self,
        account_id: &str,
        input: &wire::GetRecordsInput,
    ) -> TablesResult<wire::GetRecordsOutput> {
        let iterator = ShardIterator::decode(&input.shard_iterator)?;
        let now = now_ms();
        if now - iterator.issued_ms > ITERATOR_LIFETIME_MS {
            return Err(TablesError::ExpiredIterator(format!(
                "Iterator expired. The iterator was created at time {} while right now it is {}. The iterator is \
                 valid for 15 minutes.",
                iterator.issued_ms, now
            )));
        }
        let stream = self.stream(account_id, &iterator.stream_arn).await?;
        let limit = input.limit.unwrap_or(MAX_RECORDS);
        if !(1..=MAX_RECORDS).contains(&limit) {
            return Err(TablesError::validation(format!(
                "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must \
                 have value less than or equal to {MAX_RECORDS}"
            )));
        }
        let rows =
            self.store.stream_records(&stream.table_id, &stream.stream_label, iterator.after, limit as usize).await?;
        let last = rows.last().map(|r| r.seq).unwrap_or(iterator.after);
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            let json = with_sequence_number(&row.record, row.seq)
                .ok_or_else(|| TablesError::Internal("a stored stream record does not decode".into()))?;
            records.push(
                serde_json::from_value::<wire::Record>(json)
                    .map_err(|e| TablesError::Internal(format!("a stored stream record does not decode: {e}")))?,
            );
        }
        let closed = stream.disabled_at_ms.is_some() && rows.len() < limit as usize;
        let next = (!closed)
            .then(|| ShardIterator { stream_arn: stream.stream_arn.clone(), after: last, issued_ms: now }.encode());
        Ok(wire::GetRecordsOutput { records: Some(records), next_shard_iterator: next })
    }

    /// One of the account's streams, for a consumer (a pipe).
    pub async fn consumer_stream(&self, account_id: &str, arn: &str) -> TablesResult<StreamRow> {
        self.stream(account_id, arn).await
    }

    /// Where a consumer starting now begins: before the oldest record kept
    /// (`TRIM_HORIZON`) or after the newest (`LATEST`).
    pub async fn consumer_start(&self, stream: &StreamRow, latest: bool) -> TablesResult<i64> {
        if latest {
            Ok(self.store.last_sequence(&stream.table_id).await?.max(stream.first_seq))
        } else {
            Ok(stream.first_seq)
        }
    }

    /// A stream's records after `after`, in the shape Lambda and Pipes
    /// hand them to consumers: the Streams API's record with
    /// `eventSourceARN`, and `userIdentity` as `{type, principalId}`.
    pub async fn consumer_records(
        &self,
        stream: &StreamRow,
        after: i64,
        limit: usize,
    ) -> TablesResult<Vec<ConsumerRecord>> {
        let rows = self.store.stream_records(&stream.table_id, &stream.stream_label, after, limit).await?;
        rows.iter()
            .map(|row| {
                let mut event = with_sequence_number(&row.record, row.seq)
                    .ok_or_else(|| TablesError::Internal("a stored stream record does not decode".into()))?;
                if let Some(identity) = event.get_mut("userIdentity").and_then(|v| v.as_object_mut()) {
                    let kind = identity.remove("Type");
                    let principal = identity.remove("PrincipalId");
                    identity.extend(kind.map(|k| ("type".to_string(), k)));
                    identity.extend(principal.map(|p| ("principalId".to_string(), p)));
                }
                event["eventSourceARN"] = serde_json::Value::String(stream.stream_arn.clone());
                Ok(ConsumerRecord { seq: row.seq, created_at_ms: row.created_at_ms, event })
            })
            .collect()
    }

    /// Deletes stream records (and streams) past the retention period.
    pub async fn trim_streams(&self) -> TablesResult<u64> {
        Ok(self.store.trim_streams(now_ms() - RETENTION_MS).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_iterators_round_trip_and_refuse_garbage() {
        let iterator = ShardIterator {
            stream_arn: "arn:aws:dynamodb:us-east-1:111111111111:table/t/stream/2026-12-06T00:00:00.000".into(),
            after: 41,
            issued_ms: 1_700_000_000_000,
        };
        assert_eq!(ShardIterator::decode(&iterator.encode()).unwrap(), iterator);
        assert_eq!(ShardIterator::decode("nonsense!").unwrap_err().to_string(), "Invalid ShardIterator");
        assert!(ShardIterator::decode(&ITERATOR_CODEC.encode("v2|1|2|arn")).is_err());
    }
}
