//! The audio lane under the roll: each take's waveform at its place in the song, and the take
//! being recorded growing live.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cadenza_engine::devices::recorder::PEAK_FRAMES;
use cadenza_engine::timing::TempoMap;
use eframe::egui::{self, Color32, Pos2, Rect, Stroke};

use super::{Session, Studio};

pub const LANE_HEIGHT: f32 = 64.0;

/// Waveform summaries of take files, read in the background once each.
/// Per file: `None` while it is being read.
type PeakCache = HashMap<PathBuf, Option<Vec<(f32, f32)>>>;

#[derive(Default, Clone)]
pub struct Waveforms(Arc<Mutex<PeakCache>>);

impl Waveforms {
    fn get(&self, path: &Path, ctx: &egui::Context) -> Option<Vec<(f32, f32)>> {
        let mut map = self.0.lock().ok()?;
        if let Some(entry) = map.get(path) {
            return entry.clone();
        }
        map.insert(path.to_path_buf(), None);
        let (cache, path, ctx) = (self.clone(), path.to_path_buf(), ctx.clone());
        std::thread::spawn(move || {
            let peaks = read_peaks(&path).unwrap_or_default();
            if let Ok(mut map) = cache.0.lock() {
                map.insert(path, Some(peaks));
            }
            ctx.request_repaint();
        });
        None
    }
}

/// (min, max) of the downmix per [`PEAK_FRAMES`] frames, as the recorder keeps them.
fn read_peaks(path: &Path) -> Result<Vec<(f32, f32)>, hound::Error> {
    let mut reader = hound::WavReader::open(path)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>()?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader.samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect::<Result<_, _>>()?
        }
    };
    Ok(samples
        .chunks(PEAK_FRAMES * channels)
        .map(|block| {
            block.chunks(channels).fold((0.0f32, 0.0f32), |(lo, hi), frame| {
                let mono = frame.iter().sum::<f32>() / channels as f32;
                (lo.min(mono), hi.max(mono))
            })
        })
        .collect())
}

pub fn lane(session: &Session, studio: &Studio, ui: &mut egui::Ui) {
    let (response, painter) = ui.allocate_painter(egui::vec2(ui.available_width(), LANE_HEIGHT), egui::Sense::hover());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "Audio takes"));
    let Some(view) = session.roll.viewport else { return };
    let lane = Rect::from_x_y_ranges(view.grid.x_range(), response.rect.y_range());
    painter.rect_filled(response.rect, 0.0, ui.visuals().extreme_bg_color);
    painter.text(
        Pos2::new(response.rect.left() + 4.0, lane.top() + 4.0),
        egui::Align2::LEFT_TOP,
        "Audio",
        egui::FontId::proportional(11.0),
        ui.visuals().weak_text_color(),
    );
    let map = TempoMap::for_song(&session.song);
    let clip = painter.with_clip_rect(lane);
    let draw = |peaks: &[(f32, f32)], start_tick: u64, rate: u32, colour: Color32, label: &str| {
        let start = map.tick_to_seconds(start_tick);
        let x_of = |column: usize| {
            let seconds = start + (column * PEAK_FRAMES) as f64 / f64::from(rate.max(1));
            view.x(map.seconds_to_tick(seconds) as f64)
        };
        let mid = lane.center().y;
        let half = lane.height() / 2.0 - 4.0;
        for (i, (lo, hi)) in peaks.iter().enumerate() {
            let x = x_of(i);
            if x > lane.right() {
                break;
            }
            if x < lane.left() {
                continue;
            }
            clip.line_segment([Pos2::new(x, mid - hi * half), Pos2::new(x, mid - lo * half)], Stroke::new(1.0, colour));
        }
        let x0 = x_of(0);
        clip.text(
            Pos2::new(x0 + 3.0, lane.top() + 3.0),
            egui::Align2::LEFT_TOP,
            label,
            egui::FontId::proportional(10.0),
            colour,
        );
        clip.line_segment([Pos2::new(x0, lane.top()), Pos2::new(x0, lane.bottom())], Stroke::new(1.0, colour));
    };
    for take in &studio.takes {
        let path = studio.takes_root.join(&take.file);
        if let Some(peaks) = studio.waveforms.get(&path, ui.ctx()) {
            draw(&peaks, take.start_tick, take.sample_rate, Color32::from_rgb(0x5c, 0xc4, 0x7a), &take.name);
        }
    }
    if let Some(live) = &studio.recording {
        let peaks = live.meter.peaks();
        draw(&peaks, live.start_tick, live.meter.sample_rate(), Color32::from_rgb(0xe0, 0x5a, 0x5a), "recording");
    }
}
