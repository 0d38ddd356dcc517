//! Continuing a passage of the song with the shipped continuation model: the song's notes as
//! a prompt, generation as a background job that streams each note to the app as it is
//! made, and the result as ghost tracks (one per instrument) to audition, flip through and keep.

mod jobs;

use std::ops::RangeInclusive;
use std::sync::{Arc, OnceLock};

use cadenza_models::continuation::generate::Prompt;
pub use cadenza_models::continuation::generate::PromptNotice;
use cadenza_models::continuation::vocab::TICKS_PER_QUARTER;
pub use cadenza_models::continuation::vocab::{STYLE_DESCRIPTIONS, STYLES, grouped_into, style_index};
use cadenza_models::continuation::{ContinuationModel, GridNote, Header};

pub use self::jobs::{continuation_job, style_guess_job};
pub use crate::protocol::continuation::*;
use crate::song::{DRUM_CHANNEL, Note, Song, Track};
use crate::timing;

/// The most instruments one request may name (MuseNet's limit).
pub const MAX_INSTRUMENTS: usize = 10;

/// The shipped model, loaded once on the CPU (generation is one token at a time, where a GPU
/// would spend more time dispatching than computing).
pub fn shipped_model() -> Result<Arc<ContinuationModel>, String> {
    static MODEL: OnceLock<Result<Arc<ContinuationModel>, String>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            cadenza_models::continuation::shipped::model(&cadenza_models::Device::flex())
                .map(Arc::new)
                .map_err(|e| format!("the continuation model could not be loaded: {e}"))
        })
        .clone()
}

/// Each instrument's playable range from the engine's table (the one the roll shades), by the
/// GM program it plays with: what generation keeps every note of it inside.
pub fn instrument_ranges(instruments: &[Instrument]) -> Vec<(Instrument, RangeInclusive<u8>)> {
    instruments
        .iter()
        .filter_map(|&i| crate::instrument_range::playable_range(i.program(), false).map(|range| (i, range)))
        .collect()
}

/// The style index of a name, or an error listing the valid names.
pub fn parse_style(name: &str) -> Result<u8, String> {
    style_index(name).ok_or_else(|| format!("unknown style {name:?}; the styles are: {}", STYLES.join(", ")))
}

/// Instruments from comma-separated names, or an error listing the valid names.
pub fn parse_instruments(names: &str) -> Result<Vec<Instrument>, String> {
    let mut instruments = Vec::new();
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let instrument = Instrument::from_name(name).ok_or_else(|| {
            let valid: Vec<&str> = Instrument::ALL.iter().map(|i| i.name()).collect();
            format!("unknown instrument {name:?}; the instruments are: {}", valid.join(", "))
        })?;
        instruments.push(instrument);
    }
    if instruments.len() > MAX_INSTRUMENTS {
        return Err(format!("at most {MAX_INSTRUMENTS} instruments, not {}", instruments.len()));
    }
    Ok(instruments)
}

/// Song ticks per bar at `tick` (from the song's time signature there; 4/4 if it has none).
pub fn bar_length(song: &Song, tick: u64) -> u64 {
    timing::ticks_per_bar(song.ppq, &timing::signature_at(&song.time_signatures, tick))
}

/// The bar line after the song's last note ends (0 for a song without notes): where a
/// continuation of the whole song starts.
pub fn end_of_last_bar(song: &Song) -> u64 {
    let end = song.end_tick();
    if end == 0 { 0 } else { bar_start(song, end - 1) + bar_length(song, end - 1) }
}

/// The bar line at or before `tick`.
pub fn bar_start(song: &Song, tick: u64) -> u64 {
    timing::bar_start(song.ppq, &song.time_signatures, tick)
}

fn to_grid(ticks: u64, ppq: u64) -> u32 {
    ((ticks * u64::from(TICKS_PER_QUARTER) + ppq / 2) / ppq) as u32
}

