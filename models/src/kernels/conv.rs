//! Direct 2-D cross-correlation over `[channels][rows][columns]` planes with zero padding, a
//! stride along columns, and the output channels held in registers.
//!
//! Why direct and not im2col + GEMM: Basic Pitch's convolutions have 1–72 output channels, so
//! an unrolled input would be reused only that many times and copying it costs more than the
//! arithmetic. Here the input is copied once into stride phases (column `s·q + r` goes to phase
//! `r`, position `q`), so every tap of every output tile is one contiguous vector load.

use pulp::{Arch, Simd, WithSimd};

/// The widest SIMD vector pulp uses, in f32 lanes: output columns are padded to whole vectors.
const MAX_LANES: usize = 16;
/// Output-channel tile of the many-channel kernel and its column tiles (8 × 2 accumulators).
const CHANNEL_TILE: usize = 8;
const COLUMN_TILES_MANY: usize = 2;
/// Column tiles of the kernel for a layer whose output channels are not a multiple of 8.
const COLUMN_TILES_SINGLE: usize = 8;

/// The geometry of one convolution layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    pub in_channels: usize,
    pub out_channels: usize,
    /// Kernel rows × columns.
    pub kernel: [usize; 2],
    /// Stride along columns (rows always advance by 1).
    pub column_stride: usize,
    /// Zero padding before and after, rows then columns.
    pub padding: [usize; 2],
}

impl ConvShape {
    /// Output rows and columns for an input of `rows × columns`.
    pub fn output_size(&self, rows: usize, columns: usize) -> [usize; 2] {
        let [kr, kc] = self.kernel;
        let [pr, pc] = self.padding;
        [(rows + 2 * pr).saturating_sub(kr - 1), (columns + 2 * pc).saturating_sub(kc) / self.column_stride + 1]
    }
}

/// A convolution with its weights laid out for the kernel.
#[derive(Debug, Clone)]
pub struct Conv2d {
    shape: ConvShape,
    /// `[out tile][in][kernel row][kernel column][out within tile]`.
    weights: Vec<f32>,
    bias: Vec<f32>,
    channel_tile: usize,
}

impl Conv2d {
    /// `weight` is `[out][in][kernel rows][kernel columns]` (PyTorch/ONNX/Burn order), `bias` `[out]`.
    pub fn new(shape: ConvShape, weight: &[f32], bias: &[f32]) -> Self {
        let ConvShape { in_channels, out_channels, kernel: [kr, kc], .. } = shape;
        assert!(shape.column_stride >= 1 && kr >= 1 && kc >= 1, "a convolution needs a kernel and a stride");
        assert_eq!(weight.len(), out_channels * in_channels * kr * kc, "weight size");
        assert_eq!(bias.len(), out_channels, "bias size");
        let channel_tile = if out_channels % CHANNEL_TILE == 0 { CHANNEL_TILE } else { 1 };
        let taps = in_channels * kr * kc;
        let mut weights = Vec::with_capacity(weight.len());
        for tile in 0..out_channels / channel_tile {
            for tap in 0..taps {
                for o in 0..channel_tile {
                    weights.push(weight[(tile * channel_tile + o) * taps + tap]);
                }
            }
        }
        Self { shape, weights, bias: bias.to_vec(), channel_tile }
    }

    pub fn shape(&self) -> &ConvShape {
        &self.shape
    }

    /// `input` is `[in][rows][columns]`; returns `[out][out rows][out columns]`.
    pub fn forward(&self, input: &[f32], rows: usize, columns: usize) -> Vec<f32> {
        let mut out = Vec::new();
        self.forward_into(input, rows, columns, &mut ConvScratch::default(), &mut out);
        out
    }

