//! Kendall's tau-b against hand-checked values (brute-force tau-b over all pairs).

use snnc_search::snasnet::stats::kendall_tau_b;

#[test]
fn kendall_tau_b_known_values() {
    let close =
        |a: Option<f64>, b: f64| assert!((a.expect("defined") - b).abs() < 1e-12, "{a:?} vs {b}");
    close(kendall_tau_b(&[1., 2., 3., 4.], &[10., 20., 30., 40.]), 1.0);
    close(kendall_tau_b(&[1., 2., 3., 4.], &[4., 3., 2., 1.]), -1.0);
    // 7 concordant, 3 discordant pairs out of 10.
    close(
        kendall_tau_b(&[1., 2., 3., 4., 5.], &[3., 1., 2., 5., 4.]),
        0.4,
    );
    // With ties on both sides.
    close(
        kendall_tau_b(&[1., 2., 2., 3., 4., 4.], &[1., 3., 2., 2., 5., 4.]),
        0.7412493166611012,
    );
    assert_eq!(kendall_tau_b(&[1., 1., 1.], &[1., 2., 3.]), None);
    assert_eq!(kendall_tau_b(&[1., 2.], &[1.]), None);
    assert_eq!(kendall_tau_b(&[1.], &[1.]), None);
    assert_eq!(kendall_tau_b(&[1., f64::NAN], &[1., 2.]), None);
}
