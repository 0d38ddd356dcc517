//! The MusicVAE decoder in plain Rust, for one slider move at a time on the CPU.
//!
//! Decoding is strictly sequential: every 16th-note step needs the previous step's choice.
//! Through Burn each step is about a dozen tensor operations on tiny shapes, and their fixed
//! cost, not the arithmetic, sets the time (5 ms p50 / 13 ms p95 for 2 bars). Here a step is
//! one matrix-vector product with the recurrent weights, one with the output layer and a few
//! vector loops, and everything that does not change per step is folded in beforehand:
//! - the embedding and its part of the input projection become one table, a row per token;
//! - the conditioning's part (z, or the bar's conductor embedding) is projected once per run.
//!
//! The weights are copied out of the Burn module once, so the result is the same model
//! (`MusicVae::decode` stays the reference; a test compares both).

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Tensor, TensorData};

use super::lstm::FusedLstm;
use super::melody::{CLASSES, STEPS_PER_BAR};
use super::sampling::{START, choose};

/// A dense matrix, row-major.
#[derive(Debug, Clone)]
struct Matrix {
    rows: usize,
    cols: usize,
    values: Vec<f32>,
}

impl Matrix {
    fn of(tensor: Tensor<2>) -> Result<Self, WeightsError> {
        let [rows, cols] = tensor.dims();
        let values = floats(tensor.into_data())?;
        Ok(Self { rows, cols, values })
    }

    fn row(&self, r: usize) -> &[f32] {
        &self.values[r * self.cols..(r + 1) * self.cols]
    }

    /// out += x · self, for x of length `rows` (one axpy per row: it vectorises over columns).
    fn add_product(&self, x: &[f32], out: &mut [f32]) {
        for (r, &xr) in x.iter().enumerate().take(self.rows) {
            if xr == 0.0 {
                continue;
            }
            for (o, w) in out.iter_mut().zip(self.row(r)) {
                *o += xr * w;
            }
        }
    }

    /// Rows `from..to` as their own matrix.
    fn rows_between(&self, from: usize, to: usize) -> Self {
        Self { rows: to - from, cols: self.cols, values: self.values[from * self.cols..to * self.cols].to_vec() }
    }
}

/// The weights could not be read as f32 values.
#[derive(Debug, thiserror::Error)]
#[error("the decoder weights are unreadable: {0}")]
pub struct WeightsError(String);

fn floats(data: TensorData) -> Result<Vec<f32>, WeightsError> {
    data.convert::<f32>().try_into_vec::<f32>().map_err(|e| WeightsError(format!("{e:?}")))
}

fn vector(param: &Param<Tensor<1>>) -> Result<Vec<f32>, WeightsError> {
    floats(param.val().into_data())
}

/// A Linear layer: y = x · weight + bias.
#[derive(Debug, Clone)]
pub(super) struct Dense {
    weight: Matrix,
    bias: Vec<f32>,
}

impl Dense {
    pub(super) fn of(linear: &Linear) -> Result<Self, WeightsError> {
        let weight = Matrix::of(linear.weight.val())?;
        let bias = match &linear.bias {
            Some(bias) => vector(bias)?,
            None => vec![0.0; weight.cols],
        };
        Ok(Self { weight, bias })
    }

    pub(super) fn apply(&self, x: &[f32]) -> Vec<f32> {
        let mut out = self.bias.clone();
        self.weight.add_product(x, &mut out);
        out
    }
}

/// An LSTM's weights split by where their input comes from.
#[derive(Debug, Clone)]
struct Cell {
    hidden: usize,
    recurrent: Matrix,
}

impl Cell {
    fn of(lstm: &FusedLstm) -> Result<Self, WeightsError> {
        Ok(Self { hidden: lstm.d_hidden, recurrent: Matrix::of(lstm.recurrent.val())? })
    }

