//! The data directory: account id, root credentials, master key, SQLite
//! file and object folder, created on first start.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rand::RngExt;
use sluice_api::AccessKey;
use sluice_model::wire::SecretString;

/// Env var holding the root access key id.
pub const ACCESS_KEY_ENV: &str = "SLUICE_ACCESS_KEY_ID";
/// Env var holding the root secret access key.
pub const SECRET_KEY_ENV: &str = "SLUICE_SECRET_ACCESS_KEY";
/// Shared-credentials file inside the data directory.
pub const CREDENTIALS_FILE: &str = "credentials";
/// Account id file inside the data directory.
pub const ACCOUNT_ID_FILE: &str = "account-id";
/// The name of the data directory's account (the server's first).
pub const FIRST_ACCOUNT_NAME: &str = "main";
/// Server id file inside the data directory.
pub const SERVER_ID_FILE: &str = "server-id";

/// Paths inside one data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    /// The directory itself.
    pub root: PathBuf,
}

/// Where the root credentials came from.
pub enum CredentialSource {
    /// `SLUICE_ACCESS_KEY_ID` / `SLUICE_SECRET_ACCESS_KEY`.
    Environment,
    /// An existing `DIR/credentials`.
    File,
    /// Generated now and written to `DIR/credentials`.
    Generated,
}

impl DataDir {
    /// Opens (creating if needed) a data directory.
    pub fn open(root: &Path) -> Result<Self> {
        fs::create_dir_all(root).with_context(|| format!("cannot create data directory {}", root.display()))?;
        fs::create_dir_all(root.join("objects")).context("cannot create the objects folder")?;
        Ok(Self { root: root.to_path_buf() })
    }

    /// URL of the embedded SQLite metadata store.
    pub fn sqlite_url(&self) -> String {
        format!("sqlite://{}", self.root.join("sluice.db").display())
    }

    /// The account id, generated (12 digits) on first use.
    pub fn account_id(&self) -> Result<String> {
        let path = self.root.join(ACCOUNT_ID_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let id = text.trim().to_string();
                if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                    bail!("{} must hold a 12-digit account id, found {id:?}", path.display());
                }
                Ok(id)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut rng = rand::rng();
                let id: String = std::iter::once(rng.random_range(1..=9u8))
                    .chain((0..11).map(|_| rng.random_range(0..=9u8)))
                    .map(|d| char::from(b'0' + d))
                    .collect();
                fs::write(&path, format!("{id}\n")).with_context(|| format!("cannot write {}", path.display()))?;
                Ok(id)
            }
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// This server's id (32 hex digits), generated on first use: a server
    /// restarted on its data directory takes its own leases (event
    /// listeners) back at once instead of waiting for them to expire.
    pub fn server_id(&self) -> Result<String> {
        let path = self.root.join(SERVER_ID_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let id = text.trim().to_string();
                if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    bail!("{} must hold a 32-hex-digit server id, found {id:?}", path.display());
                }
                Ok(id)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut rng = rand::rng();
                let id: String =
                    (0..32).map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16usize)])).collect();
                fs::write(&path, format!("{id}\n")).with_context(|| format!("cannot write {}", path.display()))?;
                Ok(id)
            }
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Root credentials from the environment, the credentials file, or
    /// freshly generated (then written to the file, mode 0600).
    pub fn root_credentials(&self) -> Result<(AccessKey, CredentialSource)> {
        if let (Ok(id), Ok(secret)) = (std::env::var(ACCESS_KEY_ENV), std::env::var(SECRET_KEY_ENV)) {
            if id.is_empty() || secret.is_empty() {
                bail!("{ACCESS_KEY_ENV} and {SECRET_KEY_ENV} must not be empty");
            }
            return Ok((
                AccessKey { access_key_id: id, secret_access_key: SecretString::new(secret) },
                CredentialSource::Environment,
            ));
        }
        let path = self.root.join(CREDENTIALS_FILE);
        if path.exists() {
            return Ok((read_credentials_file(&path, "default")?, CredentialSource::File));
        }
        let key = generate_access_key();
        let text = format!(
            "# Sluice root credentials (AWS shared-credentials format).\n# Use with AWS_SHARED_CREDENTIALS_FILE={}\n[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            path.display(),
            key.access_key_id,
            key.secret_access_key.expose()
        );
        sluice_vault::write_private_file(&path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok((key, CredentialSource::Generated))
    }
}

fn generate_access_key() -> AccessKey {
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = rand::rng();
    let id: String = "SLUI".chars().chain((0..16).map(|_| UPPER[rng.random_range(0..UPPER.len())] as char)).collect();
    let secret: String = (0..40).map(|_| SECRET[rng.random_range(0..SECRET.len())] as char).collect();
    AccessKey { access_key_id: id, secret_access_key: SecretString::new(secret) }
}

/// Reads one profile of an AWS shared-credentials file.
pub fn read_credentials_file(path: &Path, profile: &str) -> Result<AccessKey> {
    let text = fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut in_profile = false;
    let mut id = None;
    let mut secret = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_profile = name.trim() == profile;
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            match key.trim() {
                "aws_access_key_id" => id = Some(value.trim().to_string()),
                "aws_secret_access_key" => secret = Some(value.trim().to_string()),
                _ => {}
            }
        }
    }
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(AccessKey { access_key_id: id, secret_access_key: SecretString::new(secret) }),
        _ => bail!("{} has no [{profile}] section with aws_access_key_id and aws_secret_access_key", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_credentials_are_written_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        // Only meaningful when the env override is absent.
        if std::env::var(ACCESS_KEY_ENV).is_ok() {
            return;
        }
        let (key, source) = data.root_credentials().unwrap();
        assert!(matches!(source, CredentialSource::Generated));
        let (again, source) = data.root_credentials().unwrap();
        assert!(matches!(source, CredentialSource::File));
        assert_eq!(key.access_key_id, again.access_key_id);
        assert_eq!(key.secret_access_key, again.secret_access_key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(CREDENTIALS_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn account_id_is_stable_twelve_digits() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        let id = data.account_id().unwrap();
        assert_eq!(id.len(), 12);
        assert!(id.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(data.account_id().unwrap(), id);
        fs::write(dir.path().join(ACCOUNT_ID_FILE), "12ab").unwrap();
        assert!(data.account_id().is_err());
    }
}
