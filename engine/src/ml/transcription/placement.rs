//! Transcribed notes placed in a song: at a tempo and an offset, optionally quantised and
//! snapped to a scale, with their pitch bends on one channel or spread over several.

use cadenza_models::basic_pitch::stitch;

use crate::protocol::transcription::{NoteEvent, PitchBends, TranscribeOptions};
use crate::song::{BendPoint, DRUM_CHANNEL, Note, Song, TempoChange, Track};
use crate::timing::TempoMap;

/// A new song at the options' tempo holding the notes.
pub fn song_from_events(events: &[NoteEvent], options: &TranscribeOptions, name: &str) -> Song {
    let mut song = Song::new(crate::song::DEFAULT_PPQ);
    let micros = (60_000_000.0 / options.tempo_bpm.clamp(20.0, 400.0)).round() as u32;
    song.tempos = vec![TempoChange { tick: 0, micros_per_quarter: micros }];
    let map = TempoMap::for_song(&song);
    song.tracks = tracks_from_events(events, options, &map, name, &Placement::default());
    song
}

/// Where and how transcribed notes land in a song.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Placement {
    /// Song time of the audio's start (a take recorded at bar 5 lands at bar 5).
    pub offset_seconds: f64,
    /// Snap note starts and ends to this grid (ticks).
    pub quantise_ticks: Option<u64>,
    /// Move every pitch to the nearest note of this scale.
    pub scale: Option<Scale>,
}

/// A major or natural minor scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// Pitch class of the tonic, 0 = C.
    pub root: u8,
    pub minor: bool,
}

impl Scale {
    const MAJOR: [u8; 7] = [0, 2, 4, 5, 7, 9, 11];
    const MINOR: [u8; 7] = [0, 2, 3, 5, 7, 8, 10];

    pub fn contains(&self, pitch: u8) -> bool {
        let degree = (pitch + 12 - self.root % 12) % 12;
        if self.minor { Self::MINOR.contains(&degree) } else { Self::MAJOR.contains(&degree) }
    }

    /// The nearest pitch in the scale (the lower one when two are equally near).
    pub fn snap(&self, pitch: u8) -> u8 {
        if self.contains(pitch) {
            return pitch;
        }
        if pitch > 0 && self.contains(pitch - 1) { pitch - 1 } else { pitch.saturating_add(1).min(127) }
    }
}

/// The notes as tracks of a song with this tempo map: one track, or one per channel for
/// [`PitchBends::Multi`].
pub fn tracks_from_events(
    events: &[NoteEvent],
    options: &TranscribeOptions,
    map: &TempoMap,
    name: &str,
    placement: &Placement,
) -> Vec<Track> {
    let tick = |frame: usize| {
        let seconds = placement.offset_seconds + stitch::frame_to_seconds(frame, options.mode);
        map.seconds_to_tick(seconds.max(0.0))
    };
    let snap = |t: u64| match placement.quantise_ticks {
        Some(grid) if grid > 0 => (t + grid / 2) / grid * grid,
        _ => t,
    };
    let notes: Vec<Note> = events
        .iter()
        .map(|e| {
            let start = snap(tick(e.start));
            let end = snap(tick(e.end)).max(start + placement.quantise_ticks.unwrap_or(1).max(1));
            let velocity = (127.0 * e.amplitude).round().clamp(1.0, 127.0) as u8;
            let pitch = placement.scale.map_or(e.pitch, |s| s.snap(e.pitch));
            let mut note = Note::new(start, end - start, pitch, velocity);
            if options.pitch_bends != PitchBends::None {
                note.bend = bend_points(e, start, &tick);
            }
            note
        })
        .collect();
    match options.pitch_bends {
        PitchBends::None | PitchBends::Single => {
            let mut track = Track::new(name, 0, 0);
            let mut notes = notes;
            drop_overlapping_bends(&mut notes);
            for note in notes {
                track.insert_note(note);
            }
            vec![track]
        }
        PitchBends::Multi => voices(notes, name),
    }
}

/// Bends (thirds of a semitone per frame) as points where the value changes, in the 14-bit
/// units of a ±2-semitone bend range.
fn bend_points(e: &NoteEvent, start_tick: u64, tick: &dyn Fn(usize) -> u64) -> Vec<BendPoint> {
    let mut points: Vec<BendPoint> = Vec::new();
    let mut last = 0i16;
    for (i, &b) in e.bends.iter().enumerate() {
        let value = (f64::from(b) * 4096.0 / 3.0).round().clamp(-8192.0, 8191.0) as i16;
        if value != last {
            points.push(BendPoint { offset: tick(e.start + i).saturating_sub(start_tick), value });
            last = value;
        }
    }
    points
}

/// Notes that sound together cannot each have their own bend on one channel.
fn drop_overlapping_bends(notes: &mut [Note]) {
    notes.sort();
    let mut latest_end = 0u64;
    let mut latest_index: Option<usize> = None;
    for i in 0..notes.len() {
        if latest_index.is_some() && notes[i].start < latest_end {
            notes[i].bend.clear();
            if let Some(j) = latest_index {
                notes[j].bend.clear();
            }
        }
        if notes[i].end() > latest_end {
            latest_end = notes[i].end();
            latest_index = Some(i);
        }
    }
    // Any earlier note a note overlaps either is the latest-ending one so far or was itself
    // overlapped (and cleared) when it came.
}

