//! The understanding encoder reads corpus music as one compound token per note, pre-trains
//! (random and adversarial masking) with falling restoration loss and resumes, and fine-tunes
//! to tell a chorale from a tune.

#![cfg(feature = "train")] // trains small models
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::Path;

use burn::tensor::Device;
use cadenza_models::data::{Corpus, read_parts};
use cadenza_models::understanding::dataset::{labelled_passages, load_works};
use cadenza_models::understanding::octuple::{FIELD_VALUES, FIELDS};
use cadenza_models::understanding::train::{
    FineTuneOptions, Masking, PretrainOptions, Schedule, fine_tune_style, pretrain,
};
use cadenza_models::understanding::{STYLE_CLASSES, UnderstandingConfig};
use cadenza_models::data::Split;

mod common;
use common::{CHORALE, write_corpus};

fn tiny() -> UnderstandingConfig {
    UnderstandingConfig::new().with_d_model(32).with_heads(2).with_layers(2).with_d_ff(64).with_max_notes(128).with_dropout(0.0)
}

fn schedule(steps: usize) -> Schedule {
    Schedule {
        batch: 8,
        steps,
        learning_rate: 2e-3,
        warmup_steps: 5,
        min_learning_rate: 2e-4,
        validate_every: 20,
        seed: 3,
        max_transpose: 2,
    }
}

/// The chorale's top part alone, as a standard MIDI file: a tune.
fn write_top_line(path: &Path) {
    let parts = read_parts(&std::fs::read(CHORALE).unwrap()).unwrap();
    let top = parts.iter().max_by_key(|p| p.notes.iter().map(|n| u32::from(n.pitch)).sum::<u32>() / p.notes.len() as u32).unwrap();
    let mut events: Vec<(u32, bool, u8)> = Vec::new();
    for n in &top.notes {
        events.push(((n.start * 480.0) as u32, true, n.pitch));
        events.push(((n.end * 480.0) as u32, false, n.pitch));
    }
    events.sort_by_key(|&(t, on, _)| (t, on));
    let mut track = Vec::new();
    let mut now = 0;
    for (t, on, pitch) in events {
        let message = if on {
            midly::MidiMessage::NoteOn { key: pitch.into(), vel: 80.into() }
        } else {
            midly::MidiMessage::NoteOff { key: pitch.into(), vel: 0.into() }
        };
        track.push(midly::TrackEvent { delta: (t - now).into(), kind: midly::TrackEventKind::Midi { channel: 0.into(), message } });
        now = t;
    }
    track.push(midly::TrackEvent { delta: 0.into(), kind: midly::TrackEventKind::Meta(midly::MetaMessage::EndOfTrack) });
    let smf = midly::Smf { header: midly::Header::new(midly::Format::SingleTrack, midly::Timing::Metrical(480.into())), tracks: vec![track] };
    smf.save(path).unwrap();
}

/// The test corpus plus the chorale's tune as an Essen work in every split.
fn two_style_corpus(dir: &Path) -> Corpus {
    write_corpus(dir);
    let mut manifest = std::fs::read_to_string(dir.join("manifest.jsonl")).unwrap();
    for split in ["train", "valid", "test"] {
        write_top_line(&dir.join(format!("midi/tune-{split}.mid")));
        manifest.push_str(&format!(
            r#"{{"id":"essen/{split}","collection":"essenFolksong","style":"traditional","terms":"test","split":"{split}","midi":"midi/tune-{split}.mid"}}"#
        ));
        manifest.push('\n');
    }
    std::fs::write(dir.join("manifest.jsonl"), manifest).unwrap();
    Corpus::open(dir).unwrap()
}

