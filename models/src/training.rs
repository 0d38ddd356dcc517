//! The loop every trainer shares (MusicVAE, continuation, and the models to come): the next
//! batch's loss, backward, an optimiser step at the run's learning rate, the clock and the speed,
//! then a validation every so many steps and after the last, each followed by a checkpoint. What
//! differs between models (their batches, losses, figures and state) is the run's, through
//! [`TrainingRun`]; resuming is the run's too, since what a checkpoint carries over differs.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;

use crate::checkpoint::CheckpointError;

/// Where a run stands; the run copies it into its own state, so checkpoints carry it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    /// Optimiser steps taken, over all runs.
    pub step: usize,
    /// Training time over all runs, seconds.
    pub seconds: f64,
    /// Items (windows, tokens) per second in this run so far.
    pub items_per_second: f64,
}

/// One model's side of the training loop.
pub trait TrainingRun {
    type Model: Module;
    /// The loss on the next batch (on the autodiff device) and how many items it covers.
    fn batch_loss(&mut self, model: &Self::Model, step: usize) -> (Tensor<1>, usize);
    fn learning_rate(&self, step: usize) -> f64;
    /// After each optimiser step (progress, the state's clock).
    fn stepped(&mut self, clock: Clock, learning_rate: f64);
    /// Scores `model` (the inference copy) and records the result in the state.
    fn validate(&mut self, model: &Self::Model, clock: Clock);
    /// Writes the checkpoint (model, optimiser and state; see [`crate::checkpoint::save`]).
    fn save(&self, model: &Self::Model, optimizer: &ModuleOptimizer) -> Result<(), CheckpointError>;
}

/// Trains `model` from `clock` until `steps` steps in all, validating and saving every
/// `validate_every` steps and after the last; the trained model.
pub fn train_until<R: TrainingRun>(
    run: &mut R,
    mut model: R::Model,
    optimizer: &mut ModuleOptimizer,
    mut clock: Clock,
    steps: usize,
    validate_every: usize,
) -> Result<R::Model, CheckpointError> {
    let started = Instant::now();
    let seconds_before = clock.seconds;
    let mut items = 0usize;
    while clock.step < steps {
        let (loss, counted) = run.batch_loss(&model, clock.step);
        let gradients = GradientsParams::from_grads(loss.backward(), &model);
        let learning_rate = run.learning_rate(clock.step);
        model = optimizer.step(learning_rate, model, gradients);
        clock.step += 1;
        items += counted;
        let elapsed = started.elapsed().as_secs_f64();
        clock.seconds = seconds_before + elapsed;
        clock.items_per_second = items as f64 / elapsed.max(1e-9);
        run.stepped(clock, learning_rate);
        if clock.step.is_multiple_of(validate_every.max(1)) || clock.step == steps {
            run.validate(&model.valid(), clock);
            run.save(&model, optimizer)?;
        }
    }
    Ok(model)
}

/// An exponentially decaying learning rate with a floor: max(floor, base · decay^step).
pub fn decayed_learning_rate(base: f64, decay: f64, floor: f64, step: usize) -> f64 {
    (base * decay.powi(step.min(i32::MAX as usize) as i32)).max(floor)
}

/// Where a trainer runs: `--device auto|cpu|wgpu|remote://HOST:PORT`, chosen as inference
/// chooses (a real GPU adapter or the server, else the CPU), and the reason, which the trainer
/// prints and records. The device returned is the plain one; training runs on its autodiff twin.
pub fn training_device(preference: crate::runtime::BackendPreference) -> (burn::tensor::Device, String) {
    // Asking for the CPU probes nothing, so a default run touches no graphics driver.
    let adapters = if preference.may_use_a_local_gpu() { crate::runtime::probe_adapters() } else { Vec::new() };
    let runtime = crate::runtime::select_backend(preference, &adapters);
    (runtime.device, format!("{}: {}", runtime.kind, runtime.reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{BackendKind, BackendPreference, select_backend};

    #[test]
    fn the_cpu_default_trains_on_the_cpu_and_says_so() {
        let (device, reason) = training_device(BackendPreference::Cpu);
        assert_eq!(device, burn::tensor::Device::flex());
        assert!(reason.contains("CPU requested"), "{reason}");
    }

    #[test]
    fn auto_and_wgpu_fall_back_to_the_cpu_without_a_hardware_adapter() {
        let software = crate::runtime::AdapterInfo {
            name: "llvmpipe (LLVM 19)".into(),
            api: "Vulkan".into(),
            device_type: wgpu::DeviceType::Cpu,
        };
        for preference in [BackendPreference::Auto, BackendPreference::Wgpu] {
            let chosen = select_backend(preference, std::slice::from_ref(&software));
            assert_eq!(chosen.kind, BackendKind::Cpu);
            assert!(chosen.reason.contains("software adapter"), "{}", chosen.reason);
        }
    }
}
