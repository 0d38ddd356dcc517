//! MusicVAE learns, resumes and reads the corpus format: small models on real MIDI (the
//! shipped Bach chorale), so each test finishes in seconds.

#![cfg(feature = "train")] // trains small models
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use cadenza_models::data::Corpus;
use cadenza_models::vae::dataset::{Batcher, melody_of_file, tokens_tensor};
use cadenza_models::vae::evaluate::reconstruction;
use cadenza_models::vae::melody::training_windows;
use cadenza_models::vae::train::{TrainOptions, load_record_file, start_from, train};
use cadenza_models::vae::{Melody, MusicVae, MusicVaeConfig};

mod common;
use common::{CHORALE, write_corpus};

fn chorale_windows(bars: usize) -> Vec<Melody> {
    let melody = melody_of_file(&std::fs::read(CHORALE).unwrap()).unwrap();
    training_windows(&melody, bars)
}

fn tiny(bars: usize, hierarchical: bool) -> MusicVaeConfig {
    MusicVaeConfig::new(bars, hierarchical)
        .with_embedding(16)
        .with_encoder_hidden(48)
        .with_conductor_hidden(48)
        .with_decoder_hidden(48)
        .with_latent(16)
        .with_free_bits(8.0)
}

/// Trains `config` on `windows` for `steps` and returns the teacher-forced accuracy before and
/// after (z = μ).
fn overfit(config: &MusicVaeConfig, windows: &[Melody], steps: usize) -> (f64, f64) {
    let device = Device::flex().autodiff();
    let plain = Device::flex();
    // Fewer surprises from the initialisation (tests running at once still share the generator,
    // so the thresholds below leave room for it).
    device.seed(11);
    let mut model = config.init(&device);
    let before = reconstruction(&model.valid(), windows, 64, &plain).teacher_forced;
    let mut optimizer = AdamConfig::new().init();
    let refs: Vec<&Melody> = windows.iter().collect();
    let mut batcher = Batcher::new(1, 0);
    for step in 0..steps {
        let tokens = batcher.batch(&refs, &device);
        let losses = model.losses(tokens, config, step);
        let grads = GradientsParams::from_grads(losses.total.backward(), &model);
        model = optimizer.step(3e-3, model, grads);
    }
    let after = reconstruction(&model.valid(), windows, 64, &plain).teacher_forced;
    println!("{} bars: teacher-forced accuracy {before:.3} → {after:.3} after {steps} steps", config.bars);
    (before, after)
}

#[test]
fn the_chorale_melody_gives_two_bar_windows() {
    let windows = chorale_windows(2);
    assert!(windows.len() >= 4, "{} windows", windows.len());
    assert!(windows.iter().all(|w| w.tokens.len() == 32 && w.note_count() >= 2));
    // Back to notes and again gives the same tokens.
    for w in &windows {
        assert_eq!(&Melody::top_line(&w.to_notes(0.0, 80)).fitted(32), w);
    }
}

#[test]
fn the_flat_two_bar_model_learns_to_reconstruct() {
    let windows: Vec<Melody> = chorale_windows(2).into_iter().take(8).collect();
    let (before, after) = overfit(&tiny(2, false), &windows, 300);
    assert!(before < 0.5, "untrained accuracy {before}");
    // 300 steps of a tiny model: far from converged, but only a model that learns gets here.
    assert!(after > 0.7 && after > before + 0.5, "teacher-forced accuracy after training {after} (before {before})");
}

#[test]
fn the_hierarchical_sixteen_bar_model_learns_and_decodes_whole_melodies() {
    let windows: Vec<Melody> = chorale_windows(4).into_iter().take(4).collect();
    let config = tiny(4, true);
    let (before, after) = overfit(&config, &windows, 300);
    assert!(after > 0.7 && after > before + 0.5, "accuracy {before} → {after}");
    let model = config.init(&Device::flex());
    let z = model.encode(tokens_tensor(&windows.iter().collect::<Vec<_>>(), &Device::flex())).mu;
    let decoded = model.decode(z, 1.0, &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3));
    assert_eq!(decoded.len(), windows.len());
    assert!(decoded.iter().all(|d| d.len() == 64));
}

