//! Progress of a training run: a bar on a terminal, a line every so many steps in a log.

use indicatif::{ProgressBar, ProgressStyle};

pub struct TrainingProgress {
    bar: ProgressBar,
    /// Without a terminal the bar is hidden; a line is printed every this many steps instead.
    log_every: usize,
}

impl TrainingProgress {
    pub fn new(steps: usize, log_every: usize) -> Self {
        let bar = ProgressBar::new(steps as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps {elapsed_precise} (eta {eta}) {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Self { bar, log_every: log_every.max(1) }
    }

    /// After each step: `message` says how training is going.
    pub fn step(&self, step: usize, total: usize, message: String) {
        if self.bar.is_hidden() && step.is_multiple_of(self.log_every) {
            eprintln!("step {step}/{total}: {message}");
        }
        self.bar.set_position(step as u64);
        self.bar.set_message(message);
    }

    /// A line that stays (a validation result).
    pub fn println(&self, line: String) {
        if self.bar.is_hidden() { eprintln!("{line}") } else { self.bar.println(line) }
    }

    pub fn finish(&self) {
        self.bar.finish();
    }
}
