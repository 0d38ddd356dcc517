//! The continuation model's tokens round-trip real music, its cache agrees with the full
//! forward pass, and it learns and resumes on a small corpus.

#![cfg(feature = "train")] // trains small models
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use burn::tensor::{Device, Int, Tensor, TensorData};
use cadenza_models::continuation::codec::{GridNote, Header, decode, encode, to_ticks};
use cadenza_models::continuation::dataset::{GridWork, grid_work};
use cadenza_models::continuation::train::{TrainOptions, train};
use cadenza_models::continuation::vocab::{DURATIONS, Instrument, Token, VOCAB_SIZE, style_index};
use cadenza_models::continuation::{ContinuationConfig, KvCache};
use cadenza_models::data::Corpus;

mod common;
use common::write_corpus;

fn sorted(mut notes: Vec<GridNote>) -> Vec<GridNote> {
    notes.sort_by_key(|n| (n.start, n.instrument, std::cmp::Reverse(n.pitch)));
    notes
}

#[test]
fn every_token_id_maps_back_to_its_token() {
    for id in 0..VOCAB_SIZE as u32 {
        let token = Token::from_id(id).unwrap();
        assert_eq!(token.id(), id, "{token:?}");
    }
    assert_eq!(Token::from_id(VOCAB_SIZE as u32), None);
}

#[test]
fn chords_instruments_velocities_and_long_rests_round_trip() {
    let note = |start, duration, pitch, velocity, instrument| GridNote { start, duration, pitch, velocity, instrument };
    let notes = vec![
        note(0, 12, 60, 100, Instrument::Piano),
        note(0, 12, 64, 100, Instrument::Piano),
        note(0, 24, 67, 40, Instrument::Violin),
        note(6, 3, 72, 100, Instrument::Violin),
        // A rest longer than one shift, across two bar lines, and a very long note.
        note(150, 192, 48, 120, Instrument::Cello),
        note(151, 1, 108, 10, Instrument::Flute),
    ];
    let header = Header::new(style_index("bach").unwrap(), notes.iter().map(|n| n.instrument));
    let tokens = encode(&header, &notes, 48);
    let (read_header, read) = decode(&tokens, 48);
    assert_eq!(read_header, header);
    // Velocities come back as their bucket's centre; everything else exactly.
    let bucketed: Vec<GridNote> = notes.iter().map(|n| GridNote { velocity: n.velocity / 16 * 16 + 8, ..*n }).collect();
    assert_eq!(sorted(read), sorted(bucketed));
    assert_eq!(tokens.iter().filter(|&&t| t == Token::Bar).count(), 3);
}

/// Every note of a real four-part chorale survives: same start, pitch and part, its
/// duration the nearest in the table (here all exact: chorale durations are on the grid).
#[test]
fn a_corpus_chorale_round_trips_within_the_grid() {
    let work = corpus_chorale();
    // The demo file names its parts' programs (strings); corpus files without them are sung.
    assert_eq!(work.header.instruments, vec![Instrument::Violin, Instrument::Viola, Instrument::Cello]);
    assert!(work.notes.len() > 150, "{} notes", work.notes.len());
    let tokens = work.sequence(0, usize::MAX, 0, 0);
    let (_, read) = decode(&tokens, work.bar_ticks);
    let expected: Vec<GridNote> = work
        .notes
        .iter()
        .map(|n| GridNote {
            velocity: n.velocity / 16 * 16 + 8,
            duration: *DURATIONS.iter().min_by_key(|d| d.abs_diff(n.duration)).unwrap(),
            ..*n
        })
        .collect();
    assert_eq!(sorted(read), sorted(expected));
    // A window from a later bar reads on its own: the same notes, moved to start at zero.
    let from = 3;
    let (_, window) = decode(&work.sequence(from, usize::MAX, 2, 1), work.bar_ticks);
    let offset = from * work.bar_ticks;
    let later: Vec<(u32, u8)> = sorted(work.notes.iter().filter(|n| n.start >= offset).copied().collect())
        .iter()
        .map(|n| (n.start - offset, n.pitch + 2))
        .collect();
    assert_eq!(sorted(window).iter().map(|n| (n.start, n.pitch)).collect::<Vec<_>>(), later);
}

#[test]
fn off_grid_times_move_by_at_most_half_a_tick() {
    for quarters in [0.0, 0.04, 0.333, 1.26, 7.9583] {
        let ticks = to_ticks(quarters);
        assert!((f64::from(ticks) / 12.0 - quarters).abs() <= 1.0 / 24.0 + 1e-9, "{quarters} → {ticks}");
    }
}

