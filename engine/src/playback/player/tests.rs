//! The player against the built-in synth: where notes sound, the playhead, loops, the count-in,
//! previews, MIDI out and the keyboard.

use std::sync::Arc;

use super::*;
use crate::song::{Note, Track};
use crate::synth::BuiltinSynth;

const RATE: u32 = 8000;

fn song() -> Arc<Song> {
    let mut song = Song::new(480);
    let mut track = Track::new("Lead", 0, 0);
    track.insert_note(Note::new(0, 480, 60, 100));
    track.insert_note(Note::new(1920, 480, 67, 100));
    song.tracks.push(track);
    Arc::new(song)
}

fn player() -> Arc<Player> {
    let player = Player::new(RATE);
    player.set_synth(Box::new(BuiltinSynth::new(RATE)));
    player.set_song(song());
    player
}

fn pull(player: &Player, frames: usize) -> Vec<f32> {
    let (mut l, mut r) = (vec![0.0; frames], vec![0.0; frames]);
    for (lc, rc) in l.chunks_mut(256).zip(r.chunks_mut(256)) {
        player.render(lc, rc);
    }
    l
}

fn rms(a: &[f32]) -> f32 {
    (a.iter().map(|s| s * s).sum::<f32>() / a.len().max(1) as f32).sqrt()
}

#[test]
fn playhead_follows_rendered_frames() {
    let player = player();
    let status = player.status();
    player.play();
    pull(&player, RATE as usize / 2); // 0.5 s at 120 BPM = one beat
    assert!(status.is_playing());
    assert_eq!(status.position_tick(), 480);
    player.pause();
    pull(&player, RATE as usize);
    assert_eq!(status.position_tick(), 480, "the playhead moved while paused");
}

#[test]
fn plays_notes_where_they_are() {
    let player = player();
    player.play();
    let audio = pull(&player, RATE as usize * 3);
    assert!(rms(&audio[400..3600]) > 0.01, "first note silent");
    assert!(rms(&audio[6000..15900]) < 1e-4, "gap not silent");
    assert!(rms(&audio[16400..19600]) > 0.01, "second note silent");
}

#[test]
fn seeking_jumps_and_stops_at_the_end() {
    let player = player();
    let status = player.status();
    player.seek(1920);
    player.play();
    let audio = pull(&player, RATE as usize / 4);
    assert!(rms(&audio) > 0.01, "note after the seek point silent");
    pull(&player, RATE as usize * 3);
    assert!(!status.is_playing(), "playback ran past the end");
}

#[test]
fn loops_between_ticks() {
    let player = player();
    let status = player.status();
    player.set_settings(TransportSettings { loop_ticks: Some((0, 960)), ..Default::default() });
    player.play();
    pull(&player, RATE as usize * 5 / 4); // 2.5 beats
    assert!(status.is_playing());
    assert_eq!(status.position_tick(), 240, "loop did not wrap to its start");
}

#[test]
fn count_in_holds_the_playhead_and_clicks() {
    let player = Player::new(RATE);
    player.set_synth(Box::new(BuiltinSynth::new(RATE)));
    player.set_song(Arc::new(Song::new(480))); // empty: anything heard is the metronome
    let status = player.status();
    player.set_settings(TransportSettings {
        metronome: true,
        count_in_bars: 1,
        run_past_end: true,
        ..Default::default()
    });
    player.play();
    let audio = pull(&player, RATE as usize); // half of a 4/4 bar at 120 BPM
    assert!(status.is_counting_in());
    assert_eq!(status.position_tick(), 0);
    assert!(rms(&audio[..800]) > 0.005, "no click at the count-in's first beat");
    pull(&player, RATE as usize + 8);
    assert!(!status.is_counting_in());
    assert!(status.position_tick() > 0);
}

#[test]
fn previews_sound_while_stopped_and_end_by_themselves() {
    let player = player();
    player.preview(0, false, 72, 100);
    let audio = pull(&player, RATE as usize);
    assert!(rms(&audio[..1600]) > 0.01, "preview silent");
    assert!(rms(&audio[RATE as usize - 800..]) < 1e-3, "preview did not stop");
}

#[test]
fn the_song_also_goes_to_a_midi_output() {
    let player = player();
    let (tx, rx) = crossbeam_channel::unbounded();
    player.set_midi_out(Some(Box::new(move |bytes| {
        let _ = tx.send(bytes);
    })));
    player.play();
    pull(&player, RATE as usize * 3);
    // Disconnecting hands everything written so far to the sink first.
    player.set_midi_out(None);
    let sent: Vec<[u8; 3]> = rx.try_iter().collect();
    let notes: Vec<[u8; 3]> = sent.iter().copied().filter(|m| m[0] & 0xE0 == 0x80).collect();
    assert_eq!(notes, vec![[0x90, 60, 100], [0x80, 60, 0], [0x90, 67, 100], [0x80, 67, 0]]);
    assert!(sent.contains(&[0xC0, 0, 0]), "program change missing");
}

#[test]
fn live_messages_play_at_once() {
    let player = player();
    player.live_sender().send(LiveMessage::note_on(LIVE_CHANNEL, 64, 100)).unwrap();
    let audio = pull(&player, 1600);
    assert!(rms(&audio) > 0.01);
}