/// The prompt for a request: the tracks' notes in `from..to` on the token grid.
pub fn prompt_of(song: &Song, request: &ContinuationRequest) -> Prompt {
    let ppq = u64::from(song.ppq.max(1));
    let bar = bar_length(song, request.from);
    let mut notes = Vec::new();
    let mut used = Vec::new();
    for &index in &request.tracks {
        let Some(track) = song.tracks.get(index).filter(|t| !t.is_drum) else { continue };
        let instrument = Instrument::of_program(track.program);
        for note in track.notes.iter().filter(|n| n.start >= request.from && n.start < request.to) {
            notes.push(GridNote {
                start: to_grid(note.start - request.from, ppq),
                duration: to_grid(note.length, ppq).max(1),
                pitch: note.pitch,
                velocity: note.velocity,
                instrument,
            });
            used.push(instrument);
        }
    }
    let instruments = if request.instruments.is_empty() { used } else { request.instruments.clone() };
    let instruments = if instruments.is_empty() { vec![Instrument::Piano] } else { instruments };
    // An empty selection starts from the style and instrument tokens alone.
    let bars = if notes.is_empty() { 0 } else { request.to.saturating_sub(request.from).div_ceil(bar) as u32 };
    Prompt { header: Header::new(request.style, instruments), notes, bar_ticks: to_grid(bar, ppq).max(1), bars }
}

/// MIDI channels for new tracks playing `programs`, one each: a channel no track uses where
/// there is one (so the new instrument changes no other track's sound); once all fifteen are
/// taken, a channel already playing the same program; failing that, the least shared one.
pub fn channels_for(song: &Song, programs: &[u8]) -> Vec<u8> {
    // Each channel in use with the programs of its tracks (the song's and those placed so far).
    let mut used: Vec<(u8, Vec<u8>)> = Vec::new();
    let place =
        |used: &mut Vec<(u8, Vec<u8>)>, channel: u8, program: u8| match used.iter_mut().find(|(c, _)| *c == channel) {
            Some((_, programs)) => programs.push(program),
            None => used.push((channel, vec![program])),
        };
    for track in song.tracks.iter().filter(|t| t.channel != DRUM_CHANNEL) {
        place(&mut used, track.channel, track.program);
    }
    programs
        .iter()
        .map(|&program| {
            let free = (0..16u8).rev().find(|&c| c != DRUM_CHANNEL && !used.iter().any(|(u, _)| *u == c));
            let channel = free
                .or_else(|| used.iter().find(|(_, p)| p.contains(&program)).map(|(c, _)| *c))
                .or_else(|| used.iter().min_by_key(|(_, p)| p.len()).map(|(c, _)| *c))
                .unwrap_or(15);
            place(&mut used, channel, program);
            channel
        })
        .collect()
}

/// A grid note as a song note, its grid time counted from song tick `at`.
pub(crate) fn song_note(note: &GridNote, at: u64, ppq: u64) -> Note {
    let start = at + u64::from(note.start) * ppq / u64::from(TICKS_PER_QUARTER);
    let length = (u64::from(note.duration) * ppq / u64::from(TICKS_PER_QUARTER)).max(1);
    Note::new(start, length, note.pitch, note.velocity)
}

/// A continuation's grid notes as song tracks, one per instrument, placed from tick `at`.
pub fn variation_tracks(song: &Song, notes: &[GridNote], at: u64, label: &str) -> Variation {
    let ppq = u64::from(song.ppq.max(1));
    let mut instruments: Vec<Instrument> = notes.iter().map(|n| n.instrument).collect();
    instruments.sort();
    instruments.dedup();
    let programs: Vec<u8> = instruments.iter().map(|i| i.program()).collect();
    let channels = channels_for(song, &programs);
    instruments
        .iter()
        .zip(channels)
        .map(|(&instrument, channel)| {
            let mut track = Track::new(format!("{label} ({})", instrument.name()), instrument.program(), channel);
            for n in notes.iter().filter(|n| n.instrument == instrument) {
                track.insert_note(song_note(n, at, ppq));
            }
            track
        })
        .collect()
}
