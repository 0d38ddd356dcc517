//! Sound: a General MIDI synthesiser behind one trait, fed by the offline renderer now and by
//! live playback in the app. A SoundFont (through rustysynth) when one can be found, otherwise
//! a small built-in synth so there is always sound.

mod builtin;
mod render;
pub mod schedule;
mod soundfont;

pub use builtin::BuiltinSynth;
pub use render::{RenderBlockError, RenderError, RenderOptions, render_song, render_to_wav};
pub use soundfont::{
    SYSTEM_SOUNDFONT_PATHS, SoundFontChoice, SoundFontError, SoundFontSource, SynthInfo, load_synth, locate_soundfont,
};

/// A synthesiser that takes MIDI channel messages and renders stereo audio.
pub trait Synth: Send {
    /// A MIDI channel message: `command` is the status nibble (0x80, 0x90, 0xB0, 0xC0, 0xE0…).
    fn midi(&mut self, channel: u8, command: u8, data1: u8, data2: u8);
    /// Renders the next `left.len()` frames (both slices have the same length).
    fn render(&mut self, left: &mut [f32], right: &mut [f32]);
    fn sample_rate(&self) -> u32;
    /// Silences every voice at once (stop, panic button).
    fn all_sound_off(&mut self) {
        for channel in 0..16 {
            self.midi(channel, 0xB0, 0x78, 0);
        }
    }
}

/// rustysynth's synthesiser behind the [`Synth`] trait.
pub struct SoundFontSynth(rustysynth::Synthesizer);

impl Synth for SoundFontSynth {
    fn midi(&mut self, channel: u8, command: u8, data1: u8, data2: u8) {
        self.0.process_midi_message(i32::from(channel), i32::from(command), i32::from(data1), i32::from(data2));
    }

    fn render(&mut self, left: &mut [f32], right: &mut [f32]) {
        self.0.render(left, right);
    }

    fn sample_rate(&self) -> u32 {
        u32::try_from(self.0.get_sample_rate()).unwrap_or(44_100)
    }
}
