//! Snap grids: straight and triplet divisions of the whole note.

/// A grid, as a fraction of a whole note: 1/`division`, triplets 2/3 of that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    pub division: u32,
    pub triplet: bool,
}

impl Grid {
    pub const CHOICES: [Grid; 8] = [
        Grid { division: 4, triplet: false },
        Grid { division: 8, triplet: false },
        Grid { division: 8, triplet: true },
        Grid { division: 16, triplet: false },
        Grid { division: 16, triplet: true },
        Grid { division: 32, triplet: false },
        Grid { division: 32, triplet: true },
        Grid { division: 1, triplet: false },
    ];

    /// Ticks in one grid step (never zero).
    pub fn ticks(self, ppq: u16) -> u64 {
        let whole = u64::from(ppq) * 4;
        let step = whole / u64::from(self.division.max(1));
        (if self.triplet { step * 2 / 3 } else { step }).max(1)
    }

    pub fn label(self) -> String {
        match (self.division, self.triplet) {
            (1, _) => "1 bar".into(),
            (d, false) => format!("1/{d}"),
            (d, true) => format!("1/{d}T"),
        }
    }

    /// The grid line nearest `tick`.
    pub fn round(self, ppq: u16, tick: f64) -> u64 {
        let step = self.ticks(ppq) as f64;
        ((tick.max(0.0) / step).round() * step) as u64
    }

    /// The grid line at or before `tick`.
    pub fn floor(self, ppq: u16, tick: f64) -> u64 {
        let step = self.ticks(ppq) as f64;
        ((tick.max(0.0) / step).floor() * step) as u64
    }
}

impl Default for Grid {
    fn default() -> Self {
        Grid { division: 16, triplet: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_and_snapping() {
        assert_eq!(Grid { division: 16, triplet: false }.ticks(480), 120);
        assert_eq!(Grid { division: 8, triplet: true }.ticks(480), 160);
        assert_eq!(Grid { division: 1, triplet: false }.ticks(480), 1920);
        let g = Grid::default();
        assert_eq!(g.round(480, 170.0), 120);
        assert_eq!(g.round(480, 181.0), 240);
        assert_eq!(g.floor(480, 239.0), 120);
        assert_eq!(g.round(480, -50.0), 0);
        assert_eq!(Grid { division: 32, triplet: true }.ticks(1), 1, "a grid step is never zero ticks");
    }
}