/// The test corpus's chorale as the model reads it.
fn corpus_chorale() -> GridWork {
    let dir = tempfile::tempdir().unwrap();
    write_corpus(dir.path());
    let corpus = Corpus::open(dir.path()).unwrap();
    grid_work(&corpus, &corpus.works[0]).unwrap()
}

fn tiny() -> ContinuationConfig {
    ContinuationConfig::new()
        .with_d_model(32)
        .with_heads(2)
        .with_layers(2)
        .with_d_ff(64)
        .with_context(64)
        .with_dropout(0.0)
}

/// Generation feeds one token at a time through the cache; its logits must be the full
/// forward pass's at every position.
#[test]
fn the_cache_gives_the_same_logits_as_the_full_pass() {
    let device = Device::flex();
    let model = tiny().init(&device);
    let ids: Vec<u32> = [4u32, 15, 2, 80, 120, 200, 3, 60, 130, 201].to_vec();
    let full = model.forward(Tensor::<2, Int>::from_data(
        TensorData::new(ids.iter().map(|&i| i64::from(i)).collect::<Vec<_>>(), [1, ids.len()]),
        &device,
    ));
    let full: Vec<f32> = full.into_data().convert::<f32>().try_into_vec().unwrap();
    let mut cache = KvCache::default();
    // A prefill of the first four, then one at a time.
    let mut stepped = vec![model.step(&ids[..4], &mut cache, &device)];
    for &id in &ids[4..] {
        stepped.push(model.step(&[id], &mut cache, &device));
    }
    for (i, logits) in stepped.iter().enumerate() {
        let position = i + 3;
        let reference = &full[position * VOCAB_SIZE..(position + 1) * VOCAB_SIZE];
        let worst = logits.iter().zip(reference).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "position {position}: logits differ by {worst}");
    }
}

#[test]
fn training_lowers_the_validation_loss_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    write_corpus(&dir.path().join("corpus"));
    let corpus = Corpus::open(&dir.path().join("corpus")).unwrap();
    let out = dir.path().join("run");
    let options = TrainOptions {
        batch: 8,
        steps: 40,
        learning_rate: 3e-3,
        warmup_steps: 5,
        validate_every: 20,
        validation_sequences: 8,
        ..TrainOptions::default()
    };
    let first = train(&corpus, tiny(), options.clone(), &out, &Device::flex(), |_| {}, |_| {}).unwrap();
    assert_eq!(first.step, 40);
    let more = TrainOptions { steps: 60, ..options };
    let resumed = train(&corpus, tiny(), more.clone(), &out, &Device::flex(), |_| {}, |_| {}).unwrap();
    assert_eq!(resumed.step, 60);
    let history: Vec<f64> = resumed.history.iter().map(|v| v.valid_nll).collect();
    assert_eq!(history.len(), 3, "{history:?}");
    // Uniform over the vocabulary is ln(VOCAB_SIZE) ≈ 5.5 nats.
    assert!(history[2] < history[0] - 0.5 && history[2] < 3.5, "validation NLL {history:?}");
    let changed = tiny().with_layers(3);
    assert!(
        train(&corpus, changed, more, &out, &Device::flex(), |_| {}, |_| {}).is_err(),
        "a changed config must not resume"
    );
}

/// The baseline is a proper distribution (so its NLL compares with the transformer's), and it
/// learns: a repeated phrase becomes far more likely than uniform.
#[test]
fn the_ngram_baseline_is_normalised_and_learns() {
    use cadenza_models::continuation::ngram::NgramModel;
    let work = corpus_chorale();
    let sequence = work.sequence(0, usize::MAX, 0, 0);
    let model = NgramModel::train(4, [sequence.as_slice()]);
    let ids: Vec<u32> = sequence.iter().map(|t| t.id()).collect();
    for history in [&ids[..0], &ids[..5], &ids[..40]] {
        let total: f64 = (0..VOCAB_SIZE as u32).map(|next| model.probability(history, next)).sum();
        assert!((total - 1.0).abs() < 1e-9, "probabilities sum to {total}");
    }
    let nll = model.mean_nll(&[sequence]);
    assert!(nll < 0.5 * (VOCAB_SIZE as f64).ln(), "NLL on its own training sequence {nll}");
}