    /// As [`Conv2d::forward`], into `out`, with working memory kept in `scratch` for the next
    /// call (fresh megabytes each call cost more in page faults than the arithmetic).
    pub fn forward_into(
        &self,
        input: &[f32],
        rows: usize,
        columns: usize,
        scratch: &mut ConvScratch,
        out: &mut Vec<f32>,
    ) {
        let [out_rows, _] = self.shape.output_size(rows, columns);
        self.forward_rows_into(input, rows, columns, 0..out_rows, scratch, out);
    }

    /// As [`Conv2d::forward_into`] for the output rows `wanted` only; the others are zero.
    pub fn forward_rows_into(
        &self,
        input: &[f32],
        rows: usize,
        columns: usize,
        wanted: std::ops::Range<usize>,
        scratch: &mut ConvScratch,
        out: &mut Vec<f32>,
    ) {
        let [out_rows, out_columns] = self.shape.output_size(rows, columns);
        out.clear();
        out.resize(self.shape.out_channels * out_rows * out_columns, 0.0);
        let all_columns = 0..out_columns;
        let region = Region { rows: wanted, columns: std::slice::from_ref(&all_columns) };
        self.forward_region_into(input, rows, columns, region, scratch, out);
    }

    /// Only the output rows and columns in `region`, written into `out`, which holds the whole
    /// output (`[out][out rows][out columns]`) and keeps its other values: for a layer whose
    /// edge or middle columns are computed another way, or whose edge rows nobody reads.
    pub fn forward_region_into(
        &self,
        input: &[f32],
        rows: usize,
        columns: usize,
        region: Region<'_>,
        scratch: &mut ConvScratch,
        out: &mut [f32],
    ) {
        assert_eq!(input.len(), self.shape.in_channels * rows * columns, "input size");
        let [out_rows, out_columns] = self.shape.output_size(rows, columns);
        assert_eq!(out.len(), self.shape.out_channels * out_rows * out_columns, "output size");
        let wanted_rows = region.rows.start.min(out_rows)..region.rows.end.min(out_rows);
        let wanted: Vec<_> = region
            .columns
            .iter()
            .map(|w| w.start.min(out_columns)..w.end.min(out_columns))
            .filter(|w| !w.is_empty())
            .collect();
        if wanted.is_empty() || wanted_rows.is_empty() {
            return;
        }
        // Whole tiles where they fit, then single vectors: pad to one vector only.
        let padded_columns = out_columns.div_ceil(MAX_LANES) * MAX_LANES;
        let buffer = std::mem::take(&mut scratch.phases);
        let phases = Phases::new(&self.shape, input, rows, columns, padded_columns, buffer);
        let mut padded = std::mem::take(&mut scratch.padded);
        // Not cleared: the kernel writes every element of the region copied out below.
        padded.resize(self.shape.out_channels * out_rows * padded_columns, 0.0);
        for range in &wanted {
            let kernel = Kernel {
                conv: self,
                phases: &phases,
                out_rows,
                rows: wanted_rows.clone(),
                columns: range.clone(),
                output: &mut padded,
            };
            Arch::new().dispatch(kernel);
        }
        // Drop the columns computed only to fill whole vectors.
        let rows_of = padded.chunks_exact(padded_columns).zip(out.chunks_exact_mut(out_columns)).enumerate();
        for (_, (row, target)) in rows_of.filter(|(i, _)| wanted_rows.contains(&(i % out_rows))) {
            for range in &wanted {
                target[range.clone()].copy_from_slice(&row[range.clone()]);
            }
        }
        scratch.phases = phases.data;
        scratch.padded = padded;
    }
}

/// The part of a convolution's output to compute: output rows, and ranges of output columns.
#[derive(Debug, Clone)]
pub struct Region<'a> {
    pub rows: std::ops::Range<usize>,
    pub columns: &'a [std::ops::Range<usize>],
}

/// Working memory of [`Conv2d::forward_into`], reused from call to call.
#[derive(Debug, Default)]
pub struct ConvScratch {
    phases: Vec<f32>,
    padded: Vec<f32>,
}

