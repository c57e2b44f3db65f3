//! Envelope encryption of connector credentials.
//!
//! Each secret gets its own random 256-bit data key. The secret is encrypted
//! with the data key (AES-256-GCM), and the data key is encrypted ("wrapped")
//! with the master key (AES-256-GCM). Associated data binds a sealed secret
//! to the resource it belongs to, so a sealed blob copied onto another
//! profile does not open. The master key comes from `SLUICE_MASTER_KEY`
//! (base64 of 32 bytes) or from a `master.key` file (mode 0600) in the data
//! directory, created on first use.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

/// Name of the environment variable holding a base64 master key.
pub const MASTER_KEY_ENV: &str = "SLUICE_MASTER_KEY";
/// File name of the master key inside the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

/// Errors of the vault.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The master key is not 32 bytes of base64.
    #[error("master key from {source_name} is invalid: {reason}")]
    InvalidMasterKey {
        /// Where the key came from (env var or file path).
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing the key file failed.
    #[error("master key file {path}: {source}")]
    KeyFile {
        /// Path of the key file.
        path: PathBuf,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The sealed blob was made with another master key.
    #[error("secret was sealed with master key {sealed_with}, but the current master key is {current}")]
    WrongMasterKey {
        /// Key id recorded in the blob.
        sealed_with: String,
        /// Key id of the loaded master key.
        current: String,
    },
    /// The blob is damaged, was tampered with, or belongs to another resource.
    #[error("sealed secret does not decrypt: it is damaged or belongs to another resource")]
    DecryptFailed,
    /// The blob is not a sealed secret at all.
    #[error("sealed secret is malformed: {0}")]
    Malformed(String),
}

/// A secret as stored: everything needed to open it with the master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    /// Format version.
    pub v: u8,
    /// Id of the master key that wrapped the data key.
    pub kid: String,
    /// Nonce used to wrap the data key (base64).
    pub key_nonce: String,
    /// The wrapped data key (base64).
    pub wrapped_key: String,
    /// Nonce used to encrypt the secret (base64).
    pub nonce: String,
    /// The encrypted secret (base64).
    pub ciphertext: String,
}

impl SealedSecret {
    /// Serializes to the text form kept in the store.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("sealed secret serializes")
    }

    /// Parses the text form kept in the store.
    pub fn from_text(text: &str) -> Result<Self, VaultError> {
        serde_json::from_str(text).map_err(|e| VaultError::Malformed(e.to_string()))
    }
}

