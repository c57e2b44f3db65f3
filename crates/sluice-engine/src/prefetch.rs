//! Reading ahead: a source's batches are pulled on a task of their own, a
//! bounded number ahead of the tasks and the sink, so fetching and decoding
//! overlap with transforming and encoding (two cores busy instead of one)
//! while memory stays bounded.

use sluice_connectors::plane::{BatchStream, SourceBatch};
use sluice_connectors::ConnectorError;
use tokio::sync::mpsc;

/// A batch stream read on its own task.
pub struct Prefetched {
    batches: mpsc::Receiver<Item>,
    reader: tokio::task::JoinHandle<()>,
    checkpoint: Option<serde_json::Value>,
}

/// What the reading task sends: a batch, an error, or the end with the
/// stream's checkpoint.
enum Item {
    Batch(SourceBatch),
    Failed(ConnectorError),
    End(Option<serde_json::Value>),
}

impl Prefetched {
    /// Starts reading `stream`, at most `ahead` batches ahead of [`Prefetched::next`].
    pub fn spawn(mut stream: Box<dyn BatchStream>, ahead: usize) -> Self {
        let (sender, batches) = mpsc::channel(ahead.max(1));
        let reader = tokio::spawn(async move {
            loop {
                let (item, end) = match stream.next_batch().await {
                    Ok(Some(batch)) => (Item::Batch(batch), false),
                    Ok(None) => (Item::End(stream.checkpoint()), true),
                    Err(error) => (Item::Failed(error), true),
                };
                if sender.send(item).await.is_err() || end {
                    break;
                }
            }
        });
        Self { batches, reader, checkpoint: None }
    }

    /// The next batch, or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<SourceBatch>, ConnectorError> {
        match self.batches.recv().await {
            Some(Item::Batch(batch)) => Ok(Some(batch)),
            Some(Item::Failed(error)) => Err(error),
            Some(Item::End(checkpoint)) => {
                self.checkpoint = checkpoint;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// After the end: the stream's checkpoint.
    pub fn checkpoint(&self) -> Option<serde_json::Value> {
        self.checkpoint.clone()
    }
}

impl Drop for Prefetched {
    /// A run that stops early stops its reader too.
    fn drop(&mut self) {
        self.reader.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use arrow_array::{Int64Array, RecordBatch};

    use super::*;

    struct Counting {
        produced: Arc<AtomicUsize>,
        total: usize,
        fail_at: Option<usize>,
    }

    #[async_trait::async_trait]
    impl BatchStream for Counting {
        async fn next_batch(&mut self) -> Result<Option<SourceBatch>, ConnectorError> {
            let n = self.produced.fetch_add(1, Ordering::SeqCst);
            if Some(n) == self.fail_at {
                return Err(ConnectorError::Invalid(format!("batch {n} is broken")));
            }
            if n >= self.total {
                return Ok(None);
            }
            let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![n as i64])) as _)]).unwrap();
            Ok(Some(SourceBatch { batch, bytes_read: 1 }))
        }
    }

    #[tokio::test]
    async fn batches_arrive_in_order_and_reading_stays_bounded() {
        let produced = Arc::new(AtomicUsize::new(0));
        let stream = Counting { produced: produced.clone(), total: 100, fail_at: None };
        let mut prefetched = Prefetched::spawn(Box::new(stream), 3);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(produced.load(Ordering::SeqCst) <= 5, "at most a few batches ahead");
        let mut seen = Vec::new();
        while let Some(batch) = prefetched.next().await.unwrap() {
            seen.push(batch.batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0));
        }
        assert_eq!(seen, (0..100).collect::<Vec<i64>>());
    }

    #[tokio::test]
    async fn an_error_ends_the_stream() {
        let stream = Counting { produced: Arc::default(), total: 100, fail_at: Some(2) };
        let mut prefetched = Prefetched::spawn(Box::new(stream), 2);
        assert!(prefetched.next().await.unwrap().is_some());
        assert!(prefetched.next().await.unwrap().is_some());
        assert!(prefetched.next().await.unwrap_err().to_string().contains("batch 2"));
        assert!(prefetched.next().await.unwrap().is_none());
    }
}
