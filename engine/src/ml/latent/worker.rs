//! The latent worker's thread: it encodes clips into the slots, decodes only the newest point
//! of a drag, and places clips on the map, one reply per request.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread::JoinHandle;

use cadenza_models::vae::latent::slerp;
use cadenza_models::vae::melody::TimedNote;
use cadenza_models::vae::{InputNotice, MelodyVae, VaeError};
use crossbeam_channel::{Receiver, Sender, unbounded};

use crate::protocol::latent::{LatentPoint, LatentReply, LatentRequest, Slot, VaeSize};

/// The worker thread; dropping it stops the thread.
pub struct LatentWorker {
    requests: Option<Sender<LatentRequest>>,
    thread: Option<JoinHandle<()>>,
}

impl LatentWorker {
    /// Starts the worker; it first loads the models it may use with `load` (on its own thread,
    /// requests wait meanwhile); every reply goes to `reply`.
    pub fn start(
        load: impl FnOnce() -> HashMap<VaeSize, MelodyVae> + Send + 'static,
        reply: impl Fn(LatentReply) + Send + 'static,
    ) -> std::io::Result<Self> {
        let (tx, rx) = unbounded();
        let thread =
            std::thread::Builder::new().name("cadenza-latent".into()).spawn(move || run(load(), &rx, &reply))?;
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