/// Spreads notes over channels so no two sounding notes share one (at most 15; the drum
/// channel is skipped). A note that finds no free channel goes to the one freed first and loses
/// its bends there.
fn voices(mut notes: Vec<Note>, name: &str) -> Vec<Track> {
    let channels: Vec<u8> = (0..16u8).filter(|&c| c != DRUM_CHANNEL).collect();
    notes.sort();
    let mut tracks: Vec<Track> = Vec::new();
    let mut busy_until: Vec<u64> = Vec::new();
    for mut note in notes {
        let free = busy_until.iter().position(|&end| end <= note.start);
        let voice = match free {
            Some(v) => v,
            None if tracks.len() < channels.len() => {
                let v = tracks.len();
                tracks.push(Track::new(format!("{name} · voice {}", v + 1), 0, channels[v]));
                busy_until.push(0);
                v
            }
            None => {
                note.bend.clear();
                (0..busy_until.len()).min_by_key(|&v| busy_until[v]).unwrap_or(0)
            }
        };
        busy_until[voice] = busy_until[voice].max(note.end());
        tracks[voice].insert_note(note);
    }
    if tracks.len() == 1 {
        tracks[0].name = name.to_string();
    }
    tracks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::transcription::min_note_frames;

    #[test]
    fn minimum_length_rounds_as_upstream() {
        assert_eq!(min_note_frames(127.70), 11);
        assert_eq!(min_note_frames(58.0), 5);
    }

    fn event(start: usize, end: usize, pitch: u8, bend: i32) -> NoteEvent {
        NoteEvent { start, end, pitch, amplitude: 0.5, bends: vec![bend; end - start] }
    }

    #[test]
    fn bends_become_points_where_they_change() {
        let mut e = event(0, 6, 60, 0);
        e.bends = vec![0, 0, 1, 1, -1, 0];
        let options = TranscribeOptions::default();
        let song = song_from_events(&[e], &options, "t");
        let bend: Vec<i16> = song.tracks[0].notes[0].bend.iter().map(|p| p.value).collect();
        assert_eq!(bend, vec![1365, -1365, 0]);
        assert!(song.tracks[0].notes[0].bend.windows(2).all(|w| w[0].offset < w[1].offset));
    }

    #[test]
    fn overlapping_notes_lose_bends_on_one_channel_and_keep_them_on_many() {
        let events = [event(0, 100, 60, 1), event(50, 150, 64, -1), event(200, 300, 67, 1)];
        let single = song_from_events(&events, &TranscribeOptions::default(), "t");
        assert_eq!(single.tracks.len(), 1);
        let with_bends: Vec<u8> =
            single.tracks[0].notes.iter().filter(|n| !n.bend.is_empty()).map(|n| n.pitch).collect();
        assert_eq!(with_bends, vec![67]);

        let multi = TranscribeOptions { pitch_bends: PitchBends::Multi, ..Default::default() };
        let song = song_from_events(&events, &multi, "t");
        assert_eq!(song.tracks.len(), 2, "two voices for two overlapping notes");
        assert!(song.tracks.iter().all(|t| t.notes.iter().all(|n| !n.bend.is_empty())));
        assert_ne!(song.tracks[0].channel, song.tracks[1].channel);

        let none = TranscribeOptions { pitch_bends: PitchBends::None, ..Default::default() };
        assert!(song_from_events(&events, &none, "t").tracks[0].notes.iter().all(|n| n.bend.is_empty()));
    }

    #[test]
    fn placement_offsets_quantises_and_snaps_to_the_scale() {
        // 120 BPM, 480 PPQ: one second is 960 ticks, a frame 11.1 ticks.
        let events = [event(10, 50, 61, 0)];
        let mut song = Song::new(crate::song::DEFAULT_PPQ);
        song.tempos = vec![TempoChange { tick: 0, micros_per_quarter: 500_000 }];
        let map = TempoMap::for_song(&song);
        let options = TranscribeOptions { pitch_bends: PitchBends::None, ..Default::default() };
        let plain = tracks_from_events(&events, &options, &map, "t", &Placement::default());
        let n = &plain[0].notes[0];
        assert_eq!((n.start, n.pitch), (111, 61));
        let placement =
            Placement { offset_seconds: 2.0, quantise_ticks: Some(120), scale: Some(Scale { root: 0, minor: false }) };
        let placed = tracks_from_events(&events, &options, &map, "t", &placement);
        let n = &placed[0].notes[0];
        assert_eq!(n.start, 1920 + 120, "2 s later, on the 1/16 grid");
        assert_eq!(n.start % 120, 0);
        assert_eq!(n.length % 120, 0);
        assert_eq!(n.pitch, 60, "C# is not in C major; the lower neighbour wins the tie");
        assert_eq!(Scale { root: 9, minor: true }.snap(66), 65, "F# → F in A minor");
    }
}
