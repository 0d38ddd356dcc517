//! Tick ↔ seconds ↔ bars:beats conversions through the song's tempo and time-signature maps.

use crate::song::{Song, TempoChange, TimeSignatureChange};

/// A musical position: 1-based bar and beat, and ticks into the beat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarBeat {
    pub bar: u64,
    pub beat: u64,
    pub tick: u64,
}

impl std::fmt::Display for BarBeat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{:03}", self.bar, self.beat, self.tick)
    }
}

/// Seconds at which each tempo segment starts, so conversions are a binary search.
#[derive(Debug, Clone)]
pub struct TempoMap {
    ppq: f64,
    /// (start tick, start second, seconds per tick) per segment, sorted by tick.
    segments: Vec<(u64, f64, f64)>,
}

impl TempoMap {
    pub fn new(ppq: u16, tempos: &[TempoChange]) -> Self {
        let ppq = f64::from(ppq.max(1));
        let mut segments = Vec::with_capacity(tempos.len().max(1));
        let mut seconds = 0.0;
        let mut last_tick = 0u64;
        let mut seconds_per_tick = f64::from(crate::song::DEFAULT_MICROS_PER_QUARTER) / 1e6 / ppq;
        for change in tempos {
            seconds += (change.tick.saturating_sub(last_tick)) as f64 * seconds_per_tick;
            last_tick = change.tick.max(last_tick);
            seconds_per_tick = f64::from(change.micros_per_quarter.max(1)) / 1e6 / ppq;
            segments.push((last_tick, seconds, seconds_per_tick));
        }
        if segments.first().is_none_or(|s| s.0 != 0) {
            let default = f64::from(crate::song::DEFAULT_MICROS_PER_QUARTER) / 1e6 / ppq;
            segments.insert(0, (0, 0.0, default));
        }
        Self { ppq, segments }
    }

    pub fn for_song(song: &Song) -> Self {
        Self::new(song.ppq, &song.tempos)
    }

    pub fn ppq(&self) -> f64 {
        self.ppq
    }

    pub fn tick_to_seconds(&self, tick: u64) -> f64 {
        let at = self.segments.partition_point(|s| s.0 <= tick).saturating_sub(1);
        let (start, seconds, per_tick) = self.segments[at];
        seconds + (tick - start) as f64 * per_tick
    }

    /// The tick sounding at `seconds` (rounded to the nearest tick; negative times give 0).
    pub fn seconds_to_tick(&self, seconds: f64) -> u64 {
        if seconds <= 0.0 || !seconds.is_finite() {
            return 0;
        }
        let at = self.segments.partition_point(|s| s.1 <= seconds).saturating_sub(1);
        let (start, start_seconds, per_tick) = self.segments[at];
        start + ((seconds - start_seconds) / per_tick).round() as u64
    }
}

/// Ticks per beat for a time signature (a beat is one denominator note).
pub fn ticks_per_beat(ppq: u16, sig: &TimeSignatureChange) -> u64 {
    (u64::from(ppq) * 4 / u64::from(sig.denominator.max(1))).max(1)
}

/// Ticks per bar for a time signature.
pub fn ticks_per_bar(ppq: u16, sig: &TimeSignatureChange) -> u64 {
    ticks_per_beat(ppq, sig) * u64::from(sig.numerator.max(1))
}

const DEFAULT_SIGNATURE: TimeSignatureChange = TimeSignatureChange { tick: 0, numerator: 4, denominator: 4 };

/// The time signature in force at `tick` (4/4 before the first change).
pub fn signature_at(sigs: &[TimeSignatureChange], tick: u64) -> TimeSignatureChange {
    sigs.iter().rev().find(|s| s.tick <= tick).copied().unwrap_or(DEFAULT_SIGNATURE)
}

/// The bar line at or before `tick`.
pub fn bar_start(ppq: u16, sigs: &[TimeSignatureChange], tick: u64) -> u64 {
    let bar = tick_to_bar_beat(ppq, sigs, tick).bar;
    bar_beat_to_tick(ppq, sigs, BarBeat { bar, beat: 1, tick: 0 })
}

/// The time-signature regions with the (0-based) bar each starts at. A change starts a new
/// bar; before the first change, 4/4 applies.
fn bar_regions(ppq: u16, sigs: &[TimeSignatureChange]) -> Vec<(u64, TimeSignatureChange)> {
    let mut regions = Vec::with_capacity(sigs.len() + 1);
    let mut bar = 0u64;
    let mut previous = DEFAULT_SIGNATURE;
    if sigs.first().is_none_or(|s| s.tick != 0) {
        regions.push((0, DEFAULT_SIGNATURE));
    }
    for sig in sigs {
        if sig.tick > previous.tick {
            bar += (sig.tick - previous.tick).div_ceil(ticks_per_bar(ppq, &previous));
        }
        regions.push((bar, *sig));
        previous = *sig;
    }
    regions
}

