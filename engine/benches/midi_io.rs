//! MIDI import and export throughput on large generated files. The files are written to
//! `$CARGO_TARGET_DIR/bench-midi/` so `scripts/bench_midi.py` can time symusic on the very same
//! bytes and print the ratio (`scripts/bench_midi.sh` runs both).

#![allow(clippy::expect_used)] // a benchmark that cannot set up should stop loudly

use std::path::PathBuf;

use cadenza_engine::midi::{parse_song, song_to_bytes};
use cadenza_engine::song::{BendPoint, Note, Song, TempoChange, Track};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// A tiny deterministic generator (xorshift), so every run benchmarks the same files.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

fn generated(name: &str, tracks: usize, notes_per_track: usize, bends: bool) -> (String, Song) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (tracks * 31 + notes_per_track) as u64);
    let mut song = Song::new(480);
    for i in 1..50u64 {
        song.tempos.push(TempoChange { tick: i * 7680, micros_per_quarter: 400_000 + rng.next(300_000) as u32 });
    }
    for t in 0..tracks {
        let channel = (t % 16) as u8;
        let mut track = Track::new(format!("Track {t}"), (t * 7 % 128) as u8, channel);
        let mut tick = 0u64;
        for _ in 0..notes_per_track {
            tick += rng.next(120);
            let mut note = Note::new(tick, 30 + rng.next(900), 24 + rng.next(80) as u8, 1 + rng.next(127) as u8);
            if bends && rng.next(8) == 0 {
                note.bend = (0..4)
                    .map(|k| BendPoint { offset: k * note.length / 4, value: rng.next(16384) as i16 - 8192 })
                    .collect();
            }
            track.notes.push(note);
        }
        track.sort_notes();
        song.tracks.push(track);
    }
    (name.to_string(), song)
}

fn bench_files() -> Vec<(String, Vec<u8>, usize)> {
    let dir = PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into())).join("bench-midi");
    std::fs::create_dir_all(&dir).expect("bench dir");
    [
        generated("piano_200k", 1, 200_000, false),
        generated("orchestra_16x25k", 16, 25_000, false),
        generated("bends_8x10k", 8, 10_000, true),
    ]
    .into_iter()
    .map(|(name, song)| {
        let bytes = song_to_bytes(&song).expect("export");
        std::fs::write(dir.join(format!("{name}.mid")), &bytes).expect("write bench file");
        (name, bytes, song.note_count())
    })
    .collect()
}

fn midi_io(c: &mut Criterion) {
    let files = bench_files();
    let mut import = c.benchmark_group("import");
    for (name, bytes, _) in &files {
        import.throughput(Throughput::Bytes(bytes.len() as u64));
        import.bench_with_input(BenchmarkId::from_parameter(name), bytes, |b, bytes| {
            b.iter(|| parse_song(bytes).expect("import"))
        });
    }
    import.finish();
    let mut export = c.benchmark_group("export");
    for (name, bytes, _) in &files {
        let song = parse_song(bytes).expect("import");
        export.throughput(Throughput::Bytes(bytes.len() as u64));
        export.bench_with_input(BenchmarkId::from_parameter(name), &song, |b, song| {
            b.iter(|| song_to_bytes(song).expect("export"))
        });
    }
    export.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(6));
    targets = midi_io
}
criterion_main!(benches);
