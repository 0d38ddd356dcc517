//! A job's id: what the app and the engine call a job by, and what streamed messages carry
//! (apart from the job types, so the model messages can name it without them).

/// Names one job from its submission to its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub u64);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "job {}", self.0)
    }
}