    /// One step: `gates` holds the input's gate contributions and is overwritten.
    fn step(&self, gates: &mut [f32], hidden: &mut [f32], cell: &mut [f32]) {
        let h = self.hidden;
        self.recurrent.add_product(hidden, gates);
        for j in 0..h {
            let input = sigmoid(gates[j]);
            let forget = sigmoid(gates[h + j]);
            let candidate = gates[2 * h + j].tanh();
            let output = sigmoid(gates[3 * h + j]);
            cell[j] = forget * cell[j] + input * candidate;
            hidden[j] = output * cell[j].tanh();
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The (hidden, cell) pair an init layer gives: tanh of its output, split in two.
fn initial_state(init: &Dense, conditioning: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let both: Vec<f32> = init.apply(conditioning).into_iter().map(f32::tanh).collect();
    let h = both.len() / 2;
    (both[..h].to_vec(), both[h..].to_vec())
}

/// A conductor LSTM: its state starts from z and z is its input at every step.
#[derive(Debug, Clone)]
pub(super) struct ConductorWeights {
    init: Dense,
    input: Dense,
    cell: Cell,
}

impl ConductorWeights {
    pub(super) fn of(init: &Linear, lstm: &FusedLstm) -> Result<Self, WeightsError> {
        Ok(Self { init: Dense::of(init)?, input: Dense::of(&lstm.input)?, cell: Cell::of(lstm)? })
    }

    /// The hidden state after each of `steps` steps from one code, when the input at step i is
    /// z followed by a one-hot of i (the 16-bar conductor's input: it knows which segment it
    /// plays). The one-hot's part of the projection is one row of the input weights.
    pub(super) fn run_positioned(&self, z: &[f32], steps: usize) -> Vec<Vec<f32>> {
        let (mut hidden, mut cell) = initial_state(&self.init, z);
        let mut padded = z.to_vec();
        padded.resize(z.len() + steps, 0.0);
        let projected = self.input.apply(&padded);
        (0..steps)
            .map(|i| {
                let mut gates = projected.clone();
                for (g, w) in gates.iter_mut().zip(self.input.weight.row(z.len() + i)) {
                    *g += w;
                }
                self.cell.step(&mut gates, &mut hidden, &mut cell);
                hidden.clone()
            })
            .collect()
    }

    /// The hidden state after each of `steps` steps from one code.
    pub(super) fn run(&self, z: &[f32], steps: usize) -> Vec<Vec<f32>> {
        let (mut hidden, mut cell) = initial_state(&self.init, z);
        // The input is z at every step, so its projection is the same each time.
        let projected = self.input.apply(z);
        (0..steps)
            .map(|_| {
                let mut gates = projected.clone();
                self.cell.step(&mut gates, &mut hidden, &mut cell);
                hidden.clone()
            })
            .collect()
    }
}

/// The decoder half of a trained `MusicVae`, ready to run without Burn.
#[derive(Debug, Clone)]
pub struct CpuDecoder {
    bars: usize,
    latent: usize,
    /// Per previous token (START included): its embedding times the input weights, [CLASSES+1, 4H].
    token_gates: Matrix,
    /// The conditioning's rows of the decoder's input weights, and the gate bias.
    conditioning_gates: Dense,
    decoder_init: Dense,
    decoder: Cell,
    conductor: Option<ConductorWeights>,
    output: Dense,
}

impl CpuDecoder {
    pub(super) fn new(
        bars: usize,
        embedding: Tensor<2>,
        decoder_init: &Linear,
        decoder: &FusedLstm,
        conductor: Option<(&Linear, &FusedLstm)>,
        output: &Linear,
    ) -> Result<Self, WeightsError> {
        let embedding = Matrix::of(embedding)?;
        let input = Dense::of(&decoder.input)?;
        let token_weights = input.weight.rows_between(0, embedding.cols);
        let conditioning_gates =
            Dense { weight: input.weight.rows_between(embedding.cols, input.weight.rows), bias: input.bias };
        let mut token_gates = Matrix { rows: embedding.rows, cols: input.weight.cols, values: Vec::new() };
        for t in 0..embedding.rows {
            let mut row = vec![0.0; input.weight.cols];
            token_weights.add_product(embedding.row(t), &mut row);
            token_gates.values.extend(row);
        }
        let decoder_init = Dense::of(decoder_init)?;
        let latent = match conductor {
            Some((init, _)) => init.weight.dims()[0],
            None => conditioning_gates.weight.rows,
        };
        let conductor = match conductor {
            Some((init, lstm)) => Some(ConductorWeights::of(init, lstm)?),
            None => None,
        };
        Ok(Self {
            bars,
            latent,
            token_gates,
            conditioning_gates,
            decoder_init,
            decoder: Cell::of(decoder)?,
            conductor,
            output: Dense::of(output)?,
        })
    }

    pub fn latent_size(&self) -> usize {
        self.latent
    }

    /// Decodes each code exactly as `MusicVae::decode` does (the same draws from `rng`, row
    /// by row within each step), so a seed gives the same melody on either path.
    pub fn decode(&self, codes: &[Vec<f32>], temperature: f64, rng: &mut impl rand::Rng) -> Vec<Vec<u32>> {
        let codes: Vec<Vec<f32>> =
            codes.iter().map(|c| c.iter().copied().chain(std::iter::repeat(0.0)).take(self.latent).collect()).collect();
        let batch = codes.len();
        let mut tokens: Vec<Vec<u32>> = vec![Vec::with_capacity(self.bars * STEPS_PER_BAR); batch];
        let mut previous = vec![START; batch];
        // What each decoder segment is conditioned on: z for all steps, or one embedding per bar.
        let segments: Vec<(Vec<Vec<f32>>, usize)> = match &self.conductor {
            None => vec![(codes, self.bars * STEPS_PER_BAR)],
            Some(conductor) => {
                let per_code: Vec<Vec<Vec<f32>>> = codes.iter().map(|z| conductor.run(z, self.bars)).collect();
                (0..self.bars)
                    .map(|bar| (per_code.iter().map(|bars| bars[bar].clone()).collect(), STEPS_PER_BAR))
                    .collect()
            }
        };
        for (conditioning, steps) in segments {
            let constant: Vec<Vec<f32>> = conditioning.iter().map(|c| self.conditioning_gates.apply(c)).collect();
            let mut states: Vec<(Vec<f32>, Vec<f32>)> =
                conditioning.iter().map(|c| initial_state(&self.decoder_init, c)).collect();
            for _ in 0..steps {
                for row in 0..batch {
                    let mut gates = constant[row].clone();
                    for (g, t) in gates.iter_mut().zip(self.token_gates.row(previous[row] as usize)) {
                        *g += t;
                    }
                    let (hidden, cell) = &mut states[row];
                    self.decoder.step(&mut gates, hidden, cell);
                    let logits = self.output.apply(hidden);
                    let chosen = choose(&logits[..CLASSES], temperature, rng);
                    previous[row] = chosen;
                    tokens[row].push(chosen);
                }
            }
        }
        tokens
    }
}