#[test]
fn training_checkpoints_and_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    write_corpus(&dir.path().join("corpus"));
    let corpus = Corpus::open(&dir.path().join("corpus")).unwrap();
    let out = dir.path().join("run");
    let options =
        TrainOptions { batch: 4, steps: 4, validate_every: 2, validation_windows: 8, ..TrainOptions::default() };
    let first = train(&corpus, tiny(2, false), options.clone(), &out, &Device::flex(), |_| {}, |_| {}).unwrap();
    assert_eq!(first.step, 4);
    assert_eq!(first.history.len(), 2);
    assert_eq!(first.manifest_sha256, "0123");
    let resumed = train(
        &corpus,
        tiny(2, false),
        TrainOptions { steps: 6, ..options.clone() },
        &out,
        &Device::flex(),
        |_| {},
        |_| {},
    )
    .unwrap();
    assert_eq!(resumed.step, 6);
    assert_eq!(resumed.history.iter().map(|p| p.step).collect::<Vec<_>>(), vec![2, 4, 6]);
    assert!(resumed.seconds >= first.seconds);
    // The checkpoint loads, and another configuration is refused.
    load_record_file(&out.join("model.bpk"), &tiny(2, false), &Device::flex()).unwrap();
    let other = train(&corpus, tiny(2, false).with_latent(8), options.clone(), &out, &Device::flex(), |_| {}, |_| {});
    assert!(other.is_err());
    assert!(!out.join("model.partial").exists());
    // A new KL budget for the same network resumes, and the change is recorded.
    let wider = tiny(2, false).with_free_bits(99.0);
    let widened =
        train(&corpus, wider, TrainOptions { steps: 8, ..options }, &out, &Device::flex(), |_| {}, |_| {}).unwrap();
    assert_eq!(widened.step, 8);
    assert_eq!(widened.history.iter().map(|p| p.step).collect::<Vec<_>>(), vec![2, 4, 6, 8]);
    assert_eq!(widened.objective_changes.len(), 1);
    assert_eq!((widened.objective_changes[0].step, widened.objective_changes[0].free_bits), (6, 99.0));
}

/// A run can start from another run's weights with a fresh optimiser (fine-tuning a model on
/// a newer conversion of the corpus): it counts on from the source's step and says where it began.
#[test]
fn training_starts_from_another_runs_weights() {
    let dir = tempfile::tempdir().unwrap();
    write_corpus(&dir.path().join("corpus"));
    let corpus = Corpus::open(&dir.path().join("corpus")).unwrap();
    let (source, tuned) = (dir.path().join("source"), dir.path().join("tuned"));
    let options =
        TrainOptions { batch: 4, steps: 4, validate_every: 2, validation_windows: 8, ..TrainOptions::default() };
    let first = train(&corpus, tiny(2, false), options.clone(), &source, &Device::flex(), |_| {}, |_| {}).unwrap();
    let started = start_from(&source, &tuned).unwrap();
    assert_eq!(started.step, 4);
    let source_weights = load_record_file(&source.join("model.bpk"), &tiny(2, false), &Device::flex()).unwrap();
    let start_weights = load_record_file(&tuned.join("model.bpk"), &tiny(2, false), &Device::flex()).unwrap();
    let windows = chorale_windows(2);
    let score = |m: &MusicVae| reconstruction(m, &windows, 64, &Device::flex()).teacher_forced;
    assert_eq!(score(&source_weights), score(&start_weights), "the run starts from the source's weights");
    let continued =
        train(&corpus, tiny(2, false), TrainOptions { steps: 6, ..options }, &tuned, &Device::flex(), |_| {}, |_| {})
            .unwrap();
    assert_eq!(continued.step, 6);
    assert_eq!(continued.history.iter().map(|p| p.step).collect::<Vec<_>>(), vec![2, 4, 6]);
    let from = continued.initialised_from.expect("the start is recorded");
    assert_eq!((from.step, from.manifest_sha256.as_str()), (4, "0123"));
    assert!(continued.seconds >= first.seconds);
    // A directory without a trained model is a clear error, not a panic.
    let missing = start_from(&dir.path().join("nothing"), &dir.path().join("other"));
    assert!(missing.unwrap_err().to_string().contains("cannot start from"));
}

/// The plain-Rust decoder the app uses is the same model as Burn's decode: on the shipped
/// 2-bar model (the 16-bar model decodes through it), greedy and sampled (same seed), every
/// step of every code agrees.
#[test]
fn the_cpu_decoder_plays_what_the_burn_decoder_plays() {
    use burn::tensor::{Tensor, TensorData};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    let device = Device::flex();
    let vae = cadenza_models::vae::shipped::two_bar(&device).expect("2-bar");
    let model = vae.model().expect("a whole MusicVAE");
    let codes = vae.prior_codes(4, 11);
    let latent = vae.latent_size();
    let flat: Vec<f32> = codes.iter().flatten().copied().collect();
    let fast = model.cpu_decoder().expect("weights");
    for temperature in [0.0, 0.5] {
        let z = Tensor::from_data(TensorData::new(flat.clone(), [codes.len(), latent]), &device);
        let reference = model.decode(z, temperature, &mut StdRng::seed_from_u64(5));
        let ours = fast.decode(&codes, temperature, &mut StdRng::seed_from_u64(5));
        let same: usize = reference.iter().flatten().zip(ours.iter().flatten()).filter(|(a, b)| a == b).count();
        let total = reference.iter().map(Vec::len).sum::<usize>();
        assert_eq!(ours.iter().map(Vec::len).sum::<usize>(), total);
        assert_eq!(same, total, "at temperature {temperature}: {same} of {total} steps agree");
    }
}

