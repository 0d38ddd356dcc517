#![no_main]
//! Any bytes as a `project.json` or recovery file (both are read by one parser): project data
//! or a typed error, never a panic, and data that parses is saved and read back to the same song.

use std::path::Path;

use cadenza_engine::project::{parse_project, project_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let file = Path::new("project.json");
    if let Ok(project) = parse_project(data, file) {
        let bytes = project_bytes(&project, file).expect("parsed data serialises");
        let again = parse_project(&bytes, file).expect("Cadenza reads its own project file");
        assert_eq!(again.song, project.song, "the song changed on the way through project.json");
    }
});
