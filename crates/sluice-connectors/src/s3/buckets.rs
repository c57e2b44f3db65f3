//! The buckets of the S3 connector, through `object_store`. The embedded
//! default keeps each bucket as a folder under the data directory's
//! `objects/`. Objects are written as multipart uploads that become
//! visible only when complete, so an interrupted run never leaves an
//! object that looks finished.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use futures_util::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
pub use object_store::ObjectStore;
use object_store::{ObjectStoreExt, WriteMultipart};

use crate::ConnectorError;

const SYSTEM: &str = "object storage";

fn storage_error(e: object_store::Error) -> ConnectorError {
    ConnectorError::Unreachable { system: SYSTEM, message: e.to_string() }
}

/// Checks a bucket name against S3's rules (3 to 63 characters: lower-case
/// letters, digits, dots and hyphens, starting and ending with a letter or
/// digit).
pub fn check_bucket_name(bucket: &str) -> Result<(), String> {
    let valid_chars = bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    let valid_ends = bucket.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bucket.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
    if (3..=63).contains(&bucket.len()) && valid_chars && valid_ends && !bucket.contains("..") {
        Ok(())
    } else {
        Err(format!(
            "bucket name '{bucket}' is not valid: use 3 to 63 lower-case letters, digits, dots or hyphens, starting and ending with a letter or digit"
        ))
    }
}

/// Who owns the embedded object storage's buckets (the server's store).
#[async_trait::async_trait]
pub trait BucketOwners: Send + Sync + std::fmt::Debug {
    /// The owner of `bucket`, making it `account_id`'s if it has none.
    async fn claim(&self, bucket: &str, account_id: &str) -> Result<String, ConnectorError>;
}

/// Where the S3 connector's buckets live: folders under one root (the
/// embedded default) or an S3 / S3-compatible endpoint.
#[derive(Debug, Clone)]
pub struct Buckets {
    place: BucketPlace,
    /// Owners of local buckets (`None`: every bucket is everyone's; tests).
    owners: Option<Arc<dyn BucketOwners>>,
    /// Clients of remote buckets, one per bucket.
    #[cfg(feature = "s3-remote")]
    remote_clients: Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<dyn ObjectStore>>>>,
}

#[derive(Debug, Clone)]
enum BucketPlace {
    Local(PathBuf),
    #[cfg(feature = "s3-remote")]
    Remote(S3Endpoint),
}

/// An S3 or S3-compatible endpoint holding every bucket.
#[cfg(feature = "s3-remote")]
#[derive(Debug, Clone)]
pub struct S3Endpoint {
    /// Endpoint URL, e.g. `https://s3.eu-west-1.amazonaws.com` or a local
    /// S3-compatible server (`http://` is allowed).
    pub endpoint: String,
    /// Region requests are signed for.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: sluice_model::wire::SecretString,
    /// Session token of temporary credentials.
    pub session_token: Option<sluice_model::wire::SecretString>,
}

/// An object found under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Key within the bucket.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was last written, in milliseconds since the epoch.
    pub last_modified_ms: i64,
}

impl Buckets {
    /// Buckets as folders under `root` (normally `DATA_DIR/objects`).
    pub fn local(root: impl AsRef<FsPath>) -> Self {
        Self {
            place: BucketPlace::Local(root.as_ref().to_path_buf()),
            owners: None,
            #[cfg(feature = "s3-remote")]
            remote_clients: Arc::default(),
        }
    }

    /// Local buckets whose owners `owners` keeps: a run uses only its own
    /// account's (AppFlow's rule: no cross-account access to S3 buckets).
    pub fn with_owners(mut self, owners: Arc<dyn BucketOwners>) -> Self {
        self.owners = Some(owners);
        self
    }

