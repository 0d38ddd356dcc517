//! The audio callback never allocates or frees (as nih-plug asserts for its plug-ins): a
//! counting allocator watches the thread that renders while the engine's side edits the song,
//! seeks, loops, previews, clicks the metronome and sends MIDI out.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

// A global allocator is the one way to see every allocation; it is test-only.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cadenza_engine::playback::{Player, TransportSettings};
use cadenza_engine::synth::{BuiltinSynth, SoundFontChoice, Synth, load_synth};
use cadenza_engine::{Note, Song, Track};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static WATCHED: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    // `try_with`: the thread-local may already be gone while a thread ends.
    if WATCHED.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // Not watched while looking at the variable and tracing, which allocate themselves.
        let _ = WATCHED.try_with(|w| w.set(false));
        if std::env::var_os("CADENZA_ALLOC_TRACE").is_some() {
            eprintln!("allocation on the audio side:\n{}", std::backtrace::Backtrace::force_capture());
        }
        let _ = WATCHED.try_with(|w| w.set(true));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note();
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const RATE: u32 = 44_100;
const BLOCK: usize = 256;

fn song(transpose: u8) -> Arc<Song> {
    let mut song = Song::new(480);
    for (t, program) in [0u8, 40, 32].into_iter().enumerate() {
        let mut track = Track::new(format!("Track {t}"), t as u8, program);
        for i in 0..64u64 {
            track.insert_note(Note::new(i * 120, 100, 48 + transpose + (i % 24) as u8 + t as u8 * 5, 90));
        }
        song.tracks.push(track);
    }
    Arc::new(song)
}

/// Renders `blocks` blocks with the allocator watching; returns how many (de)allocations it saw.
fn render_watched(player: &Player, blocks: usize) -> usize {
    let (mut left, mut right) = (vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    WATCHED.with(|w| w.set(true));
    for _ in 0..blocks {
        player.render(&mut left, &mut right);
    }
    WATCHED.with(|w| w.set(false));
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

fn exercise(synth: Box<dyn Synth>) -> Vec<(&'static str, usize)> {
    let player = Player::new(RATE);
    player.set_synth(synth);
    player.set_song(song(0));
    let (tx, rx) = crossbeam_channel::unbounded();
    player.set_midi_out(Some(Box::new(move |bytes| {
        let _ = tx.send(bytes);
    })));
    // The first blocks may touch lazily made state (thread-locals of the swap); not counted.
    render_watched(&player, 4);
    let mut seen = Vec::new();
    player.set_settings(TransportSettings { metronome: true, loop_ticks: Some((0, 1920)), ..Default::default() });
    player.play();
    seen.push(("playing with the metronome", render_watched(&player, 200)));
    for i in 0..20u8 {
        player.set_song(song(i % 12));
        seen.push(("a new song swapped in", render_watched(&player, 10)));
    }
    player.seek(960);
    seen.push(("a seek", render_watched(&player, 50)));
    for pitch in 60..72 {
        player.preview(0, false, pitch, 100);
    }
    seen.push(("previews and their note-offs", render_watched(&player, 100)));
    seen.push(("a loop wrapping", render_watched(&player, 400)));
    player.pause();
    seen.push(("a pause", render_watched(&player, 10)));
    player.set_midi_out(None);
    assert!(rx.try_iter().count() > 100, "MIDI out received nothing");
    seen
}

#[test]
fn render_never_allocates_with_the_builtin_synth() {
    for (what, count) in exercise(Box::new(BuiltinSynth::new(RATE))) {
        assert_eq!(count, 0, "{what}: the audio side allocated or freed {count} times");
    }
}

#[test]
fn render_never_allocates_with_a_soundfont() {
    let Ok((synth, info)) = load_synth(&SoundFontChoice::Auto, RATE) else { return };
    if info.notice.is_some() {
        eprintln!("no SoundFont installed: {}", info.description);
        return;
    }
    for (what, count) in exercise(synth) {
        assert_eq!(count, 0, "{what}: the audio side allocated or freed {count} times ({})", info.description);
    }
}