/// Converts a tick to bars:beats:ticks.
pub fn tick_to_bar_beat(ppq: u16, sigs: &[TimeSignatureChange], tick: u64) -> BarBeat {
    let regions = bar_regions(ppq, sigs);
    let (first_bar, sig) =
        regions.iter().rev().find(|(_, s)| s.tick <= tick).copied().unwrap_or((0, DEFAULT_SIGNATURE));
    let into = tick - sig.tick;
    let per_bar = ticks_per_bar(ppq, &sig);
    let per_beat = ticks_per_beat(ppq, &sig);
    BarBeat { bar: first_bar + into / per_bar + 1, beat: (into % per_bar) / per_beat + 1, tick: into % per_beat }
}

/// Converts bars:beats:ticks back to a tick (the inverse of [`tick_to_bar_beat`]).
pub fn bar_beat_to_tick(ppq: u16, sigs: &[TimeSignatureChange], pos: BarBeat) -> u64 {
    let target_bar = pos.bar.max(1) - 1;
    let regions = bar_regions(ppq, sigs);
    let (first_bar, sig) =
        regions.iter().rev().find(|(bar, _)| *bar <= target_bar).copied().unwrap_or((0, DEFAULT_SIGNATURE));
    sig.tick
        + (target_bar - first_bar) * ticks_per_bar(ppq, &sig)
        + (pos.beat.max(1) - 1) * ticks_per_beat(ppq, &sig)
        + pos.tick
}

impl Song {
    pub fn tick_to_seconds(&self, tick: u64) -> f64 {
        TempoMap::for_song(self).tick_to_seconds(tick)
    }

    pub fn seconds_to_tick(&self, seconds: f64) -> u64 {
        TempoMap::for_song(self).seconds_to_tick(seconds)
    }

    pub fn tick_to_bar_beat(&self, tick: u64) -> BarBeat {
        tick_to_bar_beat(self.ppq, &self.time_signatures, tick)
    }

    pub fn bar_beat_to_tick(&self, pos: BarBeat) -> u64 {
        bar_beat_to_tick(self.ppq, &self.time_signatures, pos)
    }
}

/// Formats seconds as m:ss.mmm.
pub fn format_seconds(seconds: f64) -> String {
    let total_ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!("{}:{:02}.{:03}", total_ms / 60_000, (total_ms / 1000) % 60, total_ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_follow_tempo_changes() {
        let mut song = Song::new(480);
        song.tempos = vec![
            TempoChange { tick: 0, micros_per_quarter: 500_000 },
            TempoChange { tick: 960, micros_per_quarter: 1_000_000 },
        ];
        assert!((song.tick_to_seconds(480) - 0.5).abs() < 1e-9);
        assert!((song.tick_to_seconds(960) - 1.0).abs() < 1e-9);
        assert!((song.tick_to_seconds(1440) - 2.0).abs() < 1e-9);
        for tick in [0, 1, 479, 960, 1000, 5000] {
            assert_eq!(song.seconds_to_tick(song.tick_to_seconds(tick)), tick);
        }
    }

    #[test]
    fn bars_and_beats_across_signature_changes() {
        let mut song = Song::new(480);
        song.time_signatures = vec![
            TimeSignatureChange { tick: 0, numerator: 4, denominator: 4 },
            TimeSignatureChange { tick: 4 * 1920, numerator: 6, denominator: 8 },
        ];
        assert_eq!(song.tick_to_bar_beat(0), BarBeat { bar: 1, beat: 1, tick: 0 });
        assert_eq!(song.tick_to_bar_beat(1920 + 480 + 5), BarBeat { bar: 2, beat: 2, tick: 5 });
        // 6/8: beat = eighth = 240 ticks, bar = 1440 ticks.
        assert_eq!(song.tick_to_bar_beat(4 * 1920), BarBeat { bar: 5, beat: 1, tick: 0 });
        assert_eq!(song.tick_to_bar_beat(4 * 1920 + 1440 + 250), BarBeat { bar: 6, beat: 2, tick: 10 });
        for tick in [0, 7, 1920, 4 * 1920 - 1, 4 * 1920, 4 * 1920 + 1440 + 250, 100_000] {
            assert_eq!(song.bar_beat_to_tick(song.tick_to_bar_beat(tick)), tick);
        }
    }

    #[test]
    fn format_minutes_seconds() {
        assert_eq!(format_seconds(83.25), "1:23.250");
    }
}
