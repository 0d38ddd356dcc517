//! The MusicVAE melody encoding: one token per 16th note, each either a note-on of one of the
//! 88 piano pitches, a note-off, or "hold" (keep doing what the previous step did).
//!
//! Turning notes into this encoding quantises them to 16th notes and keeps the top line: at every
//! step the highest sounding note wins, which leaves single-line tunes as they are and takes the
//! top voice of polyphonic works.

/// Lowest and highest pitch the encoding can hold (the piano's range, as MusicVAE uses).
pub const MIN_PITCH: u8 = 21;
pub const MAX_PITCH: u8 = 108;
/// Keep sounding (or keep resting).
pub const HOLD: u32 = 0;
/// End the sounding note.
pub const OFF: u32 = 1;
/// Number of token classes: hold, off and one note-on per pitch.
pub const CLASSES: usize = 2 + (MAX_PITCH - MIN_PITCH + 1) as usize;
pub const STEPS_PER_QUARTER: usize = 4;
/// A "bar" of the encoding is four quarters (16 steps) whatever the metre, as in MusicVAE.
pub const STEPS_PER_BAR: usize = 16;

/// A note with its times in quarter notes (fractions allowed: unquantised input is fine).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimedNote {
    pub pitch: u8,
    pub start: f64,
    pub end: f64,
    pub velocity: u8,
}

/// The note-on token of a pitch; pitches outside the piano are moved by octaves into it.
pub fn note_on(pitch: u8) -> u32 {
    let mut p = pitch;
    while p < MIN_PITCH {
        p += 12;
    }
    while p > MAX_PITCH {
        p -= 12;
    }
    2 + u32::from(p - MIN_PITCH)
}

/// The pitch of a note-on token, `None` for hold and off.
pub fn pitch_of(token: u32) -> Option<u8> {
    (2..CLASSES as u32).contains(&token).then(|| MIN_PITCH + (token - 2) as u8)
}

/// A melody as tokens, one per 16th-note step.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Melody {
    pub tokens: Vec<u32>,
}

impl Melody {
    /// Quantises `notes` to 16th notes and keeps the top line. Notes shorter than a step last
    /// one step; the melody ends where the last note does.
    pub fn top_line(notes: &[TimedNote]) -> Self {
        let quantised: Vec<(u32, usize, usize)> = notes
            .iter()
            .filter(|n| n.end > n.start && n.start.is_finite() && n.end.is_finite() && n.start >= 0.0)
            .map(|n| {
                let start = (n.start * STEPS_PER_QUARTER as f64).round() as usize;
                let end = ((n.end * STEPS_PER_QUARTER as f64).round() as usize).max(start + 1);
                (note_on(n.pitch), start, end)
            })
            .collect();
        let length = quantised.iter().map(|&(_, _, end)| end).max().unwrap_or(0);
        // The note (index into `quantised`) heard at each step: the highest sounding one; among
        // equal pitches the one that started first, so a doubled voice does not re-strike it.
        let mut owner: Vec<Option<usize>> = vec![None; length];
        for (i, &(token, start, end)) in quantised.iter().enumerate() {
            for slot in &mut owner[start..end] {
                let wins = match *slot {
                    None => true,
                    Some(j) => {
                        let (other, other_start, _) = quantised[j];
                        token > other || (token == other && start < other_start)
                    }
                };
                if wins {
                    *slot = Some(i);
                }
            }
        }
        let mut tokens = Vec::with_capacity(length);
        for step in 0..length {
            let previous = step.checked_sub(1).and_then(|s| owner[s]);
            tokens.push(match (owner[step], previous) {
                (None, Some(_)) => OFF,
                (None, None) => HOLD,
                (Some(now), Some(before)) if now == before => HOLD,
                // Another voice takes over at the same pitch without striking: it is heard as
                // the same note going on.
                (Some(now), Some(before)) if quantised[now].0 == quantised[before].0 && quantised[now].1 < step => HOLD,
                (Some(now), _) => quantised[now].0,
            });
        }
        Self { tokens }
    }

    /// The notes this melody plays, `step_quarters` apart from `offset` (in quarters).
    pub fn to_notes(&self, offset: f64, velocity: u8) -> Vec<TimedNote> {
        let step = 1.0 / STEPS_PER_QUARTER as f64;
        let mut notes = Vec::new();
        let mut sounding: Option<(u8, usize)> = None;
        let close = |notes: &mut Vec<TimedNote>, sounding: Option<(u8, usize)>, at: usize| {
            if let Some((pitch, start)) = sounding {
                notes.push(TimedNote {
                    pitch,
                    start: offset + start as f64 * step,
                    end: offset + at as f64 * step,
                    velocity,
                });
            }
        };
        for (i, &token) in self.tokens.iter().enumerate() {
            if token == OFF {
                close(&mut notes, sounding.take(), i);
            } else if let Some(pitch) = pitch_of(token) {
                close(&mut notes, sounding.take(), i);
                sounding = Some((pitch, i));
            }
        }
        close(&mut notes, sounding, self.tokens.len());
        notes
    }

    /// How many notes start in this melody.
    pub fn note_count(&self) -> usize {
        self.tokens.iter().filter(|&&t| pitch_of(t).is_some()).count()
    }