/// The padded input split by column phase: `[in][phase][padded row][position]`.
struct Phases {
    data: Vec<f32>,
    stride: usize,
    rows: usize,
    positions: usize,
    /// Output columns rounded up to whole vectors.
    out_columns: usize,
    /// Per input channel, the input columns that hold a non-zero value in some row. Taps that
    /// read only outside them are skipped: Basic Pitch's harmonic channels are shifted copies
    /// of one spectrum, zero-filled over up to a third of their width.
    live_columns: Vec<(usize, usize)>,
}

impl Phases {
    /// `out_columns` is already rounded up to whole vectors.
    fn new(
        shape: &ConvShape,
        input: &[f32],
        rows: usize,
        columns: usize,
        out_columns: usize,
        mut data: Vec<f32>,
    ) -> Self {
        let stride = shape.column_stride;
        let [pr, pc] = shape.padding;
        let [kr, kc] = shape.kernel;
        // Every tap of every (padded) output column must land inside its phase row.
        let positions = out_columns + (kc - 1) / stride + 1;
        let padded_rows = rows + 2 * pr;
        debug_assert!(padded_rows + 1 >= kr);
        // Not cleared as a whole (megabytes per call): the padding is zeroed below, the rest
        // is overwritten.
        data.resize(shape.in_channels * stride * padded_rows * positions, 0.0);
        let live_columns = (0..shape.in_channels)
            .map(|c| {
                let plane = &input[c * rows * columns..][..rows * columns];
                let mut live = (usize::MAX, 0);
                for row in plane.chunks_exact(columns.max(1)) {
                    if let (Some(lo), Some(hi)) =
                        (row.iter().position(|&v| v != 0.0), row.iter().rposition(|&v| v != 0.0))
                    {
                        live = (live.0.min(lo), live.1.max(hi + 1));
                    }
                }
                if live.0 == usize::MAX { (0, 0) } else { live }
            })
            .collect();
        let mut phases = Self { data: Vec::new(), stride, rows: padded_rows, positions, out_columns, live_columns };
        for c in 0..shape.in_channels {
            for r in 0..stride {
                for pad_row in (0..pr).chain(pr + rows..padded_rows) {
                    data[phases.row_start(c, r, pad_row)..][..positions].fill(0.0);
                }
            }
            for row in 0..rows {
                let source = &input[(c * rows + row) * columns..][..columns];
                for r in 0..stride {
                    // Position q holds padded column s·q + r, i.e. input column s·q + r − pc.
                    let first = pc.saturating_sub(r).div_ceil(stride).min(positions);
                    let last = (columns + pc).saturating_sub(r).div_ceil(stride).clamp(first, positions);
                    let line = &mut data[phases.row_start(c, r, row + pr)..][..positions];
                    line[..first].fill(0.0);
                    line[last..].fill(0.0);
                    let target = &mut line[first..last];
                    let from = first * stride + r - pc;
                    if stride == 1 {
                        target.copy_from_slice(&source[from..from + target.len()]);
                    } else {
                        for (t, &v) in target.iter_mut().zip(source[from..].iter().step_by(stride)) {
                            *t = v;
                        }
                    }
                }
            }
        }
        phases.data = data;
        phases
    }

    /// Start of phase `r` of channel `c` at padded row `row`.
    fn row_start(&self, c: usize, r: usize, row: usize) -> usize {
        ((c * self.stride + r) * self.rows + row) * self.positions
    }
}

struct Kernel<'a> {
    conv: &'a Conv2d,
    phases: &'a Phases,
    out_rows: usize,
    /// The output rows to compute.
    rows: std::ops::Range<usize>,
    /// The output columns to compute (rounded out to whole vectors).
    columns: std::ops::Range<usize>,
    output: &'a mut [f32],
}

