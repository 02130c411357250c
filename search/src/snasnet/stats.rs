//! Rank correlation for the score-vs-accuracy study: Kendall's tau-b.

/// Kendall's tau-b of paired samples (ties handled as scipy's default does); None when the
/// lengths differ, fewer than two pairs are given, a value is NaN, or one side is constant.
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 || x.iter().chain(y).any(|v| v.is_nan()) {
        return None;
    }
    let (mut concordant, mut discordant, mut only_x_tied, mut only_y_tied) =
        (0i64, 0i64, 0i64, 0i64);
    for i in 0..x.len() {
        for j in i + 1..x.len() {
            let dx = x[i] - x[j];
            let dy = y[i] - y[j];
            match (dx == 0.0, dy == 0.0) {
                (true, true) => {}
                (true, false) => only_x_tied += 1,
                (false, true) => only_y_tied += 1,
                _ if (dx > 0.0) == (dy > 0.0) => concordant += 1,
                _ => discordant += 1,
            }
        }
    }
    let untied = concordant + discordant;
    let denom = (((untied + only_x_tied) * (untied + only_y_tied)) as f64).sqrt();
    (denom > 0.0).then(|| (concordant - discordant) as f64 / denom)
}
