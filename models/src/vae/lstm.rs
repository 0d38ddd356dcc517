//! An LSTM layer with its four gates in one matrix.
//!
//! Burn's `nn::Lstm` runs eight small matmuls and four activations per step; on the CPU the
//! per-operation cost, not the arithmetic, dominates at MusicVAE's sizes. Here the input
//! projection of the whole sequence is one matmul, and each step is one matmul, two
//! activations over all gates and a handful of element-wise operations.
//! Gate order is input, forget, cell, output; the forget bias starts at 1 (as TensorFlow's
//! LSTM cell and MusicVAE do), so early training does not forget everything.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::{Device, Tensor, TensorData};

#[derive(Module, Debug)]
pub struct FusedLstm {
    /// Input → gates, [d_input, 4·d_hidden], with the gate bias.
    pub input: Linear,
    /// Hidden → gates, [d_hidden, 4·d_hidden].
    pub recurrent: Param<Tensor<2>>,
    pub d_hidden: usize,
}

/// Hidden and cell state, each [batch, d_hidden].
#[derive(Debug, Clone)]
pub struct State {
    pub hidden: Tensor<2>,
    pub cell: Tensor<2>,
}

impl FusedLstm {
    pub fn new(d_input: usize, d_hidden: usize, device: &Device) -> Self {
        let mut input = LinearConfig::new(d_input, 4 * d_hidden).init(device);
        let bias: Vec<f32> =
            (0..4 * d_hidden).map(|i| if (d_hidden..2 * d_hidden).contains(&i) { 1.0 } else { 0.0 }).collect();
        input.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(bias, [4 * d_hidden]), device)));
        // Glorot-uniform recurrent weights, as the input projection gets.
        let bound = (6.0 / (5 * d_hidden) as f64).sqrt();
        let recurrent =
            Tensor::random([d_hidden, 4 * d_hidden], burn::tensor::Distribution::Uniform(-bound, bound), device);
        Self { input, recurrent: Param::from_tensor(recurrent), d_hidden }
    }

    /// Zero state for `batch` sequences.
    pub fn zero_state(&self, batch: usize, device: &Device) -> State {
        State {
            hidden: Tensor::zeros([batch, self.d_hidden], device),
            cell: Tensor::zeros([batch, self.d_hidden], device),
        }
    }

    /// The gate inputs of a whole sequence [B, T, d_input] → [B, T, 4·d_hidden], computed once.
    pub fn project(&self, x: Tensor<3>) -> Tensor<3> {
        self.input.forward(x)
    }

    /// One step from projected gate inputs [B, 4·d_hidden].
    pub fn step(&self, gates_in: Tensor<2>, state: State) -> State {
        let h = self.d_hidden;
        let gates = gates_in + state.hidden.matmul(self.recurrent.val());
        let squashed = sigmoid(gates.clone());
        let candidate = tanh(gates.narrow(1, 2 * h, h));
        let input_gate = squashed.clone().narrow(1, 0, h);
        let forget_gate = squashed.clone().narrow(1, h, h);
        let output_gate = squashed.narrow(1, 3 * h, h);
        let cell = forget_gate * state.cell + input_gate * candidate;
        let hidden = output_gate * tanh(cell.clone());
        State { hidden, cell }
    }

    /// Runs over [B, T, d_input] (backwards in time if `reverse`); returns every step's hidden
    /// state [B, T, d_hidden] in time order and the final state.
    pub fn forward(&self, x: Tensor<3>, state: State, reverse: bool) -> (Tensor<3>, State) {
        let [batch, steps, _] = x.dims();
        let projected = self.project(x);
        let mut state = state;
        let mut outputs = Vec::with_capacity(steps);
        let order: Box<dyn Iterator<Item = usize>> =
            if reverse { Box::new((0..steps).rev()) } else { Box::new(0..steps) };
        for t in order {
            let gates_in = projected.clone().narrow(1, t, 1).reshape([batch, 4 * self.d_hidden]);
            state = self.step(gates_in, state);
            outputs.push(state.hidden.clone());
        }
        if reverse {
            outputs.reverse();
        }
        (Tensor::stack(outputs, 1), state)
    }

    /// Only the final state (the encoders need no per-step outputs).
    pub fn final_state(&self, x: Tensor<3>, state: State, reverse: bool) -> State {
        let [batch, steps, _] = x.dims();
        let projected = self.project(x);
        let mut state = state;
        for i in 0..steps {
            let t = if reverse { steps - 1 - i } else { i };
            state = self.step(projected.clone().narrow(1, t, 1).reshape([batch, 4 * self.d_hidden]), state);
        }
        state
    }
}
