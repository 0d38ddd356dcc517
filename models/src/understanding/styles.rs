//! The style classes of the understanding model: the traditions the corpus holds enough of on
//! both sides of its split. The four folk collections stay apart (they are different
//! traditions: German songs, Irish and Scottish dance tunes and airs); the quartet and piano
//! composers are one class, grouped as the continuation model groups them.

use crate::continuation::vocab::grouped_into;
use crate::data::Work;

/// Class names, as `cadenza analyse style --json` prints them.
pub const STYLE_CLASSES: [&str; 8] = ["essen", "oneills", "airds", "ryans", "bach", "monteverdi", "trecento", "classical"];

/// What each class is (for the panel's tooltips and the model card).
pub const STYLE_CLASS_DESCRIPTIONS: [&str; 8] = [
    "German folk songs (the Essen collection)",
    "Irish dance tunes (O'Neill's Music of Ireland, 1850)",
    "Scottish airs (Aird's Selection)",
    "Irish, Scottish and American fiddle tunes (Ryan's Mammoth Collection)",
    "J. S. Bach's four-part chorales",
    "Monteverdi's madrigals",
    "fourteenth-century Italian songs",
    "quartets and piano music of Haydn, Mozart, Beethoven, Schubert, Weber and the Schumanns",
];

/// The continuation model's style each class falls under (its five styles join the folk
/// collections into one), for comparing with its recogniser.
pub const CONTINUATION_STYLE_OF_CLASS: [&str; 8] =
    ["traditional", "traditional", "traditional", "traditional", "bach", "monteverdi", "trecento", "classical"];

/// A work's class, or None for the collections outside the eight (Nottingham, other composers).
pub fn style_class(work: &Work) -> Option<usize> {
    let name = match work.collection.as_str() {
        "essenFolksong" => "essen",
        "oneills1850" => "oneills",
        "airdsAirs" => "airds",
        "ryansMammoth" => "ryans",
        "bach" => "bach",
        "monteverdi" => "monteverdi",
        "trecento" => "trecento",
        other => grouped_into(other).filter(|g| *g == "classical")?,
    };
    STYLE_CLASSES.iter().position(|c| *c == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_continuation_style_of_each_class_is_one_of_its_styles() {
        for (class, style) in STYLE_CLASSES.iter().zip(CONTINUATION_STYLE_OF_CLASS) {
            let expected = match *class {
                "essen" | "oneills" | "airds" | "ryans" => "traditional",
                other => other,
            };
            assert_eq!(style, expected, "{class}");
        }
    }
}