    /// The names of the local buckets that exist (folders under the root).
    pub fn local_bucket_names(&self) -> Vec<String> {
        let BucketPlace::Local(root) = &self.place else { return Vec::new() };
        let Ok(entries) = std::fs::read_dir(root) else { return Vec::new() };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| check_bucket_name(name).is_ok())
            .collect();
        names.sort();
        names
    }

    /// Refuses `bucket` to a run of `account_id` unless it is that
    /// account's (a bucket nobody owns yet becomes the account's). Remote
    /// buckets are the endpoint's to authorize; an empty account (tests,
    /// tools) is not checked.
    pub async fn check_owner(&self, bucket: &str, account_id: &str) -> Result<(), ConnectorError> {
        let (Some(owners), BucketPlace::Local(_)) = (&self.owners, &self.place) else { return Ok(()) };
        if account_id.is_empty() {
            return Ok(());
        }
        valid_bucket(bucket)?;
        let owner = owners.claim(bucket, account_id).await?;
        if owner == account_id {
            Ok(())
        } else {
            Err(ConnectorError::Invalid(format!(
                "bucket {bucket} belongs to another account; a flow reads and writes only its own account's \
                 buckets (AppFlow does not support cross-account access to S3 buckets)"
            )))
        }
    }

    /// Buckets of an S3 or S3-compatible endpoint (path-style requests).
    #[cfg(feature = "s3-remote")]
    pub fn remote(endpoint: S3Endpoint) -> Self {
        crate::install_tls_provider();
        Self { place: BucketPlace::Remote(endpoint), owners: None, remote_clients: Arc::default() }
    }

    /// Where the buckets are, for logs (no credentials).
    pub fn describe(&self) -> String {
        match &self.place {
            BucketPlace::Local(root) => format!("folders under {}", root.display()),
            #[cfg(feature = "s3-remote")]
            BucketPlace::Remote(endpoint) => format!("S3 at {} ({})", endpoint.endpoint, endpoint.region),
        }
    }

    /// The store of one bucket (a local bucket's folder is created).
    pub fn bucket(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>, ConnectorError> {
        valid_bucket(bucket)?;
        match &self.place {
            BucketPlace::Local(root) => {
                let folder = root.join(bucket);
                std::fs::create_dir_all(&folder).map_err(|e| ConnectorError::Unreachable {
                    system: SYSTEM,
                    message: format!("{}: {e}", folder.display()),
                })?;
                Ok(Arc::new(LocalFileSystem::new_with_prefix(&folder).map_err(storage_error)?))
            }
            #[cfg(feature = "s3-remote")]
            BucketPlace::Remote(endpoint) => {
                let mut clients = self.remote_clients.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(client) = clients.get(bucket) {
                    return Ok(client.clone());
                }
                let mut builder = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(&endpoint.region)
                    .with_endpoint(&endpoint.endpoint)
                    .with_allow_http(endpoint.endpoint.starts_with("http://"))
                    .with_virtual_hosted_style_request(false)
                    .with_access_key_id(&endpoint.access_key_id)
                    .with_secret_access_key(endpoint.secret_access_key.expose());
                if let Some(token) = &endpoint.session_token {
                    builder = builder.with_token(token.expose());
                }
                let client: Arc<dyn ObjectStore> = Arc::new(builder.build().map_err(storage_error)?);
                clients.insert(bucket.to_string(), client.clone());
                Ok(client)
            }
        }
    }

    /// The bytes of one object.
    pub async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, ConnectorError> {
        let store = self.bucket(bucket)?;
        let result = store.get(&Path::from(key)).await.map_err(storage_error)?;
        Ok(result.bytes().await.map_err(storage_error)?.to_vec())
    }

    /// Opens an object for reading in chunks, so a large object never has
    /// to fit in memory.
    pub async fn open(&self, bucket: &str, key: &str) -> Result<ObjectChunks, ConnectorError> {
        let store = self.bucket(bucket)?;
        let result = store.get(&Path::from(key)).await.map_err(storage_error)?;
        Ok(match result.payload {
            // A local file is read in large blocks (object_store's stream
            // hands out small ones, each a trip to the blocking pool).
            object_store::GetResultPayload::File(mut file, path) => {
                use std::io::Seek;
                file.seek(std::io::SeekFrom::Start(result.range.start)).map_err(|e| ConnectorError::Unreachable {
                    system: SYSTEM,
                    message: format!("{}: {e}", path.display()),
                })?;
                ObjectChunks::File { file: Some(file), remaining: result.range.end - result.range.start }
            }
            object_store::GetResultPayload::Stream(chunks) => ObjectChunks::Stream(chunks),
        })
    }

    /// Removes the staging files of unfinished uploads under `folder` of a
    /// local `bucket` (left by a process killed mid-run; they are never
    /// listed as objects). Returns how many were removed. Only for a folder no
    /// running upload uses, e.g. a run's own output folder before it
    /// starts again.
    pub fn sweep_unfinished(&self, bucket: &str, folder: &str) -> Result<usize, ConnectorError> {
        fn sweep(dir: &FsPath, removed: &mut usize) -> std::io::Result<()> {
            let entries = match std::fs::read_dir(dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let path = entry.path();
                if entry.file_type()?.is_dir() {
                    sweep(&path, removed)?;
                } else if is_staging_file(&entry.file_name().to_string_lossy()) {
                    std::fs::remove_file(&path)?;
                    *removed += 1;
                }
            }
            Ok(())
        }
        valid_bucket(bucket)?;
        let root = match &self.place {
            BucketPlace::Local(root) => root,
            // S3 keeps unfinished multipart uploads out of listings; a
            // bucket lifecycle rule (AbortIncompleteMultipartUpload) ends them.
            #[cfg(feature = "s3-remote")]
            BucketPlace::Remote(_) => return Ok(0),
        };
        let dir = root.join(bucket).join(folder.trim_matches('/'));
        let mut removed = 0;
        sweep(&dir, &mut removed)
            .map_err(|e| ConnectorError::Unreachable { system: SYSTEM, message: format!("{}: {e}", dir.display()) })?;
        Ok(removed)
    }

    /// Writes one small object at once (visible when the call returns).
    pub async fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), ConnectorError> {
        let store = self.bucket(bucket)?;
        store.put(&Path::from(key), bytes.into()).await.map_err(storage_error)?;
        Ok(())
    }

    /// Objects whose keys start with `prefix`, sorted by key.
    pub async fn list(&self, bucket: &str, prefix: Option<&str>) -> Result<Vec<ObjectInfo>, ConnectorError> {
        let store = self.bucket(bucket)?;
        let prefix = prefix.filter(|p| !p.is_empty()).map(Path::from);
        let mut objects: Vec<ObjectInfo> = store
            .list(prefix.as_ref())
            .map_ok(|meta| ObjectInfo {
                key: meta.location.to_string(),
                size: meta.size,
                last_modified_ms: meta.last_modified.timestamp_millis(),
            })
            .try_collect()
            .await
            .map_err(storage_error)?;
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }
}