/// The shipped 16-bar model is the conductor over the shipped 2-bar model: a 16-bar point
/// decodes to its eight segment codes played by the 2-bar decoder one after another, and a
/// real 16-bar melody comes back close to itself.
#[test]
fn the_sixteen_bar_model_plays_its_segments_through_the_two_bar_decoder() {
    let device = Device::flex();
    let vae = cadenza_models::vae::shipped::sixteen_bar(&device).expect("16-bar");
    assert_eq!((vae.bars(), vae.steps()), (16, 256));
    let (segment, _) = vae.conductor().expect("a conductor");
    let codes = vae.prior_codes(2, 4);
    let whole = vae.decode(&codes, 0.0, 0);
    for (code, melody) in codes.iter().zip(&whole) {
        let parts = segment.decode(&vae.segment_codes(std::slice::from_ref(code))[0], 0.0, 0);
        let joined: Vec<u32> = parts.iter().flat_map(|p| p.tokens.clone()).collect();
        assert_eq!(melody.tokens, joined);
    }
    // The chorale's 16-bar windows (the chorales are in the training corpus, so this checks
    // the model works end to end, not how well it generalises: evaluation.json does that).
    let windows = chorale_windows(16);
    assert!(!windows.is_empty());
    let refs: Vec<&Melody> = windows.iter().collect();
    let decoded = vae.decode(&vae.encode(&refs), 0.0, 0);
    let right: usize =
        windows.iter().zip(&decoded).map(|(w, d)| w.tokens.iter().zip(&d.tokens).filter(|(a, b)| a == b).count()).sum();
    let accuracy = right as f64 / (windows.len() * 256) as f64;
    println!("{} chorale windows of 16 bars: {accuracy:.3} of steps reconstructed", windows.len());
    assert!(accuracy > 0.75, "reconstruction accuracy {accuracy}");
}

/// The conductor trains in latent space over a (tiny, untrained) 2-bar model, checkpoints,
/// resumes, refuses a checkpoint of another 2-bar model, and its directory loads as a 16-bar
/// model.
#[test]
fn the_conductor_trains_resumes_and_loads() {
    use cadenza_models::vae::MelodyVae;
    use cadenza_models::vae::conductor::ConductorVaeConfig;
    use cadenza_models::vae::conductor_train::{ConductorOptions, SegmentModel, train_conductor};

    let dir = tempfile::tempdir().unwrap();
    write_corpus(&dir.path().join("corpus"));
    let corpus = Corpus::open(&dir.path().join("corpus")).unwrap();
    // A tiny 2-bar model, saved as the trainer saves one.
    let two_bar_dir = dir.path().join("two_bar");
    let options =
        TrainOptions { batch: 4, steps: 2, validate_every: 2, validation_windows: 8, ..TrainOptions::default() };
    train(&corpus, tiny(2, false), options, &two_bar_dir, &Device::flex(), |_| {}, |_| {}).unwrap();
    let segment = MelodyVae::from_dir(&two_bar_dir, None, &Device::flex()).unwrap();
    // 4-bar melodies (two segments) keep the test corpus's windows many.
    let config = ConductorVaeConfig::new()
        .with_segments(2)
        .with_segment_latent(16)
        .with_encoder_hidden(16)
        .with_conductor_hidden(24)
        .with_latent(8)
        .with_free_bits(4.0);
    let options = ConductorOptions {
        batch: 4,
        steps: 4,
        validate_every: 2,
        validation_windows: 4,
        ..ConductorOptions::default()
    };
    let facts = SegmentModel { manifest_sha256: corpus.manifest_sha256.clone(), step: 2 };
    let out = dir.path().join("conductor");
    let run = |options: ConductorOptions, facts: SegmentModel| {
        train_conductor(
            &corpus,
            &segment,
            facts,
            config.clone(),
            options,
            &out,
            (&Device::flex(), "CPU".into()),
            |_| {},
            |_, _, _| {},
        )
    };
    let first = run(options.clone(), facts.clone()).unwrap();
    assert_eq!(first.step, 4);
    assert_eq!(first.history.len(), 2);
    assert!(first.distinct_segments > 0 && first.train_examples >= first.train_windows);
    let resumed = run(ConductorOptions { steps: 6, ..options.clone() }, facts.clone()).unwrap();
    assert_eq!((resumed.step, resumed.history.len()), (6, 3));
    assert!(resumed.seconds >= first.seconds);
    let other = SegmentModel { step: 99, ..facts };
    assert!(run(ConductorOptions { steps: 8, ..options }, other).is_err(), "another 2-bar model must not resume");
    let sixteen = MelodyVae::from_dir(&out, Some(&two_bar_dir), &Device::flex()).unwrap();
    assert_eq!(sixteen.bars(), 4);
    let decoded = sixteen.decode(&sixteen.prior_codes(3, 1), 0.5, 2);
    assert!(decoded.iter().all(|m| m.tokens.len() == 64));
    assert!(MelodyVae::from_dir(&out, None, &Device::flex()).is_err(), "a conductor needs its 2-bar model");
}