impl WithSimd for Kernel<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(mut self, simd: S) {
        if self.conv.channel_tile == CHANNEL_TILE {
            all_columns::<S, CHANNEL_TILE, COLUMN_TILES_MANY>(simd, &mut self);
        } else {
            all_columns::<S, 1, COLUMN_TILES_SINGLE>(simd, &mut self);
        }
    }
}

/// The wanted output columns, rounded out to whole vectors: tiles of `FB` vectors where they
/// fit, single vectors after.
#[inline(always)]
fn all_columns<S: Simd, const OB: usize, const FB: usize>(simd: S, k: &mut Kernel<'_>) {
    let lanes = S::F32_LANES;
    let first = k.columns.start / lanes * lanes;
    let end = (k.columns.end.div_ceil(lanes) * lanes).min(k.phases.out_columns);
    let whole = first + (end - first) / (FB * lanes) * (FB * lanes);
    tiles::<S, OB, FB>(simd, k, first..whole);
    tiles::<S, OB, 1>(simd, k, whole..end);
}

/// Loads `S::F32_LANES` floats from `values[at..]`.
#[inline(always)]
fn load<S: Simd>(values: &[f32], at: usize) -> S::f32s {
    bytemuck::pod_read_unaligned(bytemuck::cast_slice(&values[at..at + S::F32_LANES]))
}

