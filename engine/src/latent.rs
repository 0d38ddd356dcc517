//! The latent-space worker behind the Interpolate tab: it holds the shipped MusicVAE models,
//! encodes the clips the user picks, and decodes points between them. Decoding runs on its own
//! thread and only the newest point is decoded: while a slider is dragged, points that arrive
//! before the previous decode ends replace each other instead of queueing.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread::JoinHandle;

pub use cadenza_models::vae::latent::LatentMap;
use cadenza_models::vae::latent::slerp;
pub use cadenza_models::vae::melody::TimedNote;
pub use cadenza_models::vae::{InputNotice, MelodyVae, VaeError};
use crossbeam_channel::{Receiver, Sender, unbounded};

use crate::song::{Note, Song};

/// Which model: 2-bar phrases or 16-bar melodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum VaeSize {
    TwoBar,
    SixteenBar,
}

impl VaeSize {
    pub fn bars(self) -> usize {
        match self {
            Self::TwoBar => 2,
            Self::SixteenBar => 16,
        }
    }
}

/// A shipped model, on the CPU: one decode step is a few small matrix products, which the GPU
/// would spend more time dispatching than computing.
pub fn shipped_model(size: VaeSize) -> Result<MelodyVae, VaeError> {
    let device = cadenza_models::Device::flex();
    match size {
        VaeSize::TwoBar => cadenza_models::vae::shipped::two_bar(&device),
        VaeSize::SixteenBar => cadenza_models::vae::shipped::sixteen_bar(&device),
    }
}

/// The latent map shipped with a model (its corpus codes on two principal axes).
pub fn shipped_map(size: VaeSize) -> Option<LatentMap> {
    let text = match size {
        VaeSize::TwoBar => cadenza_models::vae::shipped::TWO_BAR_MAP,
        VaeSize::SixteenBar => cadenza_models::vae::shipped::SIXTEEN_BAR_MAP,
    };
    serde_json::from_str(text).ok()
}

/// Both shipped models, and a message for each that failed to load.
pub fn shipped_models() -> (HashMap<VaeSize, MelodyVae>, Vec<String>) {
    let mut models = HashMap::new();
    let mut errors = Vec::new();
    for size in [VaeSize::TwoBar, VaeSize::SixteenBar] {
        match shipped_model(size) {
            Ok(model) => {
                models.insert(size, model);
            }
            Err(e) => errors.push(format!("the {}-bar melody model: {e}", size.bars())),
        }
    }
    (models, errors)
}

/// The four clips the tab mixes: A and B at the ends of the slider, C and D below them on the
/// pad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    A,
    B,
    C,
    D,
}

/// A point of the latent space, as the tab's controls describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct LatentPoint {
    pub size: VaeSize,
    /// 0 at A, 1 at B (spherical interpolation).
    pub along: f32,
    /// When set, the pad's (x, y): bilinear between A (top left), B, C, D (bottom right);
    /// overrides `along`. Corners with no clip take A's or B's code.
    pub pad: Option<[f32; 2]>,
    /// Attribute vectors added with their strengths.
    pub attributes: Vec<(String, f32)>,
    /// 0 decodes the most likely melody.
    pub temperature: f32,
    /// Which draw when the temperature is above 0.
    pub seed: u64,
}

#[derive(Debug)]
pub enum LatentRequest {
    Encode {
        size: VaeSize,
        slot: Slot,
        notes: Vec<TimedNote>,
    },
    Decode {
        request: u64,
        point: LatentPoint,
    },
    /// Codes of clips to place on the latent map (the song's clips and corpus samples).
    Map {
        size: VaeSize,
        clips: Vec<Vec<TimedNote>>,
    },
}