/// Seals and opens secrets with one master key.
pub struct Vault {
    master: Zeroizing<[u8; 32]>,
    key_id: String,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl Vault {
    /// A vault over the given 32-byte master key.
    pub fn from_key(key: [u8; 32]) -> Self {
        let key_id = hex::encode(&Sha256::digest(key)[..8]);
        Self { master: Zeroizing::new(key), key_id }
    }

    /// Loads the master key from `SLUICE_MASTER_KEY` when set, otherwise
    /// from `DIR/master.key`, creating that file (mode 0600) on first use.
    pub fn open_default(data_dir: &Path) -> Result<Self, VaultError> {
        match std::env::var(MASTER_KEY_ENV) {
            Ok(text) => Self::from_base64(&text, MASTER_KEY_ENV),
            Err(_) => Self::load_or_create_file(&data_dir.join(MASTER_KEY_FILE)),
        }
    }

    /// Parses a base64 master key.
    pub fn from_base64(text: &str, source_name: &str) -> Result<Self, VaultError> {
        let invalid = |reason: String| VaultError::InvalidMasterKey { source_name: source_name.to_string(), reason };
        let mut bytes = B64.decode(text.trim()).map_err(|e| invalid(format!("not base64: {e}")))?;
        if bytes.len() != 32 {
            let len = bytes.len();
            bytes.zeroize();
            return Err(invalid(format!("expected 32 bytes, got {len}")));
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes);
        bytes.zeroize();
        Ok(Self::from_key(key))
    }

    /// Loads the key file, creating it with a fresh random key when missing.
    pub fn load_or_create_file(path: &Path) -> Result<Self, VaultError> {
        let file_error = |source| VaultError::KeyFile { path: path.to_path_buf(), source };
        match fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                let text = Zeroizing::new(B64.encode(key));
                write_private_file(path, text.as_bytes()).map_err(file_error)?;
                Ok(Self::from_key(key))
            }
            Err(e) => Err(file_error(e)),
        }
    }

    /// Short id of the master key (first 8 bytes of its SHA-256, hex).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Encrypts `plaintext`, bound to `context` (e.g. the resource ARN).
    pub fn seal(&self, plaintext: &[u8], context: &str) -> SealedSecret {
        let mut data_key = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(data_key.as_mut());
        let nonce = random_nonce();
        let ciphertext = Aes256Gcm::new_from_slice(data_key.as_ref())
            .expect("32-byte key")
            .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad: context.as_bytes() })
            .expect("aes-gcm encryption does not fail");
        let key_nonce = random_nonce();
        let wrapped_key = self
            .master_cipher()
            .encrypt(&Nonce::from(key_nonce), Payload { msg: data_key.as_ref(), aad: self.key_id.as_bytes() })
            .expect("aes-gcm encryption does not fail");
        SealedSecret {
            v: 1,
            kid: self.key_id.clone(),
            key_nonce: B64.encode(key_nonce),
            wrapped_key: B64.encode(wrapped_key),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(ciphertext),
        }
    }

    /// Decrypts a sealed secret made for `context`.
    pub fn open(&self, sealed: &SealedSecret, context: &str) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        if sealed.v != 1 {
            return Err(VaultError::Malformed(format!("unknown version {}", sealed.v)));
        }
        if sealed.kid != self.key_id {
            return Err(VaultError::WrongMasterKey { sealed_with: sealed.kid.clone(), current: self.key_id.clone() });
        }
        let decode =
            |field: &str, text: &str| B64.decode(text).map_err(|e| VaultError::Malformed(format!("{field}: {e}")));
        let twelve_bytes = |bytes: Vec<u8>| {
            <[u8; 12]>::try_from(bytes).map_err(|_| VaultError::Malformed("nonce must be 12 bytes".into()))
        };
        let key_nonce = twelve_bytes(decode("key_nonce", &sealed.key_nonce)?)?;
        let nonce = twelve_bytes(decode("nonce", &sealed.nonce)?)?;
        let data_key = Zeroizing::new(
            self.master_cipher()
                .decrypt(
                    &Nonce::from(key_nonce),
                    Payload { msg: &decode("wrapped_key", &sealed.wrapped_key)?, aad: self.key_id.as_bytes() },
                )
                .map_err(|_| VaultError::DecryptFailed)?,
        );
        let cipher = Aes256Gcm::new_from_slice(&data_key).map_err(|_| VaultError::DecryptFailed)?;
        let plaintext = cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload { msg: &decode("ciphertext", &sealed.ciphertext)?, aad: context.as_bytes() },
            )
            .map_err(|_| VaultError::DecryptFailed)?;
        Ok(Zeroizing::new(plaintext))
    }

    fn master_cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new_from_slice(self.master.as_ref()).expect("32-byte key")
    }
}

fn random_nonce() -> [u8; 12] {
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    nonce
}

/// Writes a file readable only by its owner (0600 on Unix), atomically:
/// the content goes to a temporary file that is renamed into place.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip() {
        let vault = Vault::from_key([7u8; 32]);
        let sealed = vault.seal(b"s3cr3t", "arn:a");
        assert!(!sealed.to_text().contains("s3cr3t"));
        let opened = vault.open(&SealedSecret::from_text(&sealed.to_text()).unwrap(), "arn:a").unwrap();
        assert_eq!(opened.as_slice(), b"s3cr3t");
    }

    #[test]
    fn other_context_or_key_does_not_open() {
        let vault = Vault::from_key([7u8; 32]);
        let sealed = vault.seal(b"s3cr3t", "arn:a");
        assert!(matches!(vault.open(&sealed, "arn:b"), Err(VaultError::DecryptFailed)));
        let other = Vault::from_key([8u8; 32]);
        assert!(matches!(other.open(&sealed, "arn:a"), Err(VaultError::WrongMasterKey { .. })));
        let mut tampered = sealed.clone();
        tampered.ciphertext = B64.encode(b"garbage-garbage-garbage");
        assert!(matches!(vault.open(&tampered, "arn:a"), Err(VaultError::DecryptFailed)));
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MASTER_KEY_FILE);
        let first = Vault::load_or_create_file(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let second = Vault::load_or_create_file(&path).unwrap();
        assert_eq!(first.key_id(), second.key_id());
        let sealed = first.seal(b"x", "c");
        assert_eq!(second.open(&sealed, "c").unwrap().as_slice(), b"x");
    }

    #[test]
    fn bad_master_keys_are_rejected_with_reason() {
        let err = Vault::from_base64("c2hvcnQ=", "SLUICE_MASTER_KEY").unwrap_err();
        assert_eq!(err.to_string(), "master key from SLUICE_MASTER_KEY is invalid: expected 32 bytes, got 5");
        assert!(Vault::from_base64("***", "x").is_err());
    }
}