/// The style classifier tells a chorale from a fiddle-tune-like line it was trained against.
#[test]
fn the_style_classifier_separates_two_kinds_of_music() {
    use cadenza_models::continuation::evaluate::{labelled_segments, segment};
    use cadenza_models::continuation::style_classifier::{StyleClassifier, estimate_key, features};
    let chorale = corpus_chorale();
    // The chorale's key is found (bwv 7.7 is in E minor / G major: both share the notes).
    let key = estimate_key(&chorale.notes).unwrap();
    assert!(chorale.notes.iter().filter(|n| key.contains(n.pitch)).count() * 10 > chorale.notes.len() * 8);
    // Against it: a fast, single-line, leaping tune.
    let mut tune = chorale.clone();
    tune.header = Header::new(style_index("traditional").unwrap(), [Instrument::Violin]);
    tune.notes = (0..chorale.bars * 8)
        .map(|i| GridNote {
            start: i * 6,
            duration: 6,
            pitch: 62 + (i * 7 % 12) as u8,
            velocity: 90,
            instrument: Instrument::Violin,
        })
        .collect();
    let examples = labelled_segments(&[chorale.clone(), tune.clone()], 2);
    let classifier = StyleClassifier::fit(&examples, 200);
    assert_eq!(classifier.classify(&features(&segment(&chorale, 8, 8), 48)), chorale.header.style);
    assert_eq!(classifier.classify(&features(&segment(&tune, 8, 8), 48)), tune.header.style);
}

/// A passage's features do not depend on the order its notes come in: a work lists its notes
/// part by part, a continuation in time order, and the classifier once told them apart by that
/// alone (every chorale continuation was called "schumann").
#[test]
fn style_features_ignore_note_order() {
    use cadenza_models::continuation::evaluate::segment;
    use cadenza_models::continuation::style_classifier::features;
    let chorale = corpus_chorale();
    let by_part = segment(&chorale, 0, 8);
    let mut in_time = by_part.clone();
    in_time.sort_by_key(|n| (n.start, std::cmp::Reverse(n.pitch)));
    assert_ne!(by_part, in_time, "the chorale's notes should come part by part");
    let (a, b) = (features(&by_part, 48), features(&in_time, 48));
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!((x - y).abs() < 1e-12, "feature {i}: {x} by part, {y} in time order");
    }
}

/// Style strength steers away from "any" style: it changes what the shipped model plays for
/// a style (same seed), changes nothing when "any" itself is asked for, and stays reproducible.
#[test]
fn style_strength_steers_away_from_any_style() {
    use cadenza_models::continuation::generate::{GenerationOptions, Prompt, continue_prompt};
    use cadenza_models::continuation::shipped;
    use std::sync::atomic::AtomicBool;
    let device = Device::flex();
    let model = shipped::model(&device).unwrap();
    let cancel = AtomicBool::new(false);
    let play = |style: &str, strength: f32| {
        let header = Header::new(style_index(style).unwrap(), [Instrument::Choir]);
        let prompt = Prompt { header, notes: Vec::new(), bar_ticks: 48, bars: 0 };
        let options = GenerationOptions { bars: 2, seed: 3, style_guidance: strength, ..GenerationOptions::default() };
        continue_prompt(&model, &prompt, &options, &device, &cancel, |_| {}).unwrap().notes
    };
    let (plain, steered) = (play("bach", 0.0), play("bach", 1.0));
    assert!(!steered.is_empty());
    assert_ne!(plain, steered, "strength 1 should change the continuation");
    assert_eq!(steered, play("bach", 1.0), "reproducible");
    assert_eq!(play("any", 0.0), play("any", 1.0), "nothing to steer away from");
}

/// Composers without a style of their own are accepted by name, as the style they are part of.
#[test]
fn grouped_composers_name_their_style() {
    let classical = style_index("classical");
    assert!(classical.is_some());
    for composer in ["mozart", "Haydn", " beethoven", "schumann"] {
        assert_eq!(style_index(composer), classical, "{composer}");
    }
    let any = cadenza_models::continuation::ANY_STYLE;
    assert_eq!(style_index("other"), Some(any));
    assert_eq!(style_index("jazz"), None);
    // Corpus works: the manifest's composer names, and "any" for composers without a style.
    use cadenza_models::continuation::vocab::style_of_work;
    assert_eq!(Some(style_of_work("schumann_clara")), classical);
    assert_eq!(Some(style_of_work("traditional")), style_index("traditional"));
    assert_eq!(style_of_work("handel"), any);
}

