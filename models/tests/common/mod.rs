//! Helpers shared by the model tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;

/// A four-part Bach chorale (bwv 7.7) from the corpus, shipped as a demo song.
pub const CHORALE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo/bach_bwv7.7.mid");

/// A corpus directory in the converter's format holding the chorale as one work per split.
pub fn write_corpus(dir: &Path) {
    std::fs::create_dir_all(dir.join("midi")).unwrap();
    let mut manifest = String::new();
    for split in ["train", "valid", "test"] {
        std::fs::copy(CHORALE, dir.join(format!("midi/{split}.mid"))).unwrap();
        manifest.push_str(&format!(
            r#"{{"id":"bach/{split}","collection":"bach","style":"bach","terms":"test","split":"{split}","midi":"midi/{split}.mid"}}"#
        ));
        manifest.push('\n');
    }
    std::fs::write(dir.join("manifest.jsonl"), manifest).unwrap();
    std::fs::write(dir.join("manifest.sha256"), "0123\n").unwrap();
}
