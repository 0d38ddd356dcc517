//! Whether continuations play what was asked for: every requested instrument in every
//! variation, every note inside its instrument's range. The shipped model through the engine's
//! own prompt path (`prompt_of`, as `cadenza continue` and the Continue panel), with the rules
//! off (how it was before: only the instruments enforced) and on (ranges and presence), on the
//! bwv269 case and on held-out prompts of the corpus's test split.
//!
//!   cargo bench --profile dev --workspace --bench continuation_instruments   # needs data/corpus
//!   PROMPTS=50 VARIATIONS=3 cargo bench --profile dev --workspace --bench continuation_instruments

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use cadenza_engine::midi::read_song;
use cadenza_engine::ml::continuation::{
    ContinuationRequest, GenerationOptions, Instrument, bar_length, end_of_last_bar, instrument_ranges,
    parse_instruments, prompt_of, shipped_model, style_index,
};
use cadenza_engine::song::Song;
use cadenza_models::continuation::generate::continue_prompt;
use cadenza_models::data::{Corpus, Split};

/// Instrument sets the held-out prompts are asked for in turn: ensembles a musician would ask
/// for, low and high instruments mixed.
const SETS: [&str; 6] = [
    "violin,viola,cello",
    "flute,oboe,clarinet,bassoon",
    "trumpet,horn,trombone",
    "piano,bass",
    "choir,organ",
    "guitar,contrabass,flute",
];

struct Case {
    name: String,
    song: Song,
    /// The prompt: every track from tick 0 to here.
    to: u64,
    style: u8,
    instruments: Vec<Instrument>,
    seed: u64,
}

#[derive(Default)]
struct Tally {
    variations: usize,
    complete: usize,
    notes: usize,
    in_range: usize,
    /// The fewest notes any requested instrument got, summed over variations.
    weakest: usize,
    tokens: usize,
    seconds: f64,
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let corpus_root = PathBuf::from(std::env::var("CORPUS").unwrap_or_else(|_| "data/corpus".into()));
    let corpus_root = if corpus_root.is_absolute() {
        corpus_root
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(corpus_root)
    };
    let corpus = match Corpus::open(&corpus_root) {
        Ok(corpus) => corpus,
        Err(err) => {
            eprintln!("{err}\nmake the corpus first: source scripts/lib/setup.sh && WHOLE=1 ensure_corpus");
            return;
        }
    };
    let prompts = env_number("PROMPTS", 50);
    let variations = env_number("VARIATIONS", 2);
    let bars = env_number("BARS", 4) as u32;
    let model = match shipped_model() {
        Ok(model) => model,
        Err(err) => {
            eprintln!("{err}");
            return;
        }
    };

    let mut cases = Vec::new();
    // The case the issue was filed on: the whole chorale as the prompt, seed 3.
    if let Some(work) = corpus.works.iter().find(|w| w.id.contains("bwv269"))
        && let Ok(song) = read_song(&corpus.midi_path(work))
    {
        let to = end_of_last_bar(&song);
        let style = style_index("bach").unwrap_or(0);
        cases.push(Case { name: "bwv269".into(), song, to, style, instruments: set(0), seed: 3 });
    }
    let bwv269 = cases.len();
    // Held-out works, spread over the test split (sorted by id, evenly spaced), four bars each.
    let mut test: Vec<_> = corpus.works.iter().filter(|w| w.split == Split::Test).collect();
    test.sort_by(|a, b| a.id.cmp(&b.id));
    let step = (test.len() / prompts.max(1)).max(1);
    for (i, work) in test.iter().step_by(step).take(prompts).enumerate() {
        let Ok(song) = read_song(&corpus.midi_path(work)) else { continue };
        if song.note_count() == 0 {
            continue;
        }
        let to = 4 * bar_length(&song, 0);
        let style = style_index(&work.style).unwrap_or(cadenza_models::continuation::ANY_STYLE);
        cases.push(Case { name: work.id.clone(), song, to, style, instruments: set(i), seed: 1 });
    }
    println!(
        "{} held-out prompts ({} bars each, {variations} variations) and bwv269, {bars} bars continued",
        cases.len() - bwv269,
        4
    );

    let cancel = AtomicBool::new(false);
    let device = cadenza_models::Device::flex();
    let mut rows: Vec<(&str, &str, Tally)> = Vec::new();
    for (mode, rules) in [("before (instruments only)", false), ("ranges + every instrument", true)] {
        for (label, range) in [("bwv269", 0..bwv269), ("held-out", bwv269..cases.len())] {
            let mut tally = Tally::default();
            for case in &cases[range] {
                let request = ContinuationRequest {
                    from: 0,
                    to: case.to,
                    tracks: (0..case.song.tracks.len()).collect(),
                    style: case.style,
                    instruments: case.instruments.clone(),
                    variations,
                    options: GenerationOptions::default(),
                };
                let prompt = prompt_of(&case.song, &request);
                let count = if label == "bwv269" { 2 } else { variations };
                for v in 0..count {
                    let options = GenerationOptions {
                        bars,
                        seed: case.seed + v as u64,
                        ranges: if rules { instrument_ranges(&prompt.header.instruments) } else { Vec::new() },
                        every_instrument: rules,
                        ..GenerationOptions::default()
                    };
                    let started = Instant::now();
                    let Ok(generated) = continue_prompt(&model, &prompt, &options, &device, &cancel, |_| {}) else {
                        eprintln!("{}: generation failed", case.name);
                        continue;
                    };
                    tally.seconds += started.elapsed().as_secs_f64();
                    tally.tokens += generated.tokens;
                    tally.variations += 1;
                    let table = instrument_ranges(&case.instruments);
                    let counts: Vec<usize> = case
                        .instruments
                        .iter()
                        .map(|&i| generated.notes.iter().filter(|n| n.instrument == i).count())
                        .collect();
                    let complete = counts.iter().all(|&c| c > 0);
                    if rules && !complete {
                        eprintln!(
                            "{} seed {}: {:?} {counts:?}, {} tokens",
                            case.name, options.seed, case.instruments, generated.tokens
                        );
                    }
                    tally.complete += usize::from(complete);
                    tally.weakest += counts.iter().copied().min().unwrap_or(0);
                    tally.notes += generated.notes.len();
                    tally.in_range += generated
                        .notes
                        .iter()
                        .filter(|n| {
                            table.iter().find(|(i, _)| *i == n.instrument).is_none_or(|(_, r)| r.contains(&n.pitch))
                        })
                        .count();
                }
            }
            rows.push((mode, label, tally));
        }
    }
    println!(
        "\n| rules | prompts | variations | every instrument plays | notes in range | notes / variation | weakest part's notes | tokens/s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (mode, label, t) in &rows {
        println!(
            "| {mode} | {label} | {} | {} ({:.0} %) | {} of {} ({:.1} %) | {:.1} | {:.1} | {:.0} |",
            t.variations,
            t.complete,
            percent(t.complete, t.variations),
            t.in_range,
            t.notes,
            percent(t.in_range, t.notes),
            t.notes as f64 / t.variations.max(1) as f64,
            t.weakest as f64 / t.variations.max(1) as f64,
            t.tokens as f64 / t.seconds.max(1e-9),
        );
    }
}

fn set(i: usize) -> Vec<Instrument> {
    parse_instruments(SETS[i % SETS.len()]).unwrap_or_default()
}

fn percent(part: usize, whole: usize) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}