/// Style dropout asks for "any" style in about the fraction of sequences it is given, and
/// leaves the rest with their work's own style.
#[test]
fn style_dropout_asks_for_any_style() {
    use cadenza_models::continuation::ANY_STYLE;
    use cadenza_models::continuation::dataset::SequenceSampler;
    use rand::SeedableRng;
    let work = corpus_chorale();
    let own = Token::Style(work.header.style);
    let mut sampler = SequenceSampler::new(vec![work]);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut first_tokens = |dropout: f64| {
        sampler.style_dropout = dropout;
        (0..400).filter_map(|_| sampler.draw(&mut rng, 64)).map(|s| s[0]).collect::<Vec<Token>>()
    };
    assert!(first_tokens(0.0).iter().all(|&t| t == own));
    let dropped = first_tokens(0.25);
    let any = dropped.iter().filter(|&&t| t == Token::Style(ANY_STYLE)).count();
    assert!((60..140).contains(&any), "{any} of 400 asked for any style");
    assert_eq!(any + dropped.iter().filter(|&&t| t == own).count(), 400);
}

/// The shipped model, asked which style a chorale's opening is in, answers bach; a prompt
/// without notes gets no answer.
#[test]
fn the_model_hears_a_chorale_as_bach() {
    use cadenza_models::continuation::generate::Prompt;
    use cadenza_models::continuation::recognise::{likely_style, style_nll};
    use cadenza_models::continuation::shipped;
    let device = Device::flex();
    let model = shipped::model(&device).unwrap();
    let work = corpus_chorale();
    let notes: Vec<GridNote> = work.notes.iter().filter(|n| n.start < 4 * work.bar_ticks).copied().collect();
    let prompt = Prompt { header: work.header.clone(), notes, bar_ticks: work.bar_ticks, bars: 4 };
    let nll = style_nll(&model, &prompt, &device);
    assert_eq!(nll.len(), cadenza_models::continuation::ANY_STYLE as usize);
    assert!(nll.iter().all(|v| v.is_finite() && *v > 0.0), "{nll:?}");
    assert_eq!(likely_style(&model, &prompt, &device), style_index("bach"), "{nll:?}");
    let empty = Prompt { notes: Vec::new(), ..prompt };
    assert_eq!(likely_style(&model, &empty, &device), None);
}

/// Asked for a string trio over a sung chorale (the case where the shipped model used to leave
/// a part out and send the cello up to A#7), every variation has all three parts, each note in
/// its range; with fewer allowed and no ranges the model is left to itself.
#[test]
fn every_requested_instrument_plays_inside_its_range() {
    use cadenza_models::continuation::generate::{GenerationOptions, Prompt, continue_prompt};
    use cadenza_models::continuation::shipped;
    use std::sync::atomic::AtomicBool;
    let device = Device::flex();
    let model = shipped::model(&device).unwrap();
    let cancel = AtomicBool::new(false);
    let work = corpus_chorale();
    let notes: Vec<GridNote> = work.notes.iter().filter(|n| n.start < 4 * work.bar_ticks).copied().collect();
    let trio = [Instrument::Violin, Instrument::Viola, Instrument::Cello];
    let header = Header::new(style_index("bach").unwrap(), trio);
    let prompt = Prompt { header, notes, bar_ticks: work.bar_ticks, bars: 4 };
    let ranges = vec![(Instrument::Violin, 55..=103), (Instrument::Viola, 48..=91), (Instrument::Cello, 36..=81)];
    for seed in 1..=4 {
        let options = GenerationOptions { bars: 2, seed, ranges: ranges.clone(), ..GenerationOptions::default() };
        let notes = continue_prompt(&model, &prompt, &options, &device, &cancel, |_| {}).unwrap().notes;
        for (instrument, range) in &ranges {
            let own: Vec<u8> = notes.iter().filter(|n| n.instrument == *instrument).map(|n| n.pitch).collect();
            assert!(!own.is_empty(), "seed {seed}: no {instrument:?}");
            assert!(own.iter().all(|p| range.contains(p)), "seed {seed}: {instrument:?} played {own:?}");
        }
        // The bar line after the first bar waited for every part, so each entered in it.
        let first_bar_end = 5 * work.bar_ticks;
        for instrument in trio {
            assert!(
                notes.iter().any(|n| n.instrument == instrument && n.start < first_bar_end),
                "seed {seed}: {instrument:?} came late"
            );
        }
    }
}
