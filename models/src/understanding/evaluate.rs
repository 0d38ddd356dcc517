//! Scoring the style task: accuracy, balanced accuracy (the mean of per-class recall, where a
//! model that favours the majority shows it) and the confusion matrix, on 16-bar passages and
//! on whole works; and the baselines the model is compared with in the same run.

use burn::tensor::Device;
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};

use super::dataset::StyledWork;
use super::model::{NoteBatch, UnderstandingModel};
use super::octuple::Octuple;
use super::styles::STYLE_CLASSES;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StyleScores {
    pub items: usize,
    pub accuracy: f64,
    pub balanced_accuracy: f64,
    /// [true class][predicted class]
    pub confusion: Vec<Vec<usize>>,
}

impl StyleScores {
    /// Scores from (true, predicted) pairs over `classes` classes; balanced accuracy averages
    /// the classes that occur.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (usize, usize)>, classes: usize) -> Self {
        let mut confusion = vec![vec![0usize; classes]; classes];
        for (truth, predicted) in pairs {
            if truth < classes && predicted < classes {
                confusion[truth][predicted] += 1;
            }
        }
        let items: usize = confusion.iter().flatten().sum();
        let correct: usize = (0..classes).map(|c| confusion[c][c]).sum();
        let recalls: Vec<f64> = (0..classes)
            .filter_map(|c| {
                let total: usize = confusion[c].iter().sum();
                (total > 0).then(|| confusion[c][c] as f64 / total as f64)
            })
            .collect();
        Self {
            items,
            accuracy: correct as f64 / items.max(1) as f64,
            balanced_accuracy: recalls.iter().sum::<f64>() / recalls.len().max(1) as f64,
            confusion,
        }
    }

    /// The confusion matrix as Markdown, rows the true class.
    pub fn confusion_table(&self, names: &[&str]) -> String {
        let mut out = format!("| true \\ called | {} |\n|---|{}\n", names.join(" | "), "---|".repeat(names.len()));
        for (name, row) in names.iter().zip(&self.confusion) {
            let cells: Vec<String> = row.iter().map(usize::to_string).collect();
            out.push_str(&format!("| {name} | {} |\n", cells.join(" | ")));
        }
        out
    }
}

fn argmax(values: &[f32]) -> usize {
    values.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i)
}

/// Scores of a classifier (probabilities per window, in class order) on labelled windows.
pub fn style_scores(labelled: &[(Vec<Octuple>, usize)], classify: impl Fn(&[Vec<Octuple>]) -> Vec<Vec<f32>>) -> StyleScores {
    let mut pairs = Vec::with_capacity(labelled.len());
    for chunk in labelled.chunks(32) {
        let windows: Vec<Vec<Octuple>> = chunk.iter().map(|(w, _)| w.clone()).collect();
        for ((_, truth), p) in chunk.iter().zip(classify(&windows)) {
            pairs.push((*truth, argmax(&p)));
        }
    }
    StyleScores::from_pairs(pairs, STYLE_CLASSES.len())
}

/// The model's class probabilities for each window (batches of 16).
pub fn style_probabilities(model: &UnderstandingModel, windows: &[Vec<Octuple>], device: &Device) -> Vec<Vec<f32>> {
    let mut out = Vec::with_capacity(windows.len());
    for chunk in windows.chunks(16) {
        let probabilities = softmax(model.style_logits(&NoteBatch::new(chunk, device)), 1);
        let classes = probabilities.dims()[1];
        let values = probabilities.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default();
        out.extend(values.chunks(classes).map(<[f32]>::to_vec));
    }
    out
}

/// A whole work's class: the class with the highest mean log-probability over its passages.
pub fn work_scores(works: &[StyledWork], passages_of: impl Fn(&StyledWork) -> Vec<Vec<f32>>) -> StyleScores {
    let pairs = works.iter().filter_map(|w| {
        let truth = w.style?;
        let per_passage = passages_of(w);
        let classes = per_passage.first()?.len();
        let mut total = vec![0.0f64; classes];
        for p in &per_passage {
            for (t, v) in total.iter_mut().zip(p) {
                *t += f64::from(v.max(1e-9)).ln();
            }
        }
        let best = total.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
        Some((truth, best))
    });
    StyleScores::from_pairs(pairs, STYLE_CLASSES.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_accuracy_shows_a_classifier_that_calls_everything_the_majority() {
        // 90 of class 0, 10 of class 1, all called 0: accuracy 0.9, balanced 0.5.
        let pairs = (0..100).map(|i| (usize::from(i >= 90), 0));
        let scores = StyleScores::from_pairs(pairs, 3);
        assert!((scores.accuracy - 0.9).abs() < 1e-9);
        assert!((scores.balanced_accuracy - 0.5).abs() < 1e-9, "class 2 never occurs and is not averaged");
        assert_eq!(scores.confusion[1][0], 10);
        assert!(scores.confusion_table(&["a", "b", "c"]).contains("| b | 10 | 0 | 0 |"));
    }
}