    /// Moves every note by `semitones`, or `None` if a note would leave the piano.
    pub fn transposed(&self, semitones: i32) -> Option<Self> {
        let tokens = self
            .tokens
            .iter()
            .map(|&t| match pitch_of(t) {
                None => Some(t),
                Some(p) => {
                    let moved = i32::from(p) + semitones;
                    (i32::from(MIN_PITCH)..=i32::from(MAX_PITCH)).contains(&moved).then(|| note_on(moved as u8))
                }
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self { tokens })
    }

    /// A copy exactly `steps` long: cut, or padded with rests (an off first if a note sounds).
    pub fn fitted(&self, steps: usize) -> Self {
        let mut tokens: Vec<u32> = self.tokens.iter().copied().take(steps).collect();
        if tokens.len() < steps {
            let sounding = tokens.iter().rev().find(|&&t| t != HOLD).is_some_and(|&t| t != OFF);
            if sounding {
                tokens.push(OFF);
            }
            tokens.resize(steps, HOLD);
        }
        Self { tokens }
    }
}

/// Which windows of a melody are worth learning from: windows of `bars` bars starting on every
/// bar, with at least one note-on per bar on average and no silence of a bar or more (the
/// gaps MusicVAE splits melodies at). The first token of a window that starts inside a
/// note is a hold, which the encoding reads as a rest: the note is cut at the window's edge.
pub fn training_windows(melody: &Melody, bars: usize) -> Vec<Melody> {
    let steps = bars * STEPS_PER_BAR;
    let mut windows = Vec::new();
    let mut start = 0;
    while start + steps <= melody.tokens.len() {
        let window = Melody { tokens: melody.tokens[start..start + steps].to_vec() };
        if window.note_count() >= bars && longest_rest(&window) < STEPS_PER_BAR {
            windows.push(window);
        }
        start += STEPS_PER_BAR;
    }
    windows
}

/// The longest run of steps in which nothing sounds.
fn longest_rest(melody: &Melody) -> usize {
    let (mut longest, mut run, mut sounding) = (0, 0, false);
    for &token in &melody.tokens {
        if token == OFF {
            sounding = false;
        } else if token != HOLD {
            sounding = true;
        }
        run = if sounding { 0 } else { run + 1 };
        longest = longest.max(run);
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(pitch: u8, start: f64, end: f64) -> TimedNote {
        TimedNote { pitch, start, end, velocity: 90 }
    }

    #[test]
    fn a_single_line_round_trips_through_tokens() {
        let notes = vec![note(60, 0.0, 1.0), note(62, 1.0, 1.5), note(64, 2.0, 4.0)];
        let melody = Melody::top_line(&notes);
        assert_eq!(melody.tokens.len(), 16);
        assert_eq!(melody.tokens[0], note_on(60));
        assert_eq!(melody.tokens[4], note_on(62));
        assert_eq!(melody.tokens[6], OFF);
        assert_eq!(melody.to_notes(0.0, 90), notes);
    }

    #[test]
    fn the_top_voice_wins_and_a_lower_voice_shows_when_it_rests() {
        // Soprano C5 for a quarter, rest; alto G4 held for a half note.
        let notes = vec![note(72, 0.0, 1.0), note(67, 0.0, 2.0)];
        let melody = Melody::top_line(&notes);
        let back = melody.to_notes(0.0, 90);
        assert_eq!(back, vec![note(72, 0.0, 1.0), note(67, 1.0, 2.0)]);
    }

    #[test]
    fn unquantised_notes_snap_to_sixteenths() {
        let notes = vec![note(60, 0.02, 0.49), note(62, 0.51, 0.98)];
        let back = Melody::top_line(&notes).to_notes(0.0, 90);
        assert_eq!(back, vec![note(60, 0.0, 0.5), note(62, 0.5, 1.0)]);
    }

    #[test]
    fn fitting_pads_with_an_off_and_cuts() {
        let melody = Melody::top_line(&[note(60, 0.0, 1.0)]);
        // The note ends where the clip did: an off there, then rests.
        assert_eq!(melody.fitted(8).tokens[4..], [OFF, HOLD, HOLD, HOLD]);
        let held = Melody { tokens: vec![note_on(60), HOLD] };
        assert_eq!(held.fitted(4).tokens, vec![note_on(60), HOLD, OFF, HOLD]);
        assert_eq!(held.fitted(1).tokens, vec![note_on(60)]);
    }

    #[test]
    fn transposition_keeps_rhythm_and_refuses_to_leave_the_piano() {
        let melody = Melody::top_line(&[note(60, 0.0, 1.0), note(100, 1.0, 2.0)]);
        let up = melody.transposed(3).expect("in range");
        assert_eq!(pitch_of(up.tokens[0]), Some(63));
        assert_eq!(up.tokens[1..4], melody.tokens[1..4]);
        assert!(melody.transposed(9).is_none());
    }

    #[test]
    fn windows_skip_long_silences() {
        let mut notes: Vec<TimedNote> = (0..16).map(|i| note(60 + (i % 5) as u8, i as f64, i as f64 + 1.0)).collect();
        // Bars 4 and 5 (quarters 16..24) are silent, then four more bars of notes.
        notes.extend((24..40).map(|i| note(62, i as f64, i as f64 + 1.0)));
        let melody = Melody::top_line(&notes);
        let windows = training_windows(&melody, 2);
        // Windows start on bars 0..=8; those touching the silent bars 4-5 are dropped.
        assert_eq!(windows.len(), 3 + 3);
        assert!(windows.iter().all(|w| w.tokens.len() == 32));
    }
}