#[derive(Debug, Clone)]
pub enum LatentReply {
    Encoded { size: VaeSize, slot: Slot, code: Vec<f32>, notices: Vec<String>, reconstruction: Vec<TimedNote> },
    Decoded { request: u64, point: LatentPoint, notes: Vec<TimedNote>, code: Vec<f32>, milliseconds: f64 },
    Mapped { size: VaeSize, codes: Vec<Vec<f32>> },
    Failed(String),
}

/// The worker thread; dropping it stops the thread.
pub struct LatentWorker {
    requests: Option<Sender<LatentRequest>>,
    thread: Option<JoinHandle<()>>,
}

impl LatentWorker {
    /// Starts the worker with the models it may use; every reply goes to `reply`.
    pub fn start(
        models: HashMap<VaeSize, MelodyVae>,
        reply: impl Fn(LatentReply) + Send + 'static,
    ) -> std::io::Result<Self> {
        let (tx, rx) = unbounded();
        let thread =
            std::thread::Builder::new().name("cadenza-latent".into()).spawn(move || run(models, &rx, &reply))?;
        Ok(Self { requests: Some(tx), thread: Some(thread) })
    }

    pub fn send(&self, request: LatentRequest) {
        if let Some(tx) = &self.requests {
            let _ = tx.send(request);
        }
    }
}