/// Output columns `columns` (whole tiles of `FB` vectors) of every row and output channel.
#[inline(always)]
fn tiles<S: Simd, const OB: usize, const FB: usize>(simd: S, k: &mut Kernel<'_>, columns: std::ops::Range<usize>) {
    let Kernel { conv, phases, out_rows, output, rows, .. } = k;
    let rows = rows.clone();
    let (conv, phases, out_rows) = (*conv, *phases, *out_rows);
    let ConvShape { in_channels, out_channels, kernel: [kr, kc], column_stride: stride, .. } = conv.shape;
    let lanes = S::F32_LANES;
    let width = FB * lanes;
    let out_columns = phases.out_columns;
    let pc = conv.shape.padding[1];
    let tap_count = in_channels * kr * kc;
    // For each block of output columns, the taps that read a non-zero input somewhere in it:
    // (where the tap reads from the block's first column at output row 0, its weight index).
    // Worked out once per call, not per tile (the phase needs a division).
    let blocks: Vec<Vec<(usize, usize)>> = columns
        .clone()
        .step_by(width)
        .map(|first| {
            let mut taps = Vec::with_capacity(tap_count);
            for c in 0..in_channels {
                let (lo, hi) = phases.live_columns[c];
                for dr in 0..kr {
                    for dc in 0..kc {
                        // Input columns this tap reads over the block (padding removed).
                        let from = (first * stride + dc).saturating_sub(pc);
                        let to = ((first + width - 1) * stride + dc + 1).saturating_sub(pc);
                        if from < hi && lo < to {
                            let tap = (c * kr + dr) * kc + dc;
                            taps.push((phases.row_start(c, dc % stride, dr) + dc / stride + first, tap));
                        }
                    }
                }
            }
            taps
        })
        .collect();
    let data = &phases.data[..];
    for tile in 0..out_channels / OB {
        let weights = &conv.weights[tile * tap_count * OB..][..tap_count * OB];
        for row in rows.clone() {
            for (block, first) in columns.clone().step_by(width).enumerate() {
                let mut acc = [[simd.splat_f32s(0.0); FB]; OB];
                for (o, acc) in acc.iter_mut().enumerate() {
                    *acc = [simd.splat_f32s(conv.bias[tile * OB + o]); FB];
                }
                let base = row * phases.positions;
                for &(offset, tap) in &blocks[block] {
                    let start = base + offset;
                    let w = &weights[tap * OB..][..OB];
                    let mut x = [simd.splat_f32s(0.0); FB];
                    for (b, x) in x.iter_mut().enumerate() {
                        *x = load::<S>(data, start + b * lanes);
                    }
                    for (acc, &w) in acc.iter_mut().zip(w) {
                        let weight = simd.splat_f32s(w);
                        for b in 0..FB {
                            acc[b] = simd.mul_add_f32s(weight, x[b], acc[b]);
                        }
                    }
                }
                for (o, acc) in acc.iter().enumerate() {
                    let base = ((tile * OB + o) * out_rows + row) * out_columns + first;
                    for (b, value) in acc.iter().enumerate() {
                        let target = &mut output[base + b * lanes..base + (b + 1) * lanes];
                        target.copy_from_slice(bytemuck::cast_slice(std::slice::from_ref(value)));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook definition, for comparison.
    fn naive(shape: &ConvShape, weight: &[f32], bias: &[f32], x: &[f32], rows: usize, columns: usize) -> Vec<f32> {
        let [out_rows, out_columns] = shape.output_size(rows, columns);
        let [kr, kc] = shape.kernel;
        let [pr, pc] = shape.padding;
        let mut y = vec![0.0f32; shape.out_channels * out_rows * out_columns];
        for o in 0..shape.out_channels {
            for r in 0..out_rows {
                for q in 0..out_columns {
                    let mut sum = f64::from(bias[o]);
                    for c in 0..shape.in_channels {
                        for dr in 0..kr {
                            for dc in 0..kc {
                                let (ir, ic) = (
                                    (r + dr) as isize - pr as isize,
                                    (q * shape.column_stride + dc) as isize - pc as isize,
                                );
                                if ir >= 0 && ic >= 0 && (ir as usize) < rows && (ic as usize) < columns {
                                    let wv = weight[((o * shape.in_channels + c) * kr + dr) * kc + dc];
                                    sum +=
                                        f64::from(wv) * f64::from(x[(c * rows + ir as usize) * columns + ic as usize]);
                                }
                            }
                        }
                    }
                    y[(o * out_rows + r) * out_columns + q] = sum as f32;
                }
            }
        }
        y
    }

    fn pseudo_random(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 2000) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn matches_the_definition_for_every_layer_shape_basic_pitch_uses() {
        let cases = [
            (ConvShape { in_channels: 8, out_channels: 8, kernel: [3, 39], column_stride: 1, padding: [1, 19] }, 9, 70),
            (ConvShape { in_channels: 8, out_channels: 1, kernel: [5, 5], column_stride: 1, padding: [2, 2] }, 7, 40),
            (ConvShape { in_channels: 1, out_channels: 32, kernel: [7, 7], column_stride: 3, padding: [3, 2] }, 8, 45),
            (ConvShape { in_channels: 32, out_channels: 1, kernel: [7, 3], column_stride: 1, padding: [3, 1] }, 8, 15),
            (ConvShape { in_channels: 8, out_channels: 32, kernel: [5, 5], column_stride: 3, padding: [2, 1] }, 6, 45),
            (ConvShape { in_channels: 33, out_channels: 1, kernel: [3, 3], column_stride: 1, padding: [1, 1] }, 5, 15),
            // The constant-Q kernels (one row, 256 taps at a hop) and the decimating low-pass.
            (
                ConvShape { in_channels: 1, out_channels: 72, kernel: [1, 256], column_stride: 64, padding: [0, 0] },
                1,
                1500,
            ),
            (
                ConvShape { in_channels: 1, out_channels: 1, kernel: [1, 256], column_stride: 2, padding: [0, 127] },
                1,
                700,
            ),
        ];
        let mut shared = ConvScratch::default();
        for (i, (shape, rows, columns)) in cases.into_iter().enumerate() {
            let [kr, kc] = shape.kernel;
            let weight = pseudo_random(shape.out_channels * shape.in_channels * kr * kc, i as u32);
            let bias = pseudo_random(shape.out_channels, 100 + i as u32);
            let mut x = pseudo_random(shape.in_channels * rows * columns, 200 + i as u32);
            // Zero-filled edges, as Basic Pitch's shifted harmonic channels have: the kernel
            // skips taps that read only zeros, which must not change the result.
            for (c, plane) in x.chunks_exact_mut(rows * columns).enumerate() {
                for row in plane.chunks_exact_mut(columns) {
                    match c % 3 {
                        0 => row[..columns / 3].fill(0.0),
                        1 => row[columns * 2 / 3..].fill(0.0),
                        _ => {}
                    }
                }
            }
            if shape.in_channels > 2 {
                x[2 * rows * columns..3 * rows * columns].fill(0.0); // one channel all zero
            }
            let expected = naive(&shape, &weight, &bias, &x, rows, columns);
            let conv = Conv2d::new(shape, &weight, &bias);
            // Fresh working memory, and memory left dirty by the cases before.
            let mut reused = Vec::new();
            conv.forward_into(&x, rows, columns, &mut shared, &mut reused);
            for got in [conv.forward(&x, rows, columns), reused] {
                assert_eq!(got.len(), expected.len(), "case {i}: size");
                let worst = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                assert!(worst < 1e-4, "case {i}: max difference {worst}");
            }
        }
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // lists of one range are what is tested
    fn computes_only_the_columns_asked_for_and_keeps_the_rest() {
        let shape = ConvShape { in_channels: 3, out_channels: 8, kernel: [3, 9], column_stride: 1, padding: [1, 4] };
        let (rows, columns) = (5, 70);
        let weight = pseudo_random(8 * 3 * 3 * 9, 1);
        let bias = pseudo_random(8, 2);
        let x = pseudo_random(3 * rows * columns, 3);
        let expected = naive(&shape, &weight, &bias, &x, rows, columns);
        let conv = Conv2d::new(shape, &weight, &bias);
        let mut scratch = ConvScratch::default();
        for wanted in [vec![0..5], vec![3..40], vec![17..18], vec![50..70], vec![0..70], vec![0..3, 60..70]] {
            let mut out = vec![f32::NAN; expected.len()];
            let region = Region { rows: 0..rows, columns: &wanted };
            conv.forward_region_into(&x, rows, columns, region, &mut scratch, &mut out);
            for (i, (got, want)) in out.iter().zip(&expected).enumerate() {
                if wanted.iter().any(|w| w.contains(&(i % columns))) {
                    assert!((got - want).abs() < 1e-4, "{wanted:?}: column {} is {got}, not {want}", i % columns);
                } else {
                    assert!(got.is_nan(), "{wanted:?}: column {} was written", i % columns);
                }
            }
        }
    }

    #[test]
    fn computes_only_the_rows_asked_for_and_zeroes_the_rest() {
        let shape = ConvShape { in_channels: 2, out_channels: 3, kernel: [5, 3], column_stride: 2, padding: [2, 1] };
        let (rows, columns) = (12, 40);
        let weight = pseudo_random(3 * 2 * 5 * 3, 4);
        let bias = pseudo_random(3, 5);
        let x = pseudo_random(2 * rows * columns, 6);
        let expected = naive(&shape, &weight, &bias, &x, rows, columns);
        let [_, out_columns] = shape.output_size(rows, columns);
        let conv = Conv2d::new(shape, &weight, &bias);
        let mut scratch = ConvScratch::default();
        for wanted in [0..12, 0..1, 3..9, 11..12] {
            let mut out = vec![f32::NAN; 7];
            conv.forward_rows_into(&x, rows, columns, wanted.clone(), &mut scratch, &mut out);
            assert_eq!(out.len(), expected.len());
            for (i, (got, want)) in out.iter().zip(&expected).enumerate() {
                let row = i / out_columns % rows;
                let want = if wanted.contains(&row) { *want } else { 0.0 };
                assert!((got - want).abs() < 1e-4, "{wanted:?}: row {row} is {got}, not {want}");
            }
        }
    }
}