/// Bytes read from a local file at a time.
const FILE_CHUNK_BYTES: u64 = 2 * 1024 * 1024;

/// The chunks of an object being read.
pub enum ObjectChunks {
    /// A local file, `remaining` bytes still to read from its position.
    File {
        /// The open file (taken while a block is read).
        file: Option<std::fs::File>,
        /// Bytes left.
        remaining: u64,
    },
    /// A remote object's body.
    Stream(futures_util::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>),
}

impl ObjectChunks {
    /// The next chunk, or `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<bytes::Bytes>, ConnectorError> {
        match self {
            ObjectChunks::Stream(chunks) => chunks.try_next().await.map_err(storage_error),
            ObjectChunks::File { file, remaining } => {
                if *remaining == 0 {
                    return Ok(None);
                }
                let Some(mut open) = file.take() else { return Ok(None) };
                let wanted = (*remaining).min(FILE_CHUNK_BYTES) as usize;
                let read = tokio::task::spawn_blocking(move || {
                    use std::io::Read;
                    let mut block = vec![0u8; wanted];
                    let mut filled = 0;
                    while filled < wanted {
                        match open.read(&mut block[filled..]) {
                            Ok(0) => break,
                            Ok(n) => filled += n,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                    block.truncate(filled);
                    Ok((open, block))
                })
                .await
                .map_err(|e| ConnectorError::Unreachable { system: SYSTEM, message: e.to_string() })?;
                let (open, block) =
                    read.map_err(|e| ConnectorError::Unreachable { system: SYSTEM, message: e.to_string() })?;
                if block.is_empty() {
                    *remaining = 0;
                    return Ok(None);
                }
                *remaining -= block.len() as u64;
                *file = Some(open);
                Ok(Some(bytes::Bytes::from(block)))
            }
        }
    }
}

fn valid_bucket(bucket: &str) -> Result<(), ConnectorError> {
    check_bucket_name(bucket).map_err(|message| ConnectorError::Remote {
        system: SYSTEM,
        code: "InvalidBucketName".into(),
        message,
        status: 400,
    })
}

/// Whether a file name is the local store's staging file of an unfinished
/// upload (`NAME#N`).
fn is_staging_file(name: &str) -> bool {
    name.rsplit_once('#').is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Most parts of one upload sent at once (5 MB each).
pub const MAX_PARTS_IN_FLIGHT: usize = 4;

/// An object being written; it appears in the bucket only after
/// [`PendingObject::finish`]. Dropping it or calling
/// [`PendingObject::abort`] leaves nothing behind.
pub struct PendingObject {
    key: String,
    upload: WriteMultipart,
    written: u64,
}

impl PendingObject {
    /// Starts writing `key` in `store`.
    pub async fn start(store: &Arc<dyn ObjectStore>, key: &str) -> Result<Self, ConnectorError> {
        let upload = store.put_multipart(&Path::from(key)).await.map_err(storage_error)?;
        Ok(Self { key: key.to_string(), upload: WriteMultipart::new(upload), written: 0 })
    }

    /// Appends bytes. Waits while [`MAX_PARTS_IN_FLIGHT`] parts are still
    /// being uploaded, so a slow store slows the writer down instead of
    /// letting parts pile up in memory.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), ConnectorError> {
        self.upload.write(bytes);
        self.written += bytes.len() as u64;
        self.upload.wait_for_capacity(MAX_PARTS_IN_FLIGHT).await.map_err(storage_error)
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Publishes the object; returns its key and size.
    pub async fn finish(self) -> Result<(String, u64), ConnectorError> {
        self.upload.finish().await.map_err(storage_error)?;
        Ok((self.key, self.written))
    }

    /// Discards everything written.
    pub async fn abort(self) -> Result<(), ConnectorError> {
        self.upload.abort().await.map_err(storage_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        assert!(check_bucket_name("sluice-out.2026").is_ok());
        for bad in ["ab", "Upper", "-start", "end-", "a..b", &"x".repeat(64)] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn objects_appear_only_when_finished() {
        let dir = tempfile::tempdir().unwrap();
        let buckets = Buckets::local(dir.path());
        let store = buckets.bucket("out").unwrap();
        let key = "exports/accounts/e-1/part-00000.csv".to_string();
        let mut pending = PendingObject::start(&store, &key).await.unwrap();
        pending.write(b"Id,Name\n").await.unwrap();
        pending.write(b"1,Acme\n").await.unwrap();
        assert_eq!(buckets.list("out", Some("exports")).await.unwrap(), [], "nothing is visible before finish");
        let (finished_key, size) = pending.finish().await.unwrap();
        assert_eq!((finished_key.as_str(), size), (key.as_str(), 15));
        let listed = buckets.list("out", Some("exports/accounts")).await.unwrap();
        assert_eq!(listed.iter().map(|o| (o.key.as_str(), o.size)).collect::<Vec<_>>(), [(key.as_str(), 15)]);
        assert!(listed[0].last_modified_ms > 1_700_000_000_000, "{listed:?}");
        assert_eq!(std::fs::read_to_string(dir.path().join("out").join(&key)).unwrap(), "Id,Name\n1,Acme\n");

        let mut aborted = PendingObject::start(&store, "exports/accounts/e-2/part-00000.csv").await.unwrap();
        aborted.write(b"partial").await.unwrap();
        aborted.abort().await.unwrap();
        // An upload a killed process left behind: invisible, and swept.
        let mut left = PendingObject::start(&store, "exports/accounts/e-3/part-00000.csv").await.unwrap();
        left.write(b"half a file").await.unwrap();
        std::mem::forget(left);
        assert_eq!(buckets.list("out", Some("exports/accounts/e-3")).await.unwrap(), []);
        assert_eq!(buckets.sweep_unfinished("out", "exports/accounts/e-3").unwrap(), 1);
        assert_eq!(std::fs::read_dir(dir.path().join("out/exports/accounts/e-3")).unwrap().count(), 0);
        assert_eq!(buckets.sweep_unfinished("out", "exports/accounts").unwrap(), 0, "finished objects stay");
        assert!(dir.path().join("out").join(&key).exists());
        assert_eq!(buckets.list("out", Some("exports/accounts/e-2")).await.unwrap(), []);
        assert!(buckets.bucket("Bad_Bucket").is_err());
    }
}
