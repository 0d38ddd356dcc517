//! The corpus manifest written by `scripts/corpus/build_corpus.py`: one JSON line per work.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}, line {line}: {message}")]
    Line { path: PathBuf, line: usize, message: String },
}

/// Which part of the corpus a work belongs to (decided per work, never per window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Valid,
    Test,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Work {
    pub id: String,
    pub collection: String,
    /// Composer, collection, or "traditional" for the tune collections.
    pub style: String,
    pub terms: String,
    #[serde(default)]
    pub composer: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub programs: Vec<u8>,
    #[serde(default)]
    pub time_signature: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub notes: usize,
    pub split: Split,
    /// Relative to the corpus directory.
    pub midi: String,
}

/// A converted corpus: its directory, works, and the manifest's sha256 (recorded with every
/// model trained on it).
#[derive(Debug, Clone)]
pub struct Corpus {
    pub root: PathBuf,
    pub works: Vec<Work>,
    pub manifest_sha256: String,
}

impl Corpus {
    pub fn open(root: &Path) -> Result<Self, ManifestError> {
        let path = root.join("manifest.jsonl");
        let text =
            std::fs::read_to_string(&path).map_err(|source| ManifestError::Read { path: path.clone(), source })?;
        let works = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                serde_json::from_str(line).map_err(|e| ManifestError::Line {
                    path: path.clone(),
                    line: i + 1,
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<Work>, _>>()?;
        let digest_path = root.join("manifest.sha256");
        let manifest_sha256 = std::fs::read_to_string(&digest_path)
            .map_err(|source| ManifestError::Read { path: digest_path, source })?
            .trim()
            .to_string();
        Ok(Self { root: root.to_path_buf(), works, manifest_sha256 })
    }

    pub fn midi_path(&self, work: &Work) -> PathBuf {
        self.root.join(&work.midi)
    }
}
