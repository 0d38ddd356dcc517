//! A small built-in GM-ish synthesiser so Cadenza always makes sound, even without a
//! SoundFont: additive voices with an envelope shaped by instrument family, noise drums.

use super::Synth;

const MAX_VOICES: usize = 64;
const BEND_RANGE_SEMITONES: f32 = 2.0;

#[derive(Clone, Copy)]
struct Channel {
    program: u8,
    volume: f32,
    pan: f32,
    /// Frequency multiplier from pitch bend.
    bend_ratio: f32,
}

impl Default for Channel {
    fn default() -> Self {
        Self { program: 0, volume: 100.0 / 127.0, pan: 0.5, bend_ratio: 1.0 }
    }
}

/// How a family sounds: partial amplitudes and envelope times.
#[derive(Clone, Copy)]
struct Timbre {
    partials: [f32; 4],
    attack: f32,
    /// Per-second decay of the sustain level (0 = organ-like hold).
    decay_per_second: f32,
    release: f32,
}

fn timbre(program: u8) -> Timbre {
    match program / 8 {
        0 | 1 => Timbre { partials: [1.0, 0.45, 0.2, 0.1], attack: 0.003, decay_per_second: 1.6, release: 0.25 },
        2 => Timbre { partials: [1.0, 0.6, 0.4, 0.3], attack: 0.01, decay_per_second: 0.0, release: 0.08 },
        3 | 4 => Timbre { partials: [1.0, 0.5, 0.3, 0.1], attack: 0.004, decay_per_second: 2.0, release: 0.15 },
        5 | 6 => Timbre { partials: [1.0, 0.5, 0.33, 0.25], attack: 0.06, decay_per_second: 0.0, release: 0.3 },
        7..=9 => Timbre { partials: [1.0, 0.3, 0.15, 0.05], attack: 0.03, decay_per_second: 0.0, release: 0.12 },
        _ => Timbre { partials: [1.0, 0.5, 0.33, 0.25], attack: 0.01, decay_per_second: 0.3, release: 0.2 },
    }
}

#[derive(Clone, Copy)]
struct Voice {
    channel: u8,
    key: u8,
    drum: bool,
    phase: f32,
    base_hz: f32,
    amplitude: f32,
    timbre: Timbre,
    age: f32,
    released_at: Option<f32>,
    level_at_release: f32,
    noise: u32,
}

impl Voice {
    fn envelope(&self) -> f32 {
        let t = &self.timbre;
        let held =
            if self.age < t.attack { self.age / t.attack } else { (-(self.age - t.attack) * t.decay_per_second).exp() };
        match self.released_at {
            None => held,
            Some(at) => self.level_at_release * (1.0 - (self.age - at) / t.release).max(0.0),
        }
    }

    fn finished(&self) -> bool {
        match self.released_at {
            Some(at) => self.age - at >= self.timbre.release,
            None => self.drum && self.age > 1.0,
        }
    }
}

pub struct BuiltinSynth {
    sample_rate: u32,
    channels: [Channel; 16],
    voices: Vec<Voice>,
}

impl BuiltinSynth {
    pub fn new(sample_rate: u32) -> Self {
        Self {
            sample_rate: sample_rate.max(8000),
            channels: [Channel::default(); 16],
            voices: Vec::with_capacity(MAX_VOICES),
        }
    }

    fn note_on(&mut self, channel: u8, key: u8, velocity: u8) {
        if velocity == 0 {
            self.note_off(channel, key);
            return;
        }
        if self.voices.len() >= MAX_VOICES {
            self.voices.remove(0);
        }
        let drum = channel == crate::song::DRUM_CHANNEL;
        let program = self.channels[usize::from(channel)].program;
        let timbre = if drum {
            Timbre { partials: [1.0, 0.0, 0.0, 0.0], attack: 0.001, decay_per_second: 9.0, release: 0.05 }
        } else {
            timbre(program)
        };
        let v = f32::from(velocity) / 127.0;
        self.voices.push(Voice {
            channel,
            key,
            drum,
            phase: 0.0,
            base_hz: 440.0 * 2f32.powf((f32::from(key) - 69.0) / 12.0),
            amplitude: 0.25 * v * v,
            timbre,
            age: 0.0,
            released_at: None,
            level_at_release: 0.0,
            noise: 0x1234_5678 ^ u32::from(key) << 8,
        });
    }

    fn note_off(&mut self, channel: u8, key: u8) {
        for voice in self.voices.iter_mut().filter(|v| v.channel == channel && v.key == key && v.released_at.is_none())
        {
            voice.level_at_release = voice.envelope();
            voice.released_at = Some(voice.age);
        }
    }
}

impl Synth for BuiltinSynth {
    fn midi(&mut self, channel: u8, command: u8, data1: u8, data2: u8) {
        let channel = channel & 0x0F;
        let ch = &mut self.channels[usize::from(channel)];
        match command & 0xF0 {
            0x80 => self.note_off(channel, data1),
            0x90 => self.note_on(channel, data1, data2),
            0xB0 => match data1 {
                7 => ch.volume = f32::from(data2.min(127)) / 127.0,
                10 => ch.pan = f32::from(data2.min(127)) / 127.0,
                0x78 => self.voices.retain(|v| v.channel != channel),
                // All notes off: release every held voice of the channel (in place: this runs
                // on the audio thread, which must not allocate).
                0x7B => {
                    for voice in self.voices.iter_mut().filter(|v| v.channel == channel && v.released_at.is_none()) {
                        voice.level_at_release = voice.envelope();
                        voice.released_at = Some(voice.age);
                    }
                }
                _ => {}
            },
            0xC0 => ch.program = data1 & 0x7F,
            0xE0 => {
                let value = (i32::from(data2 & 0x7F) << 7 | i32::from(data1 & 0x7F)) - 8192;
                ch.bend_ratio = 2f32.powf(value as f32 / 8192.0 * BEND_RANGE_SEMITONES / 12.0);
            }
            _ => {}
        }
    }

    fn render(&mut self, left: &mut [f32], right: &mut [f32]) {
        left.fill(0.0);
        right.fill(0.0);
        let dt = 1.0 / self.sample_rate as f32;
        for voice in &mut self.voices {
            let ch = self.channels[usize::from(voice.channel)];
            let (gain_l, gain_r) = ((1.0 - ch.pan).sqrt(), ch.pan.sqrt());
            let hz = voice.base_hz * ch.bend_ratio;
            for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                let env = voice.envelope();
                let sample = if voice.drum {
                    voice.noise ^= voice.noise << 13;
                    voice.noise ^= voice.noise >> 17;
                    voice.noise ^= voice.noise << 5;
                    let noise = (voice.noise as f32 / u32::MAX as f32) * 2.0 - 1.0;
                    let body = (voice.phase * std::f32::consts::TAU).sin();
                    if voice.key <= 36 { body } else { 0.6 * noise + 0.4 * body }
                } else {
                    let p = voice.phase * std::f32::consts::TAU;
                    voice.timbre.partials.iter().enumerate().map(|(i, a)| a * (p * (i + 1) as f32).sin()).sum::<f32>()
                        * 0.5
                };
                let s = sample * env * voice.amplitude * ch.volume;
                *l += s * gain_l;
                *r += s * gain_r;
                let step = if voice.drum { hz.min(200.0) } else { hz };
                voice.phase = (voice.phase + step * dt).fract();
                voice.age += dt;
            }
        }
        self.voices.retain(|v| !v.finished());
    }

    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }
}