impl Drop for LatentWorker {
    fn drop(&mut self) {
        self.requests.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(models: HashMap<VaeSize, MelodyVae>, rx: &Receiver<LatentRequest>, reply: &impl Fn(LatentReply)) {
    let mut codes: HashMap<(VaeSize, Slot), Vec<f32>> = HashMap::new();
    while let Ok(first) = rx.recv() {
        // Everything waiting: encodes in order, then only the newest decode.
        let mut pending = vec![first];
        pending.extend(rx.try_iter());
        let newest_decode = pending.iter().rposition(|r| matches!(r, LatentRequest::Decode { .. }));
        for (i, request) in pending.into_iter().enumerate() {
            if matches!(request, LatentRequest::Decode { .. }) && Some(i) != newest_decode {
                continue;
            }
            // A model error must not end the worker: the panel would go quiet for good.
            let answer = catch_unwind(AssertUnwindSafe(|| match request {
                LatentRequest::Decode { request, point } => decode(&models, &codes, request, point),
                LatentRequest::Encode { size, slot, notes } => match encode(&models, size, &notes) {
                    Ok((code, notices, reconstruction)) => {
                        codes.insert((size, slot), code.clone());
                        LatentReply::Encoded { size, slot, code, notices, reconstruction }
                    }
                    Err(message) => LatentReply::Failed(message),
                },
                LatentRequest::Map { size, clips } => map(&models, size, &clips),
            }));
            reply(answer.unwrap_or_else(|_| LatentReply::Failed("the melody model failed on this input".into())));
        }
    }
}

fn model(models: &HashMap<VaeSize, MelodyVae>, size: VaeSize) -> Result<&MelodyVae, String> {
    models.get(&size).ok_or_else(|| format!("the {}-bar melody model is not loaded", size.bars()))
}

/// A clip's code, what was done to its input, and the model's reconstruction of it.
type Encoding = (Vec<f32>, Vec<String>, Vec<TimedNote>);

fn encode(models: &HashMap<VaeSize, MelodyVae>, size: VaeSize, notes: &[TimedNote]) -> Result<Encoding, String> {
    let vae = model(models, size)?;
    let prepared = vae.prepare(notes).map_err(|e| e.to_string())?;
    let code = vae.encode(&[&prepared.melody]).into_iter().next().ok_or("the model returned no code")?;
    let reconstruction = vae
        .decode(std::slice::from_ref(&code), 0.0, 0)
        .into_iter()
        .next()
        .map(|m| m.to_notes(0.0, 90))
        .unwrap_or_default();
    Ok((code, prepared.notices.iter().map(InputNotice::to_string).collect(), reconstruction))
}

/// The code of a point, from the encoded clips.
pub fn point_code(
    vae: &MelodyVae,
    codes: &HashMap<(VaeSize, Slot), Vec<f32>>,
    point: &LatentPoint,
) -> Result<Vec<f32>, String> {
    let get = |slot| codes.get(&(point.size, slot));
    let a = get(Slot::A).ok_or("pick clip A first")?;
    let b = get(Slot::B).unwrap_or(a);
    let mut z = match point.pad {
        Some([x, y]) => {
            let c = get(Slot::C).unwrap_or(a);
            let d = get(Slot::D).unwrap_or(b);
            MelodyVae::mix([a, b, c, d], x, y)
        }
        None => slerp(a, b, point.along.clamp(0.0, 1.0)),
    };
    for (name, amount) in &point.attributes {
        if amount.abs() > 1e-6 {
            z = vae.with_attribute(&z, name, *amount).map_err(|e: VaeError| e.to_string())?;
        }
    }
    Ok(z)
}

fn decode(
    models: &HashMap<VaeSize, MelodyVae>,
    codes: &HashMap<(VaeSize, Slot), Vec<f32>>,
    request: u64,
    point: LatentPoint,
) -> LatentReply {
    let started = std::time::Instant::now();
    let result = model(models, point.size).and_then(|vae| {
        let z = point_code(vae, codes, &point)?;
        let melody = vae
            .decode(std::slice::from_ref(&z), f64::from(point.temperature), point.seed)
            .into_iter()
            .next()
            .ok_or("the model returned nothing")?;
        Ok((melody.to_notes(0.0, 90), z))
    });
    match result {
        Ok((notes, code)) => {
            LatentReply::Decoded { request, point, notes, code, milliseconds: started.elapsed().as_secs_f64() * 1e3 }
        }
        Err(message) => LatentReply::Failed(message),
    }
}

fn map(models: &HashMap<VaeSize, MelodyVae>, size: VaeSize, clips: &[Vec<TimedNote>]) -> LatentReply {
    let Ok(vae) = model(models, size) else { return LatentReply::Failed(format!("no {}-bar model", size.bars())) };
    let melodies: Vec<_> = clips.iter().filter_map(|c| vae.prepare(c).ok()).map(|p| p.melody).collect();
    LatentReply::Mapped { size, codes: vae.encode(&melodies.iter().collect::<Vec<_>>()) }
}

/// The notes of `track` between `from` and `to` (ticks), with times in quarters from `from`.
/// Notes that start in the range are kept (cut at its end).
pub fn clip_notes(song: &Song, track: usize, from: u64, to: u64) -> Vec<TimedNote> {
    let ppq = f64::from(song.ppq.max(1));
    let Some(track) = song.tracks.get(track) else { return Vec::new() };
    track
        .notes
        .iter()
        .filter(|n| n.start >= from && n.start < to)
        .map(|n| TimedNote {
            pitch: n.pitch,
            start: (n.start - from) as f64 / ppq,
            end: (n.end().min(to) - from) as f64 / ppq,
            velocity: n.velocity,
        })
        .collect()
}

/// Song notes for decoded notes placed at tick `at`, all at `velocity` (the clip's mean, so a
/// kept point sits with its neighbours).
pub fn song_notes(notes: &[TimedNote], ppq: u16, at: u64, velocity: u8) -> Vec<Note> {
    let ppq = f64::from(ppq.max(1));
    notes
        .iter()
        .map(|n| {
            let start = at + (n.start * ppq).round() as u64;
            let end = at + (n.end * ppq).round() as u64;
            Note::new(start, end.saturating_sub(start).max(1), n.pitch, velocity)
        })
        .collect()
}

/// The mean velocity of a clip (90 for none).
pub fn mean_velocity(notes: &[TimedNote]) -> u8 {
    if notes.is_empty() {
        return 90;
    }
    (notes.iter().map(|n| u32::from(n.velocity)).sum::<u32>() / notes.len() as u32).clamp(1, 127) as u8
}