#[test]
fn a_chorale_is_one_token_per_note_with_every_field_in_range() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = two_style_corpus(dir.path());
    let works = load_works(&corpus, Split::Test);
    assert_eq!(works.len(), 2);
    let chorale = works.iter().find(|w| w.style == Some(4)).expect("the chorale is Bach's");
    let tune = works.iter().find(|w| w.style == Some(0)).expect("the tune is Essen's");
    let passages = labelled_passages(&works, 16, 512, usize::MAX);
    let notes_in_passages: usize = passages.iter().filter(|p| p.class == 4).map(|p| p.tokens.len()).sum();
    assert_eq!(notes_in_passages, chorale.grid.notes.len(), "every note of the chorale is in one passage");
    assert!(tune.grid.notes.len() * 3 < chorale.grid.notes.len());
    for p in &passages {
        assert_eq!(p.tokens.len(), p.notes.len());
        for (t, n) in p.tokens.iter().zip(&p.notes) {
            assert_eq!(t[2], u32::from(n.pitch));
            assert_eq!(t[0], n.start / p.bar_ticks);
            for f in 0..FIELDS {
                assert!(t[f] < FIELD_VALUES[f]);
            }
        }
        assert!(p.tokens.windows(2).all(|w| (w[0][0], w[0][1]) <= (w[1][0], w[1][1])), "time order");
    }
    assert_eq!(STYLE_CLASSES[4], "bach");
}

#[test]
fn pre_training_restores_hidden_notes_better_and_resumes_with_either_masking() {
    for masking in [Masking::Random, Masking::Adversarial] {
        let dir = tempfile::tempdir().unwrap();
        let corpus = two_style_corpus(&dir.path().join("corpus"));
        let out = dir.path().join("run");
        let options =
            PretrainOptions { schedule: schedule(40), masking, mask_fraction: 0.15, masker_entropy: 0.01, validation_windows: 8 };
        let first = pretrain(&corpus, tiny(), options.clone(), &out, &Device::flex(), |_, _| {}, |_| {}).unwrap();
        assert_eq!(first.step, 40);
        assert!(out.join("encoder.bpk").exists());
        let more = PretrainOptions { schedule: schedule(60), ..options.clone() };
        let resumed = pretrain(&corpus, tiny(), more.clone(), &out, &Device::flex(), |_, _| {}, |_| {}).unwrap();
        let history: Vec<f64> = resumed.history.iter().map(|p| p.valid_nll_balanced).collect();
        assert_eq!(history.len(), 3, "{masking:?}: {history:?}");
        assert!(history[2] < history[0] - 0.3, "{masking:?}: restoration NLL {history:?}");
        let other = PretrainOptions {
            masking: if masking == Masking::Random { Masking::Adversarial } else { Masking::Random },
            ..more
        };
        assert!(
            pretrain(&corpus, tiny(), other, &out, &Device::flex(), |_, _| {}, |_| {}).is_err(),
            "{masking:?}: a run with the other masking must not resume this one"
        );
    }
}

#[test]
fn fine_tuning_from_pre_training_tells_a_chorale_from_a_tune() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = two_style_corpus(&dir.path().join("corpus"));
    let pretrained = dir.path().join("pretrained");
    let options = PretrainOptions {
        schedule: schedule(20),
        masking: Masking::Adversarial,
        mask_fraction: 0.15,
        masker_entropy: 0.01,
        validation_windows: 4,
    };
    pretrain(&corpus, tiny(), options, &pretrained, &Device::flex(), |_, _| {}, |_| {}).unwrap();
    let options = FineTuneOptions { schedule: schedule(40), mask_fraction: 0.15, pretrained: Some(pretrained) };
    let out = dir.path().join("style");
    let state = fine_tune_style(&corpus, tiny(), options, &out, &Device::flex(), |_, _| {}, |_| {}).unwrap();
    let last = state.history.last().unwrap();
    assert_eq!(state.works_per_class.iter().sum::<usize>(), 2);
    assert!(last.valid.balanced_accuracy > 0.99, "{:?}", last.valid);
    assert!(last.train_loss < state.history[0].train_loss, "{:?}", state.history);
}
